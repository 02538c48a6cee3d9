"""Thresholds ``n*(d)`` and scaling exponents from stored sweeps.

**Success curve.** For one (target, learner, d), replica ``j`` at budget ``n_i`` succeeds when
its metric meets the spec's criterion (e.g. ``overlap >= 0.9``; a diverged replica or a missing
value fails). With ``S_ij ∈ {0, 1}`` the success fraction is ``f_i = mean_j S_ij``. The curve
comes from one run per ``n_i`` or, for learners with ``trace = true``, from the overlap trace
of the single largest run, read at its checkpoints (samples until success within that run;
see :mod:`indexlab.experiments.spec`). A learner that records no trace gives no curve there.

**First passage (traced curves).** A traced run records each replica's metric at log-spaced
checkpoints ``n_1 < … < n_T``, so replica ``j`` has a first passage ``N_j`` = the first
checkpoint at which it meets the criterion (``+∞``: it never does within ``n_T`` — right-
censored, kept, never dropped). ``n*(d)`` is the ``q``-quantile of ``N_1..N_R``
(``q = success_probability``, default the median): with the order statistics ``N_(1) ≤ … ≤
N_(R)`` (censored last), ``log n* = log N_(⌈qR⌉)``, or the mean of ``log N_(qR)`` and
``log N_(qR+1)`` when ``qR`` is an integer. It is defined when the order statistics it needs
are finite — for the median, when *more than half* of the replicas pass; otherwise it is
censored and reported as the lower bound ``n* > n_T``. The percentile bootstrap over replicas
(resampled with replacement, censored ones included) gives its interval; the lower end is
moved to the checkpoint before it, since a passage seen at ``n_i`` happened in
``(n_{i−1}, n_i]``, and when every resample gives the same checkpoint the interval is that one
cell, flagged ``grid_limited``. Where the run also recorded first passages after every step
(:mod:`indexlab.learners.trace`, at the criterion's level), ``N_j`` is that exact sample count
instead, the interval is the bootstrap's alone and never grid-limited
(:func:`exact_passage_threshold`). A replica that passed and later fell below ``τ − 0.1``
(above ``τ + 0.1`` for ``<=`` criteria) is counted as *lost after success*: its passage counts
for ``n*`` (it did reach the criterion) and the report shows the count beside it.

**Threshold estimator (untraced runs).** ``f`` is fitted by a non-decreasing function of
``x = log n`` (isotonic least squares, pool-adjacent-violators, :func:`isotonic`), and
``log n*`` is where the fit ``g`` crosses the level ``q``, by linear interpolation in ``x``
between the grid points on either side (the midpoint of a plateau lying exactly at ``q``;
:func:`crossing`). If ``g`` stays below ``q`` the threshold is right-censored (``n* > n_max``,
reported as ``+inf``); if it starts at or above ``q`` it is left-censored. Replicas that
succeed at one budget and fall below ``τ − 0.1`` at a larger one are counted as lost too.

**Bootstrap.** ``B`` resamples draw ``R`` replica indices with replacement — the same indices
at every ``n_i``, since replica ``j`` has the same seed (direction, data, initialisation) at
every budget — and re-estimate ``log n*``; the confidence interval is the percentile interval
of the ``B`` values (95% by default), widened where needed to the grid cell that brackets the
crossing (from the last ``n_i`` with ``g < q`` to the first with ``g > q``): when every
replica fails at one budget and succeeds at the next, all resamples agree, yet the data do not
say where inside that cell the threshold lies. Such thresholds are flagged ``grid_limited``
(use a finer grid near ``n*``, ``trace = true``, or an adaptive budget).

**Scaling fit.** Over the dimensions with a finite threshold, ``log n*(d) = p log d + c`` by
weighted least squares, each ``d`` weighted by ``1/σ_d²`` with ``σ_d`` = the width of its
``log n*`` interval divided by ``2 z_{(1+level)/2}`` (an unbounded interval gets the largest
finite ``σ`` times 4), gives ``p̂`` and ``ĉ``; the same regression on each bootstrap resample
(the ``B`` resamples of every ``d`` are independent) gives the percentile interval of ``p̂``
and its width. For a grid-limited threshold the resamples carry no information inside the
bracketing cell, so its ``B`` values of ``log n*`` are drawn uniformly over the cell instead.
Resamples with a censored threshold at some ``d`` have no slope; their share is reported as
``undefined`` (the interval is then conditional on the threshold being inside the grid). The
theoretical exponent beside it is :func:`indexlab.theory.predicted_sample_complexity`'s.

**Flags** (shown in the report's tables): ``grid-limited`` and ``censored`` thresholds, lost
successes, and the *finite-size regime* of overlap criteria: the best of ``m`` random unit
neurons already has overlap ``≈ √(2 ln m / d)`` at initialisation; when that is ``≥ τ/2`` at
some ``d`` the threshold there measures mostly the lucky start, and the report suggests
``width = 1`` or larger ``d``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexlab.experiments.run import Run
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
    learner_config: dict[str, Any] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict)  # the run's resolved hyperparameters
    # first passages at one-step resolution of the traced metric, when recorded: (levels (L,),
    # samples (L, R) float64, +inf where a replica never reached the level or diverged)
    passages: tuple[np.ndarray, np.ndarray] | None = None


@dataclass
class Threshold:
    """``n*`` with its interval ``[lo, hi]`` (``inf`` when censored), the fitted success
    fraction ``fitted`` at ``ns`` (isotonic, or the empirical first-passage CDF), the bootstrap
    ``log n*`` values ``boot``, and ``grid_limited``: the bootstrap interval was narrower than
    a grid cell. ``method`` is ``"first passage"`` or ``"isotonic"``; ``passed`` counts the
    replicas that met the criterion at some ``n``, ``lost`` those of them that later fell
    below ``τ − 0.1`` (module docstring), out of ``replicas``."""

    n_star: float
    lo: float
    hi: float
    fitted: np.ndarray
    boot: np.ndarray
    grid_limited: bool = False
    method: str = "isotonic"
    passed: int = 0
    lost: int = 0
    replicas: int = 0

    @property
    def censored(self) -> bool:
        return not 0 < self.n_star < math.inf


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
    flags: list[str] = field(default_factory=list)

    @property
    def ci_width(self) -> float:
        return self.hi - self.lo


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


LOST_MARGIN = 0.1


def lost_after_success(values: np.ndarray, success: Success) -> tuple[np.ndarray, np.ndarray]:
    """``(passed, lost)`` per replica for ``values (len(ns), R)`` in increasing ``n``: met the
    criterion at some ``n``; and after that, fell short of it by more than ``0.1``."""
    S = succeeded(values, success)
    passed = S.any(axis=0)
    first = np.where(passed, S.argmax(axis=0), values.shape[0])
    later = np.arange(values.shape[0])[:, None] > first[None, :]
    with np.errstate(invalid="ignore"):
        if success.op == ">=":
            bad = values < success.value - LOST_MARGIN
        else:
            bad = values > success.value + LOST_MARGIN
    return passed, passed & (bad & later).any(axis=0)


def first_passage(ns: np.ndarray, success: np.ndarray) -> np.ndarray:
    """``N_j``: the first ``ns[i]`` with ``success[i, j]`` (``+inf`` when there is none)."""
    S = np.asarray(success, dtype=bool)
    hit = S.any(axis=0)
    return np.where(hit, np.asarray(ns, dtype=np.float64)[S.argmax(axis=0)], math.inf)


def censored_quantile(log_passages: np.ndarray, q: float) -> float:
    """The ``q``-quantile of first passages with censored (``+inf``) ones kept (module
    docstring): ``N_(⌈qR⌉)``, or the mean of ``N_(qR)``, ``N_(qR+1)`` (in log) when ``qR`` is
    an integer; ``+inf`` when a needed order statistic is censored."""
    x = np.sort(log_passages)
    R = x.size
    k = q * R
    if abs(k - round(k)) < 1e-9 and 1 <= round(k) < R:
        a, b = x[round(k) - 1], x[round(k)]
        return math.inf if math.isinf(b) else 0.5 * (a + b)
    return float(x[min(R, max(1, math.ceil(k - 1e-9))) - 1])


def passage_threshold(ns: np.ndarray, success: np.ndarray, q: float = 0.5,
                      n_boot: int = N_BOOT, level: float = LEVEL,
                      rng: np.random.Generator | None = None) -> Threshold:
    """``n*`` from a traced curve: the censored ``q``-quantile of first passages, with a
    bootstrap interval over replicas (module docstring, "First passage")."""
    order = np.argsort(ns)
    ns = np.asarray(ns, dtype=np.float64)[order]
    S = np.asarray(success, dtype=bool)[order]
    fp = first_passage(ns, S)
    log_star, boot, lo, hi = _passage_bootstrap(fp, q, n_boot, level, rng)
    limited = False
    if math.isfinite(lo):
        # a passage seen at checkpoint n_i happened in (n_{i-1}, n_i]
        i = int(np.searchsorted(np.log(ns), lo - 1e-9))
        limited = lo == hi
        lo = float(np.log(ns[i - 1])) if i > 0 else lo
    fitted = (fp[None, :] <= ns[:, None]).mean(axis=1)
    return Threshold(float(np.exp(log_star)), float(np.exp(lo)), float(np.exp(hi)), fitted,
                     boot, limited, "first passage", int(np.isfinite(fp).sum()), 0, S.shape[1])


def _passage_bootstrap(fp: np.ndarray, q: float, n_boot: int, level: float,
                       rng: np.random.Generator | None
                       ) -> tuple[float, np.ndarray, float, float]:
    """``(log n*, the B bootstrap values of log n*, lo, hi)`` for first passages ``fp``
    (``+inf``: censored): the censored ``q``-quantile and its percentile interval over
    replicas resampled with replacement (module docstring, "First passage")."""
    log_fp = np.log(fp)
    rng = np.random.default_rng(0) if rng is None else rng
    R = fp.size
    boot = np.array([censored_quantile(log_fp[rng.integers(0, R, R)], q)
                     for _ in range(n_boot)])
    lo, hi = percentile_interval(boot, level)
    return censored_quantile(log_fp, q), boot, lo, hi


def exact_passage_threshold(fp: np.ndarray, ns: np.ndarray, q: float = 0.5,
                            n_boot: int = N_BOOT, level: float = LEVEL,
                            rng: np.random.Generator | None = None) -> Threshold:
    """``n*`` from first passages recorded at every step (module docstring, "First passage",
    with ``N_j`` exact instead of read at the checkpoints): the censored ``q``-quantile and
    its percentile bootstrap over replicas; no checkpoint cell to widen it, so never
    ``grid_limited``. ``ns``: the trace's checkpoints, where the success curve is drawn."""
    fp = np.asarray(fp, dtype=np.float64)
    if fp.ndim != 1 or fp.size == 0 or np.isnan(fp).any() or (fp <= 0).any():
        raise ValueError(f"first passages must be a non-empty 1-d array of positive sample "
                         f"counts (+inf: censored); got shape {fp.shape}")
    log_star, boot, lo, hi = _passage_bootstrap(fp, q, n_boot, level, rng)
    ns = np.sort(np.asarray(ns, dtype=np.float64))
    fitted = (fp[None, :] <= ns[:, None]).mean(axis=1)
    return Threshold(float(np.exp(log_star)), float(np.exp(lo)), float(np.exp(hi)), fitted,
                     boot, False, "first passage", int(np.isfinite(fp).sum()), 0, fp.size)


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


def _slope(log_d: np.ndarray, y: np.ndarray, w: np.ndarray | None = None
           ) -> tuple[float, float]:
    """Weighted least squares ``y = p log_d + c`` (weights ``w``, default equal)."""
    w = np.ones_like(log_d) if w is None else w
    xm = float((w * log_d).sum() / w.sum())
    ym = float((w * y).sum() / w.sum())
    xc = log_d - xm
    p = float((w * xc * (y - ym)).sum() / (w * xc**2).sum())
    return p, ym - p * xm


def interval_weights(thresholds: list[Threshold], level: float = LEVEL) -> np.ndarray:
    """``1/σ²`` per threshold, ``σ`` = (log-interval width)/(2 z); unbounded intervals get
    the largest finite ``σ`` times 4 (module docstring)."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf((1 + level) / 2)
    sig = np.array([(math.log(t.hi) - math.log(t.lo)) / (2 * z)
                    if 0 < t.lo <= t.hi < math.inf else math.inf for t in thresholds])
    finite = sig[np.isfinite(sig) & (sig > 0)]
    floor = finite.min() if finite.size else 1.0
    sig = np.where(np.isfinite(sig), np.maximum(sig, floor * 0.25), 4 * (
        finite.max() if finite.size else 1.0))
    return 1.0 / sig**2


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
    w = interval_weights([t for _, t in used], level)
    p, c = _slope(log_d, np.log([t.n_star for _, t in used]), w)
    rng = np.random.default_rng(0) if rng is None else rng
    # a grid-limited threshold is uniform over its interval; one whose interval is unbounded
    # (some resamples never cross: censored) keeps its bootstrap values, the censored ones
    # counted as resamples without a slope
    boot = np.stack([rng.uniform(math.log(t.lo), math.log(t.hi), t.boot.size)
                     if t.grid_limited and t.lo > 0 and t.hi < math.inf else t.boot
                     for _, t in used])  # (D, B)
    finite = np.isfinite(boot).all(axis=0)
    slopes = np.array([_slope(log_d, boot[:, b], w)[0] for b in np.flatnonzero(finite)])
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
    rows = [r for r in store.runs(sweep["labels"]) if r["status"] in ("done", "diverged")]
    resolved = {r["key"]: r.get("hyper") or {} for r in rows}
    runs = [Run.stored(r) for r in rows]
    groups: dict[tuple[str, str, int], list[Run]] = {}
    for run in runs:
        target, learner = sweep["labels"][run.key]
        groups.setdefault((target, learner, run.d), []).append(run)
    curves = []
    for (target, learner, d), members in sorted(groups.items()):
        if any(r.trace for r in members):
            curve = _trace_curve(store, max(members, key=lambda r: r.n), metric)
        else:
            curve = _runs_curve(store, members, metric)
        if curve is not None:
            ns, values, source = curve
            top = max(members, key=lambda r: r.n)
            curves.append(Curve(target, learner, d, ns, values, source,
                                members[0].target_config(), members[0].learner_config(),
                                resolved.get(top.key, {}),
                                _passages(store, top, metric) if source == "trace" else None))
    return curves


def _runs_curve(store: Store, members: list[Run], metric: str):
    members = sorted(members, key=lambda r: r.n)
    rows = []
    for run in members:
        reps = store.replicas(run.key)
        rows.append(np.where(reps["diverged"], np.nan, reps[metric]))
    if len({len(r) for r in rows}) != 1:
        return None
    return np.array([r.n for r in members]), np.stack(rows), "runs"


def _trace_curve(store: Store, run: Run, metric: str):
    trace = store.trace(run.key)
    name = TRACE_METRICS.get(metric)
    if name not in trace:
        return None
    diverged = store.replicas(run.key)["diverged"]
    values = np.where(diverged[None, :], np.nan, trace[name].astype(np.float64))
    return trace["samples"].astype(np.int64), values, "trace"


def _passages(store: Store, run: Run, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The run's stored first passages of ``metric``'s trace (``+inf``: never reached, or the
    replica diverged, as in :func:`_trace_curve`); ``None`` when it recorded none."""
    found = store.passages(run.key).get(TRACE_METRICS.get(metric, ""))
    if found is None:
        return None
    levels, samples = found
    diverged = store.replicas(run.key)["diverged"]
    if samples.shape[1] != diverged.size:
        return None
    fp = np.where((samples < 0) | diverged[None, :], math.inf, samples.astype(np.float64))
    return levels, fp


def exact_passages(curve: Curve, success: Success) -> np.ndarray | None:
    """Each replica's exact first passage ``N_j`` for ``success`` (``+inf``: censored), when
    the run recorded passages at the criterion's level (``>=`` on an overlap whose level is
    one of :data:`~indexlab.learners.trace.PASSAGE_LEVELS`); ``None`` otherwise."""
    if curve.passages is None or success.op != ">=":
        return None
    levels, fp = curve.passages
    hit = np.flatnonzero(np.abs(levels - success.value) < 1e-9)
    return fp[hit[0]] if hit.size else None


def learner_width(config: dict[str, Any]) -> int | None:
    """The width ``m`` of a stored learner configuration (its ``hyper`` or the class default;
    ``None`` for learners without one)."""
    from indexlab.learners.registry import LEARNERS, width_of

    width = config.get("hyper", {}).get("width")
    cls = LEARNERS.get(config.get("name"))
    if width is None and cls is not None and cls.width_parameter == "width":
        width = width_of(cls, {})
    return int(width) if isinstance(width, (int, float)) and width >= 1 else None


def finite_size(curves: list[Curve], success: Success) -> list[tuple[int, float]]:
    """``(d, √(2 ln m / d))`` where the best random start of ``m`` neurons is ``≥ τ/2``
    (overlap criteria ``>=`` only; module docstring, "Flags")."""
    if success.metric not in TRACE_METRICS or success.op != ">=":
        return []
    out = []
    for c in curves:
        m = learner_width(c.learner_config)
        if m is not None and m > 1:
            start = math.sqrt(2 * math.log(m) / c.d)
            if start >= success.value / 2:
                out.append((c.d, start))
    return out


def fit_flags(curves: list[Curve], thresholds: list[Threshold], success: Success) -> list[str]:
    """The flags of one (target, learner) for the report (module docstring, "Flags")."""
    flags = []
    grid = [c.d for c, t in zip(curves, thresholds, strict=True) if t.grid_limited]
    if grid:
        flags.append("grid-limited at d=" + ",".join(map(str, grid)))
    cens = [c.d for c, t in zip(curves, thresholds, strict=True) if t.censored]
    if cens:
        flags.append("censored at d=" + ",".join(map(str, cens)))
    lost = [f"{c.d} ({t.lost}/{t.passed})" for c, t in zip(curves, thresholds, strict=True)
            if t.lost]
    if lost:
        flags.append("lost after success at d=" + ", ".join(lost))
    small = finite_size(curves, success)
    if small:
        where = ", ".join(f"d={d}: {v:.2f}" for d, v in small)
        flags.append(f"finite-size: best random start √(2 ln m/d) ≥ τ/2 = "
                     f"{success.value / 2:g} ({where}); use width = 1 or larger d")
    return flags


def step_shift(name: str, curves: list[Curve]) -> float | None:
    """How much the step actually used moves the theory's exponent:
    ``slope of log(η_theory(d)/η_used(d))`` in ``log d`` over the curves' ``d``, with
    ``(η_theory, η_used)`` from the learner's
    :meth:`~indexlab.learners.base.Learner.theory_step` on each run's stored hyperparameters.

    In the drift-limited regime the escape from the equator is an ODE in ``η·t`` (Ben Arous,
    Gheissari and Jagannath, JMLR 2021), so at a smaller step ``η_used`` it takes
    ``η_theory/η_used`` times as many samples: the exponent becomes ``p + shift``. E.g.
    vanilla SGD on He₃ at its hold-capped default step ``∝ 1/d`` (spec ``d^{−3/2}``):
    ``shift = −1/2``, ``n ≍ d^{1.5}`` instead of ``d²``. Learners that declare a step: the
    online spherical learners (unified, sparse unified, smoothed and vanilla online SGD, both
    engines) and batch-reuse SGD; for the others (full-batch and one-step GD, spectral, SIR,
    SAVE, PHD, power iteration, GAMP, kernels) the rate has no step and no shift applies
    (``theory_step`` is ``None``). ``None`` also when the runs do not say their step, or the
    step used is ever *larger* than the theory's (noise-limited: no prediction); ``0.0``
    when they agree."""
    from indexlab.learners.registry import learner_class

    try:
        cls = learner_class(name)
    except (KeyError, ValueError):
        return None
    if len(curves) < 2:
        return None
    log_d, log_ratio = [], []
    for c in curves:
        steps = cls.theory_step(c.resolved, c.d)
        if steps is None:
            return None
        spec, used = steps
        if not (spec > 0 and used > 0 and math.isfinite(spec) and math.isfinite(used)):
            return None
        ratio = spec / used
        if ratio < 1 - 1e-9:  # a step above the theory's: noise-limited, no prediction
            return None
        log_d.append(math.log(c.d))
        log_ratio.append(math.log(ratio))
    slope = float(np.polyfit(log_d, log_ratio, 1)[0])
    return 0.0 if abs(slope) < 1e-6 else slope


def _fit_groups(curves: list[Curve], thresholds: list[Threshold], level: float,
                rng: np.random.Generator, success: Success) -> list[ScalingFit]:
    groups: dict[tuple[str, str], list[int]] = {}
    for i, curve in enumerate(curves):
        groups.setdefault((curve.target, curve.learner), []).append(i)
    fits = []
    for (target, learner), idx in groups.items():
        ds = [curves[i].d for i in idx]
        fitted = scaling_fit(ds, [thresholds[i] for i in idx], level, rng)
        name = curves[idx[0]].learner_config["name"]
        theory = theory_exponent(name, _target_spec(curves[idx[0]].target_config), max(ds))
        p_theory, base = (theory[0], theory[1]) if theory else (None, None)
        flags = fit_flags([curves[i] for i in idx], [thresholds[i] for i in idx], success)
        shift = step_shift(name, [curves[i] for i in idx]) if base == "d" else None
        if shift:  # theory at the step the runs used, not at the theory's own step
            flags.append(f"theory at the step used: {p_theory:g} {shift:+.2f} (the step is "
                         f"η_theory·d^{shift:+.2f}; indexlab.learners.holding)")
            p_theory = round(p_theory + shift, 3)
        if fitted is None:
            fits.append(ScalingFit(target, learner, [], math.nan, math.nan, math.nan, math.nan,
                                   math.nan, p_theory, base, flags))
            continue
        p, c, lo, hi, undefined, used = fitted
        fits.append(ScalingFit(target, learner, used, p, c, lo, hi, undefined, p_theory, base,
                               flags))
    return fits


def curve_threshold(curve: Curve, success: Success, n_boot: int = N_BOOT,
                    level: float = LEVEL, rng: np.random.Generator | None = None) -> Threshold:
    """First passage for a traced curve, the isotonic crossing for runs; lost counts."""
    S = succeeded(curve.values, success)
    exact = exact_passages(curve, success) if curve.source == "trace" else None
    if exact is not None:
        t = exact_passage_threshold(exact, curve.ns, success.probability, n_boot, level, rng)
    elif curve.source == "trace":
        t = passage_threshold(curve.ns, S, success.probability, n_boot, level, rng)
    else:
        t = threshold(curve.ns, S, success.probability, n_boot, level, rng)
    order = np.argsort(curve.ns)
    passed, lost = lost_after_success(curve.values[order], success)
    t.passed, t.lost, t.replicas = int(passed.sum()), int(lost.sum()), curve.values.shape[1]
    return t


def analyse(store: Store, sweep: dict[str, Any], n_boot: int = N_BOOT, level: float = LEVEL,
            seed: int = 0) -> Analysis:
    """Curves, thresholds (with bootstrap intervals) and scaling fits of one stored sweep."""
    from indexlab.experiments.spec import parse_success

    success = parse_success(sweep["success"], sweep["probability"])
    curves = load_curves(store, sweep, success.metric)
    rng = np.random.default_rng(seed)
    thresholds = [curve_threshold(c, success, n_boot, level, rng) for c in curves]
    return Analysis(sweep["name"], success, curves, thresholds,
                    _fit_groups(curves, thresholds, level, rng, success))
