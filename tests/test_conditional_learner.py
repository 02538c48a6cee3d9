"""LayerwiseGD with engine="conditional" (docs/conditional.md) against engine="full", through
the learner: the laws of the subspace distance after stage 1 and of the test error agree by
two-sample Kolmogorov–Smirnov; a conditional run at the wrong dimension is told apart."""

import math

import pytest
import torch
from scipy.stats import ks_2samp

from indexlab.experiments.guards import estimate
from indexlab.experiments.single_run import fit_and_summarise, make_target
from indexlab.learners import make_learner
from indexlab.learners.registry import check_engine

# fixed lr and T1 for both engines: the defaults differ (docs/conditional.md, section 7)
HYPER = dict(width=8, t1=3, lr=30.0)


def _laws(engine, d, link, loss, replicas, seed, d_run=None, name="layerwise", hyper=None):
    """Subspace distance after stage 1 and test error, ``(R,)`` each, at ``n = 16 d ln d``."""
    target = make_target(link, d_run or d, replicas=replicas, seed=seed)
    hyper = {**(HYPER if hyper is None else hyper), "loss": loss}
    learner = make_learner(name, **hyper, engine=engine, seed=seed)
    learner.fit(target, n=int(16 * d * math.log(d)))
    distance = torch.as_tensor(learner.trace_["subspace_distance"][-1])
    return distance, learner.test_error(target, 2000)


def _check(d, link, loss, replicas, name="layerwise", hyper=None, wrong_d=None):
    full = _laws("full", d, link, loss, replicas, seed=1, name=name, hyper=hyper)
    cond = _laws("conditional", d, link, loss, replicas, seed=2, name=name, hyper=hyper)
    wrong = _laws("conditional", d, link, loss, replicas, seed=3, d_run=wrong_d or d // 2,
                  name=name, hyper=hyper)
    p = [ks_2samp(full[i], cond[i]).pvalue for i in range(2)]
    for value, what in zip(p, ("subspace distance", "test error"), strict=True):
        assert value > 0.01, what
    # the control: the same test on a conditional run at d' = d/2 (or wrong_d) fails
    # (measured p = 3e-45 for z1·z2 and Huber with 80 replicas, 2e-9 for he2+he4 and the
    # square loss with 150)
    control = ks_2samp(full[0], wrong[0]).pvalue
    assert control < 1e-3
    return p, control


def test_ks_full_against_conditional_z1z2_huber_d64():
    """80 replicas per engine, fixed seeds (measured: p = 0.70 for the distance, 0.44 for the
    test error; with 200 replicas 0.39 and 0.55, and at d = 128 0.71 and 0.99)."""
    _check(64, "z1*z2", "huber", 80)


@pytest.mark.slow
def test_ks_full_against_conditional_he2he4_square_d64():
    """150 replicas (measured: p = 0.11 for the distance, 0.82 for the test error)."""
    _check(64, "he2+he4", "square", 150)


def test_summary_keys_and_note_match_the_full_engine():
    target = make_target("z1*z2", 40, replicas=2, seed=0)
    full = fit_and_summarise(target, make_learner("layerwise", width=8), n=3000, n_test=500)
    target = make_target("z1*z2", 40, replicas=2, seed=0)
    learner = make_learner("layerwise", width=8, engine="conditional")
    cond = fit_and_summarise(target, learner, n=3000, n_test=500)
    assert set(full) == set(cond)
    for key in ("subspace_distance_mean", "principal_cosines_mean", "test_mse_mean"):
        assert cond[key] is not None and full[key] is not None
    assert full["note"] is None and "no d-dimensional directions_" in cond["note"]
    assert learner.directions_ is None and learner.subspace_.shape == (2, 2, 40)
    assert not learner.predicts and not learner.learns_directions
    for method in (learner.predict, learner.transform):
        with pytest.raises(ValueError, match="needs the d-dimensional network"):
            method(torch.zeros(2, 5, 40))
    assert learner.hyper_["engine"] == "conditional"


def test_default_lr_close_to_the_full_engines():
    """The conditional default ``lr = m/‖Σ̂‖`` uses the deterministic equivalent of the
    spectrum; at d = 128, n = 16 d ln d it is within 3% of the full engine's exact one."""
    d = 128
    lrs = []
    for engine in ("full", "conditional"):
        target = make_target("z1*z2", d, replicas=4, seed=5)
        learner = make_learner("layerwise", width=4, t1=1, engine=engine)
        learner.fit(target, n=int(16 * d * math.log(d)))
        lrs.append(learner.hyper_["lr"])
    assert abs(lrs[1] / lrs[0] - 1) < 0.03, lrs


def test_unknown_engine_is_refused_naming_what_is_supported():
    learner = make_learner("layerwise", engine="chain")
    with pytest.raises(ValueError, match="'full', 'conditional'"):
        learner.fit(make_target("z1*z2", 16, replicas=1), n=400)


def test_batch_reuse_refuses_the_conditional_engine_naming_who_offers_it():
    """Batch-reuse SGD has no conditional form (docs/conditional.md, section 5): the
    refusal comes from make_learner, before any work, and names the learners that have it."""
    with pytest.raises(ValueError, match="BatchReuseSGD: it has engine 'full'; "
                                         "engine='conditional' is offered by layerwise, "
                                         "power_iteration, one_step"):
        make_learner("batch_reuse_sgd", engine="conditional")


def test_ks_power_iteration_full_against_conditional_d32():
    """PowerIteration (pure power iteration, lr=None: ‖Σ̂‖ only scales W, so the laws are
    exactly equal at a fixed T1), z1·z2, d = 32, 200 replicas per engine; control at 2d.
    Measured p = 0.92 (distance), 0.63 (test error); control 1e-106. (With the first 100
    replicas of the same seeds the distance gave p = 0.0013, with seeds 4 and 5 for the
    conditional run 0.47 and 0.82: hence 200.)"""
    _check(32, "z1*z2", "huber", 200, name="power_iteration", hyper=dict(width=8, t1=3),
           wrong_d=64)


def test_ks_one_step_full_against_conditional_d32():
    """OneStepGD with its defaults (ReLU, square loss, DLS labels, biases N(0, 1), T1 = 1:
    η1β1 = 1 erases the init and the rows are normalised, so the default η1 does not enter
    the law), the staircase z1 + z1 z2 + z1 z2 z3 (a linear part for the DLS step to
    remove), d = 32, 150 replicas; control at 2d. Measured p = 0.53 (distance), 0.98 (test
    error); control 2e-45."""
    _check(32, "staircase", "square", 150, name="one_step", hyper=dict(width=8), wrong_d=64)


def test_conditional_fits_targets_only():
    learner = make_learner("layerwise", engine="conditional")
    with pytest.raises(ValueError, match="fits a target"):
        learner.fit(torch.randn(100, 8), torch.randn(100))


def test_the_guard_has_no_n_d_term_for_the_conditional_engine():
    big = dict(d=32_768, n=int(16 * 32_768 * math.log(32_768)), replicas=8, r=2, n_test=10_000)
    hyper = {"width": 32, "t1": 4}
    full = estimate("layerwise", hyper, **big)
    cond = estimate("layerwise", {**hyper, "engine": "conditional"}, **big)
    assert "dataset R·n·d (both stages)" in full.parts and full.bytes > 1e12
    assert "test set R·n_test·d" not in cond.parts
    small = estimate("layerwise", {**hyper, "engine": "conditional"}, **{**big, "d": 1024})
    assert small.flops == cond.flops  # t1 given: neither the work nor the memory depends on d
    assert ({k: v for k, v in small.parts.items() if "directions" not in k}
            == {k: v for k, v in cond.parts.items() if "directions" not in k})
    # no n·d term, but R·n₁·m(2T1 + 1/2) is not small: about 53 GB here, where the full
    # engine's dataset is 5.7 TB (docs/conditional.md, section 9)
    assert cond.bytes < full.bytes / 50
    assert check_engine("layerwise", {"engine": "conditional"}) == {"engine": "conditional"}


@pytest.mark.slow
@pytest.mark.parametrize("name, hyper, loss, link, replicas, measured", [
    ("power_iteration", dict(width=16, t1=3), "huber", "he2+he4", 100,
     "p = 0.47, 0.82; control 6e-50"),
    ("one_step", dict(width=16), "square", "z1*z2", 120, "p = 0.80, 0.95; control 5e-48"),
])
def test_ks_power_iteration_and_one_step_d64(name, hyper, loss, link, replicas, measured):
    """d = 64, width 16, control at 2d (measured p of the distance and of the test error,
    and the control's, in ``measured``; about 10 s each on one loaded core)."""
    _check(64, link, loss, replicas, name=name, hyper=hyper, wrong_d=128)
