"""Property: simulated time never decreases as batch, context or prompt length grows, on every
shipped preset (one Llama-2-7B layer; analytical fidelity, and full fidelity on the GPU presets)."""

import pytest

from accelsim.api import simulate
from accelsim.arch.config import load_arch, preset_names
from accelsim.workload.generate import generate_trace

BATCHES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
CONTEXTS = (64, 128, 300, 512, 1024, 2048, 4096, 8192)
PROMPTS = (16, 64, 100, 256, 512, 1000, 2048)


def _times(arch, fidelity, make):
    return [simulate(arch, make(x), fidelity=fidelity, progress=False).total_time_ns
            for x in make.values]


def _sweeps():
    def batch(b):
        return generate_trace("llama2-7b", "decode", batch=b, context=1024, layers=1)

    def context(c):
        return generate_trace("llama2-7b", "decode", batch=16, context=c, layers=1)

    def prompt(s):
        return generate_trace("llama2-7b", "prefill", batch=1, seq_len=s, layers=1)

    batch.values, context.values, prompt.values = BATCHES, CONTEXTS, PROMPTS
    return {"batch": batch, "context": context, "prompt": prompt}


@pytest.mark.parametrize("preset", preset_names())
def test_time_never_decreases_as_the_work_grows(preset):
    arch = load_arch(preset)
    fidelities = ["analytical"] + (["full"] if arch.cores > 1 else [])
    for fidelity in fidelities:
        for what, make in _sweeps().items():
            times = _times(arch, fidelity, make)
            drops = [(make.values[i], make.values[i + 1]) for i in range(len(times) - 1)
                     if times[i + 1] < times[i]]
            assert not drops, f"{preset} {fidelity}: time drops as {what} grows {drops}: {times}"
