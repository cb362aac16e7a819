"""Gymnasium environments for design-space exploration, registered under ``accelsim/``.

Importing this package registers the ids; the env modules themselves are imported only by
``gymnasium.make`` (string entry points)::

    import gymnasium, accelsim.gym
    env = gymnasium.make("accelsim/Design-v0", env_def="envs/llama2-7b-decode-latency-under-area.yaml",
                         fidelity="analytical")

Without importing accelsim first: ``gymnasium.make("accelsim.gym:accelsim/Design-v0", ...)``.

=======================  ================================================  ==================
id                       one step                                          episode ends
=======================  ================================================  ==================
accelsim/Design-v0       a whole design (MultiDiscrete of knob indices)    terminated, 1 step
accelsim/Tweak-v0        -1/0/+1 per knob (MultiDiscrete([3]*k))           truncated, horizon
accelsim/Sequential-v0   one knob's value (Discrete, ``action_masks()``)   terminated, k steps
=======================  ================================================  ==================

When reward or observation semantics change, add ``-v1`` and keep ``-v0``.
"""

from __future__ import annotations

ENV_IDS = {
    "accelsim/Design-v0": "accelsim.gym.design:DesignEnv",
    "accelsim/Tweak-v0": "accelsim.gym.tweak:TweakEnv",
    "accelsim/Sequential-v0": "accelsim.gym.sequential:SequentialEnv",
}


def register_envs() -> None:
    """Register the ``accelsim/*`` ids with Gymnasium (idempotent)."""
    import gymnasium

    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            # Tweak-v0 truncates itself at its horizon; no TimeLimit wrapper is added.
            gymnasium.register(id=env_id, entry_point=entry_point, disable_env_checker=False)


def __getattr__(name: str):
    lazy = {"DesignEnv": "design", "TweakEnv": "tweak", "SequentialEnv": "sequential",
            "AccelsimEnv": "_base"}
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(f"accelsim.gym.{lazy[name]}"), name)
    raise AttributeError(f"module 'accelsim.gym' has no attribute {name!r}")


register_envs()

__all__ = ["ENV_IDS", "register_envs", "DesignEnv", "TweakEnv", "SequentialEnv"]
