"""The sweep commands of ``indexlab``: ``sweep``, ``status``, ``report`` and ``export``.

:func:`register` adds them to the main Typer app (``indexlab.cli``). Bad input (a spec that
does not validate, a missing or foreign store, an unreachable scheduler) prints one error line
and exits with code 2; heavy modules (torch, matplotlib, dask) are imported by the commands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from indexlab.experiments.terminal import console
from indexlab.experiments.terminal import fail as _fail


def sweep(
    spec: Annotated[Path, typer.Argument(help="sweep specification (TOML, see examples/)")],
    db: Annotated[Path, typer.Option("--db", help="results store (SQLite file; created if "
                                     "missing, resumed if present)")],
    executor: Annotated[str, typer.Option(help="local (in-process) or dask")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. "
                                                  "tcp://host:8786")] = None,
    workers: Annotated[int | None, typer.Option(help="start a local Dask cluster of N "
                                                "worker processes")] = None,
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
) -> None:
    """Run every run of SPEC not yet finished in the store DB (a crashed sweep resumes)."""
    from indexlab.experiments.runner import EXECUTORS
    from indexlab.experiments.runner import sweep as run_sweep
    from indexlab.experiments.spec import load_spec
    from indexlab.experiments.store import Store

    if executor not in EXECUTORS:
        _fail(f"--executor={executor!r} is not allowed: use one of {', '.join(EXECUTORS)}")
    if executor == "local" and (scheduler or workers):
        _fail("--scheduler and --workers need --executor dask")
    if scheduler and workers:
        _fail("give either --scheduler ADDRESS or --workers N, not both")
    if workers is not None and workers < 1:
        _fail(f"--workers={workers} is not allowed: use an integer >= 1")
    try:
        parsed = load_spec(spec)
        store = Store(db)
    except ValueError as exc:
        _fail(str(exc))
        return
    try:
        summary = run_sweep(parsed, store, executor, scheduler, workers, progress=progress)
    except ValueError as exc:
        _fail(str(exc))
        return
    finally:
        store.close()
    console.print(
        f"sweep {parsed.name!r}: {summary['total']} runs, {summary['skipped']} already stored, "
        f"{summary['ran']} run now ({summary['done']} done, {summary['diverged']} diverged, "
        f"{summary['failed']} failed) in {summary['seconds']:.1f} s -> {db}")


def _with_store(db: Path, action: Callable):
    """``action(store)`` on the existing store ``db``; bad input becomes a clean exit 2."""
    from indexlab.experiments.store import Store

    try:
        store = Store(db, create=False)
    except ValueError as exc:
        _fail(str(exc))
    try:
        return action(store)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    finally:
        store.close()


def status_summary(store) -> list[dict]:
    """Per sweep: counts by status for each (target, learner, d), and the failed runs."""
    out = []
    for sweep in store.sweeps():
        runs = {r["key"]: r for r in store.runs(sweep["labels"])}
        groups: dict[tuple, dict[str, int]] = {}
        failed = []
        for key, (target, learner) in sweep["labels"].items():
            run = runs.get(key)
            state = run["status"] if run else "not started"
            d = run["d"] if run else None
            counts = groups.setdefault((target, learner, d), {})
            counts[state] = counts.get(state, 0) + 1
            if run and state == "failed":
                last = (run["error"] or "").strip().splitlines()[-1:] or [""]
                failed.append({"key": key, "run": f"{learner} on {target}, d={run['d']}, "
                               f"n={run['n']}", "error": last[0]})
        out.append({"sweep": sweep["name"], "success": sweep["success"],
                    "groups": [{"target": t, "learner": lr, "d": d, **c}
                               for (t, lr, d), c in sorted(groups.items(),
                                                          key=lambda g: (g[0][0], g[0][1],
                                                                         g[0][2] or 0))],
                    "failed": failed})
    return out


def status(
    db: Annotated[Path, typer.Argument(help="results store written by `indexlab sweep`")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Runs of each sweep in DB by status (done, diverged, failed, running, not started)."""
    from rich.markup import escape
    from rich.table import Table

    summary = _with_store(db, status_summary)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    states = ("done", "diverged", "failed", "running", "not started")
    for sweep in summary:
        table = Table(title=escape(f"sweep {sweep['sweep']} (success: {sweep['success']})"))
        for col in ("target", "learner", "d", *states):
            table.add_column(col, justify="right" if col not in ("target", "learner") else None)
        for g in sweep["groups"]:
            table.add_row(escape(g["target"]), escape(g["learner"]), str(g["d"] or "—"),
                          *(str(g.get(s, 0)) for s in states))
        console.print(table)
        for f in sweep["failed"]:
            console.print(f"[red]failed[/] {escape(f['run'])}: {escape(f['error'])}")
    if not summary:
        console.print("no sweep in this store yet")


def report(
    db: Annotated[Path, typer.Argument(help="results store written by `indexlab sweep`")],
    out: Annotated[Path, typer.Option("--out", help="output folder (created if missing)")],
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples for the intervals")] = 1000,
    progress: Annotated[bool, typer.Option(help="show a progress bar (figures, rate, ETA) on "
                                           "a terminal")] = True,
) -> None:
    """Figures (PNG + PDF), summary.md and index.html for every sweep in DB."""
    from indexlab.experiments.progress_bars import expected_figures, steps_bar
    from indexlab.experiments.report import write_report

    if bootstrap < 10:
        _fail(f"--bootstrap={bootstrap} is not allowed: use an integer >= 10")

    def run(store):
        with steps_bar(expected_figures(store), "report", "figures", progress, console):
            return write_report(store, out, n_boot=bootstrap)

    paths = _with_store(db, run)
    console.print(f"report written: {paths['html']} and {paths['markdown']}")


def export(
    db: Annotated[Path, typer.Argument(help="results store written by `indexlab sweep`")],
    out: Annotated[Path, typer.Argument(help="output file: .csv, or .parquet (needs pandas "
                                        "and pyarrow)")],
    traces: Annotated[bool, typer.Option("--traces", help="add each replica's recorded "
                                         "trace (samples and metric lists)")] = False,
) -> None:
    """Write one row per run and replica (configuration, versions, status, metrics and
    resolved hyperparameters) to OUT."""
    from indexlab.experiments.store import export_csv, export_parquet

    if out.suffix not in (".csv", ".parquet"):
        _fail(f"output {str(out)!r} is not allowed: use a .csv or .parquet file name")
    write = export_csv if out.suffix == ".csv" else export_parquet
    rows = _with_store(db, lambda store: write(store, out, traces))
    console.print(f"{rows} rows written to {out}")


def register(app: typer.Typer) -> None:
    """Add ``sweep``, ``status``, ``report`` and ``export`` to ``app``."""
    app.command()(sweep)
    app.command()(status)
    app.command()(report)
    app.command()(export)
