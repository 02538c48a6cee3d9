"""The exponent claims: Unified vs smoothed vs vanilla online SGD on one link each
(``exponents-he3``, ``-he4``, ``-genexp3``, ``-genexp4``), judged on the exponent of the median
first passage ``n*(d)`` to weak recovery.

Their calibration (the budget constants ``c`` per link and learner, the cost caps and sizes
per mode, the cross-check) is data: ``exponents.toml`` beside this module, with its
provenance. Parts: one per learner (named by the learner) and, in quick and full mode,
``crosscheck`` and ``crosscheck-chain`` (Unified on the full engine and on the chain at small
``d``). Quick and full mode need the exact overlap-chain engine (``engine = "chain"``) for
their large ``d``: on a version without it the claims report "inconclusive (engine not
available)".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from indexlab.experiments.claims.base import Claim, Context, chain_in, load_data, sizes
from indexlab.experiments.exponent_fit import (
    d_range,
    divided_by_log_d,
    judge_exponent,
    same_threshold,
)
from indexlab.experiments.judge import Check, unavailable

__all__ = ["CLAIMS", "EXPONENT_C", "SINGLE_LEARNERS", "divided_by_log_d", "exponent_log_factor",
           "smoothed_on", "spec_lr_formula"]

_DATA = load_data("exponents")
SINGLE_LEARNERS = tuple(_DATA["learners"])


def _theory_p(learner: str, link: str, d: int = 1024) -> float:
    from indexlab.experiments.spec import TargetSpec, theory_exponent

    return theory_exponent(learner, TargetSpec(link, (d,)), d)[0]


def _on_link(learner: str, link: str, noise: float = 0.0):
    """``(learner with its defaults, the link (with label noise ``noise``), its exponent k on
    the link, whether its "auto" smoothing is on at k)``; smoothing ``λ = d^{1/4}`` is on or
    off for every d alike."""
    from indexlab.learners.online_setup import online_setup
    from indexlab.learners.registry import make_learner
    from indexlab.links import get_link

    model, target = make_learner(learner), get_link(link, noise=noise)
    setup = online_setup(model, target, 16)
    return model, target, setup.exponent, setup.smoothing > 0


def smoothed_on(learner: str, link: str, noise: float = 0.0) -> bool:
    """Whether ``learner``'s "auto" smoothing ``λ = d^{1/4}`` is on at its exponent on
    ``link`` (for every d alike)."""
    return _on_link(learner, link, noise)[3]


def spec_lr_formula(learner: str, link: str, noise: float = 0.0,
                    normalised: bool = False) -> str:
    """The search step of docs/algorithms.md §2.1/§2.2 for ``learner`` on ``link``, as a formula
    in ``d`` — the same number as ``default_lr`` of the learner *before* the hold caps.

    Vanilla (docs/algorithms.md §2.1): ``η = c λ_s/d`` (k* = 1), ``c λ_s/(d log d)`` (k* = 2),
    ``c λ_s d^{−k*/2}`` (k* ≥ 3); smoothed (docs/algorithms.md §2.2):
    ``η = c λ_s λ^{2k−2} d^{−k/2}`` with ``λ = d^{1/4}``. ``c`` is the learner's ``lr_constant`` (1
    vanilla, 0.1 smoothed), ``k`` its exponent on the link (the information exponent) and
    ``λ_s = 1`` for their identity label transform.

    ``normalised``: the step divided by ``σ_T = √Var(T(y))`` of the learner's transformed label
    (:func:`~indexlab.learners.online_setup.label_sd`), so that the link ``a·f`` gives the
    same dynamics as ``f`` (label-scale invariance; ``indexlab measure`` runs with it). The
    exponent claims run without it: their budget constants were calibrated at the
    unnormalised step. (On their four links ``σ_T`` is 1, 1, 1, 0.985 for the identity
    transform and 1.018, 0.959, 1.000, 0.985 for Unified's: the registry's links are
    normalised, so it would change their steps by at most 4%.)

    The exponent claims pass this step explicitly because a user-given ``lr`` is never capped
    (:func:`~indexlab.learners.online_setup.online_setup`), whereas the default is capped by
    the hold rule of docs/algorithms.md §2.5
    (:mod:`indexlab.learners.holding`): at moderate ``d`` the capped vanilla step is ``∝ 1/d``
    and measures ``n* ∝ d^{1.5}`` on He₃ — the cap, not the ``d^{k*−1}`` of the theory. The
    rates of Ben Arous et al. and Damian et al. are for these drag-limited steps; the capped
    default holds a found direction better but is a different algorithm."""
    from indexlab.learners.online_setup import label_sd, online_setup

    model, target, k, smoothed = _on_link(learner, link, noise)
    setup = online_setup(model, target, 16)
    c = model.lr_constant * setup.signal
    if normalised:
        c = c / label_sd(target, setup.transform)
    # λ = d^{1/4} exactly when the learner's "auto" smoothing is on at this k (any d > 1)
    if smoothed:
        if model.smoothing != "auto":
            raise ValueError(f"{learner}: smoothing={model.smoothing!r}, expected 'auto'")
        return f"{c!r} * (d**0.25)**{2 * k - 2} * d**({-k / 2!r})"
    if k == 1:
        return f"{c!r} / d"
    if k == 2:
        return f"{c!r} / (d * log(d))"
    return f"{c!r} * d**({-k / 2!r})"


# the traced budget constant c of each (link, learner) and the caps: see exponents.toml
EXPONENT_C = {(link, learner): c for link, row in _DATA["c"].items() for learner, c in row.items()}
EXPONENT_SUCCESS = _DATA["success"]
EXPONENT_DECADES = _DATA["decades"]
EXPONENT_CAP = {mode: (_DATA[mode]["cap"], _DATA[mode]["cap_smoothed"]) for mode in ("quick",
                                                                                      "full")}
EXPONENT_STRETCH = {mode: _DATA[mode]["stretch"] for mode in ("quick", "full")}
CROSSCHECK_D = _DATA["crosscheck_d"]
CROSSCHECK_FACTOR = _DATA["crosscheck_factor"]


def exponent_log_factor(learner: str, link: str, noise: float = 0.0) -> bool:
    """Whether ``n*`` carries a ``log d``: the learner's exponent on ``link`` is 2 without
    smoothing (step ``∝ 1/(d log d)``, escape time ``d log d``: Ben Arous–Gheissari–Jagannath
    2021, Thm 1.3, ``k* = 2``), as Unified on He₄ (``s* = 2``)."""
    _, _, k, smoothed = _on_link(learner, link, noise)
    return k == 2 and not smoothed


def _exponent_build(link: str) -> Callable[[str], dict[str, dict[str, Any]]]:
    def build(mode: str) -> dict[str, dict[str, Any]]:
        size = sizes("exponents", mode)
        replicas, d_max = size["replicas"], size["d_max"]
        specs = {}
        for learner in SINGLE_LEARNERS:
            p = _theory_p(learner, link)
            c = EXPONENT_C[(link, learner)]
            if exponent_log_factor(learner, link):  # n = c·d·log d ≤ c·log(d_max)·d
                c = c * math.log(d_max)
            hyper: dict[str, Any] = {"width": 1, "ridge_samples": 0, "search_fraction": 1.0}
            if mode == "tiny":
                ds = list(size["d"])
            else:
                cap = EXPONENT_CAP[mode][_on_link(learner, link)[3]]
                # traced cost c·d^p·R ≤ cap; the claim needs 1.5 decades of d: spend up to
                # EXPONENT_STRETCH for them
                ds = d_range(lambda d, c=c, p=p: c * d**p * replicas, cap, 16, d_max,
                             EXPONENT_STRETCH[mode], EXPONENT_DECADES)
                hyper["engine"] = "chain"
            entry: dict[str, Any] = {"name": learner, "hyper": hyper, "trace": True,
                                     "budget": {"c": [float(f"{c:.6g}")], "p": "theory"},
                                     "formulas": {"lr": spec_lr_formula(learner, link)}}
            specs[learner] = {
                "seed": 0, "replicas": replicas, "n_test": 0, "success": EXPONENT_SUCCESS,
                "targets": [{"link": link, "d": ds}],
                "learners": [entry],
            }
        if mode != "tiny":  # the full d-dimensional engine at small d, as a cross-check
            unified = specs["unified"]
            hyper = {k: v for k, v in unified["learners"][0]["hyper"].items() if k != "engine"}
            # 4× the replicas: at 16 the bootstrap interval of log n*(full) − log n*(chain)
            # was ±0.45, wider than the ±log 1.5 it is judged against
            # (both engines, the same d and replicas)
            for part, engine in (("crosscheck", {}), ("crosscheck-chain", {"engine": "chain"})):
                specs[part] = {
                    **unified, "replicas": 4 * replicas,
                    "targets": [{"link": link, "d": CROSSCHECK_D}],
                    "learners": [{**unified["learners"][0], "hyper": {**hyper, **engine}}]}
        return specs
    return build


def _crosscheck(ctx: Context) -> Check | None:
    """``log n*`` of the full engine minus that of the chain (the parts ``crosscheck`` and
    ``crosscheck-chain``: Unified at ``d = 16–64``, 4× the claim's replicas) at the largest
    ``d`` both have (independent bootstraps), judged equivalent within a factor 1.5."""
    from indexlab.experiments.analysis import analyse

    if "crosscheck" not in ctx.sweeps or "crosscheck-chain" not in ctx.sweeps:
        return None
    found = []
    for part in ("crosscheck", "crosscheck-chain"):
        a = analyse(ctx.store, ctx.sweeps[part], n_boot=ctx.n_boot)
        found.append({c.d: t for c, t in zip(a.curves, a.thresholds, strict=True)
                      if 0 < t.n_star < math.inf})
    return same_threshold("unified: log n*(full engine) − log n*(chain)", found[0], found[1],
                          CROSSCHECK_FACTOR)


def _exponent_evaluate(link: str) -> Callable[[Context], list[Check]]:
    def evaluate(ctx: Context) -> list[Check]:
        from indexlab.experiments.analysis import analyse

        theories = {learner: _theory_p(learner, link) for learner in SINGLE_LEARNERS}
        checks = []
        for learner in SINGLE_LEARNERS:
            sweep = ctx.sweeps.get(learner)
            logged = exponent_log_factor(learner, link)
            label = f"{learner} p̂" + (" of n*/log d" if logged else "")
            if sweep is None:
                checks.append(unavailable(label, "not run"))
                continue
            analysis = analyse(ctx.store, sweep, n_boot=ctx.n_boot)
            others = [v for k, v in theories.items() if k != learner]
            # the theorems give Õ(d^p): one unknown log factor may raise the slope
            judged = judge_exponent(label, analysis.curves, analysis.thresholds,
                                    theories[learner], others, logged,
                                    None if ctx.mode == "tiny" else EXPONENT_DECADES)
            checks.append(judged.check)
        cross = _crosscheck(ctx)
        if cross is not None:
            checks.append(cross)
        return checks
    return evaluate


def _exponent_claim(link: str, k_star: int, s_star: int) -> Claim:
    """Unified vs smoothed vs vanilla online SGD on ``link``: the exponent of ``n*(d)``.

    Every learner runs at its uncapped search step (Unified, vanilla, smoothed:
    docs/algorithms.md §4.3, §2.1, §2.2), given explicitly as ``formulas.lr``
    (:func:`spec_lr_formula`, so never hold-capped: the rates ``d^{s*/2} ∨ d``, ``d^{k*−1}`` and
    ``d^{k*/2}`` are the rates of that step), for the whole budget (``search_fraction = 1``: the
    first passage does not depend on the budget), width 1 (no best-of-m head start ``√(2 ln m/d)``),
    and ``n*`` is the median first passage to weak recovery, overlap ≥ 0.5 (the escape from the
    equator that the rates count; docs/algorithms.md §2.5: the uncapped steps cannot *hold* a
    direction at small ``d``, so a stricter level would measure the hold, not the escape).
    Exponent-2 steps (Unified on He₄) take ``d log d`` samples: their ``n*/log d`` is fitted.

    Revised after the first quick runs (said in docs/claims-quick.md): the runs were at
    overlap ≥ 0.7, with half of the budget in a descent phase and Unified at its hold-capped
    default step; that measured the cap and the hold (He₃ vanilla 1.68 [1.50, 1.85], smoothed
    1.46 [1.43, 1.50]) rather than the escape the theorems are about.
    """
    p = {name: _theory_p(name, link) for name in SINGLE_LEARNERS}
    return Claim(
        name=f"exponents-{link}",
        title=f"Unified vs smoothed vs vanilla online SGD on {link} (k* = {k_star}, "
              f"s* = {s_star})",
        source="Chen–Wu–Lu–Yang–Wang (arXiv 2606.15219) main theorem; Damian–Nichani–Ge–Lee "
               "2023 Thm 1; Ben Arous–Gheissari–Jagannath 2021 Thm 1.3",
        measures="exponent p̂ of the median first passage n*(d) to overlap ≥ 0.5 (weak "
                 "recovery), per learner, width 1, each at its uncapped search step for the "
                 "whole budget, d over ≥ 1.5 decades with the overlap chain (the full engine "
                 "cross-checks Unified at d = 16–64; tiny mode runs the full engine only)",
        theory=f"unified d^{p['unified']:g}, smoothed d^{p['smoothed_sgd']:g}, vanilla "
               f"d^{p['online_sgd']:g}",
        rule="each learner's 95% CI of p̂ meets its own exponent p (up to one log factor: "
             "[p, p + s], s the slope log d adds over the fitted d, 0.19 over 16–8192) and "
             f"holds none of the others', over d spanning ≥ {EXPONENT_DECADES:g} decades "
             "(fewer: inconclusive); the full engine's n* equals the chain's within ×1.5 at "
             "small d",
        build=_exponent_build(link), evaluate=_exponent_evaluate(link),
        requires=chain_in("quick", "full"))


CLAIMS = [_exponent_claim(link, row["k_star"], row["s_star"])
          for link, row in _DATA["links"].items()]
