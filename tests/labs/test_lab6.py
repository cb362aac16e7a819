"""Lab 6 autograder: DSE under an area budget (random / Optuna TPE / PPO), Pareto front, seeds."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("optuna")


@pytest.fixture(scope="module")
def lab(lab_factory):
    return lab_factory(6)


def test_pareto_front(lab):
    f = lab.impl
    pts = [(3.0, 1.0), (1.0, 3.0), (2.0, 2.0), (2.5, 2.5), (1.0, 3.0), (4.0, 0.5), (1.5, 3.0)]
    assert f.pareto_front(pts) == [1, 2, 0, 5]
    assert f.pareto_front([]) == []
    assert f.pareto_front([(1.0, 1.0)]) == [0]
    assert f.seed_spread([2.0, 4.0, 3.0]) == pytest.approx(2.0)


def test_every_optimizer_beats_the_baseline(lab):
    res = lab.results()
    base = res["baseline"]["latency_ms"]
    assert 150 < base < 300 and 25 < res["baseline"]["area_mm2"] < 45
    for (opt, seed), r in res["runs"].items():
        assert r["evaluations"] == res["budget"]
        assert r["feasible"] >= res["budget"] // 4
        assert r["best_ms"] < base, (opt, seed)
        assert r["best_area"] <= res["area_max"]
        c = r["curve"]
        assert all(a >= b for a, b in zip(c, c[1:]) if not (math.isnan(a) or math.isnan(b)))


def test_front_and_lottery(lab):
    res = lab.results()
    front = res["front"]
    assert len(front) >= 5
    lat = [p["latency_ms"] for p in front]
    area = [p["area_mm2"] for p in front]
    assert lat == sorted(lat) and area == sorted(area, reverse=True)
    # the budget binds: the fastest designs evaluated are over it
    assert not front[0]["feasible"]
    assert any(p["feasible"] for p in front)
    # the best design found is >= 2x faster than the baseline
    best = min(r["best_ms"] for r in res["runs"].values())
    assert res["baseline"]["latency_ms"] / best > 2
    # seed sensitivity: at least one optimizer's result varies by > 1.5x across seeds
    spreads = [res[k]["spread"] for k in res if k.startswith("summary_")]
    assert max(spreads) > 1.5
    assert all(s >= 1 for s in spreads)
