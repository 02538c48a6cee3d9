"""``indexlab measure``: the sample-complexity exponent of any link and learner, next to
theory, with budgets the library calibrates itself.

For each learner (default: the three of the exponent claims, ``claims/exponents.toml``):

1. **Checks, before any run.** The criterion (``metric >= value`` / ``metric <= value``,
   parsed by a whitelist regex: :func:`indexlab.experiments.spec.parse_success`; never
   ``eval``) must be readable from an overlap trace and be neither impossible nor met at
   every start; the learner must record a trace (first passages are read from it), apply to
   the target (:meth:`~indexlab.learners.base.Learner.compatible`: e.g. a sparse learner
   without a sparsity) and have a theory exponent in ``d`` on the link
   (:func:`indexlab.experiments.spec.theory_exponent`, from :mod:`indexlab.theory`). Any
   failure is a ``ValueError`` naming the value and what is allowed.
2. **Pilot.** At ``d₀`` (``PILOT_D``), a traced run with ``R_p`` replicas and budget
   ``n = c·b(d₀)``, ``b(d) = d^p`` (``d^p ln d`` for an exponent-2 step without smoothing,
   :func:`~indexlab.experiments.claims.exponents.exponent_log_factor`), ``p`` the theory
   exponent, ``c = PILOT_C0·8^i``: a geometric search in ``log n`` (×8 per step) until the
   median first passage ``n̂*(d₀)`` is inside the budget, at most ``PILOT_STEPS`` steps and
   no run over the pilot's cost cap. The budget constant of the main runs is
   ``c = BUDGET_FACTOR · n̂*(d₀)/b(d₀)``, so a ratio ``n*/b(d)`` that grows up to
   ``BUDGET_FACTOR``-fold over the range stays inside the budget; beyond, the threshold is
   censored (an inconclusive verdict, never a pass). A pilot that finds no threshold stops
   that learner as inconclusive with the reason, before the main budget is spent.
3. **Main.** A traced sweep over ``d`` = powers of 2 from ``D_MIN`` as far as the per-run
   cost cap allows (:func:`~indexlab.experiments.exponent_fit.d_range`; cost =
   :func:`indexlab.experiments.guards.estimate`'s seconds, i.e. the learner's declared
   :meth:`~indexlab.learners.base.Learner.cost` for its engine: the exact overlap chain where
   the learner offers it, ``engine = "chain"``), stretched up to ``STRETCH`` × the cap for the
   ``≥ 1.5`` decades a verdict needs. Every learner runs as in the exponent claims: width 1,
   the whole budget one search phase, and — where it has the spec's step formula
   (``default_lr``) — that step given explicitly as ``lr``
   (:func:`~indexlab.experiments.claims.exponents.spec_lr_formula`, never hold-capped).
4. **Judge.** :func:`~indexlab.experiments.exponent_fit.judge_exponent`, the one the claims
   use: the bootstrap CI of ``p̂`` must meet ``[p, p + s]`` (one ``log d`` allowance) and
   exclude the other learners' theory exponents; fewer than 1.5 decades of fitted ``d``
   (except in tiny mode) is inconclusive.

Every run is an ordinary run of the store (sweeps ``measure-{mode}-{tag}-{learner}`` and
``…-pilot{i}``, ``tag`` a hash of the link, noise, sparsity, criterion, seed, the learner's
hyperparameters and step and the mode's sizes), so an
interrupted ``measure`` (Ctrl-C, ``kill -9``) loses no finished run and the same command
resumes: the pilot's decisions are replayed from the stored runs.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexlab.experiments.judge import INCONCLUSIVE, Check, unavailable
from indexlab.experiments.store import Store

# sizes per mode: replicas, pilot (d₀, replicas), main d range, per-run cost cap in estimated
# seconds (guards.estimate; ≈ 10⁹ replica-samples on the chain in quick mode, as the claims'
# cap), the stretch for 1.5 decades, and the pilot's cap
MODES: dict[str, dict[str, Any]] = {
    "tiny": {"replicas": 4, "pilot_d": 8, "pilot_replicas": 4, "d_min": 8, "d_max": 32,
             "cap": 5.0, "stretch": None, "pilot_cap": 5.0},
    "quick": {"replicas": 16, "pilot_d": 32, "pilot_replicas": 8, "d_min": 16,
              "d_max": 16384, "cap": 100.0, "stretch": 500.0, "pilot_cap": 20.0},
    "full": {"replicas": 64, "pilot_d": 64, "pilot_replicas": 16, "d_min": 16,
             "d_max": 65536, "cap": 1000.0, "stretch": 5000.0, "pilot_cap": 100.0},
}
PILOT_C0 = 16.0  # first pilot budget constant: n = 16·b(d₀)
PILOT_STEPS = 4  # ×8 per step: up to 16·8³ = 8192·b(d₀)
BUDGET_FACTOR = 8.0  # main budget constant = 8 × the pilot's n̂*(d₀)/b(d₀)
# the smoothed search slope costs ≈ 3× a plain one on the chain (claims/exponents.toml:
# cap_smoothed = 0.3 cap), which the declared cost does not see
SMOOTHED_COST = 1 / 0.3
DEFAULT_CRITERION = "overlap >= 0.5"


@dataclass
class LearnerMeasure:
    """One learner's measured exponent: the :class:`~indexlab.experiments.judge.Check`, the
    ``d`` of the fit, the theory exponent, the calibrated budget constant, the sweeps."""

    learner: str
    check: Check
    theory: float | None
    d_min: int | None = None
    d_max: int | None = None
    c: float | None = None
    pilot: dict[str, Any] = field(default_factory=dict)
    sweep: str | None = None
    seconds: float = 0.0
    log_factor: bool = False
    analysis: Any = field(default=None, repr=False)  # the main sweep's, for the figure

    @property
    def verdict(self) -> str:
        return self.check.verdict

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` object: learner, exponent, lo, hi, d_min, d_max, theory, verdict,
        reason (and the calibration, sweep and seconds)."""
        def num(x):
            return x if x is None or math.isfinite(x) else None

        return {"learner": self.learner, "exponent": num(self.check.estimate),
                "lo": num(self.check.lo), "hi": num(self.check.hi), "d_min": self.d_min,
                "d_max": self.d_max, "theory": self.theory, "verdict": self.verdict,
                "reason": self.check.reason, "fit": "n*/log d" if self.log_factor else "n*",
                "c": self.c, "pilot": self.pilot, "sweep": self.sweep,
                "seconds": round(self.seconds, 2)}


@dataclass(frozen=True)
class Plan:
    """What is checked before any run: one learner's class, hyperparameters, step formula,
    theory exponent and log factor."""

    learner: str
    cls: type
    hyper: dict[str, Any]
    formulas: dict[str, str]
    theory: float
    log_factor: bool
    smoothed: bool


# ---------------------------------------------------------------------------------- checks
def _criterion(text: str):
    from indexlab.experiments.spec import _METRIC_RANGE, TRACE_METRICS, SpecError, parse_success

    success = parse_success(text)  # whitelist regex; "can never be met" is a SpecError
    if success.metric not in TRACE_METRICS:
        raise SpecError(f"criterion={text!r} is not allowed: measure reads first passages from "
                        f"the overlap trace; use a metric among {', '.join(TRACE_METRICS)}")
    low, high = _METRIC_RANGE[success.metric]
    if (success.op == ">=" and success.value <= low) or (
            success.op == "<=" and success.value >= high):
        raise SpecError(f"criterion={text!r} is met by every start ({success.metric} takes "
                        f"values in [{low:g}, {high:g}]): n* would be 0; use a threshold "
                        "inside that range")
    return success


def plan_learner(name: str, link: str, noise: float, sparsity: int | None) -> Plan:
    """Check that ``name`` can be measured on the target and say how (module docstring, 1);
    a ``ValueError`` naming the reason otherwise."""
    from indexlab.experiments.claims.exponents import (
        exponent_log_factor,
        smoothed_on,
        spec_lr_formula,
    )
    from indexlab.experiments.spec import TargetSpec, theory_exponent
    from indexlab.learners.registry import learner_class
    from indexlab.links import get_link

    cls = learner_class(name)
    if not cls.traced:
        raise ValueError(f"learner {name!r} records no overlap trace: measure reads first "
                         "passages from it; use a traced learner (indexlab learners)")
    target = get_link(link, noise=noise)
    names = set(cls.hyperparameter_names())
    hyper = {k: v for k, v in (("width", 1), ("ridge_samples", 0), ("search_fraction", 1.0))
             if k in names}
    why = cls.compatible(hyper, target, sparsity)
    if why is not None:
        raise ValueError(f"learner {name!r} does not apply to {link!r}: {why}")
    predicted = theory_exponent(name, TargetSpec(link, (1024,), sparsity=sparsity,
                                                 noise=noise), 1024)
    if predicted is None:
        raise ValueError(f"the theory cannot classify link {link!r} for learner {name!r}: "
                         "indexlab.theory gives no predicted exponent (e.g. no finite "
                         "information/generative exponent up to degree 8)")
    p, base, _ = predicted
    if base != "d":
        raise ValueError(f"learner {name!r}: theory predicts n ≍ {base}^{p:g}, in the sparsity,"
                         " not in d; measure fits the exponent in d (use indexlab reproduce's "
                         "sparse-k claim for the exponent in k)")
    formulas: dict[str, str] = {}
    smoothed, logged = False, False
    if callable(getattr(cls, "default_lr", None)):  # the spec's step formula, uncapped
        formulas["lr"] = spec_lr_formula(name, link, noise, normalised=True)
        smoothed = smoothed_on(name, link, noise)
        logged = exponent_log_factor(name, link, noise)
    if "chain" in cls.engines and cls.compatible({**hyper, "engine": "chain"}, target,
                                                 sparsity) is None:
        hyper["engine"] = "chain"
    return Plan(name, cls, hyper, formulas, float(p), logged, smoothed)


def _tag(link: str, noise: float, sparsity: int | None, criterion: str, seed: int,
         plan: Plan, mode: str) -> str:
    """8 hex digits of SHA-256 of the target, criterion, seed, the learner's hyperparameters
    and step formula and the mode's sizes: a store written by a version that runs the
    learner otherwise gets new sweeps instead of a refusal (a sweep name is bound to its
    spec's content)."""
    text = json.dumps([link, noise, sparsity, criterion, seed, plan.hyper, plan.formulas,
                       MODES[mode], PILOT_C0, PILOT_STEPS, BUDGET_FACTOR], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


# ---------------------------------------------------------------------------------- stages
def _base(plan: Plan, d: int) -> float:
    """``b(d) = d^p`` (``d^p ln d`` with the log factor)."""
    return d**plan.theory * (math.log(d) if plan.log_factor else 1.0)


def _cost(plan: Plan, d: int, n: float, replicas: int) -> float:
    """Estimated seconds of one traced run (the learner's declared cost)."""
    from indexlab.experiments.guards import estimate

    seconds = estimate(plan.cls, plan.hyper, d, max(1, round(n)), replicas).seconds
    return seconds * (SMOOTHED_COST if plan.smoothed else 1.0)


def _spec(plan: Plan, name: str, target: dict[str, Any], ds: list[int], budget: dict,
          replicas: int, seed: int, criterion: str) -> dict[str, Any]:
    entry = {"name": plan.learner, "hyper": plan.hyper, "trace": True, "budget": budget}
    if plan.formulas:
        entry["formulas"] = plan.formulas
    return {"name": name, "seed": seed, "replicas": replicas, "n_test": 0,
            "success": criterion, "targets": [{**target, "d": ds}], "learners": [entry]}


def _run_sweep(spec_dict: dict[str, Any], store: Store, progress: bool, n_boot: int):
    """Run (or resume) one sweep and return its analysis."""
    from indexlab.experiments.analysis import analyse
    from indexlab.experiments.runner import sweep
    from indexlab.experiments.spec import parse_spec

    spec = parse_spec(spec_dict)
    summary = sweep(spec, store, progress=progress, time_limit="none")
    stored = next(s for s in store.sweeps() if s["name"] == spec.name)
    return analyse(store, stored, n_boot=n_boot), summary


def _pilot(plan: Plan, size: dict, prefix: str, target: dict, store: Store, seed: int,
           criterion: str, progress: bool, n_boot: int) -> tuple[float | None, dict, str]:
    """``(c, record, reason)``: the calibrated constant (``None`` when no threshold was found,
    ``reason`` says why) and what the pilot saw."""
    d0, reps = size["pilot_d"], size["pilot_replicas"]
    record: dict[str, Any] = {"d": d0, "replicas": reps}
    n = 0
    for i in range(PILOT_STEPS):
        c_try = PILOT_C0 * 8.0**i
        n = max(2, math.ceil(c_try * _base(plan, d0)))
        if i > 0 and _cost(plan, d0, n, reps) > size["pilot_cap"]:
            break
        analysis, _ = _run_sweep(
            _spec(plan, f"{prefix}-pilot{i}", target, [d0], {"n": [n]}, reps, seed,
                  criterion), store, progress, n_boot)
        t = analysis.thresholds[0] if analysis.thresholds else None
        record.update(n=n, steps=i + 1)
        if t is not None and 0 < t.n_star < math.inf:
            record.update(n_star=t.n_star, lo=t.lo, hi=t.hi)
            return BUDGET_FACTOR * t.n_star / _base(plan, d0), record, ""
    return None, record, (f"the pilot found no threshold: the median first passage to "
                          f"{criterion} at d = {d0} exceeds n = {n} ({reps} replicas, "
                          f"{record.get('steps', 0)} budgets ×8 apart); the main budget was "
                          "not spent")


def measure_learner(plan: Plan, link: str, store: Store, *, alternatives: Sequence[float],
                    noise: float = 0.0, sparsity: int | None = None,
                    criterion: str = DEFAULT_CRITERION, mode: str = "quick", seed: int = 0,
                    progress: bool = False, n_boot: int = 1000) -> LearnerMeasure:
    """Pilot, main sweep and judgement of one checked learner (module docstring, 2–4)."""
    from indexlab.experiments.exponent_fit import DECADES, d_range, judge_exponent

    start = time.perf_counter()
    size = MODES[mode]
    prefix = (f"measure-{mode}-{_tag(link, noise, sparsity, criterion, seed, plan, mode)}-"
              f"{plan.learner}")
    target: dict[str, Any] = {"link": link}
    if noise:
        target["noise"] = noise
    if sparsity is not None:
        target["sparsity"] = sparsity
    label = f"{plan.learner} p̂" + (" of n*/log d" if plan.log_factor else "")
    c, pilot, reason = _pilot(plan, size, prefix, target, store, seed, criterion, progress,
                              n_boot)
    if c is None:
        return LearnerMeasure(plan.learner, unavailable(label, reason), plan.theory,
                              pilot=pilot, seconds=time.perf_counter() - start,
                              log_factor=plan.log_factor)
    replicas = size["replicas"]
    # the spec's budget is round(c'·d^p): the log factor enters as c·ln(d_max) (≥ c·ln d)
    if plan.log_factor:
        ds0 = d_range(lambda d: _cost(plan, d, c * _base(plan, d), replicas), size["cap"],
                      size["d_min"], size["d_max"], size["stretch"])
        c_spec = c * math.log(max(ds0))
    else:
        c_spec = c
    ds = d_range(lambda d: _cost(plan, d, c_spec * d**plan.theory, replicas), size["cap"],
                 size["d_min"], size["d_max"], size["stretch"])
    budget = {"c": [float(f"{c_spec:.6g}")], "p": plan.theory}
    analysis, summary = _run_sweep(_spec(plan, prefix, target, ds, budget, replicas, seed,
                                         criterion), store, progress, n_boot)
    judged = judge_exponent(label, analysis.curves, analysis.thresholds, plan.theory,
                            alternatives, plan.log_factor, None if mode == "tiny" else DECADES)
    check = judged.check
    if summary.get("failed"):
        check = _inconclusive(check, f"{summary['failed']} run(s) failed (indexlab status)")
    used = judged.used
    return LearnerMeasure(plan.learner, check, plan.theory,
                          min(used) if used else None, max(used) if used else None,
                          float(f"{c:.6g}"), pilot, prefix, time.perf_counter() - start,
                          plan.log_factor, analysis)


def _inconclusive(check: Check, why: str) -> Check:
    from dataclasses import replace

    verdict = INCONCLUSIVE if check.verdict == "pass" else check.verdict
    return replace(check, verdict=verdict, reason=f"{check.reason}; {why}")


def validate(link: str, learners: Sequence[str] | None = None, sparsity: int | None = None,
             noise: float = 0.0, criterion: str = DEFAULT_CRITERION, mode: str = "quick",
             seed: int = 0) -> list[Plan]:
    """Every check of the module docstring (1), before any run: the plans, or a
    ``ValueError`` naming the bad value and what is allowed."""
    from indexlab.experiments.claims import SINGLE_LEARNERS

    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not allowed: use one of {', '.join(MODES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} is not allowed: use an integer >= 0")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not (
            math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise={noise!r} is not allowed: use a finite number >= 0")
    if sparsity is not None and (isinstance(sparsity, bool) or not isinstance(sparsity, int)
                                 or sparsity < 1):
        raise ValueError(f"sparsity={sparsity!r} is not allowed: use an integer >= 1")
    if not isinstance(link, str) or not link.strip():
        raise ValueError(f"link={link!r} is not allowed: use a registry name or an expression "
                         "in z (indexlab links)")
    _criterion(criterion)
    names = list(dict.fromkeys(learners)) if learners else list(SINGLE_LEARNERS)
    return [plan_learner(name, link, float(noise), sparsity) for name in names]


def measure(link: str, store: Store | str | Path, learners: Sequence[str] | None = None, *,
            sparsity: int | None = None, noise: float = 0.0,
            criterion: str = DEFAULT_CRITERION, mode: str = "quick", seed: int = 0,
            progress: bool = False, n_boot: int = 1000,
            on_learner: Callable[[LearnerMeasure], None] | None = None
            ) -> list[LearnerMeasure]:
    """The exponent of ``n*(d)`` for each learner on ``link`` (module docstring); ``store``
    a :class:`~indexlab.experiments.store.Store` or the path of one (created if missing,
    resumed if present). Every input is checked before any run (:func:`validate`)."""
    plans = validate(link, learners, sparsity, noise, criterion, mode, seed)
    own = not isinstance(store, Store)
    db = Store(store) if own else store
    try:
        results = []
        for plan in plans:
            others = [q.theory for q in plans if q is not plan]
            result = measure_learner(plan, link, db, alternatives=others, noise=float(noise),
                                     sparsity=sparsity, criterion=criterion, mode=mode,
                                     seed=seed, progress=progress, n_boot=n_boot)
            results.append(result)
            if on_learner is not None:
                on_learner(result)
        return results
    finally:
        if own:
            db.close()
