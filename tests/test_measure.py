"""`indexlab measure`: the wiring on two registry links in tiny mode (a pilot, a main sweep,
the claims' judge, the report and the JSON lines), every bad input refused before any run,
a pilot that finds no threshold, and resumption after an interruption. Tiny mode checks the
wiring, not the science (its verdicts mean nothing)."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from indexlab.cli import app
from indexlab.experiments import measure as measure_mod
from indexlab.experiments import runner as runner_mod
from indexlab.experiments.judge import VERDICTS
from indexlab.experiments.measure import measure, validate
from indexlab.experiments.measure_report import write_report
from indexlab.experiments.store import Store

cli = CliRunner()
KEYS = {"learner", "exponent", "lo", "hi", "d_min", "d_max", "theory", "verdict", "reason"}


@pytest.mark.parametrize(("link", "theory"), [
    ("he3", {"unified": 1.0, "online_sgd": 2.0}),
    ("he4", {"unified": 1.0, "online_sgd": 3.0}),  # Unified: d^{s*/2} ∨ d, s* = 2, · log d
])
def test_measure_runs_a_pilot_and_a_judged_sweep_per_learner(tmp_path, link, theory):
    results = measure(link, tmp_path / "m.db", ["unified", "online_sgd"], mode="tiny",
                      n_boot=200)
    assert [r.learner for r in results] == ["unified", "online_sgd"]
    with Store(tmp_path / "m.db") as store:
        names = {s["name"] for s in store.sweeps()}
    for r in results:
        assert r.theory == theory[r.learner]
        assert r.verdict in VERDICTS
        assert r.pilot["d"] == 8 and r.pilot["steps"] >= 1
        # the budget constant is BUDGET_FACTOR × the pilot's n*/b(d₀)
        base = 8 ** r.theory * (math.log(8) if r.log_factor else 1.0)
        assert r.c == pytest.approx(measure_mod.BUDGET_FACTOR * r.pilot["n_star"] / base,
                                    rel=1e-5)
        assert r.sweep in names and f"{r.sweep}-pilot0" in names
        assert set(r.as_dict()) >= KEYS
        if r.d_min is not None:
            assert 8 <= r.d_min < r.d_max <= 32
            assert math.isfinite(r.check.estimate)
    # He₄: Unified's exponent-2 step without smoothing fits n*/log d, as the claims do
    assert results[0].log_factor is (link == "he4")
    paths = write_report(results, link, tmp_path / "report")
    assert paths["figure"].stat().st_size > 0
    lines = paths["jsonl"].read_text().splitlines()
    assert [json.loads(x)["learner"] for x in lines] == ["unified", "online_sgd"]


def test_cli_prints_one_json_object_per_learner_and_writes_the_report(tmp_path):
    args = ["measure", "he3", "--learner", "unified,smoothed_sgd", "--mode", "tiny",
            "--db", str(tmp_path / "m.db"), "--out", str(tmp_path / "out"), "--json"]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [r["learner"] for r in rows] == ["unified", "smoothed_sgd"]
    assert all(set(r) >= KEYS for r in rows)
    assert (tmp_path / "out" / "summary.md").read_text().count("| unified |") == 1
    assert (tmp_path / "out" / "nstar.png").exists()


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"learners": ["layerwise"]}, "records no overlap trace"),
    ({"learners": ["sparse_unified"]}, "needs a sparse target"),
    ({"learners": ["unifed"]}, "unified"),  # did you mean
    ({"criterion": "overlap >= 1.5"}, "can never be met"),
    ({"criterion": "overlap >= 0"}, "met by every start"),
    ({"criterion": "test_mse <= 0.1"}, "overlap trace"),
    ({"criterion": "__import__('os').system('true')"}, "is not allowed"),
    ({"mode": "fast"}, "tiny, quick, full"),
    ({"seed": -1}, "seed=-1"),
    ({"noise": math.inf}, "noise=inf"),
    ({"sparsity": 0}, "sparsity=0"),
])
def test_bad_input_is_refused_before_any_run(tmp_path, kwargs, says):
    db = tmp_path / "m.db"
    with pytest.raises(ValueError) as err:
        measure("he3", db, kwargs.pop("learners", None), **kwargs)
    assert says in str(err.value)
    assert not db.exists()  # nothing was created, nothing ran


def test_a_link_the_theory_cannot_classify_is_refused(tmp_path):
    # a constant label carries no information: no finite exponent up to degree 8
    with pytest.raises(ValueError, match="theory cannot"):
        validate("1 + 0*z")


def test_cli_refuses_bad_input_with_exit_2_and_no_store(tmp_path):
    db = tmp_path / "m.db"
    for extra in (["--learner", "layerwise"], ["--criterion", "overlap >= 2"]):
        result = cli.invoke(app, ["measure", "he3", "--db", str(db), "--out",
                                  str(tmp_path / "o"), *extra])
        assert result.exit_code == 2, result.output
        assert "error" in result.output
    assert not db.exists()


def test_a_pilot_without_threshold_is_inconclusive_before_the_main_budget(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(measure_mod, "PILOT_C0", 1e-6)  # n = 2 samples at d₀ = 8
    monkeypatch.setattr(measure_mod, "PILOT_STEPS", 1)
    (r,) = measure("he3", tmp_path / "m.db", ["online_sgd"], mode="tiny", n_boot=100)
    assert r.verdict == "inconclusive"
    assert "pilot found no threshold" in r.check.reason
    assert r.pilot["n"] == 2 and r.d_min is None and r.c is None
    with Store(tmp_path / "m.db") as store:
        names = [s["name"] for s in store.sweeps()]
    assert len(names) == 1 and names[0].endswith("-online_sgd-pilot0")  # no main sweep
    paths = write_report([r], "he3", tmp_path / "report")
    assert "pilot found no threshold" in paths["markdown"].read_text()
    assert "figure" not in paths  # nothing to draw
    assert json.loads(paths["jsonl"].read_text())["exponent"] is None


def test_an_interrupted_measure_resumes_without_recomputing(tmp_path, monkeypatch):
    db = tmp_path / "m.db"
    computed: list[str] = []
    execute = runner_mod.execute_run

    def counting(config, *args, **kwargs):
        computed.append(config.learner)
        return execute(config, *args, **kwargs)

    monkeypatch.setattr(runner_mod, "execute_run", counting)

    def stop(result):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        measure("he3", db, ["unified", "online_sgd"], mode="tiny", n_boot=100, on_learner=stop)
    first = list(computed)
    assert first and set(first) == {"unified"}
    computed.clear()
    results = measure("he3", db, ["unified", "online_sgd"], mode="tiny", n_boot=100)
    assert "unified" not in computed and set(computed) == {"online_sgd"}
    computed.clear()
    again = measure("he3", db, ["unified", "online_sgd"], mode="tiny", n_boot=100)
    assert computed == []  # everything stored: the same command only judges again
    assert [r.as_dict()["exponent"] for r in again] == [r.as_dict()["exponent"]
                                                        for r in results]


def _passage(store, link: str, lr: str, n: int = 100_000, d: int = 64):
    """The median first passage to overlap 0.5 of vanilla SGD (chain, 24 replicas) on
    ``link`` at ``d`` with the step formula ``lr``."""
    spec = {"name": f"scale-{abs(hash((link, lr))) % 10**8}", "seed": 0, "replicas": 24,
            "n_test": 0, "success": "overlap >= 0.5", "targets": [{"link": link, "d": [d]}],
            "learners": [{"name": "online_sgd", "trace": True, "budget": {"n": [n]},
                          "hyper": {"width": 1, "search_fraction": 1.0, "engine": "chain"},
                          "formulas": {"lr": lr}}]}
    analysis, _ = measure_mod._run_sweep(spec, store, False, 400)
    return analysis.thresholds[0], analysis.curves[0]


def _held(curve) -> float:
    """The share of (checkpoint, replica) pairs at overlap ≥ 0.5 over the second half of the
    traced budget: near 0 for a step that never recovers, whatever its first passages."""
    later = curve.ns >= curve.ns.max() / 2
    return float((curve.values[later] >= 0.5).mean())


def _log_diff_ci(a, b):
    """95% percentile interval of log n*(a) − log n*(b) (independent bootstraps)."""
    import numpy as np

    diff = a.boot - b.boot
    return np.quantile(diff[np.isfinite(diff)], [0.025, 0.975])


def test_the_normalised_step_makes_n_star_invariant_to_the_label_scale(tmp_path):
    from indexlab.experiments.claims.exponents import spec_lr_formula

    with Store(tmp_path / "s.db") as store:
        one, ten = "He(3,z)", "10*He(3,z)"
        base, base_curve = _passage(store, one, spec_lr_formula("online_sgd", one,
                                                                normalised=True))
        scaled, _ = _passage(store, ten, spec_lr_formula("online_sgd", ten, normalised=True))
        lo, hi = _log_diff_ci(scaled, base)
        assert lo <= 0 <= hi, (scaled.n_star, base.n_star)
        # the control (the test can fail): the unnormalised spec step on the 10× link is a
        # 10× larger step (10√6 × the normalised one), which at d = 64 does not recover: its
        # overlap stays at the noise level (measured: median 0.15 at the end, 0 of the
        # second half's checkpoints at ≥ 0.5, vs 0.73 normalised). Its exact first passages
        # are finite (at one-step resolution the noise touches 0.5 at d = 64), so the control
        # compares the overlap held, not n*.
        _, raw_curve = _passage(store, ten, spec_lr_formula("online_sgd", ten))
        assert _held(raw_curve) < 0.1 < 0.5 < _held(base_curve)


def test_kill_9_loses_no_finished_run_and_the_same_command_resumes(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    db = tmp_path / "m.db"
    code = ("from indexlab.experiments.measure import measure; "
            f"measure('he3', {str(db)!r}, mode='tiny', n_boot=100)")
    env = {**os.environ, "PYTHONPATH": str(Path(measure_mod.__file__).parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    finished: dict[str, float] = {}
    deadline = time.monotonic() + 120
    while not finished and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        if db.exists():
            try:
                with Store(db) as store:
                    finished = {r["key"]: r["finished"] for r in store.runs()
                                if r["status"] == "done"}
            except Exception:  # the schema may be half-written at the first look
                finished = {}
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert finished, "no run finished before the kill"
    results = measure("he3", db, mode="tiny", n_boot=100)  # the same command
    assert len(results) == 3
    with Store(db) as store:
        after = {r["key"]: r["finished"] for r in store.runs() if r["status"] == "done"}
    # every run finished before the kill is kept as it was, not recomputed
    assert all(after[k] == t for k, t in finished.items())
