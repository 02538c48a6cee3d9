"""The GAMP learner (issue 24): contract, replicas, divergence, bad input; fast sizes."""

from __future__ import annotations

import math

import pytest
import torch

from indexlab import state_evolution as se
from indexlab.learners import GAMP
from indexlab.links import get_link
from indexlab.targets import MultiIndex, SingleIndex


def test_linear_channel_follows_state_evolution():
    """y = z + 0.5ε at α = 2 (GAMP is AMP for ridge regression): overlap within 4 standard
    errors (over 4 replicas, plus the O(1/√d) spread) of state evolution."""
    link = get_link("he1", noise=0.5)
    target = SingleIndex(link, 400, replicas=4, seed=3, dtype=torch.float64)
    fit = GAMP(nodes=400).fit(target, n=800)
    overlap = torch.as_tensor(fit.trace_["overlap"][-1])
    q = se.state_evolution(se.output_channel(link, nodes=400), 2.0).overlap
    se_err = overlap.std().item() / 2 + 1 / math.sqrt(400)
    assert abs(overlap.mean().item() - q) < 4 * se_err
    assert not fit.diverged_.any() and fit.converged_.all()


def test_fit_dataset_equals_fit_target_and_records_a_trace():
    target = SingleIndex(get_link("phase_retrieval", noise=0.3), 200, replicas=2, seed=0)
    X, y = target.sample(600)
    target.reset()
    on_target = GAMP(nodes=200, max_iter=20).fit(target, n=600)
    on_data = GAMP(link=target.link, nodes=200, max_iter=20).fit(X, y)
    torch.testing.assert_close(on_target.weights_, on_data.weights_)
    steps = int(on_target.iterations_.max()) + 1
    assert on_target.trace_["self_overlap"].shape == (steps, 2) and steps > 2
    assert "overlap" in on_target.trace_ and "overlap" not in on_data.trace_
    assert on_target.directions_.shape == (2, 1, 200)


def test_a_nan_replica_is_flagged_and_the_others_are_unchanged():
    target = SingleIndex(get_link("phase_retrieval", noise=0.3), 100, replicas=3, seed=0)
    X, y = target.sample(300)
    clean = GAMP(link=target.link, nodes=200, max_iter=10).fit(X, y)
    y_bad = y.clone()
    y_bad[1, 5] = math.nan
    bad = GAMP(link=target.link, nodes=200, max_iter=10).fit(X, y_bad)
    assert bad.diverged_.tolist() == [False, True, False]
    torch.testing.assert_close(bad.weights_[[0, 2]], clean.weights_[[0, 2]])


def test_multi_index_gamp_runs_on_a_discrete_link():
    target = MultiIndex("sign(z1*z2)", 100, replicas=2, seed=0)
    fit = GAMP(r=2, nodes=60, max_iter=5).fit(target, n=300)
    assert fit.directions_.shape == (2, 2, 100) and not fit.diverged_.any()


def test_bad_input_is_refused_before_work():
    target = MultiIndex("z1*z2", 50, seed=0)
    with pytest.raises(ValueError, match="r=1 does not match link 'z1\\*z2' \\(r=2\\)"):
        GAMP().fit(target, n=100)
    with pytest.raises(ValueError, match="needs the link"):
        GAMP().fit(torch.randn(10, 5), torch.randn(10))
    with pytest.raises(ValueError, match="r=4 is not allowed"):
        GAMP(r=4).fit(target, n=100)
    with pytest.raises(se.ChannelError, match="r ≤ 3"):
        GAMP(r=3, link="z1*z2*z3*z4").fit(torch.randn(10, 5), torch.randn(10))
    with pytest.raises(ValueError, match="n=0 is not allowed"):
        GAMP(r=2).fit(target, n=0)


def test_small_d_large_alpha_runs_clean_and_a_nan_replica_is_still_flagged():
    """he2 at d = 12, n = 600 (α = 50): the exact A = −Σ∂g/d fluctuates by √(2α/d) ≈ 2.9 and
    I + A is indefinite in replica 2 at the first step (A ≈ −8). With the PSD-preserving
    Nishimori fallback no clean replica is flagged and all recover the direction; a NaN
    label still flags its replica (and only it)."""
    from indexlab.experiments.single_run import make_target

    target = make_target("he2", 12, replicas=3, seed=1)
    fit = GAMP(max_iter=100).fit(target, n=600)
    assert not fit.diverged_.any()
    assert min(fit.trace_["overlap"][-1]) > 0.95
    target.reset()
    X, y = target.sample(600)
    y[1, 7] = math.nan
    bad = GAMP(link="he2", max_iter=100).fit(X, y)
    assert bad.diverged_.tolist() == [False, True, False]
