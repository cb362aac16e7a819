"""``accelsim/Tweak-v0``: move every knob by -1/0/+1 grid steps per step, for a fixed horizon.

Action: ``MultiDiscrete([3] * knobs)`` (0 = one step down, 1 = stay, 2 = one step up; moves past
either end of a grid stay at the end). The episode starts at the baseline design
(``options={"start": "random"}`` or ``start="random"`` at construction: a random design drawn
from ``self.np_random``) and ends after ``horizon`` steps (the env file's ``tweak.horizon``)
with ``truncated=True``; it never terminates on its own. The reward of a step is the reward of
the design reached (not the change), so returns are comparable between horizons.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from ..errors import AccelsimError
from ._base import AccelsimEnv


class TweakEnv(AccelsimEnv):
    def __init__(self, env_def, *, horizon: int | None = None, start: str = "baseline", **kwargs):
        super().__init__(env_def, **kwargs)
        self.horizon = int(horizon or self.env_def.tweak_horizon)
        if start not in ("baseline", "random"):
            raise AccelsimError(f"start must be 'baseline' or 'random', got {start!r}")
        self.start = start
        self.action_space = spaces.MultiDiscrete(np.full(len(self.space), 3, dtype=np.int64))
        self._idx = np.zeros(len(self.space), dtype=np.int64)
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        start = (options or {}).get("start", self.start)
        base = self.baseline
        if start == "random":
            self._idx = np.array([self.np_random.integers(n) for n in self.space.nvec],
                                 dtype=np.int64)
            result = self.evaluate_indices(self._idx)
        else:
            self._idx = np.asarray(self.space.encode(base.design), dtype=np.int64)
            result = base
        self._t = 0
        self._last = result
        return self._obs(self._idx, result), self._info(result, result.design)

    def step(self, action):
        delta = np.asarray(action, dtype=np.int64).reshape(-1) - 1
        self._idx = np.clip(self._idx + delta, 0, self.space.nvec - 1)
        result = self.evaluate_indices(self._idx)
        self._last = result
        self._t += 1
        return (self._obs(self._idx, result), self.reward_of(result), False,
                self._t >= self.horizon, self._info(result, result.design))
