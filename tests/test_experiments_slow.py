"""The experiment engine across processes: a real Dask LocalCluster, and a sweep killed with
SIGKILL then resumed (each takes 10-20 s here, hence ``slow``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from _children import COUNTED_SWEEP
from indexlab.cli import app
from indexlab.experiments.runner import expand, run_key
from indexlab.experiments.spec import load_spec
from indexlab.experiments.store import Store

TINY = Path(__file__).resolve().parents[1] / "examples" / "tiny.toml"
SRC = Path(__file__).resolve().parents[1] / "src"
runner = CliRunner()


def _stored(db: Path) -> dict[str, tuple]:
    """Everything stored per run that a computation produces (no timings, no timestamps)."""
    out = {}
    with Store(db, create=False) as store:
        for run in store.runs():
            reps = store.replicas(run["key"])
            trace = store.trace(run["key"])
            out[run["key"]] = (
                run["status"], run["samples"], run["config"], run["hyper"],
                {k: v.tobytes() for k, v in reps.items()},
                {k: v.tobytes() for k, v in trace.items()},
            )
    return out


@pytest.mark.slow
def test_dask_local_cluster_stores_the_same_results_as_the_local_executor(tmp_path):
    local, dask = tmp_path / "local.db", tmp_path / "dask.db"
    result = runner.invoke(app, ["sweep", str(TINY), "--db", str(local), "--no-progress"])
    assert result.exit_code == 0, result.output
    # a real LocalCluster: 2 worker processes (nannies) on 127.0.0.1
    result = runner.invoke(app, ["sweep", str(TINY), "--db", str(dask), "--executor", "dask",
                                 "--workers", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    a, b = _stored(local), _stored(dask)
    assert set(a) == set(b) == {run_key(c) for c in expand(load_spec(TINY))}
    for key in a:
        assert a[key] == b[key], key  # bit for bit: metrics, traces, resolved hyperparameters
    assert all(v[0] == "done" for v in b.values())


CHILD = COUNTED_SWEEP


KILL_SPEC = """
name = "kill"
seed = 5
replicas = 2
n_test = 0
[budget]
c = [1, 2, 4, 8, 16, 32]
p = 1
[[targets]]
link = "he3"
d = [8, 16]
[[learners]]
name = "online_sgd"
hyper = { width = 4, ridge_samples = 0, batch = 8 }
"""


def _finished(db: Path) -> dict[str, tuple]:
    if not db.exists():
        return {}
    try:
        with Store(db, create=False) as store:
            return {r["key"]: (r["finished"], r["attempts"],
                               store.replicas(r["key"])["overlap"].tobytes())
                    for r in store.runs() if r["status"] == "done"}
    except ValueError:  # the child has not created the tables yet
        return {}


@pytest.mark.slow
def test_sweep_killed_with_sigkill_resumes_without_recomputing_or_losing_runs(tmp_path):
    spec, db, calls = tmp_path / "kill.toml", tmp_path / "kill.db", tmp_path / "calls.txt"
    spec.write_text(KILL_SPEC, encoding="utf-8")
    child = tmp_path / "child.py"
    child.write_text(CHILD, encoding="utf-8")
    expected = {run_key(c) for c in expand(load_spec(spec))}
    assert len(expected) == 12
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [sys.executable, str(child), str(spec), str(db), str(calls)]

    proc = subprocess.Popen([*args, "0.3"], env=env)
    deadline = time.monotonic() + 120
    while len(_finished(db)) < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = _finished(db)
    assert 4 <= len(before) < 12, "the kill must land mid-way"

    done = subprocess.run([*args, "0"], env=env, timeout=300)
    assert done.returncode == 0

    with Store(db, create=False) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = store.conn.execute("SELECT key, COUNT(*) FROM runs GROUP BY key").fetchall()
        assert {k for k, _ in rows} == expected and all(c == 1 for _, c in rows)
        assert store.status_counts() == {"done": 12}
        replica_rows = store.conn.execute("SELECT COUNT(*) FROM replicas").fetchone()[0]
        assert replica_rows == 12 * 2
    after = _finished(db)
    counts: dict[str, int] = {}
    for line in calls.read_text().split():
        counts[line] = counts.get(line, 0) + 1
    assert set(counts) == expected
    for key, (finished, _, overlap) in before.items():
        assert counts[key] == 1  # finished before the kill: never computed again
        assert after[key] == (finished, 1, overlap)  # nor rewritten
    rerun = [k for k, c in counts.items() if c > 1]
    assert len(rerun) <= 1 and all(counts[k] == 2 for k in rerun)  # only the one in flight
    assert sum(counts.values()) == 12 + len(rerun)
    assert np.all([after[k][1] == counts[k] for k in expected])  # attempts column agrees


TWO_SWEEPS_CHILD = textwrap.dedent("""
    import json
    import os
    import sys
    import time

    from indexlab.experiments import runner
    from indexlab.experiments.spec import load_spec
    from indexlab.experiments.store import Store

    original = runner.execute_run


    def logged(config, threads=None):
        key = runner.run_key(config)
        with open(sys.argv[3], "a") as fh:  # one line per start and per end of a computation
            fh.write(f"start {key} {os.getpid()}\\n")
        time.sleep(float(sys.argv[4]))
        result = original(config, threads)
        with open(sys.argv[3], "a") as fh:
            fh.write(f"end {key} {os.getpid()}\\n")
        return result


    runner.execute_run = logged
    if __name__ == "__main__":
        go = sys.argv[5] if len(sys.argv) > 5 else None
        if go:  # imports done: say so, then wait for the start signal
            open(f"{go}.ready.{os.getpid()}", "w").close()
            while not os.path.exists(go):
                time.sleep(0.01)
        with Store(sys.argv[2]) as store:
            summary = runner.sweep(load_spec(sys.argv[1]), store, progress=False)
        print(json.dumps(summary))
""")


def _done_count(db: Path) -> int:
    return len(_finished(db))


@pytest.mark.slow
def test_two_sweeps_on_one_store_share_the_work_and_survive_sigkill(tmp_path):
    """Sweeps A and B run the same 12-run spec on one store at once (0.3 s per run); A is
    killed with SIGKILL mid-way, B finishes everything (taking over A's in-flight run, whose
    process is gone), and a rerun of A finds nothing to do. Every run is finished exactly
    once (``end`` lines of the log), only A's in-flight run was started twice, and status and
    report read exactly as those of a clean single sweep. About 15 s on 2 cores."""
    from indexlab.experiments.cli import status_summary
    from indexlab.experiments.report import write_report
    from indexlab.experiments.runner import sweep

    spec, db, log = tmp_path / "kill.toml", tmp_path / "shared.db", tmp_path / "log.txt"
    spec.write_text(KILL_SPEC, encoding="utf-8")
    child = tmp_path / "child.py"
    child.write_text(TWO_SWEEPS_CHILD, encoding="utf-8")
    expected = {run_key(c) for c in expand(load_spec(spec))}
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    args = [sys.executable, str(child), str(spec), str(db), str(log)]

    go = tmp_path / "go"
    a, b = (subprocess.Popen([*args, "0.3", str(go)], env=env, stdout=subprocess.PIPE,
                             text=True) for _ in range(2))
    deadline = time.monotonic() + 120
    ready = [tmp_path / f"go.ready.{p.pid}" for p in (a, b)]
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.02)
    go.touch()  # both start at once: without atomic claims they would compute the same runs
    while time.monotonic() < deadline and a.poll() is None:  # both finished runs: kill A
        lines = log.read_text().splitlines() if log.exists() else []
        if _done_count(db) >= 5 and all(any(line.startswith("end") and line.endswith(f" {p.pid}")
                            for line in lines) for p in (a, b)):
            break
        time.sleep(0.02)
    os.kill(a.pid, signal.SIGKILL)
    a.wait()
    assert a.returncode == -signal.SIGKILL
    assert _done_count(db) < 12, "the kill must land mid-way"
    out_b, _ = b.communicate(timeout=240)
    assert b.returncode == 0
    summary_b = json.loads(out_b.strip().splitlines()[-1])
    assert summary_b["done"] + summary_b["skipped"] + summary_b["elsewhere"] == 12
    rerun = subprocess.run([*args, "0"], env=env, stdout=subprocess.PIPE, text=True,
                           timeout=240)
    assert rerun.returncode == 0
    summary_a = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert (summary_a["skipped"], summary_a["ran"]) == (12, 0)

    events = [line.split() for line in log.read_text().splitlines()]
    ends: dict[str, list[str]] = {}
    starts: dict[str, list[str]] = {}
    for kind, key, pid in events:
        (ends if kind == "end" else starts).setdefault(key, []).append(pid)
    assert set(ends) == expected and all(len(v) == 1 for v in ends.values())  # once each
    assert {pid for v in ends.values() for pid in v} == {str(a.pid), str(b.pid)}  # shared
    twice = {k: v for k, v in starts.items() if len(v) > 1}
    assert len(twice) <= 1  # only A's run in flight at the kill is started again, by B
    for pids in twice.values():
        assert pids == [str(a.pid), str(b.pid)]

    clean = tmp_path / "clean.db"
    with Store(clean) as store:
        sweep(load_spec(spec), store, progress=False)
    with Store(db, create=False) as store:
        assert store.status_counts() == {"done": 12}
        assert store.live_claims() == {}
        attempts = {r["key"]: r["attempts"] for r in store.runs()}
        assert attempts == {k: len(starts[k]) for k in expected}
        shared_status = status_summary(store)
        write_report(store, tmp_path / "shared", n_boot=50)
    with Store(clean, create=False) as store:
        assert status_summary(store) == shared_status
        write_report(store, tmp_path / "clean", n_boot=50)
    texts = [(tmp_path / name / "summary.md").read_text(encoding="utf-8").replace(str(path), "")
             for name, path in (("shared", db), ("clean", clean))]
    assert texts[0] == texts[1]
    assert _stored(db) == _stored(clean)
