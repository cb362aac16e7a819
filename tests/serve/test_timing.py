"""A serve iteration takes exactly what ``simulate`` gives for the same iteration's trace."""

import dataclasses

import pytest

from accelsim.api import simulate
from accelsim.arch.config import InterconnectConfig, load_arch
from accelsim.serving.timing import IterationTimer
from accelsim.workload.iteration import iteration_trace
from accelsim.workload.layers import Seq
from accelsim.workload.models import load_model

# Iterations with prompt chunks, decodes that share a context length (one attention row of two
# requests) and lone decodes; the last one reuses shapes the earlier ones taught the timer.
ITERATIONS = [
    [Seq.prompt(0, 300)],
    [Seq.decode(0, 301), Seq.decode(1, 57), Seq.decode(2, 57), Seq.prompt(3, 64, 128, last=False)],
    [Seq.decode(1, 58), Seq.decode(2, 58), Seq.decode(0, 302)],
    [Seq.decode(0, 301), Seq.decode(1, 57), Seq.decode(2, 57), Seq.decode(4, 58),
     Seq.decode(5, 58), Seq.prompt(3, 64, 128, last=False)],
]


@pytest.mark.parametrize("arch,model,fidelity,tp", [
    ("h100_like", "llama3-8b", "analytical", 1),
    ("npu_128x128_bf16_hbm2", "tiny-llama-gqa-test", "full", 1),
    ("npu_128x128_bf16_hbm2", "tiny-llama-gqa-test", "analytical", 2),   # + all-reduces
])
def test_iteration_time_equals_simulate(arch, model, fidelity, tp):
    a, cfg = load_arch(arch), load_model(model)
    if tp > 1:
        a = dataclasses.replace(a, interconnect=InterconnectConfig(100.0, 500.0))
    timer = IterationTimer(a, cfg, tp=tp, fidelity=fidelity)
    for seqs in ITERATIONS:
        expected = simulate(a, iteration_trace(cfg, seqs, tp=tp), fidelity=fidelity,
                            progress=False).result.end_ps
        assert timer(seqs) == expected
    assert timer.simulations < 3 * len(ITERATIONS)


def test_same_shapes_are_not_simulated_again():
    timer = IterationTimer(load_arch("h100_like"), load_model("llama3-8b"))
    first = timer([Seq.decode(i, 100 + i) for i in range(8)])
    runs = timer.simulations
    assert timer([Seq.decode(i, 100 + i) for i in range(8)]) == first
    # decode contexts one longer: prefetched with the first miss
    timer([Seq.decode(i, 101 + i) for i in range(8)])
    assert timer.simulations == runs


def test_the_arch_kv_dtype_sizes_the_cache_and_the_attention_reads():
    from accelsim.serving.kv import kv_space

    cfg = load_model("llama3-8b")
    bf16, fp8 = (load_arch("h100_like", overrides={"dtypes.kv": kv}) for kv in ("bf16", "fp8"))
    assert kv_space(fp8, cfg, kv_dtype=fp8.dtypes.kv).num_blocks > \
        1.9 * kv_space(bf16, cfg, kv_dtype=bf16.dtypes.kv).num_blocks
    step = [Seq.decode(i, 8000) for i in range(32)]        # attention reads 32 x 8k tokens of KV
    assert IterationTimer(fp8, cfg)(step) < IterationTimer(bf16, cfg)(step)
