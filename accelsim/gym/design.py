"""``accelsim/Design-v0``: one step proposes a whole design (a contextual bandit).

Action: ``MultiDiscrete(nvec)``, one index per knob (``DesignSpace.decode``). Every episode is
one step: ``terminated=True``, ``truncated=False``. The reset observation carries the baseline
design, its metrics (all zeros: log-ratio to itself) and the workload features.

With vector envs use same-step autoreset, or every other call is a wasted reset::

    envs = gymnasium.make_vec("accelsim/Design-v0", num_envs=4, vectorization_mode="async",
                              vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP},
                              env_def="envs/llama2-7b-decode-latency-under-area.yaml")
"""

from __future__ import annotations

import numpy as np

from ._base import AccelsimEnv


class DesignEnv(AccelsimEnv):
    """Propose a full design per step; see the module docstring."""

    def __init__(self, env_def, **kwargs):
        super().__init__(env_def, **kwargs)
        self.action_space = self.space.to_gymnasium()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        base = self.baseline
        self._last = None
        idx = self.space.encode(base.design)
        return self._obs(idx, base), self._info(base, base.design)

    def step(self, action):
        idx = np.asarray(action, dtype=np.int64).reshape(-1)
        result = self.evaluate_indices(idx)
        self._last = result
        return (self._obs(idx, result), self.reward_of(result), True, False,
                self._info(result, result.design))
