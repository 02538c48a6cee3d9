"""The claim ``baselines``: the classical estimators as anchors — the spectral method's
weak-recovery threshold ``α_c = 1/2`` and its overlap on the Lu–Li curve on phase retrieval,
and SIR (blind to an even link) against SAVE (which recovers it).

Parts: ``spectral`` (one run per ``α = n/d``) and ``sdr`` (SIR and SAVE, each addressed by its
learner name). Sizes per mode: ``baselines.toml`` beside this module.
"""

from __future__ import annotations

from typing import Any

import indexlab.experiments.measures as ms
from indexlab.experiments.claims.base import Claim, Context, load_data, sizes
from indexlab.experiments.judge import Check, side, within

_DATA = load_data("baselines")
LU_LI_ALPHAS = tuple(_DATA["lu_li_alphas"])
BELOW_ALPHA_C = _DATA["below_alpha_c"]


def _baselines_build(mode: str) -> dict[str, dict[str, Any]]:
    size = sizes("baselines", mode)
    replicas, d, slices = size["replicas"], size["d"], _DATA["sdr_slices"]
    return {
        "spectral": {"seed": 0, "replicas": replicas, "n_test": 0, "success": "weak",
                     "targets": [{"link": "phase_retrieval", "d": [d]}],
                     "learners": [{"name": "spectral", "hyper": {"preprocess": "optimal"}}],
                     "budget": {"c": [BELOW_ALPHA_C, *LU_LI_ALPHAS], "p": 1}},
        "sdr": {"seed": 0, "replicas": replicas, "n_test": 0,
                "success": "subspace_distance <= 0.3",
                "targets": [{"link": "phase_retrieval", "d": [size["sdr_d"]]}],
                "learners": [{"name": "sir", "hyper": {"n_slices": slices}},
                             {"name": "save", "hyper": {"n_slices": slices}}],
                "budget": {"c": [size["sdr_c"]], "p": 1}},
    }


def _baselines_evaluate(ctx: Context) -> list[Check]:
    from indexlab.anchors import lu_li_overlap

    checks = []
    runs = ctx.runs("spectral")
    by_alpha = {}
    for run in runs:
        by_alpha[round(run["n"] / run["d"], 2)] = run
    run = by_alpha.get(BELOW_ALPHA_C)
    est, lo, hi = ms.mean_ci(ms.values(ctx.store, run, "overlap"), n_boot=ctx.n_boot)
    checks.append(side(f"spectral overlap at α = {BELOW_ALPHA_C:g} < α_c = 1/2", est, lo, hi,
                       0.3, "below", "no weak recovery (< 0.3)"))
    for alpha in LU_LI_ALPHAS:
        run = by_alpha.get(alpha)
        est, lo, hi = ms.mean_ci(ms.values(ctx.store, run, "overlap"), n_boot=ctx.n_boot)
        theory = lu_li_overlap(alpha, -10.0)
        checks.append(within(f"spectral overlap at α = {alpha:g}", est, lo, hi, theory, 0.03,
                             f"Lu–Li {theory:.3f} ± 0.03"))
    runs = ctx.runs("sdr")
    for learner, claimed, text in (("sir", "above", "> 0.9 (SIR blind to an even link)"),
                                   ("save", "below", "< 0.3 (SAVE recovers it)")):
        run = ms.pick(runs, learner=learner)
        est, lo, hi = ms.mean_ci(ms.values(ctx.store, run, "subspace_distance"),
                                n_boot=ctx.n_boot)
        bound = 0.9 if claimed == "above" else 0.3
        where = f" at n/d = {run['n'] // run['d']}" if run else ""
        checks.append(side(f"{learner} subspace distance{where}", est, lo, hi, bound, claimed,
                           text))
    return checks


CLAIMS = [Claim(
    name="baselines",
    title="Baselines as anchors: spectral α_c and the Lu–Li curve; SIR vs SAVE on an even link",
    source="Mondelli–Montanari COLT 2018; Luo–Alghamdi–Lu 2019; Lu–Li 2020; Li 1991 (SIR), "
           "Cook–Weisberg 1991 (SAVE)",
    measures="spectral (T* = 1 − 1/y) overlap on phase retrieval at α = 0.25, 1, 2, 4; "
             "subspace distance of SIR and SAVE on phase retrieval",
    theory="no recovery below α_c = 1/2; Lu–Li overlap 0.479 / 0.794 / 0.950 (T* clipped "
           "at −10); SIR fails, SAVE succeeds",
    rule="α = 0.25 CI < 0.3; CI within ±0.03 of Lu–Li; SIR CI > 0.9; SAVE CI < 0.3",
    build=_baselines_build, evaluate=_baselines_evaluate)]
