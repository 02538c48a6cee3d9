"""First-passage thresholds, lost successes, weighted exponent fits and flags (issue 13)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from indexlab.experiments.analysis import (
    Curve,
    Threshold,
    censored_quantile,
    curve_threshold,
    finite_size,
    first_passage,
    lost_after_success,
    passage_threshold,
    scaling_fit,
)
from indexlab.experiments.spec import parse_success

SUCCESS = parse_success("overlap >= 0.9")


def test_censored_median_is_defined_only_when_more_than_half_pass():
    five = np.log([10, 20, 30, 40, 50, math.inf, math.inf, math.inf])
    assert math.exp(censored_quantile(five, 0.5)) == pytest.approx(math.sqrt(40 * 50))
    four = np.log([10, 20, 30, 40, math.inf, math.inf, math.inf, math.inf])
    assert censored_quantile(four, 0.5) == math.inf
    odd = np.log([10, 20, 30, math.inf, math.inf])  # R = 5: the 3rd order statistic
    assert math.exp(censored_quantile(odd, 0.5)) == pytest.approx(30)


def test_first_passage_and_a_lost_success_are_both_seen():
    """The issue's example: 0.88 → 0.75 → 0.88 → 0.25 after a pass is lost, not credited
    silently; a replica that dips by less than 0.1 is not lost."""
    ns = np.array([100, 200, 400, 800, 1600])
    values = np.array([[0.5, 0.2, 0.1],
                       [0.95, 0.3, 0.1],
                       [0.88, 0.92, 0.1],
                       [0.91, 0.85, 0.1],
                       [0.25, 0.93, 0.1]])
    fp = first_passage(ns, values >= 0.9)
    np.testing.assert_array_equal(fp, [200, 400, math.inf])
    passed, lost = lost_after_success(values, SUCCESS)
    np.testing.assert_array_equal(passed, [True, True, False])
    np.testing.assert_array_equal(lost, [True, False, False])


def test_passage_threshold_interval_and_grid_cell():
    ns = np.geomspace(100, 10_000, 17).round()
    rng = np.random.default_rng(1)
    # 16 replicas passing at scattered checkpoints, 4 never
    idx = rng.integers(4, 12, 16)
    S = np.zeros((ns.size, 20), dtype=bool)
    for j, i in enumerate(idx):
        S[i:, j] = True
    t = passage_threshold(ns, S, 0.5, n_boot=400)
    assert t.method == "first passage" and t.lo < t.n_star < t.hi
    assert not t.grid_limited and t.passed == 16
    # every replica passes at the same checkpoint: the interval is that one cell
    S = np.zeros((ns.size, 8), dtype=bool)
    S[6:] = True
    t = passage_threshold(ns, S, 0.5, n_boot=200)
    assert t.grid_limited
    np.testing.assert_allclose([t.lo, t.n_star, t.hi], [ns[5], ns[6], ns[6]])


def _thr(n_star, width):
    return Threshold(n_star, n_star / width, n_star * width, np.zeros(1),
                     np.log(n_star) + np.random.default_rng(0).normal(0, math.log(width) / 2,
                                                                     200))


def test_weighted_fit_follows_the_sharp_thresholds():
    """Three sharp points on n = d² and one vague point far off: the weighted slope stays
    near 2 (unweighted least squares would give 1.5)."""
    ds = [32, 64, 128, 256]
    ts = [_thr(32**2, 1.1), _thr(64**2, 1.1), _thr(128**2, 1.1), _thr(256**2 / 8, 30.0)]
    p, *_ = scaling_fit(ds, ts)
    assert p == pytest.approx(2.0, abs=0.1)


def test_curve_threshold_counts_lost_replicas_for_runs_too():
    values = np.array([[0.95, 0.2], [0.5, 0.95], [0.97, 0.96]])
    curve = Curve("he3", "x", 32, np.array([100, 200, 400]), values, "runs")
    t = curve_threshold(curve, SUCCESS, n_boot=50)
    assert (t.passed, t.lost, t.replicas) == (2, 1, 2)


def test_finite_size_regime_flag_uses_the_learner_width():
    """√(2 ln 64 / 32) = 0.51 ≥ 0.45 is flagged; width 1 never is; 16 at 128 (0.21) not."""
    wide = Curve("he3", "x", 32, np.array([1]), np.zeros((1, 1)),
                 learner_config={"name": "online_sgd", "hyper": {}})
    one = Curve("he3", "x", 32, np.array([1]), np.zeros((1, 1)),
                learner_config={"name": "online_sgd", "hyper": {"width": 1}})
    small = Curve("he3", "x", 128, np.array([1]), np.zeros((1, 1)),
                  learner_config={"name": "online_sgd", "hyper": {"width": 16}})
    flagged = finite_size([wide, one, small], SUCCESS)
    assert [d for d, _ in flagged] == [32]
    assert flagged[0][1] == pytest.approx(math.sqrt(2 * math.log(64) / 32))


def test_curve_plot_bands_are_quantiles_in_range_and_log_labels_are_powers_of_ten(tmp_path):
    """Replicas at 0 and 1 only: mean ± sd would leave [0, 1], the 10–90% band does not;
    the x axis spans 2 decades and carries only 10^k labels."""
    import matplotlib

    matplotlib.use("Agg")
    from indexlab.experiments import plots

    ns = np.array([100, 1000, 10_000])
    values = np.array([[0.0] * 5 + [1.0] * 5] * 3)
    _, low, high = plots.quantile_band(values)
    assert (low >= 0).all() and (high <= 1).all()
    curve = Curve("he3", "x", 32, ns, values, "trace")
    captured = {}
    original = plots._save

    def keep(fig, out, stem):
        plots._decade_ticks(fig.axes[0].xaxis)
        captured["labels"] = [t.get_text() for t in fig.axes[0].get_xticklabels()]
        return original(fig, out, stem)

    plots._save = keep
    try:
        plots.plot_curves([curve], SUCCESS, tmp_path, "c")
    finally:
        plots._save = original
    labels = [label for label in captured["labels"] if label]
    assert labels and len(labels) <= 6 and all("10^" in label for label in labels)


def test_decade_ticks_never_exceed_six_labels():
    from indexlab.experiments.plots import decade_ticks

    for lo, hi in [(30, 3e6), (1, 1e15), (300, 2000), (120, 180), (5, 50)]:
        ticks = decade_ticks(lo, hi)
        assert 1 <= len(ticks) <= 6 and all(lo <= t <= hi for t, _ in ticks)
