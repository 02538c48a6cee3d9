"""A sweep's results as data: thresholds, exponents, intervals and verdicts (``report --json``).

:func:`fit_check` judges a fitted exponent against its theory with the rule the claims use
(:func:`indexlab.experiments.judge.separate`): the 95% interval of ``p̂`` must meet
``[p, p + ℓ]``, where ``ℓ = log_slope(d_min, d_max)`` is the slope a factor ``log d`` adds
over the fitted range (the ``Õ`` of the theorems: a prediction ``n ≍ d^p`` holds up to one log
factor); **pass** if it does, **fail** if the interval lies wholly outside, **inconclusive**
if there is no finite interval. A sweep names no alternative, so this is a consistency check,
not the separation of a claim (``indexlab reproduce`` does that).

:func:`results_document` is the one JSON document ``indexlab report --json`` prints and
``write_report`` saves as ``results.json``::

    {"format": "indexlab-results", "version": 1, "store": "...",
     "sweeps": [{"name": ..., "success": "overlap >= 0.5", "probability": 0.5,
                 "exponents": [{"target", "learner", "d", "p", "lo", "hi", "ci_width",
                                "theory", "theory_base", "log_allowance", "verdict",
                                "reason", "flags"}, ...],
                 "thresholds": [{"target", "learner", "d", "method", "n_min", "n_max",
                                 "replicas", "passed", "lost", "n_star", "lo", "hi",
                                 "grid_limited", "censored"}, ...]}, ...]}

Numbers that are not finite are ``null`` (a censored threshold: ``n_star`` null and
``censored`` true); ``n_star``, ``lo``, ``hi`` are samples per replica.
"""

from __future__ import annotations

import math
from typing import Any

from indexlab.experiments.analysis import Analysis, ScalingFit
from indexlab.experiments.judge import Check, log_slope, separate

FORMAT = "indexlab-results"
VERSION = 1


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def fit_check(fit: ScalingFit) -> Check | None:
    """The verdict of one fitted exponent against its theory (module docstring); ``None`` when
    there is no theory in ``d`` to judge against."""
    if fit.theory is None or fit.theory_base != "d":
        return None
    return separate(f"{fit.learner} p̂", fit.p, fit.lo, fit.hi, fit.theory, (),
                    polylog=allowance(fit))


def allowance(fit: ScalingFit) -> float:
    """The log allowance ``ℓ`` of :func:`fit_check` over the fitted range (0 without one)."""
    ds = fit.ds
    return log_slope(min(ds), max(ds)) if len(ds) >= 2 and min(ds) > 1 else 0.0


def exponent_rows(analysis: Analysis) -> list[dict[str, Any]]:
    """One object per (target, learner): the fit, its interval, theory and verdict."""
    rows = []
    for f in analysis.fits:
        check = fit_check(f)
        rows.append({"target": f.target, "learner": f.learner, "d": list(f.ds),
                     "p": _finite(f.p), "lo": _finite(f.lo), "hi": _finite(f.hi),
                     "ci_width": _finite(f.ci_width), "theory": f.theory,
                     "theory_base": f.theory_base,
                     "log_allowance": allowance(f) if check else None,
                     "verdict": check.verdict if check else None,
                     "reason": check.reason if check else None, "flags": list(f.flags)})
    return rows


def threshold_rows(analysis: Analysis) -> list[dict[str, Any]]:
    """One object per (target, learner, d): ``n*`` with its interval and counts."""
    rows = []
    for c, t in zip(analysis.curves, analysis.thresholds, strict=True):
        rows.append({"target": c.target, "learner": c.learner, "d": int(c.d),
                     "method": t.method, "n_min": int(c.ns.min()), "n_max": int(c.ns.max()),
                     "replicas": int(t.replicas), "passed": int(t.passed), "lost": int(t.lost),
                     "n_star": None if t.censored else float(t.n_star),
                     "lo": _finite(t.lo), "hi": _finite(t.hi),
                     "grid_limited": bool(t.grid_limited), "censored": bool(t.censored)})
    return rows


def sweep_results(analysis: Analysis) -> dict[str, Any]:
    """The part of the document for one sweep."""
    return {"name": analysis.sweep, "success": analysis.success.text(),
            "probability": analysis.success.probability,
            "exponents": exponent_rows(analysis), "thresholds": threshold_rows(analysis)}


def results_document(analyses: list[Analysis], source: str) -> dict[str, Any]:
    """The whole document (module docstring) for the analyses of one store."""
    return {"format": FORMAT, "version": VERSION, "store": source,
            "sweeps": [sweep_results(a) for a in analyses]}


def lower_bounds(target_config: dict[str, Any]) -> list[tuple[str, float, float | None]]:
    """Lower bounds on ``n*(d)`` for the target of a stored run, as ``(label, p, c)`` of the
    line ``c·d^p``: the SQ bound ``d^{s*/2} ∨ d`` (Damian et al. 2024; its constant is not
    known: ``c = None``, the plot draws it below every measured point) and, where the weak
    recovery threshold ``0 < α_c < ∞``, ``α_c·d`` (no estimator recovers below it as
    ``d → ∞``). Empty when theory has neither (a multi-index or sparse target)."""
    from indexlab import theory
    from indexlab.links import get_link

    if target_config.get("sparsity") or int(target_config.get("r", 1) or 1) != 1:
        return []
    out: list[tuple[str, float, float | None]] = []
    try:
        link = get_link(target_config["link"], noise=float(target_config.get("noise") or 0))
        sq = theory.predicted_sample_complexity("sq_lower_bound", link, 1024)
        out.append((f"SQ lower bound slope, d^{sq.exponent:g} (constant unknown)",
                    float(sq.exponent), None))
        alpha = theory.weak_recovery_threshold(link)
        if 0 < alpha < math.inf:
            out.append((f"α_c·d = {alpha:.3g}·d: weak-recovery threshold", 1.0, float(alpha)))
    except ValueError:
        return out
    return out
