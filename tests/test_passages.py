"""First passages at the resolution of one step (indexlab.learners.trace): the chain and the
full engine record them, the store keeps them, the analysis reads ``n*`` from them."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest

from indexlab.experiments.analysis import (
    Curve,
    analyse,
    censored_quantile,
    curve_threshold,
    exact_passage_threshold,
    passage_threshold,
    succeeded,
)
from indexlab.experiments.runner import sweep
from indexlab.experiments.spec import parse_spec, parse_success
from indexlab.experiments.store import Store
from indexlab.learners import OnlineSGD, Unified
from indexlab.learners.trace import PASSAGE_LEVELS
from indexlab.targets import SingleIndex


def _every_sample(n, per_decade=8, first=16):
    return list(range(1, n + 1))


def _trace_passages(trace) -> np.ndarray:
    """``(L, R)`` first passages read from a trace recorded after every step (−1: never)."""
    ns = np.asarray(trace.samples)
    ov = trace["overlap"]
    out = np.full((PASSAGE_LEVELS.size, ov.shape[1]), -1, dtype=np.int64)
    for i, level in enumerate(PASSAGE_LEVELS):
        hit = ov >= level
        out[i] = np.where(hit.any(axis=0), ns[hit.argmax(axis=0)], -1)
    return out


@pytest.mark.parametrize("make", [
    lambda: OnlineSGD(width=2, batch=1, ridge_samples=0, engine="chain"),
    lambda: OnlineSGD(width=2, batch=1, ridge_samples=0),
    lambda: Unified(width=2, batch=3, ridge_samples=0, engine="chain"),
    lambda: Unified(width=2, batch=3, ridge_samples=0),
], ids=["chain-b1", "full-b1", "chain-b3", "full-b3"])
def test_recorded_passages_equal_those_of_a_trace_taken_after_every_step(make, monkeypatch):
    """With a checkpoint at every sample count the trace holds the overlap after every step,
    so its first passages are exact: the recorded ones must equal them for every replica and
    level (a passage recorded one step late or early, or at the wrong sample count, fails)."""
    for module in ("indexlab.learners.spherical", "indexlab.learners.online_engine"):
        monkeypatch.setattr(f"{module}.log_checkpoints", _every_sample)
    learner = make().fit(SingleIndex("he2", 24, replicas=4, seed=3), n=3000)
    levels, recorded = learner.trace_.passages["overlap"]
    np.testing.assert_array_equal(levels, PASSAGE_LEVELS)
    expected = _trace_passages(learner.trace_)
    batch = learner.batch
    np.testing.assert_array_equal(recorded, expected)
    # the test sees passages after the start (at the start every neuron has overlap ~ 0.2)
    assert (recorded[PASSAGE_LEVELS >= 0.4] > batch).sum() >= 4
    assert np.all((recorded[recorded > 0] % batch) == 0)  # at the end of a step


@pytest.mark.parametrize("engine", ["chain", "full"])
def test_passages_lie_inside_the_checkpoint_cell_of_the_usual_trace(engine):
    """At the default checkpoints (24 per decade) the exact first passage is at or before the
    first checkpoint meeting the level (before the cell ``(n_{i−1}, n_i]`` when the overlap
    passed and fell back between checkpoints)."""
    learner = Unified(width=1, ridge_samples=0, engine=engine).fit(
        SingleIndex("he3", 32, replicas=6, seed=2), n=12_000)
    _, exact = learner.trace_.passages["overlap"]
    ns = np.asarray(learner.trace_.samples)
    ov = learner.trace_["overlap"]
    checked = 0
    for i, level in enumerate(PASSAGE_LEVELS):
        hit = ov >= level
        for j in np.flatnonzero(hit.any(axis=0)):
            c = int(hit[:, j].argmax())
            assert exact[i, j] > 0
            assert exact[i, j] <= ns[c]
            checked += 1
    # levels passed in order: N(τ) is non-decreasing in τ where finite
    finite = np.where(exact < 0, np.iinfo(np.int64).max, exact)
    assert np.all(np.diff(finite, axis=0) >= 0)
    assert checked >= 20


def test_exact_threshold_is_the_censored_median_and_never_grid_limited():
    fp = np.array([100.0, 120, 130, 150, 170, 200, math.inf, math.inf])
    ns = np.geomspace(16, 400, 20)
    t = exact_passage_threshold(fp, ns, 0.5, n_boot=400)
    assert t.n_star == pytest.approx(math.exp(censored_quantile(np.log(fp), 0.5)))
    assert t.n_star == pytest.approx(math.sqrt(150 * 170))
    assert not t.grid_limited and t.lo <= t.n_star <= t.hi and t.lo >= 100
    assert t.passed == 6 and t.fitted[-1] == pytest.approx(6 / 8)
    # more than half censored: censored median, an unbounded interval
    assert math.isinf(exact_passage_threshold(np.array([1.0, 2, math.inf, math.inf, math.inf]),
                                              ns, 0.5, n_boot=50).n_star)


def _sweep(tmp_path, success: str):
    spec = parse_spec({
        "name": "p", "seed": 0, "replicas": 12, "n_test": 0, "success": success,
        "targets": [{"link": "he3", "d": [32, 64]}],
        "learners": [{"name": "unified", "trace": True, "budget": {"c": [64], "p": 1},
                      "hyper": {"width": 1, "engine": "chain", "ridge_samples": 0}}]})
    store = Store(tmp_path / "p.db")
    sweep(spec, store, progress=False)
    return store, store.sweeps()[0]


def test_the_analysis_reads_n_star_from_the_stored_passages(tmp_path):
    """``n*`` is the censored median of the stored exact passages; with a criterion level off
    the ladder, or in a store without the table, the checkpoint estimate is used."""
    store, sw = _sweep(tmp_path, "overlap >= 0.5")
    runs = store.runs()
    assert len(runs) == 2
    for run in runs:
        levels, samples = store.passages(run["key"])["overlap"]
        np.testing.assert_array_equal(levels, PASSAGE_LEVELS)
        assert samples.shape == (PASSAGE_LEVELS.size, 12)
    result = analyse(store, sw, n_boot=200)
    for curve, t in zip(result.curves, result.thresholds, strict=True):
        key = max((r for r in runs if r["d"] == curve.d), key=lambda r: r["n"])["key"]
        fp = store.passages(key)["overlap"][1][9].astype(float)  # level 0.5
        fp[fp < 0] = math.inf
        assert t.n_star == pytest.approx(math.exp(censored_quantile(np.log(fp), 0.5)))
        assert not t.grid_limited
        # the checkpoint estimate differs: it reads passages at checkpoints only
        checkpoint = passage_threshold(curve.ns, succeeded(curve.values, result.success), 0.5,
                                       n_boot=50)
        assert checkpoint.n_star >= t.n_star
    # a level that is not on the ladder: the checkpoint estimate
    off = parse_success("overlap >= 0.33", 0.5)
    c = result.curves[0]
    t_off = curve_threshold(c, off, n_boot=50)
    ref = passage_threshold(c.ns, succeeded(c.values, off), 0.5, n_boot=50)
    assert t_off.n_star == ref.n_star
    store.close()
    conn = sqlite3.connect(tmp_path / "p.db")
    conn.execute("DROP TABLE passages")
    conn.commit()
    conn.close()
    with Store(tmp_path / "p.db", create=False) as old:
        assert all(old.passages(r["key"]) == {} for r in old.runs())
        again = analyse(old, old.sweeps()[0], n_boot=50)
        assert all(isinstance(cv, Curve) and cv.passages is None for cv in again.curves)


@pytest.mark.parametrize("bad", [np.array([]), np.array([[1.0, 2.0]]), np.array([3.0, np.nan]),
                                 np.array([0.0, 5.0])])
def test_exact_threshold_refuses_what_is_not_a_set_of_passages(bad):
    with pytest.raises(ValueError, match="first passages must be"):
        exact_passage_threshold(bad, np.array([1.0, 10.0]))
