"""Thresholds ``n*(d)`` and scaling exponents from stored sweeps.

**Success curve.** For one (target, learner, d), replica ``j`` at budget ``n_i`` succeeds when
its metric meets the spec's criterion (e.g. ``overlap >= 0.9``; a diverged replica or a missing
value fails). With ``S_ij ∈ {0, 1}`` the success fraction is ``f_i = mean_j S_ij``. The curve
comes from one run per ``n_i`` or, for learners with ``trace = true``, from the overlap trace
of the single largest run, read at its checkpoints (samples until success within that run;
see :mod:`indexlab.experiments.spec`). A learner that records no trace gives no curve there.

**Threshold estimator.** ``f`` is fitted by a non-decreasing function of ``x = log n``
(isotonic least squares, pool-adjacent-violators, :func:`isotonic`), and ``log n*`` is where
the fit ``g`` crosses the level ``q`` (``success_probability``, default 1/2), by linear
interpolation in ``x`` between the grid points on either side (the midpoint of a plateau lying
exactly at ``q``; :func:`crossing`). If ``g`` stays below ``q`` the threshold is right-censored
(``n* > n_max``, reported as ``+inf``); if it starts at or above ``q`` it is left-censored.

**Bootstrap.** ``B`` resamples draw ``R`` replica indices with replacement — the same indices
at every ``n_i``, since replica ``j`` has the same seed (direction, data, initialisation) at
every budget — and re-estimate ``log n*``; the confidence interval is the percentile interval
of the ``B`` values (95% by default), widened where needed to the grid cell that brackets the
crossing (from the last ``n_i`` with ``g < q`` to the first with ``g > q``): when every
replica fails at one budget and succeeds at the next, all resamples agree, yet the data do not
say where inside that cell the threshold lies. Such thresholds are flagged ``grid_limited``
(use a finer grid near ``n*`` or ``trace = true``).

**Scaling fit.** Over the dimensions with a finite threshold, ``log n*(d) = p log d + c`` by
ordinary least squares gives ``p̂`` and ``ĉ``; the same regression on each bootstrap resample
(the ``B`` resamples of every ``d`` are independent) gives the percentile interval of ``p̂``.
For a grid-limited threshold the resamples carry no information inside the bracketing cell,
so its ``B`` values of ``log n*`` are drawn uniformly over the cell instead.
Resamples with a censored threshold at some ``d`` have no slope; their share is reported as
``undefined`` (the interval is then conditional on the threshold being inside the grid). The
theoretical exponent beside it is :func:`indexlab.theory.predicted_sample_complexity`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexlab.experiments.spec import TRACE_METRICS, Success, TargetSpec, theory_exponent
from indexlab.experiments.store import Store

N_BOOT = 1000
LEVEL = 0.95


@dataclass
class Curve:
    """Metric values of one (target, learner, d): ``values[i, j]`` at budget ``ns[i]`` for
    replica ``j`` (NaN where the replica diverged); ``source`` is ``"runs"`` or ``"trace"``."""

    target: str
    learner: str
    d: int
    ns: np.ndarray
    values: np.ndarray
    source: str = "runs"
    target_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Threshold:
    """``n*`` with its interval ``[lo, hi]`` (``inf`` when censored), the isotonic fit
    ``fitted`` of the success fraction at ``ns``, the bootstrap ``log n*`` values ``boot``,
    and ``grid_limited``: the bootstrap interval was narrower than the bracketing grid cell."""

    n_star: float
    lo: float
    hi: float
    fitted: np.ndarray
    boot: np.ndarray
    grid_limited: bool = False


@dataclass
class ScalingFit:
    """``log n* = p log d + c`` over ``ds``: ``p`` with interval ``[lo, hi]``, ``undefined`` =
    share of bootstrap resamples without a slope; ``theory`` = predicted exponent and base."""

    target: str
    learner: str
    ds: list[int]
    p: float
    c: float
    lo: float
    hi: float
    undefined: float
    theory: float | None
    theory_base: str | None


@dataclass
class Analysis:
    """Everything a report needs for one sweep."""

    sweep: str
    success: Success
    curves: list[Curve]
    thresholds: list[Threshold]
    fits: list[ScalingFit]


# ---------------------------------------------------------------------------------- estimators
def succeeded(values: np.ndarray, success: Success) -> np.ndarray:
    """``S_ij``: the criterion met (NaN, i.e. diverged or missing, counts as a failure)."""
    with np.errstate(invalid="ignore"):
        ok = values >= success.value if success.op == ">=" else values <= success.value
    return ok & np.isfinite(values)


def isotonic(y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Non-decreasing least-squares fit ``argmin_g Σ w_i (y_i − g_i)²`` (pool adjacent
    violators: merge neighbouring blocks while their weighted means decrease)."""
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(y) if w is None else np.asarray(w, dtype=np.float64)
    means, weights, sizes = [], [], []
    for yi, wi in zip(y, w, strict=True):
        means.append(yi)
        weights.append(wi)
        sizes.append(1)
        while len(means) > 1 and means[-2] > means[-1]:
            m2, w2, s2 = means.pop(), weights.pop(), sizes.pop()
            total = weights[-1] + w2
            means[-1] = (means[-1] * weights[-1] + m2 * w2) / total
            weights[-1] = total
            sizes[-1] += s2
    return np.repeat(means, sizes)


def crossing(x: np.ndarray, g: np.ndarray, q: float) -> float:
    """Where the non-decreasing ``g`` (at increasing ``x``) crosses ``q``: the mean of the
    upward crossing (first ``g ≥ q``) and the downward one (last ``g ≤ q``), each by linear
    interpolation; ``−inf`` if ``g[0] > q``, ``+inf`` if ``g[-1] < q``."""
    if g[0] > q:
        return -math.inf
    if g[-1] < q:
        return math.inf
    first = int(np.argmax(g >= q))
    last = len(g) - 1 - int(np.argmax(g[::-1] <= q))
    up = x[first] if first == 0 or g[first] == q else (
        x[first - 1] + (q - g[first - 1]) / (g[first] - g[first - 1])
        * (x[first] - x[first - 1]))
    down = x[last] if last == len(g) - 1 or g[last] == q else (
        x[last] + (q - g[last]) / (g[last + 1] - g[last]) * (x[last + 1] - x[last]))
    return 0.5 * (up + down)


def percentile_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval: the ``(1 ∓ level)/2`` empirical quantiles (order statistics, no
    interpolation, so that infinite values are kept as they are)."""
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return float(lo), float(hi)


def _log_threshold(x: np.ndarray, success: np.ndarray, q: float) -> tuple[float, np.ndarray]:
    g = isotonic(success.mean(axis=1))
    return crossing(x, g, q), g


def threshold(ns: np.ndarray, success: np.ndarray, q: float = 0.5, n_boot: int = N_BOOT,
              level: float = LEVEL, rng: np.random.Generator | None = None) -> Threshold:
    """``n*`` from the success matrix ``S`` of shape ``(len(ns), R)`` (module docstring)."""
    order = np.argsort(ns)
    x = np.log(np.asarray(ns, dtype=np.float64)[order])
    S = np.asarray(success, dtype=np.float64)[order]
    log_star, g = _log_threshold(x, S, q)
    rng = np.random.default_rng(0) if rng is None else rng
    R = S.shape[1]
    boot = np.array([_log_threshold(x, S[:, rng.integers(0, R, R)], q)[0]
                     for _ in range(n_boot)])
    lo, hi = percentile_interval(boot, level)
    limited = False
    if math.isfinite(log_star):
        cell_lo, cell_hi = bracket(x, g, q)
        limited = cell_lo < lo or cell_hi > hi
        lo, hi = min(lo, cell_lo), max(hi, cell_hi)
    return Threshold(float(np.exp(log_star)), float(np.exp(lo)), float(np.exp(hi)), g, boot,
                     limited)


def bracket(x: np.ndarray, g: np.ndarray, q: float) -> tuple[float, float]:
    """The grid cell around the crossing of ``q``: ``x`` at the last ``g < q`` and at the
    first ``g > q`` (the ends of ``x`` where there is none)."""
    below = np.flatnonzero(g < q)
    above = np.flatnonzero(g > q)
    return (float(x[below[-1]]) if below.size else float(x[0]),
            float(x[above[0]]) if above.size else float(x[-1]))


def _slope(log_d: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    xc = log_d - log_d.mean()
    p = float((xc * (y - y.mean())).sum() / (xc**2).sum())
    return p, float(y.mean() - p * log_d.mean())


def scaling_fit(ds: list[int], thresholds: list[Threshold], level: float = LEVEL,
                rng: np.random.Generator | None = None
                ) -> tuple[float, float, float, float, float, list[int]] | None:
    """``(p̂, ĉ, lo, hi, undefined share, ds used)`` of ``log n* = p log d + c`` over the
    ``d`` with a finite threshold (``None`` with fewer than two); see the module docstring."""
    used = [(d, t) for d, t in zip(ds, thresholds, strict=True)
            if 0 < t.n_star < math.inf]
    if len(used) < 2 or len({d for d, _ in used}) < 2:
        return None
    log_d = np.log([float(d) for d, _ in used])
    p, c = _slope(log_d, np.log([t.n_star for _, t in used]))
    rng = np.random.default_rng(0) if rng is None else rng
    # a grid-limited threshold is uniform over its interval; one whose interval is unbounded
    # (some resamples never cross: censored) keeps its bootstrap values, the censored ones
    # counted as resamples without a slope
    boot = np.stack([rng.uniform(math.log(t.lo), math.log(t.hi), t.boot.size)
                     if t.grid_limited and t.lo > 0 and t.hi < math.inf else t.boot
                     for _, t in used])  # (D, B)
    finite = np.isfinite(boot).all(axis=0)
    slopes = np.array([_slope(log_d, boot[:, b])[0] for b in np.flatnonzero(finite)])
    if slopes.size == 0:
        return p, c, -math.inf, math.inf, 1.0, [d for d, _ in used]
    lo, hi = percentile_interval(slopes, level)
    return p, c, lo, hi, float(1 - finite.mean()), [d for d, _ in used]


# ---------------------------------------------------------------------------------- from a store
def _target_spec(config: dict[str, Any]) -> TargetSpec:
    return TargetSpec(config["link"], (config["d"],), config["r"], config["sparsity"],
                      config["noise"])


def load_curves(store: Store, sweep: dict[str, Any], metric: str) -> list[Curve]:
    """The curves of a sweep (an item of :meth:`Store.sweeps`) for ``metric``; failed or
    unfinished runs are left out."""
    runs = [r for r in store.runs(sweep["labels"]) if r["status"] in ("done", "diverged")]
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for run in runs:
        target, learner = sweep["labels"][run["key"]]
        groups.setdefault((target, learner, run["d"]), []).append(run)
    curves = []
    for (target, learner, d), members in sorted(groups.items()):
        tconf = members[0]["config"]["target"]
        if any(r["trace"] for r in members):
            curve = _trace_curve(store, max(members, key=lambda r: r["n"]), metric)
        else:
            curve = _runs_curve(store, members, metric)
        if curve is not None:
            ns, values, source = curve
            curves.append(Curve(target, learner, d, ns, values, source, tconf))
    return curves


def _runs_curve(store: Store, members: list[dict[str, Any]], metric: str):
    members = sorted(members, key=lambda r: r["n"])
    rows = []
    for run in members:
        reps = store.replicas(run["key"])
        rows.append(np.where(reps["diverged"], np.nan, reps[metric]))
    if len({len(r) for r in rows}) != 1:
        return None
    return np.array([r["n"] for r in members]), np.stack(rows), "runs"


def _trace_curve(store: Store, run: dict[str, Any], metric: str):
    trace = store.trace(run["key"])
    name = TRACE_METRICS.get(metric)
    if name not in trace:
        return None
    diverged = store.replicas(run["key"])["diverged"]
    values = np.where(diverged[None, :], np.nan, trace[name].astype(np.float64))
    return trace["samples"].astype(np.int64), values, "trace"


def _fit_groups(curves: list[Curve], thresholds: list[Threshold], level: float,
                rng: np.random.Generator) -> list[ScalingFit]:
    groups: dict[tuple[str, str], list[int]] = {}
    for i, curve in enumerate(curves):
        groups.setdefault((curve.target, curve.learner), []).append(i)
    fits = []
    for (target, learner), idx in groups.items():
        ds = [curves[i].d for i in idx]
        fitted = scaling_fit(ds, [thresholds[i] for i in idx], level, rng)
        name = learner.split("#")[0]
        theory = theory_exponent(name, _target_spec(curves[idx[0]].target_config), max(ds))
        p_theory, base = (theory[0], theory[1]) if theory else (None, None)
        if fitted is None:
            fits.append(ScalingFit(target, learner, [], math.nan, math.nan, math.nan, math.nan,
                                   math.nan, p_theory, base))
            continue
        p, c, lo, hi, undefined, used = fitted
        fits.append(ScalingFit(target, learner, used, p, c, lo, hi, undefined, p_theory, base))
    return fits


def analyse(store: Store, sweep: dict[str, Any], n_boot: int = N_BOOT, level: float = LEVEL,
            seed: int = 0) -> Analysis:
    """Curves, thresholds (with bootstrap intervals) and scaling fits of one stored sweep."""
    from indexlab.experiments.spec import parse_success

    success = parse_success(sweep["success"], sweep["probability"])
    curves = load_curves(store, sweep, success.metric)
    rng = np.random.default_rng(seed)
    thresholds = [threshold(c.ns, succeeded(c.values, success), success.probability, n_boot,
                            level, rng) for c in curves]
    return Analysis(sweep["name"], success, curves, thresholds,
                    _fit_groups(curves, thresholds, level, rng))
