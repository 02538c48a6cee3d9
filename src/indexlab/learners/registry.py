"""The one registry of learners: names, classes, and what a run fixes unless the user does.

``LEARNERS`` maps each CLI/spec name (``unified``) to its class. The command line, the sweep
spec and the Python API resolve a name here once, at the boundary (:func:`learner_class`,
with a did-you-mean for a mistyped name), and pass the class or the instance on; nothing
outside :mod:`indexlab.learners` keeps a list of learner names.

Adding a learner is one module with its class (a :class:`~indexlab.learners.base.Learner`
dataclass declaring its constraints, capabilities and :meth:`~Learner.cost`) and one line in
:data:`_BUILTIN` below, or, from a user's code, :func:`register_learner` (``docs/
extending.md``); an installed package declares its learners as entry points of the group
``indexlab.learners`` (:mod:`indexlab.learners.plugins`), read by :func:`load_plugins` on
the first lookup of a name.
Registration checks the class's declarations (:func:`check_declarations`):
a class without a cost, with a misspelt capability or one of the wrong type is refused with
a ``TypeError`` naming it, at import.
"""

from __future__ import annotations

from typing import Any

import indexlab.learners.plugins as plugins
from indexlab._suggest import did_you_mean
from indexlab.learners.amp import GAMP
from indexlab.learners.base import InstanceFlag, Learner, document_hyperparameters
from indexlab.learners.batch_reuse import BatchReuseSGD
from indexlab.learners.kernels import KernelRidge, RandomFeatures
from indexlab.learners.layerwise import LayerwiseGD, OneStepGD, PowerIteration
from indexlab.learners.online_sgd import OnlineSGD, SmoothedSGD
from indexlab.learners.sdr import PHD, SAVE, SIR
from indexlab.learners.spectral import Spectral
from indexlab.learners.unified import SparseUnified, Unified

# the capabilities a learner class may declare, with the type each must have
# (see the Learner docstring for their meaning)
CAPABILITIES: dict[str, tuple[type, ...]] = {
    "predicts": (bool, InstanceFlag),
    "learns_directions": (bool, InstanceFlag),
    "estimates_subspace": (bool, InstanceFlag),
    "traced": (bool,),
    "stage_budgets": (bool,),
    "width_parameter": (str, type(None)),
    "engines": (tuple,),
    "theory_key": (str, type(None)),
    "exponent_kind": (str, type(None)),
}
# class attributes that are not capabilities: the hyperparameter tables and the registry's
_DECLARATIONS = {"constraints", "hyperparameter_docs", "registry_name",
                 # defaults of the online learners: the smoothing rule, the overlap theory
                 "auto_smoothing_from", "overlap_theory_name"}
EXPONENT_KINDS = ("generative", "information")

_BUILTIN: dict[str, type[Learner]] = {
    "online_sgd": OnlineSGD,
    "smoothed_sgd": SmoothedSGD,
    "unified": Unified,
    "sparse_unified": SparseUnified,
    "batch_reuse_sgd": BatchReuseSGD,
    "layerwise": LayerwiseGD,
    "power_iteration": PowerIteration,
    "one_step": OneStepGD,
    "spectral": Spectral,
    "sir": SIR,
    "save": SAVE,
    "phd": PHD,
    "random_features": RandomFeatures,
    "kernel_ridge": KernelRidge,
    "gamp": GAMP,
}



class _Registry(dict):
    """The name → class dict whose every read first registers the installed plugins
    (:func:`load_plugins`, once): lazily, so that a plugin module may import any part of
    indexlab, which is complete by the time a learner is looked up by name."""

    def __contains__(self, key: object) -> bool:
        load_plugins()
        return super().__contains__(key)

    def __getitem__(self, key: str) -> type[Learner]:
        load_plugins()
        return super().__getitem__(key)

    def get(self, key, default=None):
        load_plugins()
        return super().get(key, default)

    def __iter__(self):
        load_plugins()
        return super().__iter__()

    def __len__(self) -> int:
        load_plugins()
        return super().__len__()

    def keys(self):
        load_plugins()
        return super().keys()

    def values(self):
        load_plugins()
        return super().values()

    def items(self):
        load_plugins()
        return super().items()


LEARNERS: dict[str, type[Learner]] = _Registry()
PLUGINS: list[str] = []  # the names registered from entry points
_plugins_read = False
_ready = False  # until the package's own learners are registered


def _theory_algorithms() -> set[str]:
    from indexlab import theory

    return set(theory.ALGORITHMS)


def _declared(cls: type[Learner]) -> dict[str, Any]:
    """Public non-callable class attributes that ``cls`` and its bases below ``Learner``
    declare (dataclass fields and their defaults excluded)."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:cls.__mro__.index(Learner)]):
        if not issubclass(klass, Learner):  # scikit-learn's mixins declare no capability
            continue
        for key, value in vars(klass).items():
            if (key.startswith("_") or key in fields or key in _DECLARATIONS
                    or (key.startswith("set_") and key.endswith("_request"))  # sklearn's
                    or isinstance(value, (classmethod, staticmethod, property))
                    or (callable(value) and not isinstance(value, type))):
                continue
            out[key] = value
    return out


def check_declarations(cls: type) -> None:
    """``TypeError`` unless ``cls`` is a :class:`Learner` that declares a :meth:`cost` of its
    own, only known capabilities (:data:`CAPABILITIES`, with their types), engines that
    include ``"full"`` or are offered through an ``engine`` hyperparameter, a known
    ``exponent_kind`` and a ``theory_key`` that :mod:`indexlab.theory` predicts."""
    if not (isinstance(cls, type) and issubclass(cls, Learner)):
        raise TypeError(f"{cls!r} is not a Learner subclass")
    name = cls.__name__
    if getattr(cls.cost, "__func__", None) is Learner.cost.__func__:
        raise TypeError(f"learner {name} declares no cost: define the classmethod "
                        "cost(hyper, d, n, replicas, r) (indexlab.learners.costs)")
    for key, value in _declared(cls).items():
        if key not in CAPABILITIES:
            raise TypeError(f"learner {name} declares {key!r}, which is not a capability"
                            f"{did_you_mean(key, CAPABILITIES)}; capabilities: "
                            f"{', '.join(CAPABILITIES)}")
        if not isinstance(value, CAPABILITIES[key]):
            allowed = " or ".join(t.__name__ for t in CAPABILITIES[key])
            raise TypeError(f"learner {name}: capability {key}={value!r} must be {allowed}")
    engines = cls.engines
    if not engines or not all(isinstance(e, str) for e in engines):
        raise TypeError(f"learner {name}: engines={engines!r} must be a tuple of names")
    if len(engines) > 1 and "engine" not in cls.hyperparameter_names():
        raise TypeError(f"learner {name} offers engines {engines} but has no 'engine' "
                        "hyperparameter to choose one")
    if cls.exponent_kind not in (None, *EXPONENT_KINDS):
        raise TypeError(f"learner {name}: exponent_kind={cls.exponent_kind!r} must be one of "
                        f"{', '.join(EXPONENT_KINDS)} or None")
    if cls.theory_key is not None and cls.theory_key not in _theory_algorithms():
        raise TypeError(f"learner {name}: theory_key={cls.theory_key!r} is not an algorithm "
                        f"of indexlab.theory ({', '.join(sorted(_theory_algorithms()))})")


def register_learner(name: str, cls: type[Learner]) -> type[Learner]:
    """Register ``cls`` under ``name`` (a snake_case identifier) after
    :func:`check_declarations`; returns ``cls``. A name already taken by another class is a
    ``ValueError``."""
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ValueError(f"learner name {name!r} is not allowed: use a snake_case identifier")
    check_declarations(cls)
    if name in LEARNERS and LEARNERS[name] is not cls:
        raise ValueError(f"learner name {name!r} is taken by {LEARNERS[name].__name__}")
    LEARNERS[name] = cls
    if "registry_name" not in vars(cls):
        cls.registry_name = name
    document_hyperparameters(cls)  # help(cls) lists every hyperparameter
    return cls


def load_plugins() -> list[str]:
    """Register the learners of installed packages (entry points of the group
    ``indexlab.learners``, :mod:`indexlab.learners.plugins`), once per process; returns
    their names. Called on the first read of :data:`LEARNERS` (any lookup by name), after
    every import has finished, so a plugin module may import anything of indexlab; every
    process that resolves a learner name (the command line, a spec, a Dask worker) thus
    knows them."""
    global _plugins_read
    if _ready and not _plugins_read:
        _plugins_read = True
        PLUGINS.extend(plugins.load_all(plugins.LEARNER_GROUP, register_learner))
    return list(PLUGINS)


for _name, _cls in _BUILTIN.items():
    register_learner(_name, _cls)
_ready = True  # the package's learners are registered: plugins may load on first lookup


def learner_class(name: str | type[Learner]) -> type[Learner]:
    """The learner class registered as ``name`` (a class is returned as it is); an unknown
    ``name`` is a ``ValueError`` listing the learners, with a did-you-mean."""
    if isinstance(name, type) and issubclass(name, Learner):
        return name
    if isinstance(name, str) and dict.__contains__(LEARNERS, name):
        return dict.__getitem__(LEARNERS, name)  # known already: no need to read plugins
    if not isinstance(name, str):
        raise ValueError(f"learner={name!r} is not allowed: give a learner name (one of "
                         f"{', '.join(LEARNERS)}) or a Learner class")
    if name not in LEARNERS:
        broken = plugins.failure(plugins.LEARNER_GROUP, name)
        if broken is not None:
            raise ValueError(f"learner={name!r} is an installed plugin that failed to load "
                             f"({broken}); the other learners: {', '.join(LEARNERS)}")
        raise ValueError(f"learner={name!r} is not allowed{did_you_mean(name, LEARNERS)}: use "
                         f"one of {', '.join(LEARNERS)}")
    return LEARNERS[name]


def learner_fields(name: str | type[Learner]) -> dict[str, str]:
    """The hyperparameters of a learner with their type annotations as text."""
    return learner_class(name).hyperparameter_types()


def learner_defaults(name: str | type[Learner], target: Any, seed: int) -> dict[str, Any]:
    """What a run on ``target`` fixes for a learner unless the user sets it: the run's
    ``seed``, and ``r = target.r`` on a multi-index target (estimate as many directions as
    the target has), for the learners that have these hyperparameters."""
    fields = learner_class(name).hyperparameter_names()
    out: dict[str, Any] = {"seed": seed} if "seed" in fields else {}
    if "r" in fields and target.r > 1:
        out["r"] = target.r
    return out


def check_engine(name: str | type[Learner], hyper: dict[str, Any]) -> dict[str, Any]:
    """``hyper`` for a learner with an ``engine`` it offers (its ``engines``):
    for a learner without an ``engine`` hyperparameter, ``engine="full"`` is dropped and any
    other value is a ``ValueError`` naming the learner, its engines and the learners that
    offer the engine asked for."""
    cls = learner_class(name)
    if "engine" not in hyper or "engine" in cls.hyperparameter_names():
        return hyper
    if hyper["engine"] not in cls.engines:
        offered = [key for key, other in LEARNERS.items() if hyper["engine"] in other.engines]
        where = (f"; engine={hyper['engine']!r} is offered by {', '.join(offered)}"
                 if offered else "")
        raise ValueError(f"engine={hyper['engine']!r} is not available for {cls.__name__}: "
                         f"it has engine {' or '.join(repr(e) for e in cls.engines)}{where}")
    return {k: v for k, v in hyper.items() if k != "engine"}


def make_learner(name: str | type[Learner], **hyper: Any) -> Learner:
    """Instantiate a learner by name (or class) with ``hyper``; an unknown learner or
    hyperparameter is a ``ValueError`` listing the allowed ones (with a did-you-mean)."""
    cls = learner_class(name)
    fields = cls.hyperparameter_names()
    hyper = check_engine(cls, hyper)
    unknown = sorted(k for k in hyper if k not in fields)
    if unknown:
        hints = "".join(did_you_mean(k, fields) for k in unknown)
        raise ValueError(f"hyperparameter(s) {', '.join(unknown)} not known to "
                         f"{cls.label()!r}{hints}; allowed: {', '.join(sorted(fields))}")
    return cls(**hyper)


def width_of(cls: type[Learner], hyper: dict[str, Any]) -> int:
    """Neurons or features of a run: the class's ``width_parameter`` from ``hyper``, else
    its default; 1 for learners without one."""
    import dataclasses

    key = cls.width_parameter
    if key is None:
        return 1
    if isinstance(hyper.get(key), (int, float)) and not isinstance(hyper[key], bool):
        return max(1, int(hyper[key]))
    for f in dataclasses.fields(cls):
        if f.name == key and isinstance(f.default, int):
            return max(1, f.default)
    return 1
