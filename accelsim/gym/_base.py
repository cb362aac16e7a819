"""Shared machinery of the ``accelsim/*`` Gymnasium environments (built on ``accelsim.dse``).

Observation (a single-level ``Dict``, so SB3's ``MultiInputPolicy`` and ``FlattenObservation``
work): ``design`` (knob indices, ``MultiDiscrete``), ``metrics`` (``log(metric / baseline)`` per
reported metric, clipped to [-10, 10]; zeros when the design did not simulate), ``feasible``
(``MultiBinary(1)``) and ``workload`` (log-scaled workload features, see
``Evaluator.workload_features``). Every step's ``info`` has the same keys: ``design``,
``metrics`` (raw, unit in the name), ``objectives``, ``constraints`` (<= 0 feasible),
``status``, ``feasible``, ``error``. Wall time and cache hits are machine facts, not outcomes,
so they stay out of ``info`` (``check_env`` compares infos for determinism); read them from
``env.unwrapped.last_result``.

Rewards follow the env's ``RewardSpec`` (default: ``-log(latency / baseline latency)``);
infeasible, invalid and timed-out designs get finite penalties, never ``-inf``.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ..dse._envdef import METRICS, EnvDef, load_env
from ..dse._evaluate import Evaluator, Result
from ..dse._reward import make_reward
from ..errors import AccelsimError

METRIC_CLIP = 10.0
N_WORKLOAD_FEATURES = 6


class AccelsimEnv(gym.Env):
    """Base class: loads the env definition, owns the ``Evaluator`` and builds observations.

    Args:
        env_def: path of an ``envs/*.yaml`` file, an env name, or an ``EnvDef``.
        fidelity: ``analytical`` or ``full`` (default: the env file's).
        overrides: dotted key paths of the env YAML to replace (``{"workload.generate.batch": 4}``).
        cache: a ``ResultCache`` to share between envs (default: one per env).
        render_mode: ``None`` or ``"ansi"``.
        **top: top-level env YAML keys to replace (``constraints=[]``, ``reward={...}``).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, env_def: str | EnvDef, *, fidelity: str | None = None,
                 overrides: dict[str, Any] | None = None, cache=None,
                 render_mode: str | None = None, **top: Any):
        self.env_def = load_env(env_def, overrides, **top)
        self.evaluator = Evaluator(self.env_def, fidelity, cache=cache)
        self.evaluator.check_available()
        self.space = self.env_def.space
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise AccelsimError(f"render_mode {render_mode!r} is not supported; use 'ansi'")
        self.render_mode = render_mode
        self._metric_cols = [METRICS[m][0] for m in self.env_def.metric_names]
        self.observation_space = spaces.Dict({
            "design": spaces.MultiDiscrete(self.space.nvec),
            "metrics": spaces.Box(-METRIC_CLIP, METRIC_CLIP, (len(self._metric_cols),),
                                  dtype=np.float32),
            "feasible": spaces.MultiBinary(1),
            "workload": spaces.Box(0.0, 64.0, (N_WORKLOAD_FEATURES,), dtype=np.float32),
        })
        self._baseline: Result | None = None
        self._reward = None
        self._workload = None
        self._last: Result | None = None
        #: Optional ``design -> Result`` used for the agent's designs (study recorders); the
        #: baseline always goes through ``self.evaluator``.
        self.eval_hook = None

    # ------------------------------------------------------------------ helpers
    @property
    def baseline(self) -> Result:
        """The baseline design's result (simulated once, on first use)."""
        if self._baseline is None:
            base = self.evaluator.evaluate(self.space.baseline())
            if not base.simulated:
                raise AccelsimError(f"env {self.env_def.name!r}: the baseline design "
                                    f"{base.design} does not simulate: {base.error}")
            self._baseline = base
            self._reward = make_reward(self.env_def, base)
            self._workload = np.clip(np.asarray(self.evaluator.workload_features(),
                                                dtype=np.float32), 0.0, 64.0)
        return self._baseline

    def evaluate_indices(self, indices) -> Result:
        design = self.space.decode(indices)
        if self.eval_hook is not None:
            return self.eval_hook(design)
        return self.evaluator.evaluate(design)

    def reward_of(self, result: Result) -> float:
        self.baseline  # noqa: B018
        return float(self._reward(result))

    def _obs(self, indices, result: Result | None) -> dict[str, np.ndarray]:
        base = self.baseline
        metrics = np.zeros(len(self._metric_cols), dtype=np.float32)
        if result is not None and result.metrics:
            for i, col in enumerate(self._metric_cols):
                m, b = result.metrics[col], base.metrics[col]
                if m > 0 and b > 0:
                    metrics[i] = np.clip(math.log(m / b), -METRIC_CLIP, METRIC_CLIP)
        feasible = 1 if (result is not None and result.feasible) else 0
        return {"design": np.asarray(indices, dtype=np.int64).copy(), "metrics": metrics,
                "feasible": np.array([feasible], dtype=np.int8),
                "workload": self._workload.copy()}

    @staticmethod
    def _info(result: Result | None, design: dict[str, Any]) -> dict[str, Any]:
        if result is None:
            return {"design": dict(design), "metrics": {}, "objectives": {}, "constraints": {},
                    "status": "pending", "feasible": False, "error": ""}
        return {"design": dict(result.design), "metrics": dict(result.metrics),
                "objectives": dict(result.objectives), "constraints": dict(result.constraints),
                "status": result.status, "feasible": result.feasible,
                "error": result.error or ""}

    @property
    def last_result(self) -> Result | None:
        """The ``Result`` of the last evaluated design (with ``wall_s`` and ``cache_hit``)."""
        return self._last

    def render(self):
        if self.render_mode != "ansi":
            return None
        r = self._last
        if r is None:
            return "(no design evaluated yet)\n"
        lines = [f"design: {r.design}", f"status: {r.status}" + (f" ({r.error})" if r.error
                                                                  else "")]
        lines += [f"  {k} = {v:.6g} {r.units.get(k, '')}" for k, v in r.metrics.items()]
        lines += [f"  constraint {k} = {v:+.3f}" for k, v in r.constraints.items()]
        return "\n".join(lines) + "\n"
