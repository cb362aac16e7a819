"""The design-space registry: one list of knobs, exported to every optimizer's format.

A knob is a name, the architecture key path(s) it sets, an ordered list of values and a unit.
Designs are plain dicts ``{knob name: value}``; optimizers that work on indices (Gymnasium,
MultiDiscrete) use ``encode``/``decode``. Every exporter (Gymnasium space, Optuna distributions,
Ray Tune search space) is generated from the same ``DesignSpace``, so a knob is declared once.

Example:
    >>> space = DesignSpace([Knob("sa_dim", ("systolic.rows", "systolic.cols"), (32, 64, 128),
    ...                           unit="PE", baseline=128)])
    >>> space.decode([1]), space.encode({"sa_dim": 128}), space.arch_overrides({"sa_dim": 64})
    ({'sa_dim': 64}, [2], {'systolic.rows': 64, 'systolic.cols': 64})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import AccelsimError, did_you_mean


@dataclass(frozen=True)
class Knob:
    """One design parameter.

    Attributes:
        name: short identifier (also the CSV column, the Optuna parameter name).
        keys: architecture key paths this knob sets, e.g. ``("systolic.rows",)``; a knob may tie
            several keys to one value (square arrays, equal SRAM buffers).
        values: the ordered grid of values (ordinal: neighbours are "one step" apart).
        unit: unit of the values (``PE``, ``KiB``, ``GB/s``, ``""``).
        baseline: the baseline design's value (one of ``values``).
        description: one line for humans.
    """

    name: str
    keys: tuple[str, ...]
    values: tuple[Any, ...]
    unit: str = ""
    baseline: Any = None
    description: str = ""

    def __post_init__(self):
        if not self.values:
            raise ValueError(f"knob {self.name!r} has no values")
        if self.baseline is None:
            object.__setattr__(self, "baseline", self.values[0])
        if self.baseline not in self.values:
            raise ValueError(f"knob {self.name!r}: baseline {self.baseline!r} not in values")

    @property
    def size(self) -> int:
        return len(self.values)

    @property
    def numeric(self) -> bool:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)

    def index(self, value: Any) -> int:
        if isinstance(value, str) and self.numeric:      # "1e-09" from the command line
            from ..yamlio import parse_value

            value = parse_value(value, file="--design", key=self.name)
        try:
            return self.values.index(value)
        except ValueError:
            raise AccelsimError(f"knob {self.name!r}: value {value!r} is not on its grid "
                                f"{list(self.values)}") from None


@dataclass(frozen=True)
class DesignSpace:
    """An ordered collection of ``Knob``s; the single source of truth for every exporter."""

    knobs: tuple[Knob, ...]
    _by_name: dict[str, Knob] = field(init=False, repr=False, compare=False)

    def __init__(self, knobs: Iterable[Knob]):
        knobs = tuple(knobs)
        object.__setattr__(self, "knobs", knobs)
        by_name = {}
        for k in knobs:
            if k.name in by_name:
                raise ValueError(f"knob {k.name!r} is declared twice")
            by_name[k.name] = k
        object.__setattr__(self, "_by_name", by_name)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.knobs)

    def __iter__(self):
        return iter(self.knobs)

    def __getitem__(self, name: str) -> Knob:
        return self._by_name[name]

    @property
    def names(self) -> list[str]:
        return [k.name for k in self.knobs]

    @property
    def nvec(self) -> np.ndarray:
        return np.array([k.size for k in self.knobs], dtype=np.int64)

    @property
    def cardinality(self) -> int:
        return int(np.prod([k.size for k in self.knobs], dtype=object))

    def baseline(self) -> dict[str, Any]:
        return {k.name: k.baseline for k in self.knobs}

    # ------------------------------------------------------------------ designs
    def validate(self, design: Mapping[str, Any]) -> dict[str, Any]:
        """Check a design dict (every knob present, values on the grid); return it ordered."""
        if not isinstance(design, Mapping):
            raise AccelsimError(f"a design is a mapping {{knob: value}}, got {type(design).__name__}")
        unknown = [n for n in design if n not in self._by_name]
        if unknown:
            raise AccelsimError(f"unknown knob {unknown[0]!r}{did_you_mean(unknown[0], self.names)};"
                                f" knobs: {', '.join(self.names)}")
        out = {}
        for k in self.knobs:
            value = design.get(k.name, k.baseline)
            if isinstance(value, np.generic):
                value = value.item()
            k.index(value)
            out[k.name] = k.values[k.index(value)]   # canonical (int 64 vs float 64.0)
        return out

    def encode(self, design: Mapping[str, Any]) -> list[int]:
        design = self.validate(design)
        return [k.index(design[k.name]) for k in self.knobs]

    def decode(self, indices: Sequence[int]) -> dict[str, Any]:
        indices = [int(i) for i in np.asarray(indices).reshape(-1)]
        if len(indices) != len(self.knobs):
            raise AccelsimError(f"expected {len(self.knobs)} knob indices, got {len(indices)}")
        out = {}
        for k, i in zip(self.knobs, indices):
            if not 0 <= i < k.size:
                raise AccelsimError(f"knob {k.name!r}: index {i} out of range 0..{k.size - 1}")
            out[k.name] = k.values[i]
        return out

    def arch_overrides(self, design: Mapping[str, Any]) -> dict[str, Any]:
        """The dotted-key overrides ``load_arch`` applies for ``design``."""
        design = self.validate(design)
        return {key: design[k.name] for k in self.knobs for key in k.keys}

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """A uniformly random design (all randomness from ``rng``)."""
        return {k.name: k.values[int(rng.integers(k.size))] for k in self.knobs}

    def neighbors(self, design: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Designs one grid step away in one knob (for local search)."""
        idx = self.encode(design)
        out = []
        for j, k in enumerate(self.knobs):
            for step in (-1, 1):
                if 0 <= idx[j] + step < k.size:
                    n = list(idx)
                    n[j] += step
                    out.append(self.decode(n))
        return out

    # ------------------------------------------------------------------ exporters
    def to_gymnasium(self):
        """``MultiDiscrete`` over knob indices (the Design-v0 action space)."""
        from gymnasium import spaces

        return spaces.MultiDiscrete(self.nvec)

    def to_optuna(self) -> dict[str, Any]:
        """``{name: CategoricalDistribution}`` (values kept in order; TPE treats them as
        categories, NSGA-II mutates them)."""
        optuna = _import_optional("optuna", "bo")
        return {k.name: optuna.distributions.CategoricalDistribution(list(k.values))
                for k in self.knobs}

    def suggest(self, trial) -> dict[str, Any]:
        """Define-by-run: ask an Optuna ``trial`` (or ``FixedTrial``) for one design."""
        return {k.name: trial.suggest_categorical(k.name, list(k.values)) for k in self.knobs}

    def to_ray_tune(self) -> dict[str, Any]:
        """``{name: tune.choice(values)}`` for ``Tuner(param_space=...)``."""
        _import_optional("ray", "ray")
        from ray import tune

        return {k.name: tune.choice(list(k.values)) for k in self.knobs}

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": k.name, "keys": list(k.keys), "values": list(k.values), "unit": k.unit,
                 "baseline": k.baseline, "description": k.description} for k in self.knobs]


_EXTRAS = {"optuna": "bo", "stable_baselines3": "rl", "sb3_contrib": "rl", "ray": "ray"}


def _import_optional(module: str, extra: str | None = None):
    """Import an optional dependency or raise ``AccelsimError`` with the install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = extra or _EXTRAS.get(module.split(".")[0], "")
        raise AccelsimError(
            f"{module} is needed for this feature but could not be imported ({exc}); "
            f"install it with: pip install 'accelsim[{extra}]'") from None


__all__ = ["Knob", "DesignSpace"]
