"""The closed loop against a faster chip (against queueing theory: the M/D/1 rows of
``accelsim validate --only serving``, tests/validation/test_serving_md1.py)."""

from accelsim.arch.config import load_arch
from accelsim.serving import Pool, Settings, serve
from accelsim.workload.requests import synthesize_requests


def test_faster_chip_lowers_p99_ttft():
    """Same requests and load; the chip with twice the memory bandwidth and a faster clock has a
    strictly lower p99 TTFT (the scheduler sees its shorter iterations)."""
    requests = synthesize_requests("sharegpt", rate=40, num_requests=150, seed=1,
                                   max_total_tokens=2048)
    slow = load_arch("h100_like")
    fast = load_arch("h100_like", overrides=["clock_mhz=2000",
                                             "memory.channel_bandwidth_gbps=83.75"])
    p99 = {}
    for name, arch in (("slow", slow), ("fast", fast)):
        res = serve(requests, "llama3-8b", pools=[Pool(arch)], settings=Settings(progress=False))
        assert res.summary["requests_finished"] == len(requests)
        p99[name] = res.summary["ttft_ms"]["p99"]
    assert p99["fast"] < p99["slow"]
