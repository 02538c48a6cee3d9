"""The exact overlap chain (``engine="chain"``): errors, shapes, keys, determinism, cost.

The statistical exactness checks (one-step law, first-passage distributions against the full
engine) are in ``test_chain_slow.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from indexlab.cli import app
from indexlab.experiments.runner import expand, run_key, sweep
from indexlab.experiments.spec import SpecError, parse_spec
from indexlab.experiments.store import Store
from indexlab.learners import OnlineSGD, SmoothedSGD, SparseUnified, Unified
from indexlab.learners.base import Trace
from indexlab.learners.chain import ChainData, initial_state, run_chain
from indexlab.learners.registry import make_learner
from indexlab.learners.schedule import Schedule
from indexlab.nn import get_activation, get_loss
from indexlab.targets import MultiIndex, SingleIndex

runner = CliRunner()


@pytest.mark.parametrize("make, match", [
    (lambda: make_learner("batch_reuse_sgd", engine="chain"), r"BatchReuseSGD.*engine 'full'"),
    (lambda: SparseUnified(engine="chain"), r"SparseUnified.*engine 'full'"),
    (lambda: OnlineSGD(engine="gpu"), r"engine='gpu'.*OnlineSGD.*'full' or 'chain'"),
    (lambda: OnlineSGD(engine="chain", loss="huber"), r"loss='huber'.*chain"),
    (lambda: Unified(engine="chain", activation="relu"), r"activation='relu'.*he1\.\.he8"),
])
def test_unsupported_configurations_fail_before_any_work(make, match):
    """The error names the learner (or the value) and what is allowed; the target's stream is
    never touched (fit raises in the hyperparameter check)."""
    target = SingleIndex("he3", 16, replicas=2, seed=0)
    state = [g.get_state() for g in target._train]
    with pytest.raises(ValueError, match=match):
        make().fit(target, n=100)
    assert all(torch.equal(a, g.get_state()) for a, g in zip(state, target._train, strict=True))


def test_chain_needs_a_single_index_target_with_room_for_the_neurons():
    with pytest.raises(ValueError, match="fit a target"):
        OnlineSGD(engine="chain").fit(torch.randn(50, 8), torch.randn(50))
    with pytest.raises(ValueError, match="single-index target"):
        OnlineSGD(engine="chain", exponent=2).fit(MultiIndex("z1*z2", 8, replicas=1), n=100)
    with pytest.raises(ValueError, match=r"d >= width \+ 2"):
        OnlineSGD(engine="chain", width=7).fit(SingleIndex("he3", 8, replicas=1), n=100)


def test_spec_with_an_unsupported_chain_fails_at_load():
    spec = {"name": "t", "seed": 0, "replicas": 2, "n_test": 0, "budget": {"n": [64]},
            "targets": [{"link": "he3", "d": [8]}],
            "learners": [{"name": "batch_reuse_sgd", "hyper": {"engine": "chain"}}]}
    with pytest.raises(SpecError, match=r"learners\[0\].*BatchReuseSGD.*engine 'full'"):
        parse_spec(spec)


def test_chain_fit_has_the_full_engines_trace_and_attributes():
    """Same trace keys and checkpoints as the full engine (one data chunk), overlaps in
    [0, 1], ``overlap(θ)`` = the last traced overlap, no weights."""
    target = SingleIndex("he3", 32, replicas=3, seed=1)
    n = 4096
    chain = OnlineSGD(width=2, engine="chain", ridge_samples=0).fit(target, n=n)
    full = OnlineSGD(width=2, ridge_samples=0).fit(SingleIndex("he3", 32, replicas=3, seed=1),
                                                   n=n)
    assert sorted(chain.trace_.keys()) == sorted(full.trace_.keys())
    assert chain.trace_.samples == full.trace_.samples
    ov = chain.trace_["overlap"]
    assert ov.shape == (len(full.trace_.samples), 3)
    assert np.all((ov >= 0) & (ov <= 1))
    assert np.all(chain.trace_["overlap_mean"] <= ov + 1e-12)
    assert chain.diverged_.shape == (3,) and not chain.diverged_.any()
    assert chain.samples_ == n and chain.directions_ is None
    theta = target.directions[:, 0]
    assert torch.allclose(chain.overlap(theta), torch.from_numpy(ov[-1]))
    assert chain.hyper_["engine"] == "chain"
    for call in (chain.transform, chain.predict):
        with pytest.raises(ValueError, match="engine='chain'"):
            call(torch.randn(3, 5, 32))


def test_chain_is_deterministic_and_replica_j_depends_only_on_j():
    """Two chunks (n > one chunk of about 2¹⁶/(k+1) samples), so chunk seeding is covered."""
    n = 40_000

    def run(replicas):
        target = SingleIndex("genexp3", 24, replicas=replicas, seed=4)
        return Unified(width=2, engine="chain", batch=8).fit(target, n=n).trace_["overlap"]

    a, b = run(3), run(3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[:, 1], run([1])[:, 0])


@pytest.mark.parametrize("make", [
    lambda: SmoothedSGD(width=2, engine="chain", batch=5, exponent=4),
    lambda: OnlineSGD(width=1, engine="chain", batch=1),
])
def test_chain_does_not_depend_on_the_number_of_threads(make):
    """Replica ranges run on ``numba.get_num_threads()`` threads, each with its own
    generators: 1, 2 and 3 threads give the same bits (odd replica counts, two chunks)."""
    import numba

    before = numba.get_num_threads()
    results = []
    try:
        for threads in (1, 2, min(3, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            learner = make().fit(SingleIndex("he4", 20, replicas=5, seed=2), n=30_001)
            results.append((learner.chain_state_.numpy(), learner.trace_["overlap"],
                            learner.trace_.samples, learner.chain_draws_))
    finally:
        numba.set_num_threads(before)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0][0], other[0])
        np.testing.assert_array_equal(results[0][1], other[1])
        assert results[0][2:] == other[2:]


def test_vectorised_steps_equal_the_schedules_step_at():
    schedule = Schedule(lr=3e-3, search=1000, decay=0.37, batch=32, descent_lr=1e-3)
    t = np.array([0, 1, 999, 1000, 1001, 54_321, 10**9])
    np.testing.assert_array_equal(schedule.steps_at(t), [schedule.step_at(int(v)) for v in t])
    flat = Schedule(lr=2e-3, search=10, decay=0.0, batch=1)
    np.testing.assert_array_equal(flat.steps_at(t), [flat.step_at(int(v)) for v in t])


@pytest.mark.parametrize("learner", [
    OnlineSGD(width=2, engine="chain", batch=8),
    SmoothedSGD(width=1, engine="chain", batch=8, exponent=4),
])
def test_chain_cost_does_not_grow_with_d(learner):
    """Counting, not timing: the random numbers drawn (the chain's work, ∝ its flops) are
    the same at d = 64 and d = 2²⁰ (smoothed: b(b+1)/2 Bartlett draws per step)."""
    draws = []
    for d in (64, 2**20):
        learner.fit(SingleIndex("he4", d, replicas=2, seed=0), n=2048)
        draws.append(learner.chain_draws_)
    assert draws[0] == draws[1] > 0


def test_a_non_finite_replica_is_flagged_and_the_others_go_on():
    R, d, n = 3, 16, 512
    L = initial_state(range(R), 1, d, seed=0)
    L[1, 1, :] = np.nan
    trace = Trace()
    link = SingleIndex("he3", d).link
    L_out, diverged, seen, _ = run_chain(
        ChainData(link, 0, tuple(range(R))), L, d, n, lambda y: y,
        Schedule(lr=0.01, search=n, decay=0.5, batch=4), get_activation("he3"),
        get_loss("correlation"), 0.0, trace)
    assert diverged.tolist() == [False, True, False] and seen == n
    ov = trace["overlap"]
    assert np.isnan(ov[:, 1]).all() and np.isfinite(ov[:, [0, 2]]).all()
    assert np.isfinite(L_out[[0, 2]]).all()


def test_sweep_runs_chain_learners_and_engine_is_in_the_run_key(tmp_path):
    spec = parse_spec({
        "name": "t", "seed": 0, "replicas": 2, "n_test": 100, "success": "overlap >= 0.9",
        "budget": {"c": [16], "p": 1}, "targets": [{"link": "he3", "d": [8, 16]}],
        "learners": [{"name": "online_sgd", "hyper": {"width": 2, "engine": "chain"}}]})
    configs = expand(spec)
    full = [{**c, "learner": {**c["learner"], "hyper": {"width": 2}}} for c in configs]
    assert {run_key(c) for c in configs}.isdisjoint(run_key(c) for c in full)
    with Store(tmp_path / "c.db") as store:
        summary = sweep(spec, store, progress=False)
        assert (summary["done"] + summary.get("diverged", 0), summary["failed"]) == (2, 0)
        for run in store.runs():
            overlap = store.replicas(run["key"])["overlap"]
            assert overlap.shape == (2,) and np.isfinite(overlap).all()
            assert len(store.trace(run["key"])["samples"]) > 1


def test_cli_fit_with_the_chain_gives_the_same_keys():
    args = ["fit", "--link", "he3", "--d", "16", "--n", "2000", "--learner", "online_sgd",
            "--replicas", "2", "--width", "2", "--json"]
    full = runner.invoke(app, args)
    chain = runner.invoke(app, [*args, "--set", "engine=chain"])
    assert full.exit_code == 0 and chain.exit_code == 0, chain.output
    a, b = json.loads(full.output), json.loads(chain.output)
    assert a.keys() == b.keys()
    assert "chain" in b["note"] and b["test_mse_mean"] is None
    assert 0 <= b["overlap_mean"] <= 1
    bad = runner.invoke(app, [*args, "--learner", "batch_reuse_sgd", "--set", "engine=chain"])
    assert bad.exit_code == 2 and "BatchReuseSGD" in bad.output


def test_identity_transform_follows_the_sign_of_the_links_coefficient():
    """``T(y) = sign(c_s) y``: genexp4 has ``c₄ ≈ −0.336``, so ``y`` itself would push every
    neuron of an even activation to the equator. With the sign, smoothed SGD at the spec step
    (λ = d^{1/4}, η = 0.1 d^{−1/2}) passes overlap 0.5 by n = 16 d² in most replicas (median
    first passage ≈ 6 d² at d = 64, 16 replicas); with ``y`` itself none did by 512 d²."""
    from indexlab.learners.online_setup import online_setup
    from indexlab.links import get_link

    learner = SmoothedSGD(exponent=4)
    flip = online_setup(learner, get_link("genexp4"), 64).transform
    keep = online_setup(learner, get_link("he4"), 64).transform
    assert flip(torch.tensor([1.0])).item() == -1.0 and keep(torch.tensor([1.0])).item() == 1.0
    d = 64
    fitted = SmoothedSGD(engine="chain", width=1, ridge_samples=0, search_fraction=1.0,
                         lr=0.1 * d**-0.5).fit(SingleIndex("genexp4", d, replicas=16, seed=0),
                                               n=16 * d * d)
    passed = (fitted.trace_["overlap"] >= 0.5).any(axis=0)
    assert passed.sum() >= 12
