"""Sweep specifications: a TOML file, validated in full when it is loaded.

A spec names the targets, the learners (with hyperparameters, some of them formulas in ``d``),
the sample budgets, the replicas and seeds, the device and the success criterion. Every error
is a :class:`SpecError` naming the field (``learners[1].formulas.lr``), the value and what is
allowed, raised before any run starts. Layout (see ``examples/`` for complete files)::

    name = "he3"                    # label of the sweep in the store and the report; bound
                                    # to this spec's content: a different spec under a
                                    # name the store holds is refused
    seed = 0                        # spec seed: every run's seed derives from it
    replicas = 8                    # R independent replicas per run
    device = "cpu"                  # "cpu", "cuda" or "cuda:k"
    dtype = "float32"               # or "float64"
    n_test = 2000                   # fresh test samples for test_mse (0: no test error)
    success = "overlap >= 0.9"      # metric op value; metric: overlap, overlap_neuron,
                                    # subspace_distance, test_mse;
                                    # "strong" = overlap >= 0.9, "weak" = >= 0.3
    success_probability = 0.5       # n*(d): where P(success) crosses this level

    [budget]                        # default budget of every learner: either a list ...
    n = [256, 512, 1024]            # integers, or formulas in d: n = ["16*d*log(d)"]
    # ... or a grid n = round(c · d^p), p a number or "theory" (the learner's predicted
    # exponent from indexlab.theory, in k = sparsity for the sparse learners)
    # c = [0.5, 1, 2, 4]; p = "theory"
    # ... or an adaptive search (see indexlab.experiments.adaptive): budgets refined per
    # (target, learner, d) by bisection in log n between two formulas in d, until the n*
    # interval's relative width (hi − lo)/n* is <= rel_width or the bounds are hit
    # search = { low = "2*d", high = "64*d**2" }; rel_width = 0.15

    [[targets]]                     # one table per target family
    link = "he3"                    # registry name or expression (indexlab links)
    d = [32, 64, 128]
    noise = 0.0                     # optional: r, sparsity

    [[learners]]
    name = "unified"                # a key of indexlab.learners.LEARNERS
    hyper = { width = 16 }          # fixed hyperparameters
    formulas = { lr = "0.1 / d" }   # per-d hyperparameters, safe expressions in d
    trace = false                   # true: one run at the largest n per d; its recorded
                                    # overlap-vs-n trace gives the whole curve (see below)
    budget = { c = [1, 2, 4], p = 1 }   # optional, replaces the default budget
    label = "unified (width 16)"    # optional: the entry's name in the store and the report
                                    # (default: name, or name#i when a name appears twice);
                                    # not part of a run's key

With ``trace = true`` the curve at ``n < n_max`` is the overlap after ``n`` samples *of the run
with budget* ``n_max`` — its step schedule (search phase, then decay) is set by ``n_max`` — so
the threshold reads "samples until success within that run", not "success of a run with
budget ``n``" (the two agree when success is reached in the constant-step search phase).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from indexlab._suggest import did_you_mean

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

METRICS = ("overlap", "overlap_neuron", "subspace_distance", "test_mse")
TRACE_METRICS = {"overlap": "overlap", "overlap_neuron": "overlap_mean"}
PRESETS = {"strong": "overlap >= 0.9", "weak": "overlap >= 0.3"}
MAX_RUNS = 100_000
MAX_BUDGET = 10**15  # samples per replica of one run (as indexlab fit's MAX_COUNT)
MAX_FORMULA = 1e12  # largest |value| of a hyperparameter formula
_SUCCESS = re.compile(r"^\s*([a-z_]+)\s*(>=|<=)\s*([-+0-9.eE]+)\s*$")
_TOP_KEYS = {"name", "seed", "replicas", "device", "dtype", "n_test", "success",
             "success_probability", "budget", "targets", "learners"}
_TARGET_KEYS = {"link", "d", "r", "sparsity", "noise"}
_LEARNER_KEYS = {"name", "hyper", "formulas", "trace", "budget", "label"}
_BUDGET_KEYS = {"n", "c", "p", "search", "rel_width"}
_SEARCH_KEYS = {"low", "high"}
_LABEL = re.compile(r"[^#\s](?:[^#\n]{0,62}[^#\s])?")  # a learner entry's label
# the values each metric can take: a criterion outside them can never be met
_METRIC_RANGE = {"overlap": (0.0, 1.0), "overlap_neuron": (0.0, 1.0),
                 "subspace_distance": (0.0, 1.0), "test_mse": (0.0, math.inf)}


class SpecError(ValueError):
    """A spec field with a value that is not allowed (the message names field, value, rule)."""


def _error(where: str, value: Any, allowed: str) -> SpecError:
    return SpecError(f"{where}={value!r} is not allowed: use {allowed}")


@dataclass(frozen=True)
class Success:
    """Per-replica success: ``metric op value`` (e.g. ``overlap >= 0.9``); ``probability`` is
    the level of the success fraction whose crossing defines the threshold ``n*``."""

    metric: str
    op: str
    value: float
    probability: float = 0.5

    def text(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Budget:
    """Sample budgets: the list ``n`` (integers, and ``formulas`` in ``d`` such as
    ``"16*d*log(d)"``, rounded), the grid ``round(c · base^p)`` (``p`` may be
    ``"theory"``), or an adaptive ``search`` between the formulas ``(low, high)`` in ``d``
    until the relative width of the ``n*`` interval is ``<= rel_width``."""

    n: tuple[int, ...] = ()
    formulas: tuple[str, ...] = ()
    c: tuple[float, ...] = ()
    p: float | str | None = None
    search: tuple[str, str] | None = None
    rel_width: float = 0.15

    def bounds(self, d: int, where: str = "budget.search") -> tuple[int, int]:
        """``(low, high)`` of the adaptive search at ``d`` (``SpecError`` if ``low >= high``)."""
        low = round(evaluate_formula(self.search[0], d, f"{where}.low"))
        high = round(evaluate_formula(self.search[1], d, f"{where}.high"))
        if low < 1:
            raise SpecError(f"{where}.low={self.search[0]!r} gives {low} at d={d}: use a "
                            "formula that gives at least 1 sample")
        if low >= high:
            raise SpecError(f"{where}: low={self.search[0]!r} gives {low} >= high="
                            f"{self.search[1]!r} = {high} at d={d}: use low < high")
        return low, high


@dataclass(frozen=True)
class TargetSpec:
    link: str
    d: tuple[int, ...]
    r: int | None = None
    sparsity: int | None = None
    noise: float = 0.0

    def config(self, d: int) -> dict[str, Any]:
        """The target part of a run configuration at dimension ``d``."""
        return {"link": self.link, "d": d, "r": self.r, "sparsity": self.sparsity,
                "noise": self.noise}


@dataclass(frozen=True)
class LearnerSpec:
    """A ``[[learners]]`` entry; ``cls`` is its learner class, resolved once from ``name``
    when the spec is parsed (the runs carry it on)."""

    name: str
    hyper: dict[str, Any] = field(default_factory=dict)
    formulas: dict[str, str] = field(default_factory=dict)
    trace: bool = False
    budget: Budget | None = None
    label: str | None = None
    cls: type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Spec:
    """A validated sweep specification (see the module docstring for the fields)."""

    name: str
    seed: int
    replicas: int
    device: str
    dtype: str
    n_test: int
    success: Success
    targets: tuple[TargetSpec, ...]
    learners: tuple[LearnerSpec, ...]
    budget: Budget | None
    source: dict[str, Any] = field(default_factory=dict, compare=False)


# ---------------------------------------------------------------------------------- scalars
def _int(where: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= low and (
            high is None or value <= high):
        return value
    rule = f"an integer >= {low}" if high is None else f"an integer in {low}..{high}"
    raise _error(where, value, rule)


def _number(where: str, value: Any, low: float = -math.inf, strict: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value > low if strict else value >= low):
        return float(value)
    raise _error(where, value, f"a finite number {'>' if strict else '>='} {low:g}")


def _table(where: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _error(where, value, "a TOML table")
    unknown = sorted(set(value) - allowed)
    if unknown:
        hints = "".join(did_you_mean(u, allowed) for u in unknown)
        raise SpecError(f"{where}: unknown field(s) {', '.join(unknown)}{hints}; allowed: "
                        f"{', '.join(sorted(allowed))}")
    return value


def _list(where: str, value: Any) -> list:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list) or not value:
        raise _error(where, value, "a non-empty list")
    return value


# ---------------------------------------------------------------------------------- parts
def parse_success(value: Any, probability: Any = 0.5) -> Success:
    """``"overlap >= 0.9"``, ``"test_mse <= 0.1"``, or a preset (``strong``, ``weak``)."""
    text = PRESETS.get(value, value) if isinstance(value, str) else value
    match = _SUCCESS.match(text) if isinstance(text, str) else None
    allowed = (f"'METRIC >= VALUE' or 'METRIC <= VALUE' with METRIC one of {', '.join(METRICS)},"
               f" or one of {', '.join(PRESETS)}")
    if match is None or match.group(1) not in METRICS:
        raise _error("success", value, allowed)
    try:
        threshold = float(match.group(3))
    except ValueError:
        raise _error("success", value, allowed) from None
    metric, op = match.group(1), match.group(2)
    low, high = _METRIC_RANGE[metric]
    if (op == ">=" and threshold > high) or (op == "<=" and threshold < low) or not \
            math.isfinite(threshold):
        raise SpecError(f"success={value!r} can never be met: {metric} takes values in "
                        f"[{low:g}, {high:g}]; use a threshold inside that range")
    p = _number("success_probability", probability, 0.0, strict=True)
    if p >= 1:
        raise _error("success_probability", probability, "a number in (0, 1)")
    return Success(match.group(1), match.group(2), threshold, p)


def parse_budget(where: str, value: Any) -> Budget:
    """A budget table: ``n = [...]`` (integers or formulas in ``d``) or ``c = [...]`` with
    ``p`` (number or ``"theory"``)."""
    table = _table(where, value, _BUDGET_KEYS)
    if "search" in table:
        extra = sorted(set(table) - {"search", "rel_width"})
        if extra:
            raise SpecError(f"{where}: search = {{...}} replaces n/c/p; remove "
                            f"{', '.join(extra)}")
        search = _table(f"{where}.search", table["search"], _SEARCH_KEYS)
        for key in ("low", "high"):
            if not isinstance(search.get(key), (str, int)) or isinstance(search.get(key), bool):
                raise _error(f"{where}.search.{key}", search.get(key),
                             "a formula in d (a string such as \"2*d\") or an integer")
        rel = _number(f"{where}.rel_width", table.get("rel_width", 0.15), 0.0, strict=True)
        return Budget(search=(str(search["low"]), str(search["high"])), rel_width=rel)
    if "rel_width" in table:
        raise SpecError(f"{where}.rel_width: only allowed with search = {{ low, high }}")
    if ("n" in table) == ("c" in table):
        raise SpecError(f"{where}: give either n = [...] or c = [...] with p, not "
                        f"{'both' if 'n' in table else 'neither'}")
    if "n" in table:
        if "p" in table:
            raise SpecError(f"{where}.p: only allowed with c = [...] (n = c · d^p)")
        values = _list(f"{where}.n", table["n"])
        formulas = tuple(dict.fromkeys(v for v in values if isinstance(v, str)))
        ns = [_int(f"{where}.n[{i}]", v, 1) for i, v in enumerate(values)
              if not isinstance(v, str)]
        return Budget(n=tuple(sorted(set(ns))), formulas=formulas)
    cs = [_number(f"{where}.c[{i}]", v, 0.0, strict=True)
          for i, v in enumerate(_list(f"{where}.c", table["c"]))]
    p = table.get("p")
    if p != "theory":
        if p is None:
            raise SpecError(f"{where}.p is missing: give a number or \"theory\" with c = [...]")
        p = _number(f"{where}.p", p, 0.0)
    return Budget(c=tuple(sorted(set(cs))), p=p)


def parse_target(where: str, value: Any) -> TargetSpec:
    """A ``[[targets]]`` table; the link and every ``d`` are checked by building the target."""
    from indexlab.experiments.single_run import make_target
    from indexlab.links import get_link
    from indexlab.support import check_supported

    table = _table(where, value, _TARGET_KEYS)
    if "link" not in table:
        raise SpecError(f"{where}.link is missing: give a registry name or an expression")
    if not isinstance(table["link"], str):
        raise _error(f"{where}.link", table["link"], "a string (registry name or expression)")
    if "d" not in table:
        raise SpecError(f"{where}.d is missing: give a list of dimensions")
    ds = [_int(f"{where}.d[{i}]", v, 1) for i, v in enumerate(_list(f"{where}.d", table["d"]))]
    r = _int(f"{where}.r", table["r"], 1) if table.get("r") is not None else None
    k = _int(f"{where}.sparsity", table["sparsity"], 1) if table.get("sparsity") is not None \
        else None
    noise = _number(f"{where}.noise", table.get("noise", 0.0), 0.0)
    target = TargetSpec(table["link"].strip(), tuple(sorted(set(ds))), r, k, noise)
    try:
        link = get_link(target.link)
        check_supported(get_link(target.link, noise=noise))  # refuse before any sampling
    except ValueError as exc:
        raise SpecError(f"{where}.link: {exc}") from None
    for d in target.d:  # the rules that depend on d, checked without building a d-sized target
        if max(link.r, r or 1, k or 1) > d:
            what = "sparsity" if k is not None and k > max(link.r, r or 1) else "r"
            value = k if what == "sparsity" else max(link.r, r or 1)
            raise SpecError(f"{where} at d={d}: {what}={value} is not allowed: use "
                            f"{what} <= d={d}")
    small = max(link.r, r or 1, k or 1)  # the link, r, sparsity and noise on a tiny target
    try:
        make_target(target.link, small, r=r, sparsity=k, noise=noise, replicas=1)
    except ValueError as exc:
        raise SpecError(f"{where}: {exc}") from None
    return target


def _integer_valued(annotation: str) -> bool:
    kinds = {part.strip() for part in annotation.split("|")}
    return "int" in kinds and "float" not in kinds


def evaluate_formula(text: str, d: int, where: str = "formula") -> float:
    """Value of the safe expression ``text`` in the variable ``d`` (``SpecError`` if invalid)."""
    from indexlab.expressions import parse_expression

    try:
        expr = parse_expression(text, variables=("d",))
        value = float(expr(torch.tensor([[float(d)]], dtype=torch.float64))[0])
    except (ValueError, TypeError, RuntimeError, ArithmeticError, RecursionError) as exc:
        shown = text if len(text) <= 60 else text[:60] + "..."
        raise SpecError(f"{where}={shown!r} is not allowed: {exc}") from None
    if not math.isfinite(value):
        raise SpecError(f"{where}={text!r} gives {value} at d={d}: use a formula that is finite")
    if abs(value) > MAX_FORMULA:
        raise SpecError(f"{where}={text!r} gives {value:g} at d={d}: use a formula whose value "
                        f"lies within ±{MAX_FORMULA:g}")
    return value


def resolve_hyper(learner: LearnerSpec, d: int, where: str = "learner") -> dict[str, Any]:
    """The learner's hyperparameters at dimension ``d``: fixed values plus the formulas
    evaluated at ``d`` (rounded to integers for integer-valued hyperparameters)."""
    from indexlab.learners.registry import learner_fields

    types = learner_fields(learner.cls or learner.name)
    hyper = dict(learner.hyper)
    for key, text in learner.formulas.items():
        value = evaluate_formula(text, d, f"{where}.formulas.{key}")
        hyper[key] = round(value) if _integer_valued(types[key]) else value
    return hyper


def parse_learner(where: str, value: Any, targets: tuple[TargetSpec, ...]) -> LearnerSpec:
    """A ``[[learners]]`` table: known name, known hyperparameters, formulas valid at every d."""
    from indexlab.learners import LEARNERS

    table = _table(where, value, _LEARNER_KEYS)
    name = table.get("name")
    if name not in LEARNERS:
        raise _error(f"{where}.name", name,
                     "one of " + ", ".join(LEARNERS) + did_you_mean(name, LEARNERS))
    from indexlab.learners.registry import check_engine, learner_class, learner_fields

    cls = learner_class(name)  # resolved once: the spec and its runs carry the class on
    allowed = learner_fields(cls)
    if isinstance(table.get("hyper"), dict):
        try:
            check_engine(cls, table["hyper"])
        except ValueError as exc:
            raise SpecError(f"{where}.hyper.engine: {exc}") from None
    hyper = _table(f"{where}.hyper", table.get("hyper", {}),
                   set(allowed) | ({"engine"} if "engine" not in allowed else set()))
    formulas = _table(f"{where}.formulas", table.get("formulas", {}), set(allowed))
    for key, text in formulas.items():
        if key in hyper:
            raise SpecError(f"{where}.formulas.{key}: also set in {where}.hyper; give one")
        if not isinstance(text, str):
            raise _error(f"{where}.formulas.{key}", text, "a string: an expression in d")
    for key, v in hyper.items():
        if not isinstance(v, (int, float, str, bool)):
            raise _error(f"{where}.hyper.{key}", v, "a number, a string or a boolean")
        if isinstance(v, float) and not math.isfinite(v):
            raise _error(f"{where}.hyper.{key}", v, "a finite number")
    trace = table.get("trace", False)
    if not isinstance(trace, bool):
        raise _error(f"{where}.trace", trace, "true or false")
    budget = parse_budget(f"{where}.budget", table["budget"]) if "budget" in table else None
    label = table.get("label")
    if label is not None and not (isinstance(label, str) and _LABEL.fullmatch(label)):
        raise _error(f"{where}.label", label, "1-64 characters without '#', not starting or "
                     "ending with a space")
    learner = LearnerSpec(name, dict(hyper), dict(formulas), trace, budget, label, cls)
    for target in targets:
        for d in target.d:
            _check_values(learner, resolve_hyper(learner, d, where), where, d)
    return learner


def _check_labels(learners: tuple[LearnerSpec, ...]) -> None:
    """A given label names one entry: no other entry has it as label or as learner name (the
    default labels, names and ``name#i``, then never meet a given one)."""
    for i, learner in enumerate(learners):
        clash = [j for j, other in enumerate(learners)
                 if j != i and learner.label in (other.label, other.name)]
        if learner.label is not None and clash:
            raise SpecError(f"learners[{i}].label={learner.label!r} is not allowed: "
                            f"learners[{clash[0]}] is also called so; give each entry its own "
                            "label")


def _check_values(learner: LearnerSpec, hyper: dict[str, Any], where: str, d: int) -> None:
    """Build the learner with ``hyper`` and run its validation (``Learner.validate``, the
    one ``fit`` runs), so that a value it refuses fails here rather than in every run."""
    from indexlab.learners.registry import make_learner

    try:
        make_learner(learner.cls or learner.name, **hyper).validate()
    except (ValueError, TypeError) as exc:
        fields = "hyper" if not learner.formulas else "hyper/formulas"
        raise SpecError(f"{where}.{fields} at d={d}: {exc}") from None


# ---------------------------------------------------------------------------------- budgets
@lru_cache(maxsize=1024)
def theory_exponent(learner: str, target: TargetSpec, d: int
                    ) -> tuple[float, str, float] | None:
    """``(p, base, base value)`` of the predicted ``n ≍ base^p`` for ``learner`` (its
    class's :meth:`~indexlab.learners.base.Learner.prediction`) on ``target`` at ``d``
    (``base`` is ``"d"``, or ``"k"`` = the sparsity), or ``None`` when theory has none.
    Cached."""
    from indexlab.learners.registry import learner_class
    from indexlab.links import get_link

    cls = learner_class(learner)
    try:
        link = get_link(target.link, noise=target.noise)
    except ValueError:
        return None
    pred = cls.prediction(link, d, target.sparsity)  # theory_key's, or the class's own
    if pred is None:
        return None
    base = float(target.sparsity) if pred.base == "k" else float(d)
    return pred.exponent, pred.base, base


def budgets(spec: Spec, learner: LearnerSpec, target: TargetSpec, d: int) -> list[int]:
    """The sorted sample budgets of ``learner`` on ``target`` at ``d`` (``[n_max]`` with a
    trace: one run whose trace covers every smaller budget)."""
    budget = learner.budget or spec.budget
    if budget.search is not None:
        # adaptive: the runs are chosen while the sweep runs (indexlab.experiments.adaptive);
        # a traced learner needs only its run at the upper bound
        return [budget.bounds(d)[1]] if learner.trace else []
    if budget.n or budget.formulas:
        ns = list(budget.n)
        for text in budget.formulas:
            value = round(evaluate_formula(text, d, "budget.n"))
            if value < 1:
                raise SpecError(f"budget.n={text!r} gives {value} at d={d}: use a formula "
                                "that gives at least 1 sample")
            ns.append(value)
        ns = sorted(set(ns))
    else:
        p, base = budget.p, float(d)
        if p == "theory":
            p, _, base = theory_exponent(learner.name, target, d)
        ns = sorted({max(1, round(c * base**p)) for c in budget.c})
    return [max(ns)] if learner.trace else ns


def _check_budgets(spec: Spec) -> None:
    total = 0
    for i, learner in enumerate(spec.learners):
        where = f"learners[{i}].budget" if learner.budget else "budget"
        budget = learner.budget or spec.budget
        if budget is None:
            raise SpecError(f"learners[{i}] ({learner.name}) has no budget: give [budget] or "
                            f"learners[{i}].budget")
        for target in spec.targets:
            for d in target.d:
                if budget.search is not None:
                    budget.bounds(d, f"{where}.search")  # low < high, checked before any run
                    total += 1
                    continue
                if budget.p == "theory" and theory_exponent(learner.name, target, d) is None:
                    raise SpecError(f"{where}.p='theory': indexlab.theory has no prediction for "
                                    f"{learner.name} on link {target.link!r}; give a number")
                ns = budgets(spec, learner, target, d)
                if ns and max(ns) > MAX_BUDGET:
                    raise SpecError(f"{where}: n = {max(ns):.3g} at d={d} is not allowed: "
                                    f"budgets are at most {MAX_BUDGET:.0e} samples per replica")
                total += len(ns)
    if total > MAX_RUNS:
        raise SpecError(f"the spec expands to {total} runs: at most {MAX_RUNS} are allowed")


def _check_trace(spec: Spec) -> None:
    from indexlab.learners.registry import learner_class

    for i, learner in enumerate(spec.learners):
        if learner.trace and not (learner.cls or learner_class(learner.name)).traced:
            raise SpecError(f"learners[{i}].trace=true needs a learner that records its "
                            f"overlap along the run; {learner.name} fits in one shot: use "
                            "trace = false")
        if learner.trace and spec.success.metric not in TRACE_METRICS:
            raise SpecError(f"learners[{i}].trace=true reads the success metric from the "
                            f"overlap trace, but success={spec.success.text()!r}: use "
                            f"{' or '.join(TRACE_METRICS)}, or trace = false")


def _check_device(device: Any) -> str:
    from indexlab.experiments.preflight import check_device

    try:
        return check_device(device, "device")
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def _check_compatible(spec: Spec) -> None:
    """Every learner can fit every target (:func:`preflight.check_compatible`)."""
    from indexlab.experiments.preflight import check_compatible
    from indexlab.links import get_link

    for j, target in enumerate(spec.targets):
        link = get_link(target.link, noise=target.noise)
        for i, learner in enumerate(spec.learners):
            hyper = resolve_hyper(learner, target.d[0], f"learners[{i}]")
            try:
                check_compatible(learner.name, hyper, link, target.sparsity,
                                 f"learners[{i}] on targets[{j}]")
            except ValueError as exc:
                raise SpecError(str(exc)) from None


# ---------------------------------------------------------------------------------- entry points
def parse_spec(data: dict[str, Any]) -> Spec:
    """Validate a spec given as a dict (what ``tomllib`` returns); raise :class:`SpecError`."""
    top = _table("spec", data, _TOP_KEYS)
    name = top.get("name", "sweep")
    if not isinstance(name, str) or not re.fullmatch(r"[\w.\-]{1,64}", name):
        raise _error("name", name, "1-64 letters, digits, '_', '-' or '.'")
    seed = _int("seed", top.get("seed", 0), 0, 2**63 - 1)
    replicas = _int("replicas", top.get("replicas", 8), 1, 4096)
    device = _check_device(top.get("device", "cpu"))
    dtype = top.get("dtype", "float32")
    if dtype not in ("float32", "float64"):
        raise _error("dtype", dtype, "'float32' or 'float64'")
    n_test = _int("n_test", top.get("n_test", 2000), 0)
    success = parse_success(top.get("success", "strong"), top.get("success_probability", 0.5))
    if "targets" not in top or not isinstance(top["targets"], list) or not top["targets"]:
        raise _error("targets", top.get("targets"), "one or more [[targets]] tables")
    if "learners" not in top or not isinstance(top["learners"], list) or not top["learners"]:
        raise _error("learners", top.get("learners"), "one or more [[learners]] tables")
    targets = tuple(parse_target(f"targets[{i}]", t) for i, t in enumerate(top["targets"]))
    learners = tuple(parse_learner(f"learners[{i}]", v, targets)
                     for i, v in enumerate(top["learners"]))
    _check_labels(learners)
    budget = parse_budget("budget", top["budget"]) if "budget" in top else None
    spec = Spec(name, seed, replicas, device, dtype, n_test, success, targets, learners, budget,
                source=data)
    _check_trace(spec)
    _check_compatible(spec)
    _check_budgets(spec)
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read and validate a TOML spec file; raise :class:`SpecError` naming the bad field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"spec file {str(path)!r} cannot be read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"spec file {str(path)!r} is not valid TOML: {exc}") from None
    return parse_spec(data)
