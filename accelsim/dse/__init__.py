"""Design-space exploration: the knob registry, ``evaluate``, caching, optimizers, studies.

    from accelsim.dse import load_env, evaluate
    env = load_env("envs/llama2-7b-decode-latency-under-area.yaml")
    result = evaluate({"sa_dim": 64, "hbm_channels": 16}, env)
    result.status, result.metrics, result.constraints

See ``docs/dse.md`` for the env YAML format and the recipes (``accelsim dse run``).
"""

from ._cache import ResultCache
from ._envdef import (METRICS, Constraint, EnvDef, Objective, RewardConfig, Workload, env_names,
                      load_env, parse_env)
from ._evaluate import STATUSES, Evaluator, Result, evaluate, evaluate_many
from ._reward import REWARDS, RewardSpec, make_reward
from ._space import DesignSpace, Knob
from ._study import OPTIMIZERS, StudyResult, run_study

__all__ = ["Knob", "DesignSpace", "EnvDef", "Objective", "Constraint", "RewardConfig", "Workload",
           "load_env", "parse_env", "env_names", "METRICS", "Result", "Evaluator", "evaluate",
           "evaluate_many", "STATUSES", "ResultCache", "RewardSpec", "REWARDS", "make_reward",
           "run_study", "StudyResult", "OPTIMIZERS"]
