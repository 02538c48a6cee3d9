"""A run: one (target, learner, d, n) with its ``R`` replicas, as a frozen typed record.

A :class:`Run` is what the spec expands to, what the runner computes and claims, what the
store writes (:meth:`Run.columns`, by column name) and what the analysis reads back. Its
``key`` is the store key: the first 24 hex digits of SHA-256 of the JSON of its
configuration (:meth:`Run.config`, the dict every earlier version hashed) and the library
version (:func:`run_key`), so stores written before keep their keys and resume.

Its sample budget is :func:`effective_budget`, the one place that says which budget a
learner's fit draws: ``n`` per replica, or ``n1 + n2`` for a learner whose class declares
``stage_budgets`` and is given both stage budgets (``fit --n1 --n2``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

TARGET_FIELDS = ("link", "d", "r", "sparsity", "noise")


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def run_seed(spec_seed: int, target: dict[str, Any]) -> int:
    """Seed of every run on ``target`` (a target config at one ``d``): a 62-bit hash of the
    spec seed and that configuration."""
    return int(_digest({"seed": spec_seed, "target": target})[:15], 16) >> 2


def config_key(config: dict[str, Any], version: str) -> str:
    """Store key of a run configuration under library ``version``: the first 24 hex digits of
    SHA-256 of ``{"config": config, "version": version}`` as sorted compact JSON."""
    return _digest({"config": config, "version": version})[:24]


def effective_budget(cls: type, n: int | None, n1: int | None = None,
                     n2: int | None = None) -> int | None:
    """Samples per replica that a fit of learner class ``cls`` draws: ``n1 + n2`` when both
    stage budgets are given (``cls.stage_budgets``: the fit splits its budget between two
    stages), else ``n`` (a learner given only one of ``n1``/``n2`` splits ``n``). Stage
    budgets for a learner without stages are a ``ValueError``."""
    if (n1 is not None or n2 is not None) and not getattr(cls, "stage_budgets", False):
        name = cls.label() if hasattr(cls, "label") else cls.__name__
        raise ValueError(f"--n1/--n2 split the budget between stages; {name} has no stage "
                         "budgets: use --n")
    return n if n1 is None or n2 is None else n1 + n2


@dataclass(frozen=True)
class Run:
    """One run: the target at ``d`` (``link, d, r, sparsity, noise``), the learner (registry
    name ``learner``, resolved hyperparameters ``hyper``; ``learner_class`` when the spec
    resolved it), the budget ``n`` per replica, ``replicas``, ``seed``, ``device``,
    ``dtype``, ``n_test``, ``trace``, and the library ``version`` it is keyed under. ``key``
    is computed once from the rest (:func:`config_key`), unless given: a run read back from
    a store (:meth:`stored`) keeps the key it is stored under."""

    link: str
    d: int
    r: int | None
    sparsity: int | None
    noise: float
    learner: str
    hyper: Mapping[str, Any]
    n: int
    replicas: int
    seed: int
    device: str
    dtype: str
    n_test: int
    trace: bool
    version: str
    learner_class: type | None = field(default=None, compare=False, repr=False)
    key: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hyper", MappingProxyType(dict(self.hyper)))
        if not self.key:
            object.__setattr__(self, "key", config_key(self.config(), self.version))

    def __hash__(self) -> int:
        return hash(self.key)

    def __reduce__(self):  # picklable (for Dask): rebuilt from its configuration
        return Run.from_config, (self.config(), self.version, None, self.key)

    @classmethod
    def from_config(cls, config: dict[str, Any], version: str,
                    learner_class: type | None = None, key: str = "") -> Run:
        """The run of a configuration dict (:meth:`config`'s layout) under ``version``."""
        t, learner = config["target"], config["learner"]
        return cls(t["link"], t["d"], t["r"], t["sparsity"], t["noise"], learner["name"],
                   learner["hyper"], config["n"], config["replicas"], config["seed"],
                   config["device"], config["dtype"], config["n_test"], config["trace"],
                   version, learner_class, key)

    @classmethod
    def stored(cls, row: dict[str, Any]) -> Run:
        """The run of a store row (:meth:`~indexlab.experiments.store.Store.runs`), under
        the key and version it is stored with."""
        return cls.from_config(row["config"], row["version"], key=row["key"])

    # ------------------------------------------------------------------ description
    def target_config(self) -> dict[str, Any]:
        """``{link, d, r, sparsity, noise}``: the target part of the configuration."""
        return {name: getattr(self, name) for name in TARGET_FIELDS}

    def learner_config(self) -> dict[str, Any]:
        """``{name, hyper}``: the learner part of the configuration."""
        return {"name": self.learner, "hyper": dict(self.hyper)}

    def config(self) -> dict[str, Any]:
        """The JSON-ready configuration dict (hashed into :attr:`key`, stored as ``config``)."""
        return {"target": self.target_config(), "learner": self.learner_config(),
                "n": self.n, "replicas": self.replicas, "seed": self.seed,
                "device": self.device, "dtype": self.dtype, "n_test": self.n_test,
                "trace": self.trace}

    def cls(self) -> type:
        """The learner class (resolved at the spec boundary, else looked up by name)."""
        if self.learner_class is not None:
            return self.learner_class
        from indexlab.learners.registry import learner_class

        return learner_class(self.learner)

    @property
    def budget(self) -> int:
        """Samples per replica its fit draws for its budget (:func:`effective_budget`)."""
        return effective_budget(self.cls(), self.n)

    def describe(self) -> str:
        """One line naming the run, e.g. ``unified on he3, d=64, n=4096``."""
        extra = "".join(f", {k}={getattr(self, k)}" for k in ("r", "sparsity")
                        if getattr(self, k) is not None)
        noise = f", noise={self.noise:g}" if self.noise else ""
        return f"{self.learner} on {self.link}{extra}{noise}, d={self.d}, n={self.n}"

    def columns(self) -> dict[str, Any]:
        """The store's description columns of the run, by name (``key``, the target and
        learner fields, ``n`` … ``trace`` as 0/1, ``version``, ``config`` as the dict)."""
        return {"key": self.key, **self.target_config(), "learner": self.learner,
                "n": self.n, "replicas": self.replicas, "seed": self.seed,
                "device": self.device, "dtype": self.dtype, "n_test": self.n_test,
                "trace": int(self.trace), "version": self.version, "config": self.config()}


def as_run(value: Run | dict[str, Any], version: str) -> Run:
    """``value`` as a :class:`Run` (a configuration dict is keyed under ``version``)."""
    return value if isinstance(value, Run) else Run.from_config(value, version)
