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


def _recording_bar(monkeypatch) -> list:
    """Replace the sweep's bar by one that records every (completed, total) it shows."""
    from indexlab.experiments import progress_bars

    bars = []

    class Recording(progress_bars.SweepBar):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.initial = self.total
            self.shown = []
            bars.append(self)

        def _show(self, completed, **fields):
            super()._show(completed, **fields)
            self.shown.append((completed, self.total))

    monkeypatch.setattr(progress_bars, "SweepBar", Recording)
    return bars


def test_one_bar_counts_the_samples_of_fixed_runs_and_searches(tmp_path, monkeypatch):
    """The sweep draws one bar, in samples n·R: it starts at the dry run's total (fixed
    runs plus each search at its most), only moves forward across the searches' steps, and
    ends settled on the n·R of every run the sweep stored."""
    from indexlab.experiments.cli import plan_rows

    fixed = {"name": "unified", "label": "fixed", "budget": {"n": [64, 256]},
             "hyper": {"width": 1, "ridge_samples": 0}}
    spec = parse_spec(_spec(SEARCH, targets=[{"link": "he3", "d": [16]}],
                            learners=[*_spec(SEARCH)["learners"], fixed]))
    bars = _recording_bar(monkeypatch)
    with Store(tmp_path / "a.db") as store:
        summary = sweep(spec, store, progress=False)
        assert summary["ran"] > 2 + 3  # the search refined beyond its three first runs
        assert len(bars) == 1
        bar = bars[0]
        assert bar.initial == plan_rows(spec)[1]["samples"]
        done = [c for c, _ in bar.shown]
        assert done == sorted(done) and done[-1] > 0  # never reset
        stored = sum(r["n"] * r["replicas"] for r in store.runs(store.sweeps()[0]["labels"]))
        assert done[-1] == bar.total == stored
        assert bar.runs_done == bar.runs_total == summary["total"]
        assert bar.initial != stored  # the plan was an upper bound, settled at the end
        again = sweep(spec, store, progress=False)  # all stored: nothing left to count
        assert again["ran"] == 0 and bars[1].initial == 0


def test_search_plans_leave_out_what_the_store_holds(tmp_path):
    """A search not started counts planned_budgets; one finished counts nothing; one cut
    off after its first round counts its refinements only."""
    from indexlab.experiments.adaptive import planned_budgets
    from indexlab.experiments.runner import run_config, search_plans

    spec = parse_spec(_spec(SEARCH, targets=[{"link": "he3", "d": [16]}]))
    plan = planned_budgets(32, 4096, 0.5)
    [(_, fresh)] = search_plans(spec)
    assert [r.n for r in fresh] == plan
    with Store(tmp_path / "a.db") as store:
        from indexlab.experiments.runner import run_local

        run_local([run_config(spec, spec.targets[0], 16, 0, n) for n in plan[:3]], store,
                  lambda *_: None, progress=False)
        [(_, cut)] = search_plans(spec, store)
        # the first refinement (at its budget, now known), the later ones at the upper bound
        assert len(cut) == len(plan) - 3 and 32 < cut[0].n < 4096
        assert [r.n for r in cut[1:]] == [4096] * (len(plan) - 4)
        sweep(spec, store, progress=False)
        assert search_plans(spec, store) == [((spec.targets[0], 16, 0), [])]


def test_time_guard_counts_adaptive_searches(tmp_path):
    """A sweep made only of an adaptive search is refused when its most exceeds the
    limit (before, its runs were unknown and it passed with 0 s), and nothing is stored."""
    from indexlab.experiments.cli import plan_rows
    from indexlab.experiments.guards import ResourceError

    spec = parse_spec(_spec({"search": {"low": "2*d", "high": "64*d**2"}},
                            targets=[{"link": "he3", "d": [256]}]))
    seconds = plan_rows(spec)[1]["seconds"]
    assert seconds > 0
    with Store(tmp_path / "a.db") as store:
        with pytest.raises(ResourceError, match="adaptive search"):
            sweep(spec, store, progress=False, time_limit=f"{seconds / 2:.6g}")
        assert store.sweeps() == [] and store.runs() == []
