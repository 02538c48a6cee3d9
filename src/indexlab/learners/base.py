"""What every learner shares: the data contract, replica handling, sample budgets, traces.

The contract (``../shared/DESIGN.md``, "Two faces, one core"):

* ``Learner(**hyper).fit(data, y=None, *, n=None)`` returns ``self``; ``data`` is either

  - a :class:`~indexlab.targets.Target` and a sample budget ``n`` per replica (fresh samples
    are drawn chunk by chunk, so ``n·d`` never has to fit in memory), or
  - a dataset ``X`` of shape ``(R, n, d)`` or ``(n, d)`` with labels ``y`` of shape ``(R, n)``
    or ``(n,)`` (a user's own data; one pass unless the learner says otherwise);

* fitted attributes end in ``_``: ``directions_`` (``(R, m, d)`` learned first-layer
  directions, or the estimated subspace), ``trace_`` (a :class:`Trace`), ``diverged_``
  (``(R,)`` bool), ``samples_`` (samples used per replica);
* ``transform(X)`` projects on the learned directions, ``predict(X)`` where there is a
  predictor. Outputs keep the caller's replica convention (no replica axis in, none out).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils.validation import validate_data

import indexlab.learners.persist as persist
from indexlab.learners.constraints import Alternatives, allowed, check_all
from indexlab.learners.costs import Cost, with_defaults
from indexlab.learners.trace import Trace
from indexlab.metrics import max_overlap
from indexlab.progress import report
from indexlab.targets import Target


@dataclass
class DataSource:
    """Chunks ``(X (R, b, d), y (R, b))`` from a target or a dataset, with its shape facts."""

    chunks: Iterator[tuple[torch.Tensor, torch.Tensor]]
    replicas: int
    d: int
    n: int
    squeeze: bool
    dtype: torch.dtype
    device: torch.device
    target: Target | None = None
    replica_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.replica_ids:
            self.replica_ids = tuple(range(self.replicas))


def _check_budget(n) -> int:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n={n!r} is not allowed: use an integer sample budget >= 1")
    return int(n)


def as_replicated(X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Validate a dataset and give it a replica axis: ``(R, n, d)``, ``(R, n)``, squeezed?

    Half-precision data (``float16``, ``bfloat16``) is computed in ``float32`` (the linear
    algebra of the learners has no half-precision kernels); ``d = 0`` is refused."""
    # pandas (or any array library with to_numpy): its values, not its labels
    X = torch.as_tensor(np.array(X.to_numpy(), order="C") if hasattr(X, "to_numpy") else X)
    y = torch.as_tensor(np.array(y.to_numpy(), order="C") if hasattr(y, "to_numpy") else y)
    if not X.is_floating_point():
        raise ValueError(f"X has dtype {X.dtype}: use a floating-point tensor")
    if X.dtype in (torch.float16, torch.bfloat16):
        X = X.to(torch.float32)
    squeeze = X.ndim == 2
    if squeeze:
        X, y = X[None], y[None]
    if X.ndim != 3 or y.shape != X.shape[:2]:
        raise ValueError(
            f"X of shape {tuple(X.shape)} and y of shape {tuple(y.shape)} do not fit: use "
            "X (n, d) with y (n,), or X (R, n, d) with y (R, n)"
        )
    if X.shape[1] < 1:
        raise ValueError("the dataset is empty (n = 0): give at least one sample")
    if X.shape[2] < 1:
        raise ValueError(f"X of shape {tuple(X.shape)} has d = 0 features: give d >= 1")
    return X, y.to(X.dtype), squeeze


def data_source(data, y=None, n: int | None = None, chunk: int | None = None) -> DataSource:
    """Turn the ``fit`` arguments into a :class:`DataSource` (see the module docstring)."""
    if isinstance(data, Target):
        if y is not None:
            raise ValueError("fit(target, ...) takes a sample budget n=..., not labels y")
        if n is None:
            raise ValueError("fit(target) needs a sample budget: fit(target, n=...)")
        n = _check_budget(n)

        def from_target():
            for Xc, yc in data.stream(n, chunk):
                yield (Xc[None], yc[None]) if data.squeeze else (Xc, yc)
                report(Xc.shape[-2])  # the consumer has finished this chunk

        return DataSource(from_target(), data.replicas, data.d, n, data.squeeze, data.dtype,
                          data.device, target=data, replica_ids=data.replica_ids)
    if y is None:
        raise ValueError("fit(X) needs labels: fit(X, y), or fit(target, n=...)")
    X, y, squeeze = as_replicated(data, y)
    total = X.shape[1] if n is None else min(_check_budget(n), X.shape[1])
    step = total if chunk is None else chunk

    def from_tensor():
        for start in range(0, total, step):
            yield X[:, start:start + step], y[:, start:start + step]
            report(min(step, total - start))

    return DataSource(from_tensor(), X.shape[0], X.shape[2], total, squeeze, X.dtype, X.device)


def log_checkpoints(n: int, per_decade: int = 8, first: int = 16) -> list[int]:
    """Sample counts at which traces are recorded: log-spaced from ``first`` to ``n``."""
    if n <= first:
        return [n]
    count = max(2, math.ceil(per_decade * math.log10(n / first)) + 1)
    points = np.unique(np.round(np.geomspace(first, n, count)).astype(int))
    return [int(p) for p in points]


# ------------------------------------------------------------------------------------------
# the Learner base class
# ------------------------------------------------------------------------------------------


class NotFittedError(_SklearnNotFittedError):
    """``transform``/``predict``/... called before ``fit``: scikit-learn's
    :class:`sklearn.exceptions.NotFittedError` (a ``ValueError`` and an ``AttributeError``)."""


# scikit-learn's input validation for a 2-d dataset: float64/float32 kept, ints, bools and
# object arrays of numbers converted to float64; NaN/inf accepted (a replica with them is
# flagged diverged_, the library's rule); at least 2 samples and 1 feature
_VALIDATION = {"dtype": [np.float64, np.float32], "ensure_all_finite": False}


def _writable(X: np.ndarray) -> np.ndarray:
    """``X`` as a C-ordered, writable array (a read-only memmap is copied), so that torch
    can share it."""
    return np.require(X, requirements=["C", "W"])


def _sklearn_inputs(learner: Learner, data: Any, y: Any) -> tuple[Any, Any]:
    """The ``fit`` arguments after scikit-learn's validation where it applies.

    A :class:`~indexlab.targets.Target`, a torch tensor (any device) and a 3-d array
    ``(R, n, d)`` (the library's replicated data) pass as they are; anything else (numpy,
    lists, pandas, ints) goes through :func:`sklearn.utils.validation.validate_data`, which
    sets ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame) and refuses 1-d,
    empty, complex, sparse or inconsistent inputs with scikit-learn's messages."""
    if isinstance(data, (Target, torch.Tensor)):
        if hasattr(learner, "feature_names_in_"):
            del learner.feature_names_in_  # a fresh fit on data without column names
        return data, y
    if getattr(data, "ndim", None) == 3:  # numpy's (R, n, d)
        return _writable(np.asarray(data)), y
    if y is None:
        raise ValueError(f"{type(learner).__name__} requires y to be passed, but the target "
                         "y is None: use fit(X, y), or fit(target, n=...)")
    X, y = validate_data(learner, data, y, reset=True, y_numeric=True, ensure_min_samples=2,
                         **_VALIDATION)
    if isinstance(y, np.ndarray) and not np.issubdtype(y.dtype, np.floating):
        y = y.astype(X.dtype)
    return _writable(X), y


def _wrong_width(learner: Learner, shape: tuple) -> str | None:
    """The error for ``X`` of ``shape`` given to a learner fitted on ``n_features_in_``
    features (scikit-learn's wording), or ``None`` when the width fits."""
    d = getattr(learner, "n_features_in_", None)
    if len(shape) < 2:
        return (f"X of shape {tuple(shape)} is not allowed: use X of shape (n, d) or "
                "(R, n, d); Reshape your data with X.reshape(1, -1) for a single sample")
    if d is None or shape[-1] == d:
        return None
    seen = shape[-1]
    return (f"X has {seen} features, but {type(learner).__name__} is expecting {d} features "
            f"as input: X of shape {tuple(shape)} has d = {seen} features, but this model was "
            f"fitted on d = {d}; use X of shape (n, {d}) or (R, n, {d})")


def _to_torch(value: Any, device: torch.device | None) -> Any:
    if isinstance(value, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(value))
        return t if device is None else t.to(device)
    return value


def _to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return value


def _array_io(method: Callable) -> Callable:
    """Wrap ``transform``/``predict``: not fitted → :class:`NotFittedError`; an ``X`` whose
    last axis is not the fitted ``d`` (``n_features_in_``) → ``ValueError``; a numpy ``X`` is
    converted to a tensor on the learner's device and the result back to numpy; a 2-d
    non-tensor ``X`` (list, pandas, ints) is validated by scikit-learn (its feature names
    checked against those of ``fit``)."""

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        self.check_fitted()
        numpy_in = not isinstance(X, torch.Tensor)
        replicated = getattr(X, "ndim", None) == 3
        if not numpy_in or replicated:
            why = _wrong_width(self, tuple(X.shape))
            if why is not None:
                raise ValueError(why)
            X = X if not numpy_in else np.asarray(X)
        else:  # lists, pandas, ints, (n, d) numpy: scikit-learn's validation
            shape = getattr(X, "shape", None)
            why = _wrong_width(self, tuple(shape)) if shape is not None and len(shape) == 2 \
                else None
            if why is not None:
                raise ValueError(why)
            X = validate_data(self, X, reset=False, **_VALIDATION)
        out = method(self, _to_torch(X, getattr(self, "device_", None)), *args, **kwargs)
        return _to_numpy(out) if numpy_in else out

    wrapper._array_io = True  # type: ignore[attr-defined]
    return wrapper


class LearnerMemoryError(MemoryError):
    """``fit`` ran out of memory; the message gives the learner's own cost estimate
    (:meth:`Learner.cost`) and how to lower it."""


def _out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or (
        isinstance(error, RuntimeError) and ("can't allocate memory" in str(error)
                                             or "out of memory" in str(error)))


def _memory_guarded(method: Callable) -> Callable:
    """Wrap ``fit``: its inputs validated (:func:`_sklearn_inputs`), ``trace_`` reset to an
    empty :class:`Trace`, and an allocator failure (``MemoryError``, torch's "can't allocate
    memory", CUDA out of memory) becomes a :class:`LearnerMemoryError` naming the run's estimated
    peak memory and its largest part, from the class's declared :meth:`Learner.cost`."""

    @functools.wraps(method)
    def wrapper(self, data, y=None, **kwargs):
        data, y = _sklearn_inputs(self, data, y)
        self.trace_ = Trace()  # empty unless the fit records one
        try:
            return method(self, data, y, **kwargs)
        except LearnerMemoryError:
            raise
        except (MemoryError, RuntimeError) as error:
            if not _out_of_memory(error):
                raise
            raise LearnerMemoryError(_memory_message(self, data, kwargs)) from None

    wrapper._memory_guarded = True  # type: ignore[attr-defined]
    return wrapper


def _memory_message(learner: Learner, data: Any, kwargs: dict[str, Any]) -> str:
    name = type(learner).__name__
    shape = getattr(data, "shape", None)
    if isinstance(data, Target):
        d, R, r = data.d, data.replicas, data.r
        n = kwargs.get("n") or (kwargs.get("n1") or 0) + (kwargs.get("n2") or 0)
    elif shape is not None and len(shape) >= 2:
        d, n, R, r = shape[-1], shape[-2], (shape[0] if len(shape) == 3 else 1), 1
    else:
        return f"{name}.fit ran out of memory: lower the width, n, d or the replicas"
    try:
        cost = type(learner).cost(learner.get_params(), d, int(n or 1), R, r)
        sizes = cost.part_bytes(4)
        part, largest = max(sizes.items(), key=lambda kv: kv[1])
        estimate = (f": it needs about {sum(sizes.values()) / 2**30:.3g} GB (largest part: "
                    f"{part}, {largest / 2**30:.3g} GB)")
    except (NotImplementedError, TypeError, ValueError, ZeroDivisionError):
        estimate = ""
    return (f"{name}.fit ran out of memory (d={d}, n={n}, R={R}, "
            f"{learner.width_parameter or 'width'}="
            f"{getattr(learner, learner.width_parameter or 'width', '?')}){estimate}; lower the "
            "width, n, d or the replicas (indexlab fit and sweep refuse such runs before work)")


class InstanceFlag:
    """A capability flag whose value on a fitted (or configured) instance depends on it:
    ``Class.flag`` is ``on_class`` (what the class can do), ``learner.flag`` is
    ``fn(learner)``. E.g. the spherical learners can predict, but one configured with
    ``ridge_samples=0`` will not."""

    def __init__(self, on_class: bool, fn: Callable[[Any], bool]) -> None:
        self.on_class, self.fn = on_class, fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj: Any, owner: type | None = None) -> bool:
        return self.on_class if obj is None else bool(self.fn(obj))


class Learner(BaseEstimator):
    """The contract every learner follows (module docstring; ``shared/DESIGN.md``).

    A learner is a dataclass whose ``__init__`` fields are its hyperparameters and nothing
    else (``get_params`` lists exactly these, so ``sklearn.base.clone`` works). ``fit``
    validates them (:meth:`validate`), never changes them (derived values end in ``_``, e.g.
    ``LayerwiseGD.r_``) and returns ``self``.

    **Declaring constraints.** A class attribute ``constraints`` maps each hyperparameter to
    a tuple of alternatives from :mod:`indexlab.learners.constraints` (``Int``, ``Real``,
    ``Options``, ``Bool``, ``Text``, ``IsCallable``, ``InstanceOf``; ``None`` allows
    ``None``); a subclass extends its parent's table with ``{**Parent.constraints, ...}``.
    Rules that tie several hyperparameters together go in :meth:`_validate_combination`.
    Limits that depend on the data (``r <= d``) are checked by ``fit``. A class attribute
    ``hyperparameter_docs`` (name → meaning, with its source: paper, spec section) feeds the
    generated "Hyperparameters" section of ``help(cls)`` (:func:`hyperparameter_table`:
    default, allowed values, meaning, declaring class).

    **Capability flags** (class attributes, read by the CLI, the runner and the spec loader
    instead of private classes or lists of names):

    * ``predicts``: ``predict(X)`` exists (on an instance of a spherical learner: when it
      fits, or fitted, a second layer, ``ridge_samples > 0``; see :class:`InstanceFlag`);
    * ``learns_directions``: ``directions_`` holds learned directions (``False`` for the
      fixed-feature kernel baselines);
    * ``estimates_subspace``: ``subspace_`` ``(R, k, d)`` estimates the hidden subspace
      (scored by the subspace distance);
    * ``traced``: ``trace_`` records the overlap along the run, at growing sample counts
      (a spec's ``trace = true`` reads the whole curve from one run);
    * ``stage_budgets``: ``fit(target, n1=..., n2=...)`` splits the budget between stages;
    * ``width_parameter``: the hyperparameter that sets the number of neurons or features
      (what ``indexlab fit --width`` sets), or ``None``;
    * ``engines``: the implementations the learner offers (``("full",)`` by default; an
      engine is a second implementation of the same learner, chosen by an ``engine``
      hyperparameter where there is more than one);
    * ``theory_key``: the algorithm whose sample complexity
      :func:`indexlab.theory.predicted_sample_complexity` predicts for this learner, or
      ``None`` (no prediction: the baselines); :meth:`prediction` reads it, and a learner
      the theory does not know overrides :meth:`prediction` instead;
    * ``exponent_kind``: ``"generative"`` or ``"information"``, the exponent of the link the
      learner's defaults are set from (``None``: it needs none);
    * :meth:`cost` (required of every registered learner): the memory, work and draws of one
      run for the engine it runs (:mod:`indexlab.learners.costs`);
    * :meth:`compatible`: why the learner cannot fit a target, or ``None``.

    The registry (:mod:`indexlab.learners.registry`) checks these declarations when a class
    is registered, so a learner that declares no cost, or a capability with a misspelt name
    or a wrong type, fails at import, not in a user's run.

    **Fitted attributes**, set by ``fit`` only (a fresh instance has none): ``trace_`` (a
    :class:`Trace`, empty when the learner records nothing), ``diverged_`` ``(R,)``,
    ``samples_`` (per replica), ``replicas_``, ``squeeze_`` (the data had no replica axis),
    ``device_``, ``n_features_in_`` (``d``; and ``feature_names_in_`` after a pandas
    DataFrame); ``directions_`` where ``learns_directions``.

    **scikit-learn.** A learner is a :class:`sklearn.base.BaseEstimator`; those with
    ``transform`` are also ``TransformerMixin`` (``fit_transform``), those with ``predict``
    ``RegressorMixin`` (``score`` is R²), so ``clone``, ``Pipeline``, ``GridSearchCV`` and
    :func:`sklearn.utils.estimator_checks.check_estimator` apply (``tests/test_sklearn.py``
    lists the checks that cannot, with their reasons).

    **Arrays.** ``fit`` takes a target with a budget ``n``, torch tensors (any device), or
    anything scikit-learn validates (numpy, lists, pandas, ints: validated by
    :func:`sklearn.utils.validation.validate_data`), ``X`` of shape ``(n, d)`` or the
    library's replicated ``(R, n, d)``; ``transform``/``predict`` return torch for torch
    input and numpy otherwise, and raise :class:`NotFittedError` before ``fit``. NaN or
    infinite values are accepted: the replica is flagged in ``diverged_``.
    """

    constraints: ClassVar[dict[str, Alternatives]] = {}
    hyperparameter_docs: ClassVar[dict[str, str]] = {}
    predicts: ClassVar[bool] = False
    learns_directions: ClassVar[bool] = True
    estimates_subspace: ClassVar[bool] = False
    traced: ClassVar[bool] = False
    stage_budgets: ClassVar[bool] = False
    width_parameter: ClassVar[str | None] = None
    engines: ClassVar[tuple[str, ...]] = ("full",)
    theory_key: ClassVar[str | None] = None
    exponent_kind: ClassVar[str | None] = None
    registry_name: ClassVar[str | None] = None  # set by the registry

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("transform", "predict"):
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "_array_io", False):
                setattr(cls, name, _array_io(method))
        fit = cls.__dict__.get("fit")
        if callable(fit) and not getattr(fit, "_memory_guarded", False):
            cls.fit = _memory_guarded(fit)

    # -------------------------------------------------------------- saved models
    def save(self, path: str | os.PathLike) -> Path:
        """Write this fitted learner to ``path`` (``.npz`` appended when missing) in the safe
        format of :mod:`indexlab.learners.persist` (arrays + JSON metadata with the indexlab
        version, the format tag and version, the registry name); returns the path. A
        hyperparameter or fitted value outside that format (a user's lambda) is a
        ``TypeError`` naming it: such a learner still pickles."""
        from indexlab import __version__

        return persist.save(self, path, __version__)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> Learner:
        """The learner saved at ``path`` by :meth:`save`, its tensors on ``device``; never
        unpickles. ``Learner.load`` returns whichever learner the file holds,
        ``SIR.load`` only a ``SIR``. A file that is not ours, of another format version, or
        of a learner not registered in this process is a ``ValueError`` saying which."""
        from indexlab import __version__

        meta, arrays = persist.read(path)
        name = meta.get("learner")
        found = _registered(name)
        if found is None:
            raise ValueError(f"{path} holds learner {name!r}, which is not registered in this "
                             "process: install or register the plugin that provides it "
                             "(indexlab.register_learner, docs/extending.md)")
        if not issubclass(found, cls):
            raise ValueError(f"{path} holds a {found.__name__} ({name!r}), not a "
                             f"{cls.__name__}: use Learner.load")
        return persist.restore(found, meta, arrays, __version__, device, str(path))

    # -------------------------------------------------------------- scikit-learn
    def __sklearn_is_fitted__(self) -> bool:
        """Whether ``fit`` has run (:func:`sklearn.utils.validation.check_is_fitted`)."""
        return hasattr(self, "replicas_")

    def __sklearn_tags__(self):
        """scikit-learn's tags: ``fit(X, y)`` needs ``y`` (every learner is supervised)."""
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    # -------------------------------------------------------------- hyperparameters
    @classmethod
    def hyperparameter_fields(cls) -> tuple[dataclasses.Field, ...]:
        """The dataclass fields that are hyperparameters (the ``__init__`` arguments)."""
        return tuple(f for f in dataclasses.fields(cls) if f.init)

    @classmethod
    def hyperparameter_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in cls.hyperparameter_fields())

    @classmethod
    def hyperparameter_types(cls) -> dict[str, str]:
        """Name → type annotation as text (``"int | None"``)."""
        return {f.name: str(getattr(f.type, "__name__", f.type))
                for f in cls.hyperparameter_fields()}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters as a dict (scikit-learn's estimator API; ``deep`` is
        accepted for compatibility: no hyperparameter is itself an estimator)."""
        return {name: getattr(self, name) for name in self.hyperparameter_names()}

    def set_params(self, **params: Any) -> Learner:
        """Set hyperparameters by name (scikit-learn's estimator API); returns ``self``.
        An unknown name is a ``ValueError`` listing the allowed ones; values are checked by
        :meth:`validate` (called by ``fit``)."""
        names = self.hyperparameter_names()
        unknown = sorted(k for k in params if k not in names)
        if unknown:
            raise ValueError(f"hyperparameter(s) {', '.join(unknown)} not known to "
                             f"{type(self).__name__}; allowed: {', '.join(sorted(names))}")
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def validate(self) -> Learner:
        """Check every hyperparameter against ``constraints`` (then the combinations);
        ``ValueError`` naming the field, the value and what is allowed. Returns ``self``.

        Called by ``fit`` and by the spec loader, so a bad value fails before any run."""
        check_all(self.get_params(), self.constraints)
        self._validate_combination()
        return self

    def _validate_combination(self) -> None:
        """Rules that involve several hyperparameters (none by default)."""

    # -------------------------------------------------------------- capabilities
    @classmethod
    def label(cls) -> str:
        """The learner's registry name (``unified``), or its class name if unregistered."""
        return cls.registry_name or cls.__name__

    @classmethod
    def cost(cls, hyper: dict[str, Any], d: int, n: int, replicas: int,
             r: int = 1) -> Cost:
        """The :class:`~indexlab.learners.costs.Cost` of one run with hyperparameters
        ``hyper`` (over the class defaults) at dimension ``d``, budget ``n`` per replica,
        ``replicas`` replicas and hidden dimension ``r``, for the engine ``hyper`` selects.
        Every registered learner declares it (the registry checks)."""
        raise NotImplementedError(f"{cls.__name__} declares no cost: define the classmethod "
                                  "cost(hyper, d, n, replicas, r) (indexlab.learners.costs)")

    @classmethod
    def prediction(cls, link: Any, d: int, sparsity: int | None = None) -> Any:
        """The theory's sample complexity of this learner on ``link`` (an
        :class:`~indexlab.links.Link`) at dimension ``d``: an
        :class:`indexlab.theory.Prediction` (``n ≍ base^exponent``), or ``None`` where there
        is none. What the sweep's ``p = "theory"`` budgets and the report's theory column
        read.

        By default the prediction of :func:`indexlab.theory.predicted_sample_complexity` for
        ``theory_key`` (``None`` without one, or where theory has no prediction for the
        link). A learner whose algorithm ``indexlab.theory`` does not know declares its own
        exponent by overriding this classmethod (``docs/extending.md``)."""
        if cls.theory_key is None:
            return None
        from indexlab import theory

        try:
            return theory.predicted_sample_complexity(cls.theory_key, link, d, sparsity)
        except ValueError:
            return None

    @classmethod
    def theory_step(cls, resolved: dict[str, Any], d: int) -> tuple[float, float] | None:
        """``(η_theory, η_used)``: the per-sample step that the theory's rate
        (:meth:`prediction`) assumes and the step the run used, from the run's stored
        resolved hyperparameters ``resolved`` at dimension ``d``; ``None`` (the default)
        where the rate has no step or the run does not say it.

        The report moves the theory exponent by the slope of ``log(η_theory/η_used)`` in
        ``log d`` (:func:`indexlab.experiments.analysis.step_shift`): in the drift-limited
        regime of online SGD the escape from the equator is an ODE in ``η·n`` (Ben Arous,
        Gheissari and Jagannath, JMLR 2021), so a smaller step needs proportionally more
        samples. The online spherical learners and batch-reuse SGD declare it; full-batch
        and one-step gradient descent (a number of iterations on a fixed sample: the step
        changes the iterations, not the samples the rate counts), the spectral and
        sufficient-dimension-reduction estimators, GAMP and the fixed-feature regressions
        have no step in their rate, so no shift applies to them."""
        return None

    @classmethod
    def overlap_theory(cls, hyper: dict[str, Any], link: Any, d: int, ns: Any,
                       budget: int | None = None,
                       sparsity: int | None = None) -> tuple[str, Any] | None:
        """The theory's deterministic prediction of the ``overlap`` metric (best direction,
        ``max_j |cos(w_j, θ*)|``) of this learner with hyperparameters ``hyper`` on ``link``
        at dimension ``d`` (``sparsity``: of ``θ*``, ``None`` dense): ``(name of the theory,
        values at each n of ns)``, or ``None``
        where there is none (the default). ``budget``: one traced run of that budget read at
        every ``n``; ``None``: one run per ``n``. The report's overlap-vs-n figure draws it
        beside the measured band."""
        return None

    def fit_note(self) -> str | None:
        """What a summary of this fitted learner should say is missing and why (e.g. the
        overlap chain has no ``d``-dimensional weights), or ``None``."""
        return None

    @classmethod
    def predicts_with(cls, hyper: dict[str, Any]) -> bool:
        """Whether a learner with hyperparameters ``hyper`` will have ``predict`` (the
        ``predicts`` flag of such an instance; the class flag if ``hyper`` does not build
        one)."""
        try:
            return bool(cls(**hyper).predicts)
        except (TypeError, ValueError):
            return bool(cls.predicts)

    @classmethod
    def compatible(cls, hyper: dict[str, Any], link: Any, sparsity: int | None) -> str | None:
        """Why this learner with ``hyper`` cannot fit a target with ``link`` (an
        :class:`~indexlab.links.Link`) and ``sparsity``, as one sentence, or ``None``.

        The base rule: a learner whose defaults come from an exponent of the link
        (``exponent_kind``) needs that exponent to exist, unless ``hyper`` sets
        ``exponent``."""
        if cls.exponent_kind is None or "exponent" not in cls.hyperparameter_names():
            return None
        if with_defaults(cls, hyper).get("exponent") is not None:
            return None
        return _missing_exponent(cls, link)

    # -------------------------------------------------------------- fitted state
    def _mark_fitted(self, replicas: int, squeeze: bool, device: torch.device,
                     d: int | None = None) -> None:
        self.replicas_ = int(replicas)
        if d is not None:  # the data width, checked by transform/predict (_array_io)
            self.n_features_in_ = int(d)
        self.squeeze_ = bool(squeeze)
        self.device_ = torch.device(device)

    def check_fitted(self) -> None:
        """:class:`NotFittedError` unless ``fit`` has run."""
        if not hasattr(self, "replicas_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call "
                                 "fit(X, y) or fit(target, n=...) first")

    def overlap(self, theta: torch.Tensor) -> torch.Tensor:
        """Best-direction overlap ``max_j |cos(w_j, θ)|`` per replica, ``(R,)``, for ``θ``
        of shape ``(R, d)`` (or ``(d,)`` with one replica)."""
        self.check_fitted()
        if not self.learns_directions:
            raise AttributeError(f"{type(self).__name__} learns no directions: it has no "
                                 "overlap")
        V = self.directions_
        V = V[None] if V.ndim == 2 else V
        theta = torch.as_tensor(theta).reshape(V.shape[0], -1).to(V.device, V.dtype)
        return max_overlap(V, theta)


def _registered(name: Any) -> type[Learner] | None:
    """The learner class registered as ``name`` (its own ``registry_name``), found among the
    subclasses of :class:`Learner`, or ``None``."""
    todo = list(Learner.__subclasses__())
    while todo:
        cls = todo.pop()
        if vars(cls).get("registry_name") == name:
            return cls
        todo += cls.__subclasses__()
    return None


def hyperparameter_table(cls: type[Learner]) -> str:
    """The hyperparameters of learner class ``cls`` as text, one per line: name, default,
    allowed values (from ``constraints``), meaning (from ``hyperparameter_docs``) and the
    class that declares it — what ``help(cls)`` shows under "Hyperparameters (generated)"."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        docs.update(vars(klass).get("hyperparameter_docs", {}))
    lines = []
    for f in cls.hyperparameter_fields():
        default = (f.default if f.default is not dataclasses.MISSING
                   else f.default_factory() if f.default_factory is not dataclasses.MISSING
                   else "required")
        source = next((k.__name__ for k in cls.__mro__
                       if f.name in vars(k).get("__annotations__", {})), cls.__name__)
        allowed_text = allowed(cls.constraints[f.name]) if f.name in cls.constraints else "any"
        meaning = docs.get(f.name, "")
        lines.append(f"    {f.name} = {default!r}  (allowed: {allowed_text}; declared in "
                     f"{source})\n        {meaning}".rstrip())
    return "\n".join(lines)


def document_hyperparameters(cls: type[Learner]) -> None:
    """Append :func:`hyperparameter_table` to ``cls.__doc__`` (once), so that ``help(cls)``
    lists every hyperparameter with its default, allowed values, meaning and source."""
    marker = "Hyperparameters (generated from the class):"
    doc = cls.__doc__ or ""
    if marker not in doc and dataclasses.is_dataclass(cls):
        cls.__doc__ = f"{doc.rstrip()}\n\n{marker}\n\n{hyperparameter_table(cls)}\n"


def _missing_exponent(cls: type[Learner], link: Any) -> str | None:
    """``None`` when ``link`` has the ``cls.exponent_kind`` exponent (from the registry
    value or :mod:`indexlab.theory`), else the sentence saying that it has none."""
    from indexlab import theory

    kind = cls.exponent_kind
    known = link.generative_exponent if kind == "generative" else link.information_exponent
    if known is not None:
        return None
    fn = theory.generative_exponent if kind == "generative" else theory.information_exponent
    try:
        value = fn(link)
    except ValueError as exc:
        value, why = None, f" ({exc})"
    else:
        why = ""
    if value is not None:
        return None
    return (f"{cls.__name__} needs the {kind} exponent of link {link.name!r}, which theory "
            f"cannot give{why}: set the learner hyper exponent = k")
