"""Measurements the claims read from a results store: per-replica values of one run, and
confidence intervals for means, paired differences and slopes.

Every interval is a 95% percentile bootstrap over replicas (replica ``j`` is the same seed,
hidden direction and data stream for every learner and budget at one ``(target, d)``, see
:mod:`indexlab.experiments.runner`, so differences between learners are paired), except
:func:`ols_slope`, a Student-t interval for a regression over a handful of points (run
times, one per ``d``). Diverged replicas (stored as NaN) are left out and counted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from indexlab.experiments.store import Store

LEVEL = 0.95
N_BOOT = 1000


def finished_runs(store: Store, sweep: dict[str, Any]) -> list[dict[str, Any]]:
    """The finished runs of a stored sweep, each with ``target_label`` and ``learner_label``."""
    out = []
    for run in store.runs(sweep["labels"]):
        if run["status"] in ("done", "diverged"):
            run["target_label"], run["learner_label"] = sweep["labels"][run["key"]]
            out.append(run)
    return out


def pick(runs: list[dict[str, Any]], *, learner: str | None = None, link: str | None = None,
         d: int | None = None, n: int | None = None) -> dict[str, Any] | None:
    """The run of ``learner`` (label) on ``link`` at dimension ``d`` (default: the largest) with
    budget ``n`` (default: the largest); ``None`` if there is none."""
    chosen = [r for r in runs if (learner is None or r["learner_label"] == learner)
              and (link is None or r["link"] == link)]
    if not chosen:
        return None
    d = max(r["d"] for r in chosen) if d is None else d
    chosen = [r for r in chosen if r["d"] == d]
    if not chosen:
        return None
    if n is None:
        return max(chosen, key=lambda r: r["n"])
    chosen = [r for r in chosen if r["n"] == n]
    return chosen[0] if chosen else None


def values(store: Store, run: dict[str, Any] | None, metric: str) -> np.ndarray:
    """Per-replica ``metric`` of ``run`` (NaN where diverged or absent; empty if no run)."""
    if run is None:
        return np.array([])
    reps = store.replicas(run["key"])
    return np.where(reps["diverged"], np.nan, reps[metric])


def mean_ci(x: np.ndarray, level: float = LEVEL, n_boot: int = N_BOOT, seed: int = 0
            ) -> tuple[float, float, float]:
    """Mean of the finite values with its percentile-bootstrap interval (NaN if none)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    boot = x[rng.integers(0, x.size, (n_boot, x.size))].mean(axis=1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return float(x.mean()), float(lo), float(hi)


def paired_diff_ci(a: np.ndarray, b: np.ndarray, level: float = LEVEL, n_boot: int = N_BOOT,
                   seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``a_j − b_j`` over the replicas where both are finite, with its interval."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return math.nan, math.nan, math.nan
    return mean_ci(a - b, level, n_boot, seed)


def bootstrap_slope(xs: list[float], samples: list[np.ndarray], log_y: bool = False,
                    level: float = LEVEL, n_boot: int = N_BOOT, seed: int = 0
                    ) -> tuple[float, float, float]:
    """Slope of ``mean(samples_i)`` (or its log) against ``log x_i`` by least squares, with a
    bootstrap interval (the replicas of each ``x_i`` resampled independently)."""
    clean = [(x, s[np.isfinite(s)]) for x, s in zip(xs, samples, strict=True)]
    clean = [(x, s) for x, s in clean if s.size]
    if len({x for x, _ in clean}) < 2:
        return math.nan, math.nan, math.nan
    lx = np.log([x for x, _ in clean])
    lx = lx - lx.mean()

    def slope(means: np.ndarray) -> float:
        y = np.log(np.maximum(means, 1e-300)) if log_y else means
        return float((lx * (y - y.mean())).sum() / (lx**2).sum())

    est = slope(np.array([s.mean() for _, s in clean]))
    rng = np.random.default_rng(seed)
    boot = np.stack([s[rng.integers(0, s.size, (n_boot, s.size))].mean(axis=1)
                     for _, s in clean], axis=1)  # (B, D)
    slopes = np.array([slope(row) for row in boot])
    lo, hi = np.quantile(slopes, [(1 - level) / 2, (1 + level) / 2])
    return est, float(lo), float(hi)


def ols_slope(xs: list[float], ys: list[float], level: float = LEVEL
              ) -> tuple[float, float, float]:
    """Slope of ``log y`` on ``log x`` by OLS with its Student-t interval (``n − 2`` degrees
    of freedom; NaN with fewer than three points)."""
    from scipy import stats

    x, y = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    if x.size < 3 or np.ptp(x) == 0:
        return math.nan, math.nan, math.nan
    res = stats.linregress(x, y)
    half = stats.t.ppf((1 + level) / 2, x.size - 2) * res.stderr
    return float(res.slope), float(res.slope - half), float(res.slope + half)
