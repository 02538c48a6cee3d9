"""Issue 16: progress, provenance, export/load, comparisons, array back-ends of the theory."""

import csv
import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from indexlab import __version__
from indexlab.cli import app
from indexlab.experiments.progress_bars import (
    SweepBar,
    expected_figures,
    learner_width,
    run_cost,
    run_samples,
    samples_bar,
)
from indexlab.experiments.store import Store
from indexlab.links import REGISTRY, Link
from indexlab.progress import report, reporting

runner = CliRunner()
TINY = Path(__file__).resolve().parents[1] / "examples" / "tiny.toml"
FIT = ["fit", "--link", "he3", "--d", "16", "--n", "3000", "--replicas", "2", "--width", "4",
       "--json"]


def _json(args: list[str]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_fit_json_carries_provenance_and_the_ridge_samples_apart():
    report_ = _json([*FIT, "--learner", "online_sgd", "--seed", "5"])
    assert report_["version"] == __version__ and report_["seed"] == 5
    assert report_["device"] == "cpu" and report_["dtype"] == "float32"
    assert report_["torch_version"] == str(torch.__version__)
    hyper = report_["hyperparameters"]
    assert hyper["width"] == 4 and hyper["seed"] == 5  # given and run defaults
    assert isinstance(hyper["lr"], float)  # resolved from d (the field's default is None)
    assert report_["samples_ridge"] == hyper["ridge_samples"] == 10_000
    assert report_["samples"] == 3000 + 10_000


def test_several_learners_run_on_the_same_data():
    """The comparison runs each learner as a single fit with the same seed would: the same
    directions, the same data stream, hence identical numbers (common random numbers)."""
    both = _json([*FIT, "--learner", "online_sgd,smoothed_sgd"])
    assert [r["learner"] for r in both] == ["OnlineSGD", "SmoothedSGD"]
    alone = _json([*FIT, "--learner", "smoothed_sgd"])
    assert both[1]["overlap_mean"] == alone["overlap_mean"]
    assert both[1]["test_mse_mean"] == alone["test_mse_mean"]
    table = runner.invoke(app, [*FIT[:-1], "--learner", "online_sgd,sir"])
    assert table.exit_code == 0 and "OnlineSGD" in table.output and "SIR" in table.output
    bad = runner.invoke(app, [*FIT, "--learner", "online_sgd,sir", "--set", "n_slises=3"])
    assert bad.exit_code == 2 and "did you mean 'n_slices'" in " ".join(bad.output.split())


def test_comparison_plot_overlays_the_learners(tmp_path):
    out = tmp_path / "cmp.png"
    result = runner.invoke(app, [*FIT[:-1], "--learner", "online_sgd,smoothed_sgd",
                                 "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_samples_bar_draws_on_a_terminal_only():
    from indexlab import SingleIndex
    from indexlab.learners import OnlineSGD

    tty = io.StringIO()
    console = Console(file=tty, force_terminal=True, width=140)
    with samples_bar(4000, "online_sgd", console=console):
        OnlineSGD(width=4, ridge_samples=0).fit(SingleIndex("he3", 16, replicas=2), n=4000)
    text = tty.getvalue()
    assert "4k / 4k samples" in text and "samples/s" in text and "ETA" in text
    piped = io.StringIO()
    with samples_bar(4000, "x", console=Console(file=piped)):
        report(4000)
    assert piped.getvalue() == ""
    with samples_bar(10, "x", enabled=False, console=Console(file=tty, force_terminal=True)):
        pass


def test_progress_hook_is_silent_without_a_callback_and_nests():
    seen = []
    report(5)  # no callback installed: nothing happens
    with reporting(lambda amount, kind: seen.append((amount, kind))):
        report(3)
        with reporting(None):
            report(7)
        report(1, "figures")
    assert seen == [(3, "samples"), (1, "figures")]


def test_sweep_bar_counts_samples_and_run_cost_the_declared_work():
    """The bar counts samples n·R (reported samples per replica times R): the last run of a
    grid in n dominates the ETA, not the count. The declared cost (6·n·d·R·width for an
    online pass without a second stage) stays a helper; the overlap chain's cost does not
    grow with d."""
    base = {"target": {"d": 8}, "replicas": 4,
            "learner": {"name": "online_sgd", "hyper": {"width": 4, "ridge_samples": 0}}}
    small, big = {**base, "n": 100}, {**base, "n": 10_000, "target": {"d": 64}}
    assert run_cost(small) == 6 * 100 * 8 * 4 * 4 and run_cost(big) == 6 * 10_000 * 64 * 4 * 4
    chain = {**base, "learner": {"name": "unified", "hyper": {"width": 1, "engine": "chain"}},
             "n": 10_000}
    assert run_cost({**chain, "target": {"d": 10**5}}) == run_cost({**chain, "target": {"d": 8}})
    assert learner_width("random_features", {"m": 128}) == 128
    assert learner_width("online_sgd", {}) > 1  # the dataclass default width
    assert learner_width("sir", {}) == 1  # no neurons
    assert run_samples(small) == 400 and run_samples(big) == 40_000
    bar = SweepBar([small, big], enabled=False)
    with bar:
        assert bar.progress.tasks[0].total == 40_400
        with bar.running(small, "small"):
            report(50)  # half the small run: 50 samples of each of 4 replicas
            assert bar.progress.tasks[0].completed == 200
            report(500)  # a run never books more than its n·R
        assert bar.progress.tasks[0].completed == 400
        bar.finished(small)
        assert bar.progress.tasks[0].completed == 400
        bar.replan(-1, -30_000)  # a search made fewer runs than planned
        assert bar.progress.tasks[0].total == 10_400 and bar.runs_total == 1
        bar.finished(big)  # ... or more: the total grows, never below what is done
        assert bar.progress.tasks[0].total == bar.progress.tasks[0].completed == 40_400
        assert bar.progress.tasks[0].fields["runs"] == "2/2"


def test_stored_runs_carry_versions_and_resolved_hyperparameters(tiny_db):
    with Store(tiny_db, create=False) as store:
        runs = store.runs()
        assert expected_figures(store) == 3 * 2 + 1  # what the report draws for tiny.toml
    assert all(r["provenance"]["torch_version"] == str(torch.__version__) for r in runs)
    assert all(r["version"] == __version__ and r["device"] == "cpu" for r in runs)
    online = [r for r in runs if r["learner"] == "online_sgd"]
    assert all(r["hyper"]["width"] == 4 and "lr" in r["hyper"] for r in online)


def test_export_has_hyperparameters_and_optionally_traces(tiny_db, tmp_path):
    out = tmp_path / "rows.csv"
    assert runner.invoke(app, ["export", str(tiny_db), str(out), "--traces"]).exit_code == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 * 4
    assert {r["hyper.width"] for r in rows} == {"4"} and rows[0]["torch_version"]
    traced = [r for r in rows if r["learner"] == "smoothed_sgd"]
    samples = json.loads(traced[0]["trace_samples"])
    overlaps = json.loads(traced[0]["trace_overlap"])
    assert len(samples) == len(overlaps) > 2 and samples == sorted(samples)
    plain = tmp_path / "plain.csv"
    assert runner.invoke(app, ["export", str(tiny_db), str(plain)]).exit_code == 0
    assert "trace_samples" not in plain.read_text().splitlines()[0]


def test_load_returns_a_dataframe(tiny_db):
    pytest.importorskip("pandas")
    from indexlab.experiments import load

    frame = load(tiny_db)
    assert len(frame) == 8 * 4 and "hyper.width" in frame.columns
    assert frame.groupby("learner")["overlap"].median().between(0, 1).all()
    traced = load(tiny_db, traces=True)
    assert isinstance(traced["trace_samples"].dropna().iloc[0], list)


def test_old_stores_gain_the_provenance_column(tmp_path):
    db = tmp_path / "old.db"
    Store(db).close()
    with sqlite3.connect(db) as conn:  # make it a schema-2 store
        conn.execute("ALTER TABLE runs DROP COLUMN provenance")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    conn.close()
    with Store(db, create=False) as store:
        columns = {row[1] for row in store.conn.execute("PRAGMA table_info(runs)")}
        schema = store.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    assert "provenance" in columns and schema == ("3",)


def test_links_evaluate_the_same_on_numpy_and_torch():
    """The theory evaluates links on NumPy (no torch import); sampling on torch tensors."""
    rng = np.random.default_rng(0)
    for name, link in REGISTRY.items():
        z = rng.standard_normal((500, link.r)) * 2
        on_numpy = np.asarray(link.mean(z))
        on_torch = link.mean(torch.as_tensor(z)).numpy()
        assert np.allclose(on_numpy, on_torch, rtol=1e-12, atol=1e-12), name
    custom = Link("torch only", lambda z: torch.special.erfcx(z[:, 0].abs()) * z[:, 0] ** 3)
    assert custom.mean_numpy(np.array([0.5, -1.0])).shape == (2,)  # evaluated through torch


def test_exponents_plot_draws_the_theory_card(tmp_path):
    out = tmp_path / "card.png"
    result = runner.invoke(app, ["exponents", "genexp3", "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "theory card saved" in result.output
    bad = runner.invoke(app, ["exponents", "genexp3", "--plot", str(tmp_path / "no" / "c.png")])
    assert bad.exit_code == 2 and "could not write the plot" in bad.output


@pytest.mark.parametrize("flags, shown", [([], True), (["--no-progress"], False),
                                          (["--json"], False)])
def test_reproduce_asks_its_sweeps_for_bars_by_default(flags, shown, tmp_path, monkeypatch):
    """`reproduce` hands progress=True to its sweeps unless --no-progress or --json (the
    bars then draw only on a terminal: bars_enabled)."""
    from indexlab.experiments import runner as runner_module
    from indexlab.experiments.claims import get_claims

    asked = []

    def recording(*args, progress=None, **kwargs):
        asked.append(progress)
        raise KeyboardInterrupt  # stop before any run

    monkeypatch.setattr(runner_module, "sweep", recording)
    name = next(c.name for c in get_claims([]) if not c.missing("tiny"))
    result = runner.invoke(app, ["reproduce", "--tiny", "--only", name, "--db",
                                 str(tmp_path / "r.db"), "--out", str(tmp_path / "out"),
                                 *flags])
    assert result.exit_code == 130, result.output
    assert asked == [shown]


def test_measure_after_ctrl_c_says_what_is_stored_and_how_to_resume(tmp_path, monkeypatch):
    """`measure` shares the store contract of `sweep` and `reproduce`: Ctrl-C names the
    store's finished runs and the command that resumes, exit code 130."""
    from indexlab.experiments import measure as measure_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(measure_module, "measure", interrupted)
    result = runner.invoke(app, ["measure", "he3", "--mode", "tiny", "--db",
                                 str(tmp_path / "m.db"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 130, result.output
    assert "interrupted: 0 runs are stored" in result.output
    assert "resume with: indexlab" in result.output
