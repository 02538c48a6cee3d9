"""The exponent of ``n*(d)`` from one traced sweep, judged: the machinery that the exponent
claims (:mod:`indexlab.experiments.claims.exponents`) and ``indexlab measure``
(:mod:`indexlab.experiments.measure`) share, so the two cannot judge differently.

* :func:`d_range` — the dimensions of a traced sweep: powers of 2 from ``d_min`` while the
  run at ``2d`` costs at most ``cap`` (and ``2d ≤ d_max``), then, while they span fewer than
  ``decades``, doubled further while a run costs at most ``stretch``;
* :func:`divided_by_log_d` — thresholds divided by ``log d`` (an exponent-2 step takes
  ``d log d`` samples: Ben Arous–Gheissari–Jagannath 2021, Thm 1.3, ``k* = 2``);
* :func:`judge_exponent` — the weighted log-log fit ``log n* = p log d + c`` with its
  bootstrap interval (:func:`indexlab.experiments.analysis.scaling_fit`), judged by
  :func:`indexlab.experiments.judge.separate` against the theory exponent ``p`` and the
  alternatives, with the allowance of one factor ``log d`` (the theorems give ``Õ(d^p)``:
  the interval must meet ``[p, p + s]``, ``s`` = :func:`~indexlab.experiments.judge.log_slope`
  over the fitted ``d``), and inconclusive when the fitted ``d`` span fewer than ``decades``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from indexlab.experiments.judge import INCONCLUSIVE, Check, log_slope, separate, unavailable, within

DECADES = 1.5  # the span of d a pass or a fail needs (the claims' exponents.toml says the same)


def d_range(cost: Callable[[int], float], cap: float, d_min: int, d_max: int,
            stretch: float | None = None, decades: float = DECADES) -> list[int]:
    """Powers of 2 from ``d_min`` up to the largest ``d ≤ d_max`` with ``cost(d) ≤ cap`` (at
    least two values); then, while they span fewer than ``decades`` decades, ``2d`` is added
    while ``cost(2d) ≤ stretch`` (``None``: no stretch)."""
    ds = [d_min]
    while ds[-1] * 2 <= d_max and cost(ds[-1] * 2) <= cap:
        ds.append(ds[-1] * 2)
    if len(ds) == 1:
        ds = [d_min, 2 * d_min]
    if stretch is not None:
        while (math.log10(ds[-1] / ds[0]) < decades - 1e-9
               and cost(2 * ds[-1]) <= stretch):
            ds.append(2 * ds[-1])
    return ds


def divided_by_log_d(curves, thresholds, log_factor: bool) -> list:
    """The thresholds divided by ``log d`` (values, bounds and bootstrap, in log scale) when
    ``log_factor``, else as they are."""
    if not log_factor:
        return list(thresholds)
    return [replace(t, n_star=t.n_star / math.log(c.d), lo=t.lo / math.log(c.d),
                    hi=t.hi / math.log(c.d), boot=t.boot - math.log(math.log(c.d)))
            for c, t in zip(curves, thresholds, strict=True)]


@dataclass(frozen=True)
class ExponentJudgement:
    """A judged exponent: the :class:`~indexlab.experiments.judge.Check`, the ``d`` the fit
    used (empty without a fit), the ``d`` whose ``n*`` was censored, the span in decades."""

    check: Check
    used: tuple[int, ...]
    censored: tuple[int, ...]
    span: float


def judge_exponent(label: str, curves: Sequence, thresholds: Sequence, theory: float,
                   alternatives: Sequence[float], log_factor: bool = False,
                   decades: float | None = DECADES) -> ExponentJudgement:
    """Fit and judge the exponent of ``n*(d)`` (module docstring) from the ``curves`` and
    ``thresholds`` of one (target, learner) (as :func:`~indexlab.experiments.analysis.
    analyse` gives them). ``log_factor``: fit ``n*/log d``. ``decades``: the span the fitted
    ``d`` need for a verdict other than inconclusive (``None``: no such rule, tiny mode)."""
    from indexlab.experiments.analysis import scaling_fit

    ds = [c.d for c in curves]
    censored = tuple(c.d for c, t in zip(curves, thresholds, strict=True)
                     if not 0 < t.n_star < math.inf)
    divided = divided_by_log_d(curves, thresholds, log_factor)
    fitted = scaling_fit(ds, divided) if len(set(ds)) > 1 else None
    if fitted is None:
        reason = "fewer than two d with a finite n*"
        if censored:
            reason += f" (n* censored at d = {', '.join(map(str, censored))})"
        return ExponentJudgement(unavailable(label, reason), (), censored, 0.0)
    p_hat, _, lo, hi, _, used = fitted
    label += f" (d {min(used)}–{max(used)})"
    check = separate(label, p_hat, lo, hi, theory, alternatives,
                     polylog=log_slope(min(used), max(used)))
    span = math.log10(max(used) / min(used))
    if decades is not None and span < decades - 1e-9:
        check = replace(check, verdict=INCONCLUSIVE,
                        reason=f"d spans {span:.2f} decades (< {decades:g}): "
                               f"would be {check.verdict} ({check.reason})")
    if censored:
        check = replace(check, reason=f"{check.reason}; n* censored at d = "
                                      f"{', '.join(map(str, censored))}")
    return ExponentJudgement(check, tuple(used), censored, span)


def same_threshold(label: str, first: dict, second: dict, factor: float) -> Check:
    """Two engines' thresholds (``d → Threshold``, finite ones only) equivalent at the largest
    shared ``d``: ``log n*₁ − log n*₂`` with the 95% interval of the difference of their
    independent bootstraps, within ``± log factor``."""
    import numpy as np

    from indexlab.experiments.measures import LEVEL

    shared = sorted(set(first) & set(second))
    if not shared:
        return unavailable(label, "no d with a finite n* in both engines")
    d = shared[-1]
    a, b = first[d], second[d]
    diff = a.boot - b.boot
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        return unavailable(label, "no finite bootstrap values")
    lo, hi = np.quantile(diff, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return within(f"{label} at d={d}", math.log(a.n_star) - math.log(b.n_star), float(lo),
                  float(hi), 0.0, math.log(factor), f"0 ± log {factor:g} (same threshold)")
