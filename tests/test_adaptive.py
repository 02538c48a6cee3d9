"""Adaptive budgets (bisection in log n) and impossible criteria in specs (issue 13)."""

from __future__ import annotations

import pytest

from indexlab.experiments.adaptive import next_budget
from indexlab.experiments.analysis import analyse
from indexlab.experiments.runner import sweep
from indexlab.experiments.spec import SpecError, parse_spec
from indexlab.experiments.store import Store


def _spec(budget, **changes) -> dict:
    base = {
        "name": "adaptive", "seed": 0, "replicas": 8, "n_test": 0,
        "success": "overlap >= 0.9",
        "targets": [{"link": "he3", "d": [16, 32]}],
        "learners": [{"name": "unified", "budget": budget,
                      "hyper": {"width": 1, "ridge_samples": 0}}],
    }
    base.update(changes)
    return base


SEARCH = {"search": {"low": "2*d", "high": "256*d"}, "rel_width": 0.5}


def test_adaptive_search_refines_stores_and_resumes(tmp_path):
    """Unified on He₃ (n* ≈ 20 d at width 1): the search adds budgets between 2d and 256d
    until the interval is ≤ 50% of n* or replica-limited; a second sweep reruns nothing and
    reproduces the same thresholds."""
    spec = parse_spec(_spec(SEARCH))
    with Store(tmp_path / "a.db") as store:
        first = sweep(spec, store, progress=False)
        assert first["ran"] > 2 * 3  # more than the three starting budgets per d
        result = analyse(store, store.sweeps()[0], n_boot=200)
        for curve, t in zip(result.curves, result.thresholds, strict=True):
            assert curve.ns.min() == 2 * curve.d and curve.ns.max() == 256 * curve.d
            assert 2 * curve.d < t.n_star < 256 * curve.d
        again = sweep(spec, store, progress=False)
        assert again["ran"] == 0 and again["total"] == first["total"]
        result2 = analyse(store, store.sweeps()[0], n_boot=200)
        assert [t.n_star for t in result2.thresholds] == [t.n_star for t in result.thresholds]


def test_next_budget_bisects_the_widest_gap_inside_the_interval():
    assert next_budget([10, 100, 2000], 50, 200, 0.15) == 447
    assert next_budget([10, 100, 1000], 20, 90, 0.15) == 32
    assert next_budget([100, 105], 100, 105, 0.15) is None  # finer than the precision


@pytest.mark.parametrize("search, match", [
    ({"low": "64*d", "high": "2*d"}, "low="),
    ({"low": "2*d", "high": "2*d"}, "low="),
])
def test_search_with_low_not_below_high_fails_before_any_work(search, match, tmp_path):
    with pytest.raises(SpecError, match=match):
        parse_spec(_spec({"search": search}))


@pytest.mark.parametrize("success", ["overlap >= 1.5", "subspace_distance <= -1",
                                     "overlap_neuron >= 2", "test_mse <= -0.1"])
def test_criteria_that_can_never_be_met_are_spec_errors(success):
    with pytest.raises(SpecError, match="can never be met"):
        parse_spec(_spec(SEARCH, success=success))


def test_search_cannot_be_mixed_with_a_grid():
    with pytest.raises(SpecError, match="replaces n/c/p"):
        parse_spec(_spec({**SEARCH, "n": [10]}))
