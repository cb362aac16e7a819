"""The analytical memory's closed-form FIFO equals a SimPy capacity-1 Resource, request by request."""

import random

import simpy

from accelsim.hw.memory import AnalyticalMemory
from accelsim.units import bytes_to_ps, ns_to_ps


def reference_transfer(env, pipe, mem, nbytes):
    busy = bytes_to_ps(nbytes, mem.peak_bandwidth_gbps())
    with pipe.request() as grant:
        yield grant
        yield env.timeout(busy)
    yield env.timeout(ns_to_ps(mem.latency_ns()))


def test_closed_form_pipe_matches_a_simpy_resource():
    rng = random.Random(7)
    jobs = [(rng.randrange(0, 50_000), rng.randrange(1, 1 << 16)) for _ in range(300)]
    finish = {}
    for name in ("model", "reference"):
        env = simpy.Environment()
        mem = AnalyticalMemory(channels=4, channel_bandwidth_gbps=8.0, latency_ns=37.0)
        mem.bind(env)
        pipe = simpy.Resource(env, capacity=1)

        def job(k, at, nbytes):
            yield env.timeout(at)
            if name == "model":
                yield env.process(mem.transfer(nbytes))
            else:
                yield env.process(reference_transfer(env, pipe, mem, nbytes))
            finish[name, k] = env.now

        for k, (at, nbytes) in enumerate(jobs):
            env.process(job(k, at, nbytes))
        env.run()
    assert all(finish["model", k] == finish["reference", k] for k in range(len(jobs)))
