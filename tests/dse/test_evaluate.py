"""evaluate / evaluate_many / the cache: statuses, determinism, no NaN."""

import math

import numpy as np
import pytest

from accelsim.dse import Evaluator, ResultCache, evaluate, evaluate_many, load_env


def test_invalid_design_is_a_status_not_an_exception(tiny_env):
    r = evaluate({"ifmap_kib": 1}, tiny_env)
    assert r.status == "invalid" and "SRAM too small" in r.error
    assert r.metrics == {} and r.objectives == {} and not r.feasible


def test_unknown_knob_is_an_error(tiny_env):
    from accelsim.errors import AccelsimError

    with pytest.raises(AccelsimError, match="did you mean 'sa_dim'"):
        evaluate({"sa_dims": 64}, tiny_env)


def test_result_has_units_and_finite_metrics(tiny_env):
    r = evaluate({"sa_dim": 32, "channels": 16}, tiny_env)
    assert r.status == "ok" and r.units == {"latency_ns": "ns", "throughput_tok_s": "tokens/s"}
    assert all(math.isfinite(v) and v > 0 for v in r.metrics.values())
    assert r.directions == {"latency_ns": "minimize", "throughput_tok_s": "maximize"}


def test_constraints_make_designs_infeasible(tiny_env):
    base = evaluate({}, tiny_env).metrics["latency_ns"]
    env = tiny_env.with_overrides(constraints=[{"metric": "latency", "max": base * 0.999}])
    r = evaluate({}, env)
    assert r.status == "infeasible" and r.constraints["latency_max"] > 0


def test_determinism_and_cache(tmp_path, tiny_env):
    rng = np.random.default_rng(0)
    designs = [tiny_env.space.sample(rng) for _ in range(12)]
    a = Evaluator(tiny_env, cache=ResultCache(tmp_path / "c.sqlite", memory_entries=4))
    first = [a.evaluate(d) for d in designs]
    assert a.cache.stats["evictions_memory"] > 0
    b = Evaluator(tiny_env, cache=ResultCache(tmp_path / "c.sqlite", memory_entries=4))
    again = [b.evaluate(d) for d in designs]
    assert [r.comparable() for r in first] == [r.comparable() for r in again]
    assert all(r.cache_hit for r in again) and b.cache.stats["hits_disk"] > 0
    fresh = [Evaluator(tiny_env, cache=ResultCache()).evaluate(d) for d in designs]
    assert [r.comparable() for r in fresh] == [r.comparable() for r in first]


def test_disk_cache_is_bounded(tmp_path, tiny_env):
    cache = ResultCache(tmp_path / "c.sqlite", memory_entries=0, disk_entries=5)
    ev = Evaluator(tiny_env, cache=cache)
    rng = np.random.default_rng(1)
    for _ in range(12):
        ev.evaluate(tiny_env.space.sample(rng))
    assert cache.stats["evictions_disk"] > 0
    assert cache._conn().execute("SELECT COUNT(*) FROM results").fetchone()[0] == 5


def test_evaluate_many_matches_sequential(tiny_env):
    rng = np.random.default_rng(2)
    designs = [tiny_env.space.sample(rng) for _ in range(8)] + [{"ifmap_kib": 1}]
    pooled = evaluate_many(designs, tiny_env, n_workers=2, cache=ResultCache())
    serial = [Evaluator(tiny_env, cache=ResultCache()).evaluate(d) for d in designs]
    assert [r.comparable() for r in pooled] == [r.comparable() for r in serial]
    assert pooled[-1].status == "invalid"


def test_cache_key_depends_on_fidelity_and_workload(tiny_env):
    a = Evaluator(tiny_env, "analytical").key({})
    b = Evaluator(tiny_env, "full").key({})
    c = Evaluator(tiny_env.with_overrides({"workload.generate.batch": 2})).key({})
    assert len({a, b, c}) == 3


def test_full_fidelity_runs(tiny_env):
    r = evaluate({"sa_dim": 64}, tiny_env, "full")
    assert r.status == "ok" and r.fidelity == "full"


def test_space_exporters(tiny_env):
    space = tiny_env.space
    assert list(space.to_gymnasium().nvec) == [4, 4, 4, 3]
    d = space.baseline()
    assert space.decode(space.encode(d)) == d
    assert all(len(n) == 4 for n in [space.neighbors(d)[0]])
    optuna = pytest.importorskip("optuna")
    dists = space.to_optuna()
    assert isinstance(dists["dataflow"], optuna.distributions.CategoricalDistribution)
    assert space.suggest(optuna.trial.FixedTrial(d)) == d
