"""The ``indexlab measure`` command (:mod:`indexlab.experiments.measure`): bad input prints
one error line and exits with code 2 before any run."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from indexlab.experiments.terminal import console, emit_json, run_on_store
from indexlab.experiments.terminal import fail as _fail


def measure(
    link: Annotated[str, typer.Argument(help="registry name (he3) or expression in z "
                                         "(indexlab links)")],
    learner: Annotated[str | None, typer.Option(
        "--learner", help="comma-separated learners (default: unified, smoothed_sgd, "
                          "online_sgd)")] = None,
    sparsity: Annotated[int | None, typer.Option(help="sparse target: k active "
                                                 "coordinates")] = None,
    noise: Annotated[float, typer.Option(help="label noise σ")] = 0.0,
    criterion: Annotated[str, typer.Option(help="success of a replica: 'overlap >= V' or "
                                           "'overlap_neuron >= V'")] = "overlap >= 0.5",
    mode: Annotated[str, typer.Option(help="tiny (wiring, seconds), quick (2 cores, "
                                      "minutes) or full")] = "quick",
    seed: Annotated[int, typer.Option(help="data seed of every run")] = 0,
    db: Annotated[Path | None, typer.Option("--db", help="results store (created if "
                                            "missing, resumed if present)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="report folder (summary.md, "
                                             "results.jsonl, nstar.png)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object per learner "
                                          "(one per line)")] = False,
    progress: Annotated[bool, typer.Option(help="show the progress bars")] = False,
) -> None:
    """Measure the sample-complexity exponent of n*(d) on LINK for each learner, with a
    budget calibrated by a pilot, judged against indexlab.theory as the exponent claims
    are; the same command resumes an interrupted measurement."""
    from indexlab.experiments.measure import measure as run_measure
    from indexlab.experiments.measure import validate
    from indexlab.experiments.measure_report import HEAD, rows, write_report
    from indexlab.experiments.store import Store

    if db is None or out is None:
        _fail("--db and --out are required")
    if out.exists() and not out.is_dir():
        _fail(f"--out {str(out)!r} is a file: give a folder for the report (it is created if "
              "missing)")
    names = [n.strip() for n in (learner or "").split(",") if n.strip()] or None
    try:
        validate(link, names, sparsity, noise, criterion, mode, seed)
        store = Store(db)
    except ValueError as exc:
        _fail(str(exc))
        return

    def say(result) -> None:
        if not as_json:
            console.print(f"{result.learner}: [bold]{result.verdict}[/] "
                          f"({result.seconds:.1f} s)", highlight=False)

    command = shlex.join(["indexlab", *sys.argv[1:]])

    def work():
        results = run_measure(link, store, names, sparsity=sparsity, noise=noise,
                              criterion=criterion, mode=mode, seed=seed,
                              progress=progress and not as_json, on_learner=say)
        return results, write_report(results, link, out, command)

    results, paths = run_on_store(store, work, command)
    if as_json:
        emit_json(results)
        return
    from rich.table import Table

    table = Table(*HEAD[:-1])
    for row in rows(results):
        table.add_row(*row[:-1])
    console.print(table)
    for r in results:
        if r.verdict != "pass":
            console.print(f"{r.learner}: {r.check.reason}", highlight=False, soft_wrap=True)
    console.print(f"report written: {paths['markdown']}")
