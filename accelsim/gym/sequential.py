"""``accelsim/Sequential-v0``: set one knob per step, in the env file's knob order.

Action: ``Discrete(max knob size)``: the index of the value for the current knob. Indices past
the current knob's grid are invalid; ``action_masks()`` (sb3-contrib ``MaskablePPO``) returns
the valid ones, and an invalid index is clipped to the last value. Knobs not yet set show their
baseline index in ``obs["design"]``; ``obs["position"]`` marks the knob to set next. Intermediate
steps give reward 0 and ``info["status"] == "pending"``; the step that sets the last knob
evaluates the design, returns its reward and ``terminated=True``.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from ._base import AccelsimEnv


class SequentialEnv(AccelsimEnv):
    def __init__(self, env_def, **kwargs):
        super().__init__(env_def, **kwargs)
        self.action_space = spaces.Discrete(int(self.space.nvec.max()))
        self.observation_space = spaces.Dict({**self.observation_space.spaces,
                                              "position": spaces.MultiBinary(len(self.space))})
        self._idx = np.zeros(len(self.space), dtype=np.int64)
        self._pos = 0

    def _obs_seq(self, result):
        obs = self._obs(self._idx, result)
        pos = np.zeros(len(self.space), dtype=np.int8)
        if self._pos < len(self.space):
            pos[self._pos] = 1
        obs["position"] = pos
        return obs

    def action_masks(self) -> np.ndarray:
        """Valid actions for the knob to set next (bool, ``action_space.n`` long)."""
        mask = np.zeros(self.action_space.n, dtype=bool)
        pos = min(self._pos, len(self.space) - 1)
        mask[: self.space.nvec[pos]] = True
        return mask

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        base = self.baseline
        self._idx = np.asarray(self.space.encode(base.design), dtype=np.int64)
        self._pos = 0
        self._last = None
        return self._obs_seq(None), self._info(None, base.design)

    def step(self, action):
        n = int(self.space.nvec[self._pos])
        self._idx = self._idx.copy()
        self._idx[self._pos] = min(int(action), n - 1)
        self._pos += 1
        if self._pos < len(self.space):
            return (self._obs_seq(None), 0.0, False, False,
                    self._info(None, self.space.decode(self._idx)))
        result = self.evaluate_indices(self._idx)
        self._last = result
        return (self._obs_seq(result), self.reward_of(result), True, False,
                self._info(result, result.design))
