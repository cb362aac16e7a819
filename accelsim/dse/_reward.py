"""Reward specs: a ``Result`` (and the baseline's) -> one finite float, higher is better.

``RewardSpec`` is the interface (one abstract method, ``objective_reward``); the feasibility
handling is shared and fixed:

* feasible: ``objective_reward(result)``;
* infeasible: ``infeasible_penalty - violation_scale * log(1 + sum of violations)``, floored at
  ``invalid_penalty`` (finite, and worse the further the design is from feasible);
* invalid / timeout: ``invalid_penalty``.

Registered specs (``reward: {kind: ...}`` in the env YAML):

* ``log_ratio`` (default): ``-sum_i w_i * s_i * log(m_i / baseline_i)`` with ``s_i = +1`` to
  minimize, ``-1`` to maximize; 0 at the baseline, +0.69 for a 2x better latency.
* ``target_hinge``: ``-sum_i w_i * max(0, s_i * log(m_i / target_i))``; 0 once every target is met.
"""

from __future__ import annotations

import abc
import math

from ._envdef import METRICS, RewardConfig

_TINY = 1e-30


class RewardSpec(abc.ABC):
    """Turns results into rewards. Implementations guarantee a finite float for any input."""

    name = ""

    def __init__(self, config: RewardConfig, objectives, baseline=None):
        self.config, self.objectives, self.baseline = config, tuple(objectives), baseline

    @abc.abstractmethod
    def objective_reward(self, result) -> float:
        """Reward of a feasible result (metrics present)."""

    def __call__(self, result) -> float:
        cfg = self.config
        if result.status in ("invalid", "timeout") or not result.metrics:
            return float(cfg.invalid_penalty)
        if result.status == "infeasible":
            violation = sum(max(0.0, v) for v in result.constraints.values())
            r = cfg.infeasible_penalty - cfg.violation_scale * math.log1p(violation)
            return float(max(cfg.invalid_penalty, r)) if math.isfinite(r) else cfg.invalid_penalty
        r = self.objective_reward(result)
        if not math.isfinite(r):
            return float(cfg.invalid_penalty)
        return float(r)

    @staticmethod
    def _log(x: float) -> float:
        return math.log(max(float(x), _TINY))


class LogRatioReward(RewardSpec):
    name = "log_ratio"

    def objective_reward(self, result) -> float:
        if self.baseline is None or not self.baseline.metrics:
            raise ValueError("log_ratio reward needs a simulated baseline result")
        r = 0.0
        for o in self.objectives:
            w = self.config.weights.get(o.metric, 1.0)
            sign = 1.0 if o.direction == "minimize" else -1.0
            col = METRICS[o.metric][0]
            r -= w * sign * (self._log(result.metrics[col]) - self._log(self.baseline.metrics[col]))
        return r


class TargetHingeReward(RewardSpec):
    name = "target_hinge"

    def objective_reward(self, result) -> float:
        r = 0.0
        for o in self.objectives:
            w = self.config.weights.get(o.metric, 1.0)
            sign = 1.0 if o.direction == "minimize" else -1.0
            col = METRICS[o.metric][0]
            gap = sign * (self._log(result.metrics[col]) - self._log(self.config.targets[o.metric]))
            r -= w * max(0.0, gap)
        return r


REWARDS: dict[str, type[RewardSpec]] = {"log_ratio": LogRatioReward,
                                        "target_hinge": TargetHingeReward}


def make_reward(env_def, baseline=None) -> RewardSpec:
    return REWARDS[env_def.reward.kind](env_def.reward, env_def.objectives, baseline)
