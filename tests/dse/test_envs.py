"""The Gymnasium envs: registration, the checker, rewards, masks, vector envs."""

import math

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import accelsim.gym  # noqa: F401  (registers the ids)
from accelsim.gym import ENV_IDS

TINY = str(__import__('pathlib').Path(__file__).parent / 'data' / 'tiny-latency.yaml')


@pytest.mark.parametrize("env_id", sorted(ENV_IDS))
def test_check_env(env_id):
    env = gymnasium.make(env_id, env_def=TINY)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", sorted(ENV_IDS))
def test_same_seed_same_rollout(env_id):
    def rollout(seed):
        env = gymnasium.make(env_id, env_def=TINY)
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        out = []
        for _ in range(6):
            obs, r, term, trunc, info = env.step(env.action_space.sample())
            out.append((r, term, trunc, info["status"], sorted(info["metrics"].items())))
            if term or trunc:
                obs, _ = env.reset()
        return out

    assert rollout(3) == rollout(3)


def test_design_env_rewards_are_finite_and_info_complete():
    env = gymnasium.make("accelsim/Design-v0", env_def=TINY)
    env.reset(seed=0)
    space = env.unwrapped.space
    bad = space.encode({"ifmap_kib": 1})              # SRAM too small: invalid design
    _, r, term, trunc, info = env.step(np.array(bad))
    assert info["status"] == "invalid" and info["error"] and term and not trunc
    assert math.isfinite(r) and r == env.unwrapped.env_def.reward.invalid_penalty
    _, r0, *_ , info0 = env.step(np.array(space.encode(space.baseline())))
    assert r0 == pytest.approx(0.0) and info0["status"] == "ok"
    assert {"design", "metrics", "objectives", "constraints", "status", "feasible"} <= set(info0)
    assert env.unwrapped.last_result.wall_s >= 0


def test_infeasible_penalty_grows_with_violation(tiny_env):
    from accelsim.dse import make_reward
    from accelsim.dse._evaluate import Result

    reward = make_reward(tiny_env)
    small = Result({}, "infeasible", metrics={"latency_ns": 1.0}, constraints={"a": 0.1})
    large = Result({}, "infeasible", metrics={"latency_ns": 1.0}, constraints={"a": 10.0})
    huge = Result({}, "infeasible", metrics={"latency_ns": 1.0}, constraints={"a": 1e300})
    assert reward(small) > reward(large) >= reward(huge) >= tiny_env.reward.invalid_penalty
    assert all(math.isfinite(reward(x)) for x in (small, large, huge))


def test_tweak_truncates_at_horizon():
    env = gymnasium.make("accelsim/Tweak-v0", env_def=TINY, horizon=3)
    env.reset(seed=0)
    flags = [env.step(env.action_space.sample())[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


def test_sequential_masks_and_episode_length():
    env = gymnasium.make("accelsim/Sequential-v0", env_def=TINY).unwrapped
    env.reset(seed=0)
    k = len(env.space)
    for pos in range(k):
        mask = env.action_masks()
        assert mask.sum() == env.space.nvec[pos]
        _, r, term, trunc, info = env.step(int(np.flatnonzero(mask)[-1]))
        assert term == (pos == k - 1) and not trunc
    assert info["status"] in ("ok", "infeasible", "invalid")


def test_overrides_through_make():
    env = gymnasium.make("accelsim/Design-v0", env_def=TINY, fidelity="full",
                         overrides={"workload.generate.batch": 2})
    assert env.unwrapped.evaluator.fidelity == "full"
    assert env.unwrapped.env_def.workload.generate["batch"] == 2


def test_same_step_autoreset_vector_env():
    envs = gymnasium.make_vec(
        "accelsim/Design-v0", num_envs=2, vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}, env_def=TINY)
    envs.reset(seed=0)
    for _ in range(3):
        _, r, term, _, _ = envs.step(envs.action_space.sample())
        assert term.all() and np.isfinite(r).all()
    envs.close()
