"""Cost model vs published chips: modelled area vs die area, full-load power vs TDP.

Usage: python scripts/validate_cost.py [--quick] [--reference DIR] [--write-docs]

For the A100-, H100- and TPU v4-like presets it prints
  * modelled die area (by component) vs the published die area (goal: within +-20 %);
  * modelled full-load power vs TDP (goal: 40 % of TDP <= power <= TDP). Full load = one dense
    bf16 GEMM (M = K = 8192, N a multiple of count x cols) that keeps every array busy, simulated;
    power = its energy / its time (accelsim/validation/cost.py);
  * for context, the power of one llama3-8b prefill layer (batch 4 x 2048 tokens), a realistic
    mix with memory-bound vector and attention operators;
  * how the GPU areas depend on each part of the presets' cost.die block.
No constant is fitted to these targets: the default technology file is used as shipped.
--write-docs also writes both tables into docs/cost.md (between its cost-validation markers).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accelsim.api import generate_trace, load_arch, simulate  # noqa: E402
from accelsim.cost import estimate  # noqa: E402
from accelsim.io import atomic_write_text  # noqa: E402
from accelsim.validation import default_reference_dir  # noqa: E402
from accelsim.validation.cost import (AREA_GOAL, CHIPS, POWER_GOAL, area_sensitivity,  # noqa: E402
                                      evaluate_chip)


DOC = Path(__file__).resolve().parents[1] / "docs" / "cost.md"
START, END = "<!-- cost-validation:start -->", "<!-- cost-validation:end -->"


def write_docs(table: str, *, quick: bool) -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    size = "quick size" if quick else "full size"
    body = (f"{START}\n<!-- written by `python scripts/validate_cost.py --write-docs` "
            f"({size}); do not edit -->\n{table}{END}")
    atomic_write_text(DOC, head + body + tail)
    print(f"wrote {DOC}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4096-sized GEMMs, no prefill layer")
    ap.add_argument("--reference", type=Path, default=None)
    ap.add_argument("--write-docs", action="store_true",
                    help="write the tables into docs/cost.md (between its markers)")
    args = ap.parse_args(argv)
    ref = args.reference or default_reference_dir()

    header = (f"{'preset':<11} {'node':>4} {'area mm2':>9} {'die mm2':>8} {'area err':>9} "
              f"{'power W':>8} {'TDP W':>6} {'P/TDP':>6} {'util':>6} {'prefill W':>10}  verdict")
    print(header)
    print("-" * len(header))
    details = []
    md = ["| preset | node nm | area mm² | die mm² | area error | full-load W | TDP W | P/TDP | "
          "verdict |", "|---|---|---|---|---|---|---|---|---|"]
    for chip in CHIPS:
        r = evaluate_chip(chip, ref, quick=args.quick)
        prefill_w = float("nan")
        if not args.quick:
            arch = load_arch(chip.preset)
            rep = simulate(arch, generate_trace("llama3-8b", "prefill", batch=4, seq_len=2048,
                                                layers=1), fidelity="analytical", progress=False)
            prefill_w = estimate(rep).avg_power_w
        frac = r["power_w"] / r["tdp_w"]
        verdicts = []
        if chip.die_mm2:
            err = r["area_mm2"] / chip.die_mm2 - 1
            area_err = f"{err:+.0%}"
            verdicts.append("area ok" if abs(err) <= AREA_GOAL else "area MISS")
        else:
            area_err = "n/a"
            verdicts.append("area: no published die")
        verdicts.append("power ok" if POWER_GOAL[0] <= frac <= POWER_GOAL[1] else "power MISS")
        die = f"{chip.die_mm2:.0f}" if chip.die_mm2 else "-"
        print(f"{chip.preset:<11} {r['node_nm']:>4g} {r['area_mm2']:>9.1f} {die:>8} "
              f"{area_err:>9} {r['power_w']:>8.1f} {r['tdp_w']:>6.0f} {frac:>6.0%} "
              f"{r['utilization']:>6.1%} {prefill_w:>10.1f}  {', '.join(verdicts)}")
        details.append(r)
        md.append(f"| {chip.preset} | {r['node_nm']:g} | {r['area_mm2']:.1f} | {die} | {area_err} "
                  f"| {r['power_w']:.1f} | {r['tdp_w']:.0f} | {frac:.0%} | {', '.join(verdicts)} |")

    print("\nbreakdowns (area mm2 | full-load energy share):")
    for r in details:
        area = ", ".join(f"{k} {v:.1f}" for k, v in r["area_breakdown_mm2"].items() if v)
        e = sum(r["energy_breakdown_pj"].values())
        energy = ", ".join(f"{k} {v / e:.0%}" for k, v in r["energy_breakdown_pj"].items() if v)
        print(f"  {r['preset']}: area [{area}]\n  {' ' * len(r['preset'])}  energy [{energy}]; "
              f"static {r['static_power_w']:.1f} W; trace {r['trace']}")
        print(f"  {' ' * len(r['preset'])}  settings: {r['note']}")

    print("\nsensitivity of the area to the cost.die block (mm2, error vs die):")
    md += ["", "| preset | cost.die variant | area mm² | error vs die |", "|---|---|---|---|"]
    for chip in CHIPS:
        rows = area_sensitivity(chip.preset)
        for label, mm2 in rows.items():
            err = f"{mm2 / chip.die_mm2 - 1:+.0%}" if chip.die_mm2 else "n/a"
            print(f"  {chip.preset:<11} {label:<66} {mm2:>7.1f} {err:>6}")
            md.append(f"| {chip.preset} | {label} | {mm2:.1f} | {err} |")
    if args.write_docs:
        write_docs("\n".join(md) + "\n", quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
