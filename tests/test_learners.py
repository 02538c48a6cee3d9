"""Single-index learners: contract, replicas, datasets, divergence, CLI (fast checks)."""

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from indexlab.cli import app
from indexlab.learners import (
    BatchReuseSGD,
    OnlineSGD,
    SmoothedSGD,
    SparseUnified,
    Unified,
)
from indexlab.learners.base import log_checkpoints
from indexlab.targets import SingleIndex


def test_replicas_are_independent_and_one_slice_equals_a_single_run():
    """Replica j of an R = 8 run equals an R = 1 run on replicas=[j] (same θ*, data, init)."""
    kw = dict(width=4, ridge_samples=500, batch=16)
    many = SingleIndex("he3", 24, replicas=8, seed=3, dtype=torch.float64)
    full = Unified(**kw).fit(many, n=2000)
    assert not torch.allclose(many.directions[0], many.directions[1])
    assert not torch.allclose(full.directions_[0], full.directions_[1])
    one = SingleIndex("he3", 24, replicas=[5], seed=3, dtype=torch.float64)
    single = Unified(**kw).fit(one, n=2000)
    assert torch.allclose(single.directions_[0], full.directions_[5], atol=1e-10)
    X, _ = one.sample_test(100)
    assert torch.allclose(single.predict(X)[0], full.predict(many.sample_test(100)[0])[5],
                          atol=1e-8)


def test_fit_on_a_user_dataset_without_replica_axis():
    t = SingleIndex("he1", 16, seed=0)
    X, y = t.sample(3000)
    learner = Unified(exponent=1, label_transform="identity", width=4).fit(X, y)
    assert learner.directions_.shape == (1, 4, 16)
    assert learner.predict(X[:10]).shape == (10,)
    assert learner.transform(X[:10]).shape == (10, 4)
    assert float(learner.overlap(t.directions_view[0])[0]) > 0.9  # he1: n = 190 d, linear


def test_agnostic_transform_needs_no_link():
    t = SingleIndex("he3", 16, replicas=2, seed=1)
    X, y = t.sample(4000)
    learner = Unified(exponent=1, label_transform="agnostic", width=4).fit(X, y)
    assert learner.directions_.shape == (2, 4, 16)
    assert torch.isfinite(learner.directions_).all()


def test_trace_records_log_spaced_overlaps():
    t = SingleIndex("he2", 16, replicas=3, seed=0)
    learner = Unified(width=2, ridge_samples=0).fit(t, n=5000)
    trace = learner.trace_
    assert trace.samples == sorted(trace.samples) and trace.samples[-1] == 5000
    assert trace["overlap"].shape == (len(trace.samples), 3)
    assert set(trace.keys()) >= {"loss", "overlap", "overlap_mean"}
    assert log_checkpoints(10**5)[0] == 16 and log_checkpoints(10) == [10]


def test_forced_divergence_marks_replicas_without_exception():
    t = SingleIndex("he3", 16, replicas=3, seed=0)
    learner = OnlineSGD(width=2, lr=1e308, ridge_samples=300).fit(t, n=1000)
    assert learner.diverged_.all()
    assert torch.isnan(learner.predict(t.sample_test(5)[0])).all()


def test_divergence_of_one_replica_leaves_the_others_running():
    t = SingleIndex("he1", 16, replicas=2, seed=0)
    X, y = t.sample(2000)
    y[0, 100] = float("inf")
    learner = Unified(exponent=1, label_transform="identity", width=2).fit(X, y)
    assert learner.diverged_.tolist() == [True, False]
    assert float(learner.overlap(t.directions[:, 0])[1]) > 0.9


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Unified(width=0), "width=0"),
        (lambda: Unified(batch=-1), "batch=-1"),
        (lambda: Unified(search_fraction=2), "search_fraction=2"),
        (lambda: Unified(label_transform="nope"), "label_transform='nope'"),
        (lambda: Unified(activation="swish"), "activation='swish'"),
        (lambda: Unified(exponent=11), "exponent=11"),
        (lambda: SmoothedSGD(activation="relu"), "smoothing needs a Hermite"),
        (lambda: SparseUnified(sparsity=0), "sparsity=0"),
    ],
)
def test_bad_hyperparameters_are_named(make, match):
    t = SingleIndex("genexp3", 16, seed=0)
    with pytest.raises(ValueError, match=match):
        make().fit(t, n=200)


def test_dataset_fit_needs_what_the_target_would_have_told():
    X, y = SingleIndex("he3", 8).sample(100)
    with pytest.raises(ValueError, match="exponent"):
        Unified().fit(X, y)
    with pytest.raises(ValueError, match="link="):
        Unified(exponent=1).fit(X, y)
    with pytest.raises(ValueError, match="budget"):
        Unified().fit(SingleIndex("he3", 8))


def test_batch_reuse_runs_epochs_on_a_dataset():
    t = SingleIndex("he2", 16, replicas=2, seed=0)
    X, y = t.sample(1000)
    learner = BatchReuseSGD(width=2, epochs=3, ridge_samples=0).fit(X, y, reference=t.directions)
    assert learner.samples_ == 3000 and learner.trace_["overlap"].shape[1] == 2


def test_cli_fit_json_is_reproducible():
    runner = CliRunner()
    args = ["fit", "--link", "he2", "--d", "16", "--n", "1500", "--learner", "unified",
            "--replicas", "2", "--seed", "4", "--width", "4", "--json"]
    first = json.loads(runner.invoke(app, args).output)
    second = json.loads(runner.invoke(app, args).output)
    for key in ("overlap_mean", "overlap_sd", "test_mse_mean", "samples", "seconds", "diverged"):
        assert key in first
    assert first["overlap_mean"] == second["overlap_mean"]
    assert first["test_mse_mean"] == second["test_mse_mean"]
    other_args = [("5" if a == "4" and args[i - 1] == "--seed" else a) for i, a in enumerate(args)]
    other = json.loads(runner.invoke(app, other_args).output)
    assert other["overlap_mean"] != first["overlap_mean"]


def test_cli_fit_plot_and_errors(tmp_path):
    runner = CliRunner()
    path = tmp_path / "overlap.png"
    ok = runner.invoke(app, ["fit", "--link", "z*exp(-z**2)", "--d", "16", "--n", "800",
                             "--learner", "online_sgd", "--replicas", "2", "--plot", str(path)])
    assert ok.exit_code == 0, ok.output
    assert path.stat().st_size > 1000
    bad = runner.invoke(app, ["fit", "--link", "he3", "--d", "16", "--n", "800",
                              "--learner", "nope"])
    assert bad.exit_code == 2 and "learner='nope'" in bad.output
    bad_d = runner.invoke(app, ["fit", "--link", "he3", "--d", "0", "--n", "800"])
    assert bad_d.exit_code == 2 and "d=0" in bad_d.output


@pytest.mark.cuda
def test_unified_runs_on_cuda():
    t = SingleIndex("he3", 32, replicas=2, device="cuda")
    learner = Unified(width=4, ridge_samples=500).fit(t, n=2000)
    assert learner.directions_.is_cuda and learner.predict(t.sample_test(10)[0]).is_cuda
    assert math.isfinite(float(learner.overlap(t.directions[:, 0]).mean()))


def test_cli_plot_failure_keeps_the_printed_results(tmp_path):
    result = CliRunner().invoke(app, [
        "fit", "--link", "he2", "--d", "8", "--n", "300", "--replicas", "1", "--width", "2",
        "--json", "--plot", str(tmp_path / "missing_dir" / "x.png")])
    assert result.exit_code == 2
    assert '"overlap_mean"' in result.output and "could not write the plot" in result.output
