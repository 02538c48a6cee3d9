"""The ``layerwise-exponent`` claim: its specs (parts, engines, adaptive budgets) and its judge
on synthetic thresholds with a known exponent (no learner runs)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from indexlab.experiments.analysis import Curve, curve_threshold
from indexlab.experiments.claims import CLAIMS, MODES
from indexlab.experiments.claims import layerwise as lw
from indexlab.experiments.judge import FAIL, INCONCLUSIVE, PASS
from indexlab.experiments.spec import parse_spec, parse_success

SUCCESS = parse_success("subspace_distance <= 0.3")


def test_specs_run_the_conditional_engine_at_large_d_and_an_adaptive_search_everywhere():
    claim = CLAIMS["layerwise-exponent"]
    for mode in MODES:
        specs = claim.specs(mode)
        size = lw.EXPONENT[mode]
        for part, spec in specs.items():
            parse_spec(spec)
            (entry,) = spec["learners"]
            (target,) = spec["targets"]
            assert "search" in entry["budget"] and spec["success"] == SUCCESS.text()
            kind = part.split("-")[0]
            assert entry["name"] == ("one_step" if kind.startswith("one_step") else "layerwise")
            assert (entry["hyper"].get("engine") == "conditional") == kind.endswith("conditional")
            if kind in ("full", "conditional"):
                assert target["d"] == lw.exponent_dims(mode, target["link"])[kind != "full"]
        assert {"full", "conditional", "crosscheck", "one_step"} <= {p.split("-")[0]
                                                                     for p in specs}
        if mode == "tiny":
            continue
        for link in lw.EXPONENT_LINKS:
            full_d, conditional_d = lw.exponent_dims(mode, link)
            ds = full_d + conditional_d
            # the fitted range every mode but tiny promises: ≥ the judge's 1.5 decades
            assert math.log10(max(ds) / min(ds)) >= lw.EXPONENT["decades"] - 1e-9, (mode, link)
            assert set(size["crosscheck_d"]) <= set(conditional_d)
            assert max(size["crosscheck_d"]) <= 256  # the full engine only where it is cheap


def _synthetic(p: float, log_power: float, ds=(16, 32, 64, 128, 256, 512, 1024), R: int = 8,
               ratio: float = 2 ** 0.125, seed: int = 0):
    """Curves and thresholds whose replica thresholds are ``8·d^p·(ln d)^log_power`` times a
    log-normal factor (σ = 0.15, independent per replica), on a grid of ratio ``ratio`` (as
    an adaptive search refined to it): the distance is 0.1 at or above a replica's threshold,
    0.9 below."""
    rng = np.random.default_rng(seed)
    curves, thresholds = [], []
    for d in ds:
        centre = 8 * d ** p * math.log(d) ** log_power
        ns = np.unique(np.maximum(np.round(centre * ratio ** np.arange(-8, 9)), 2).astype(int))
        own = centre * np.exp(0.15 * rng.standard_normal(R))
        values = np.where(ns[:, None] >= own[None, :], 0.1, 0.9)
        curve = Curve("z1*z2", "layerwise", d, ns, values)
        curves.append(curve)
        thresholds.append(curve_threshold(curve, SUCCESS, 200, rng=np.random.default_rng(0)))
    return curves, thresholds


@pytest.mark.parametrize(("p", "log_power", "layerwise", "one_step"), [
    (1.0, 0.5, PASS, FAIL),  # n* ∝ d √log d: layer-wise's claim, not one-step's
    (2.0, 0.0, FAIL, PASS),  # n* ∝ d²: the alternative
    (1.5, 0.0, FAIL, FAIL),  # neither
])
def test_the_judge_separates_d_log_d_from_d_squared_on_synthetic_thresholds(p, log_power,
                                                                           layerwise, one_step):
    curves, thresholds = _synthetic(p, log_power)
    own = lw._judged("layerwise", curves, thresholds, 1.0, 2.0, 0, 0.3, 1.5)
    alt = lw._judged("one_step", curves, thresholds, 2.0, 1.0, 0, 0.3, 1.5)
    assert (own.verdict, alt.verdict) == (layerwise, one_step), (own, alt)
    if p == 1.0:  # d √log d over 16–1024: slope 1 + s/2 = 1.11 (s = 0.22, one log factor)
        assert own.lo <= 1.11 <= own.hi


def test_too_few_decades_censored_or_coarse_thresholds_are_never_a_pass():
    curves, thresholds = _synthetic(1.0, 0.5, ds=(64, 128, 256, 512))  # 0.9 decades
    check = lw._judged("layerwise", curves, thresholds, 1.0, 2.0, 0, 0.3, 1.5)
    assert check.verdict == INCONCLUSIVE and "decades" in check.reason
    # a grid of ratio 4 leaves every threshold grid-limited in a cell wider than rel_width
    curves, thresholds = _synthetic(1.0, 0.5, ratio=4.0)
    assert any(t.grid_limited for t in thresholds)
    check = lw._judged("layerwise", curves, thresholds, 1.0, 2.0, 0, 0.3, 1.5)
    assert check.verdict == INCONCLUSIVE and "not pinned down" in check.reason
    # failed runs are said in the reason
    curves, thresholds = _synthetic(1.0, 0.5)
    check = lw._judged("layerwise", curves, thresholds, 1.0, 2.0, 3, 0.3, 1.5)
    assert check.verdict == PASS and "3 failed or diverged" in check.reason
