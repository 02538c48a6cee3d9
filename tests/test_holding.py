"""Fast checks of the hold-step math (learners/holding.py) and the two-step Schedule."""

from __future__ import annotations

import math

import pytest

from indexlab.learners import SmoothedSGD
from indexlab.learners.holding import alignment_statistics, hold_step
from indexlab.learners.online_setup import update_slopes
from indexlab.learners.schedule import Schedule
from indexlab.links import get_link
from indexlab.nn import get_activation


def test_alignment_statistics_match_the_closed_form_for_vanilla_he3():
    """ψ = h₃(z) h₃'(a), y = h₃(z): E[ψ(z − a m)] = (1 − m²) 3 m² exactly (Stein), so
    D = (1 − δ/2)·3(1 − δ)² = 2.852 at δ = 0.02; V = E[h₃² h₃'²]·(d − 1) = 93.0·31 = 2883
    (quadrature). Gauss–Hermite in z with Monte Carlo in (g, χ²): measured within 1% of
    both over seeds 0–2; bound 3%."""
    psi, _ = update_slopes(get_activation("he3"), "correlation", 0.0, 32)
    V, D = alignment_statistics(psi, get_link("he3"), lambda y: y, 32)
    assert pytest.approx(0.99 * 3 * 0.98**2, rel=0.03) == D
    assert pytest.approx(93.0 * 31, rel=0.03) == V


def test_hold_step_inverts_the_stationary_misalignment():
    assert hold_step(100.0, 2.0, 0.05) == pytest.approx(4 * 0.05 * 2.0 / 100.0)
    assert hold_step(100.0, -1.0, 0.05) is None
    assert hold_step(math.nan, 1.0, 0.05) is None


def test_schedule_descends_from_its_own_step():
    s = Schedule(lr=1e-2, search=100, decay=0.5, batch=1, descent_lr=1e-4)
    assert s.step_at(99) == 1e-2
    assert s.step_at(100) == pytest.approx(1e-4)
    assert s.step_at(300) == pytest.approx(1 / (1e4 + 0.5 * 200))
    old = Schedule(lr=1e-2, search=100, decay=0.5, batch=1)
    assert old.step_at(100) == pytest.approx(1e-2)


def test_smoothed_hand_over_step_is_far_below_the_search_step_on_he4():
    """The root cause of the collapse: for He₄ at d = 32 the unsmoothed descent gradient is
    so much noisier that the hold step is ~3000 times below the smoothed search step
    (measured 5.8e-6 vs 1.9e-3 after the search cap; the spec's step is 1.8e-2)."""
    from indexlab import SingleIndex

    learner = SmoothedSGD(width=2, ridge_samples=0).fit(SingleIndex("he4", 32, replicas=1),
                                                        n=64)
    assert learner.hyper_["descent_lr"] < learner.hyper_["lr"] / 100


@pytest.mark.parametrize("value", [0, 1, -0.1, 2.0])
def test_hold_values_outside_0_1_are_rejected(value):
    from indexlab import SingleIndex

    with pytest.raises(ValueError, match="hold_search"):
        SmoothedSGD(hold_search=value).fit(SingleIndex("he4", 8, replicas=1), n=16)


def test_agnostic_transform_with_replicas_gets_the_smallest_hold_cap():
    """The agnostic transform is one CDF per replica; the hold caps are computed on labels of
    no replica, so each replica's transform gives its own cap and the shared schedule takes the
    smallest (R > 1 with the default caps crashed in ``alignment_statistics`` before)."""
    import torch

    from indexlab.experiments.single_run import make_target
    from indexlab.learners.label_transforms import agnostic_transform
    from indexlab.learners.registry import make_learner

    y = torch.randn(3, 500, generator=torch.Generator().manual_seed(0))
    T = agnostic_transform(y)
    v = torch.randn(3, 40, generator=torch.Generator().manual_seed(1))
    for i in range(3):  # row i of the batched transform is replica i's own transform
        assert torch.equal(T(v)[i], T.replica(i)(v[i]))
    target = make_target("he3", 32, replicas=3, seed=1)
    learner = make_learner("unified", label_transform="agnostic").fit(target, n=20000)
    assert learner.diverged_.tolist() == [False, False, False]
