"""Iteration time from the simulator itself: the same lowering and engine as ``accelsim simulate``.

An iteration over slices ``seqs`` is the operator chain ``emit_forward`` builds (``workload/
layers.py``). Its rows split into parts whose shapes depend on few numbers:

* token rows (embedding, norms, projections, FFN, ``kv_append``, collectives): on the token count
  ``T`` and, for ``final_norm`` / ``lm_head``, on the number of sampling slices; key
  ``(T, n_sample)``;
* one attention row per group of slices with equal ``(prefill, q_len, kv_len)``; key
  ``(prefill, q_len, kv_len, n)``.

Every decoder layer has the same rows, and an iteration is one dependency chain, so its time is
``dispatch + sum(row time)`` with each row timed once per operator shape (the engine's own
reuse argument, ``engine/core.py``): ``tokens[(T, n)] + sum(attention[group])``, exact.
``tests/serve/test_timing.py`` checks it against ``simulate`` of the same iteration trace.

A miss emits rows for one layer (``layers=1``): for a new ``(T, n_sample)`` those of any slices
with that token and sample count, for new attention groups those of the groups alone (a decode
group also learns its next ``DECODE_PREFETCH`` context lengths), and times the shapes not seen
before by running them through ``engine.core.Simulation`` (either fidelity) without building a
pandas trace. Energy: the timer counts operator instances per shape (``counted_shapes``); the
cost model prices each shape once at the end (``serving/energy.py``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

from ..arch.config import Arch
from ..engine.core import PreparedTrace, Simulation, shape_key
from ..errors import ConfigError
from ..units import ns_to_ps
from ..workload.layers import Builder, Seq, check_tp, emit_forward
from ..workload.models import ModelConfig
from ..workload.trace import DEFAULTS

DTYPES = {"act": "bf16", "weight": "bf16", "kv": "bf16"}
#: decode context lengths learned past a missing one (one engine run for the next steps)
DECODE_PREFETCH = 64


class IterationTimer:
    """Time (ps) of one serving iteration on ``arch``, memoized by operator shape.

    Args:
        arch: the device (one replica's device; ``tp`` identical devices).
        cfg: the model.
        tp: tensor-parallel degree (collectives need ``arch.interconnect``).
        fidelity: ``analytical`` (default of ``serve``) or ``full``.
        dtypes: trace dtypes (default bf16 everywhere).

    Example:
        >>> from accelsim.arch.config import load_arch
        >>> from accelsim.workload.models import load_model
        >>> arch = load_arch("npu_128x128_bf16_hbm2")
        >>> t = IterationTimer(arch, load_model("tiny-llama-gqa-test"))
        >>> t([Seq.decode(0, 64), Seq.decode(1, 64)]) > 0
        True
    """

    def __init__(self, arch: Arch, cfg: ModelConfig, *, tp: int = 1, fidelity: str = "analytical",
                 dtypes: dict[str, str] | None = None):
        check_tp(cfg, tp)
        if tp > 1 and arch.interconnect is None:
            raise ConfigError(f"tp={tp} needs chip-to-chip links: arch {arch.name} has no "
                              "'interconnect' section", file=arch.file, key="interconnect")
        self.arch, self.cfg, self.tp, self.fidelity = arch, cfg, tp, fidelity
        # the KV cache is stored as the arch's dtypes.kv, as in `simulate --model` (vLLM's
        # kv_cache_dtype: a deployment choice, not the model's)
        self.dtypes = {**DTYPES, "kv": arch.dtypes.kv, **(dtypes or {})}
        self.dispatch_ps = ns_to_ps(arch.launch.idle_dispatch_ns)
        self._tokens: dict[tuple[int, int], tuple[int, tuple]] = {}
        self._attention: dict[tuple, tuple[int, tuple]] = {}
        self._attention_ps: dict[tuple, int] = {}
        self.plans: dict[tuple, Any] = {}                   # the engine's plans, by shape
        self._shape_ps: dict[tuple, int] = {}
        self.shape_rows: dict[tuple, dict[str, Any]] = {}   # one row per shape (energy pricing)
        self._token_uses: Counter = Counter()
        self._attention_uses: Counter = Counter()
        self.simulations = 0

    # ----------------------------------------------------------------------------- public
    def __call__(self, seqs: Sequence[Seq]) -> int:
        """Picoseconds of the iteration over ``seqs`` (the same as ``simulate`` of its trace)."""
        T = n_sample = 0
        groups: dict[tuple, int] = {}
        for s in seqs:
            T += s.q_len
            n_sample += s.sample
            g = (bool(s.prefill), s.q_len, s.kv_len)
            groups[g] = groups.get(g, 0) + 1
        return self.time_groups(T, n_sample, groups)

    def time_groups(self, tokens: int, n_sample: int, groups: dict[tuple, int]) -> int:
        """Picoseconds of an iteration of ``tokens`` tokens, ``n_sample`` sampling slices and
        attention ``groups`` (``{(prefill, q_len, kv_len): slices}``)."""
        # NOTE(perf): the serving hot path; dict lookups only (scripts/bench_serve.py)
        tkey = (tokens, n_sample)
        entry = self._tokens.get(tkey)
        if entry is None:
            self._learn_tokens(tokens, n_sample)
            entry = self._tokens[tkey]
        total = self.dispatch_ps + entry[0]
        self._token_uses[tkey] += 1
        # NOTE(perf): sums and counts in C (map, Counter.update) over the group keys; a lone
        # slice's key is its (prefill, q_len, kv_len) tuple as built by the caller
        keys = [g if n == 1 else (g, n) for g, n in groups.items()]
        try:
            total += sum(map(self._attention_ps.__getitem__, keys))
        except KeyError:
            self._learn_attention([(*g, n) for g, n in groups.items()
                                   if (g if n == 1 else (g, n)) not in self._attention])
            total += sum(map(self._attention_ps.__getitem__, keys))
        self._attention_uses.update(keys)
        return total

    def counted_shapes(self) -> Counter:
        """Operator instances per shape over every call so far (for the energy model)."""
        counts: Counter = Counter()
        for table, uses in ((self._tokens, self._token_uses),
                            (self._attention, self._attention_uses)):
            for key, n in uses.items():
                for shape, k in table[key][1]:
                    counts[shape] += k * n
        return counts

    # ----------------------------------------------------------------------------- misses
    def _rows(self, seqs: Sequence[Seq]) -> list[dict[str, Any]]:
        b = Builder(self.dtypes, phase="none", src="accelsim.serve")
        emit_forward(b, self.cfg, seqs, tp=self.tp, layers=1, req_ids=False)
        return [{**DEFAULTS, **row} for row in b.rows]

    def _learn_tokens(self, tokens: int, n_sample: int) -> None:
        """Token rows depend on ``(T, n_sample)`` only: time them on any slices with those."""
        if n_sample == 0:
            seqs = [Seq(0, tokens, tokens, True, False)]
        else:
            first = tokens - (n_sample - 1)
            seqs = [Seq(0, first, first, True, True)] + [Seq.decode(i, 2)
                                                          for i in range(1, n_sample)]
        rows = [r for r in self._rows(seqs) if r["op_class"] != "attention"]
        keys = [shape_key(r) for r in rows]
        self._time_new_shapes(rows, keys)
        ps, shapes = 0, Counter()
        for row, key in zip(rows, keys):
            times = self.cfg.layers if row["layer"] >= 0 else 1
            ps += times * self._shape_ps[key]
            shapes[key] += times
        self._tokens[(tokens, n_sample)] = (ps, tuple(shapes.items()))

    def _learn_attention(self, missing: list[tuple]) -> None:
        """Attention rows of the ``missing`` groups ``(prefill, q_len, kv_len, n)``; a decode
        group also learns the next ``DECODE_PREFETCH`` context lengths (decodes grow by one)."""
        wanted: dict[tuple, None] = {}
        for pre, q, kv, n in missing:
            wanted[(pre, q, kv, n)] = None
            if not pre:
                for k in range(kv + 1, min(kv + DECODE_PREFETCH, self.cfg.max_ctx + 1)):
                    if ((pre, q, k) if n == 1 else ((pre, q, k), n)) not in self._attention:
                        wanted[(pre, q, k, n)] = None
        by_n: dict[int, list[tuple]] = {}
        for key in wanted:
            by_n.setdefault(key[3], []).append(key)
        rows: list[dict[str, Any]] = []
        for n, keys in by_n.items():       # one pass per group size: groups keep their n
            seqs = [Seq(i * n + j, q, kv, pre, True)
                    for i, (pre, q, kv, _) in enumerate(keys) for j in range(n)]
            rows += [r for r in self._rows(seqs) if r["op_class"] == "attention"]
        keys = [shape_key(r) for r in rows]
        self._time_new_shapes(rows, keys)
        L = self.cfg.layers
        for row, key in zip(rows, keys):
            n = row["batch"] // row["kv_heads"]
            g = (bool(row["causal"]), row["q_len"], row["kv_len"])
            self._attention[g if n == 1 else (g, n)] = (L * self._shape_ps[key], ((key, L),))
            self._attention_ps[g if n == 1 else (g, n)] = L * self._shape_ps[key]

    def _time_new_shapes(self, rows: list[dict[str, Any]], keys: list[tuple]) -> None:
        new: dict[tuple, dict[str, Any]] = {}
        for row, key in zip(rows, keys):
            if key not in self._shape_ps and key not in new:
                new[key] = row
        if not new:
            return
        batch = [{**row, "op_id": i, "iter": 0, "stream": 0, "deps": "", "repeat": 1}
                 for i, row in enumerate(new.values())]
        result = Simulation(self.arch, PreparedTrace(None, batch), fidelity=self.fidelity,
                            progress=False).run()
        self.simulations += 1
        self.plans.update(result.plans)
        durations = [0] * len(batch)
        for rec in result.records:
            durations[rec.row] += rec.end_ps - rec.start_ps
        for key, row, ps in zip(new, batch, durations):
            self._shape_ps[key] = ps
            self.shape_rows[key] = row


class FixedTimer:
    """Every iteration takes ``iteration_ps`` (queueing checks: M/D/1)."""

    def __init__(self, iteration_ps: int):
        self.iteration_ps = int(iteration_ps)
        self.simulations = 0
        self.shape_rows: dict = {}

    def __call__(self, seqs: Sequence[Seq]) -> int:
        return self.iteration_ps

    def time_groups(self, tokens: int, n_sample: int, groups: dict) -> int:
        return self.iteration_ps

    def counted_shapes(self) -> Counter:
        return Counter()
