"""The sweep commands of ``indexlab``: ``sweep``, ``status``, ``report``, ``export`` and
``reproduce``.

:func:`register` adds them to the main Typer app (``indexlab.cli``). Bad input (a spec that
does not validate, a missing or foreign store, an unreachable scheduler) prints one error line
and exits with code 2; heavy modules (torch, matplotlib, dask) are imported by the commands.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from indexlab.experiments.terminal import console, emit_json, run_on_store
from indexlab.experiments.terminal import fail as _fail

MAX_BOOTSTRAP = 100_000  # bootstrap resamples per interval (`report --bootstrap`)


def max_workers() -> int:
    """The most local Dask worker processes ``--workers`` may start: 4 per available core."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 4 * max(1, cores or 1)


def sweep(
    spec: Annotated[Path, typer.Argument(help="sweep specification (TOML, see examples/)")],
    db: Annotated[Path | None, typer.Option("--db", help="results store (SQLite file; created "
                                            "if missing, resumed if present)")] = None,
    executor: Annotated[str, typer.Option(help="local (in-process) or dask")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address, e.g. "
                                                  "tcp://host:8786")] = None,
    workers: Annotated[int | None, typer.Option(help="start a local Dask cluster of N "
                                                "worker processes")] = None,
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate SPEC and print its runs, "
                                          "samples and estimated cost; run nothing")] = False,
    memory_limit: Annotated[str | None, typer.Option(
        help="refuse runs estimated to need more memory (e.g. 8G, 50%; default: "
             "$INDEXLAB_MEMORY_LIMIT, else 80% of the available memory)")] = None,
    time_limit: Annotated[str | None, typer.Option(
        help="refuse work estimated to take longer (e.g. 600, 30m, 2h; none: no limit; "
             "default: $INDEXLAB_TIME_LIMIT, else one day)")] = None,
) -> None:
    """Run every run of SPEC not yet finished in the store DB (a crashed sweep resumes;
    several sweeps may share one DB)."""
    from indexlab.experiments.runner import check_resources, expand
    from indexlab.experiments.runner import sweep as run_sweep
    from indexlab.experiments.spec import load_spec
    from indexlab.experiments.store import Store

    _check_executor(executor, scheduler, workers)
    try:
        parsed = load_spec(spec)
        if dry_run:
            _print_plan(parsed, memory_limit, time_limit)
            return
        if db is None:
            raise ValueError("--db is missing: give the results store file (or --dry-run)")
        check_resources(expand(parsed), memory_limit)
        store = Store(db)
    except ValueError as exc:
        _fail(str(exc))
        return
    summary = run_on_store(
        store, lambda: run_sweep(parsed, store, executor, scheduler, workers,
                                 progress=progress, memory_limit=memory_limit,
                                 time_limit=time_limit),
        f"indexlab sweep {spec} --db {db}", sweep_name=parsed.name)
    elsewhere = (f", {summary['elsewhere']} finished by another sweep"
                 if summary.get("elsewhere") else "")
    console.print(
        f"sweep {parsed.name!r}: {summary['total']} runs, {summary['skipped']} already stored, "
        f"{summary['ran']} run now ({summary['done']} done, {summary['diverged']} diverged, "
        f"{summary['failed']} failed){elsewhere} in {summary['seconds']:.1f} s -> {db}")
    for note in summary.get("notes", ()):
        console.print(f"note: {note}", markup=False, highlight=False)


def plan_rows(spec, memory_limit: str | None = None,
              time_limit: str | None = None) -> tuple[list[dict], dict]:
    """What ``--dry-run`` prints: per (target, learner, d) the runs, samples (``n·R`` summed
    over runs), peak memory and time estimates; and the totals with the memory limit. An
    adaptive search counts the most runs it can make (``adaptive`` true: an upper bound,
    :func:`indexlab.experiments.runner.search_plans`, the count the sweep's time guard and
    progress bar use)."""
    from indexlab.experiments.guards import memory_limit as limit_of
    from indexlab.experiments.guards import time_limit as time_limit_of
    from indexlab.experiments.runner import (
        expand_labelled,
        learner_labels,
        run_estimate,
        search_plans,
        target_label,
    )

    labels = learner_labels(spec)
    groups: dict[tuple, dict] = {}
    planned = [(run, target_label(t), labels[i], True)
               for (t, _, i), runs in search_plans(spec) for run in runs]
    for run, target, learner, adaptive in [(*row, False) for row in expand_labelled(spec)
                                           ] + planned:
        est = run_estimate(run)
        g = groups.setdefault((target, learner, run.d), {
            "target": target, "learner": learner, "d": run.d, "runs": 0,
            "samples": 0, "memory": 0.0, "seconds": 0.0})
        if adaptive:  # upper bounds: runs chosen while running
            g["adaptive"] = True
        g["runs"] += 1
        g["samples"] += run.budget * run.replicas
        g["memory"] = max(g["memory"], est.bytes)
        g["seconds"] += est.seconds
    rows = list(groups.values())
    limit, source = limit_of(memory_limit, spec.device)
    totals = {"runs": sum(g["runs"] for g in rows), "samples": sum(g["samples"] for g in rows),
              "memory": max((g["memory"] for g in rows), default=0.0),
              "seconds": sum(g["seconds"] for g in rows), "limit": limit, "limit_source": source}
    totals["time_limit"], totals["time_limit_source"] = time_limit_of(time_limit)
    return rows, totals


def _print_plan(spec, memory_limit: str | None, time_limit: str | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from indexlab.experiments.guards import human_bytes, human_seconds

    rows, totals = plan_rows(spec, memory_limit, time_limit)
    table = Table(title=escape(f"sweep {spec.name} (dry run: nothing is run)"))
    for col in ("target", "learner", "d", "runs", "samples n·R", "peak memory", "est. time"):
        table.add_column(col, justify="right" if col not in ("target", "learner") else None)
    for g in rows:
        most = "≤ " if g.get("adaptive") else ""
        table.add_row(escape(g["target"]), escape(g["learner"]), str(g["d"]),
                      most + str(g["runs"]), most + f"{g['samples']:,}",
                      human_bytes(g["memory"]), most + human_seconds(g["seconds"]))
    console.print(table)
    over = totals["memory"] > totals["limit"]
    most = "at most " if any(g.get("adaptive") for g in rows) else ""
    console.print(
        f"{most}{totals['runs']} runs, {totals['samples']:,} samples, estimated "
        f"{human_seconds(totals['seconds'])} of compute (an order of magnitude), largest run "
        f"{human_bytes(totals['memory'])} of memory; limit {human_bytes(totals['limit'])} "
        f"({escape(totals['limit_source'])})" + (" [bold red]— over the limit[/]" if over
                                                  else ""))
    slow = totals["seconds"] > totals["time_limit"]
    console.print(f"time limit {human_seconds(totals['time_limit'])} "
                  f"({escape(totals['time_limit_source'])})"
                  + (" [bold red]— over the limit: the sweep would be refused[/]" if slow
                     else ""))
    from indexlab.experiments.runner import adaptive_searches, learner_labels

    searches = adaptive_searches(spec)
    if searches:
        labels = learner_labels(spec)
        names = sorted({f"{labels[i]} on {t.link} at d={d}" for t, d, i in searches})
        console.print(f"{len(searches)} adaptive budget search(es) choose their runs while "
                      "the sweep runs (3 or more each, between the search bounds); counted "
                      "above at their most (≤: every refinement at the upper bound): "
                      f"{escape('; '.join(names))}")


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
    except sqlite3.DatabaseError as exc:
        _fail(f"results store {str(db)!r} is damaged or unreadable ({exc}); `sqlite3 "
              f"{db} .recover` may salvage the rows that are intact")
    finally:
        store.close()


STATES = ("done", "diverged", "failed", "running", "interrupted", "queued")


def _planned_dimensions(sweep: dict) -> dict[str, int]:
    """``{key: d}`` of the runs a stored sweep expands to (its stored spec, expanded again),
    for runs not started yet (no row of their own); empty when the spec no longer expands
    (e.g. from another version)."""
    from indexlab.experiments.runner import expand_labelled
    from indexlab.experiments.spec import SpecError, parse_spec

    try:
        return {run.key: run.d for run, _, _ in expand_labelled(parse_spec(sweep["spec"]))}
    except (SpecError, ValueError, KeyError, TypeError):
        return {}


def status_summary(store) -> list[dict]:
    """Per sweep: counts by state for each (target, learner, d), and the failed runs. States:
    ``done``, ``diverged``, ``failed``, ``running`` (a live process computes it now),
    ``interrupted`` (started by a process that is gone) and ``queued`` (not started)."""
    out = []
    for sweep in store.sweeps():
        runs = {r["key"]: r for r in store.runs(sweep["labels"])}
        states = store.run_states(sweep["labels"])
        planned = _planned_dimensions(sweep) if set(sweep["labels"]) - set(runs) else {}
        groups: dict[tuple, dict[str, int]] = {}
        failed = []
        for key, (target, learner) in sweep["labels"].items():
            run = runs.get(key)
            state = states[key]
            d = run["d"] if run else planned.get(key)
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
    """Runs of each sweep in DB by state (done, diverged, failed, running, interrupted,
    queued)."""
    from rich.markup import escape
    from rich.table import Table

    summary = _with_store(db, status_summary)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    states = STATES
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
    as_json: Annotated[bool, typer.Option("--json", help="print results.json (thresholds, "
                                          "exponents, CIs, verdicts: one JSON document) "
                                          "instead of the summary")] = False,
) -> None:
    """Figures (PNG + PDF), summary.md, index.html and results.json for every sweep in DB;
    prints each fitted exponent with its 95% CI and verdict against theory."""
    from indexlab.experiments.progress_bars import expected_figures, steps_bar
    from indexlab.experiments.report import write_report

    if not 10 <= bootstrap <= MAX_BOOTSTRAP:
        _fail(f"--bootstrap={bootstrap} is not allowed: use an integer in 10..{MAX_BOOTSTRAP} "
              "(the bootstrap's work grows linearly with it)")

    def run(store):
        with steps_bar(expected_figures(store), "report", "figures", progress, console):
            return write_report(store, out, n_boot=bootstrap)

    def run_quiet(store):  # --json: stdout holds the document only
        return write_report(store, out, n_boot=bootstrap)

    paths = _with_store(db, run_quiet if as_json else run)
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    if as_json:
        typer.echo(json.dumps(document, indent=1, ensure_ascii=False))
        return
    _print_exponents(document)
    console.print(f"report written: {paths['html']}, {paths['markdown']} and {paths['json']}")


def _print_exponents(document: dict) -> None:
    """One line per fitted exponent: ``sweep: target learner: p̂ = … [lo, hi] over d = …,
    theory …  → verdict``."""
    from rich.markup import escape

    from indexlab.experiments.judge import interval

    def num(x):
        return float("nan") if x is None else x

    for sweep in document["sweeps"]:
        for row in sweep["exponents"]:
            where = escape(f"{sweep['name']}: {row['target']} {row['learner']}")
            if row["p"] is None:
                console.print(f"{where}: no exponent (fewer than two finite thresholds)")
                continue
            theory = "" if row["theory"] is None else (
                f", theory {row['theory']:g} (in {row['theory_base']})")
            verdict = f" → {row['verdict']}" if row["verdict"] else ""
            ci = interval(num(row["lo"]), num(row["hi"]))
            console.print(f"{where}: p̂ = {row['p']:.3g} {ci} over d = {row['d'][0]}–"
                          f"{row['d'][-1]}{theory}{verdict}")


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


def _check_executor(executor: str, scheduler: str | None, workers: int | None) -> None:
    from indexlab.experiments.runner import EXECUTORS

    if executor not in EXECUTORS:
        _fail(f"--executor={executor!r} is not allowed: use one of {', '.join(EXECUTORS)}")
    if executor == "local" and (scheduler or workers):
        _fail("--scheduler and --workers need --executor dask")
    if scheduler and workers:
        _fail("give either --scheduler ADDRESS or --workers N, not both")
    if workers is not None and not 1 <= workers <= max_workers():
        _fail(f"--workers={workers} is not allowed: use an integer in 1..{max_workers()} "
              "(4 worker processes per available core)")


def reproduce(
    quick: Annotated[bool, typer.Option("--quick", help="quick mode (the default): the "
                                        "registry sized for 2 CPU cores")] = False,
    full: Annotated[bool, typer.Option("--full", help="full mode: the sizes a paper would "
                                       "print (Dask or GPU welcome)")] = False,
    tiny: Annotated[bool, typer.Option("--tiny", help="tiny mode: seconds per claim; checks "
                                       "the wiring, its verdicts mean nothing")] = False,
    only: Annotated[list[str] | None, typer.Option("--only", help="run only this claim "
                                                   "(repeat, or comma-separate)")] = None,
    db: Annotated[Path | None, typer.Option("--db", help="results store (created if missing, "
                                            "resumed if present)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="report folder (summary.md, "
                                             "index.html, figures)")] = None,
    executor: Annotated[str, typer.Option(help="local (in-process) or dask")] = "local",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address")] = None,
    workers: Annotated[int | None, typer.Option(help="start a local Dask cluster of N "
                                                "worker processes")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object per claim "
                                          "(one per line)")] = False,
    list_claims: Annotated[bool, typer.Option("--list", help="print the registry and exit")
                           ] = False,
    progress: Annotated[bool, typer.Option(help="show the progress bars (on a terminal "
                                           "only)")] = True,
    time_limit: Annotated[str | None, typer.Option(
        help="refuse work estimated to take longer (e.g. 600, 30m, 2h; none: no limit; "
             "default: $INDEXLAB_TIME_LIMIT, else one day)")] = None,
    seed: Annotated[int | None, typer.Option(
        help="replicate every claim on other data: this spec seed for every run (default: "
             "the registered seed 0, sweeps named as before)")] = None,
) -> None:
    """Run every claim of the papers not yet stored in DB, judge it, and write a claims report
    (claim, source, measured figure with 95% CI, theory, verdict, figure) into OUT."""
    from indexlab.experiments.claims import get_claims
    from indexlab.experiments.reproduce import claim_listing, write_claims_report
    from indexlab.experiments.reproduce import reproduce as run_all
    from indexlab.experiments.store import Store

    modes = [m for m, flag in (("quick", quick), ("full", full), ("tiny", tiny)) if flag]
    if len(modes) > 1:
        _fail(f"give one of --quick, --full, --tiny, not {' and '.join('--' + m for m in modes)}")
    mode = modes[0] if modes else "quick"
    names = [n.strip() for item in (only or []) for n in item.split(",") if n.strip()]
    try:
        claims = get_claims(names)
    except ValueError as exc:
        _fail(str(exc))
        return
    if list_claims:
        if as_json:
            for item in claim_listing(claims):
                typer.echo(json.dumps(item))
            return
        _print_registry(claims, mode)
        return
    if db is None or out is None:
        _fail("--db and --out are required (or --list to print the registry)")
    if out.exists() and not out.is_dir():
        _fail(f"--out {str(out)!r} is a file: give a folder for the report (it is created if "
              "missing)")
    _check_executor(executor, scheduler, workers)
    if seed is not None and seed < 0:
        _fail(f"--seed={seed} is not allowed: use an integer >= 0")
    try:
        store = Store(db)
    except ValueError as exc:
        _fail(str(exc))
        return

    def say(result) -> None:
        if not as_json:
            console.print(f"{result.claim.name}: [bold]{result.verdict}[/] "
                          f"({result.runs.get('ran', 0)} runs now, "
                          f"{result.runs.get('skipped', 0)} stored, {result.seconds:.1f} s)",
                          highlight=False)

    def work():
        results = run_all([c.name for c in claims], mode, store, executor, scheduler, workers,
                          progress=progress and not as_json, on_claim=say,
                          time_limit=time_limit, seed=seed)
        return results, write_claims_report(results, store, out, mode)

    picked = "".join(f" --only {c.name}" for c in claims) if only else ""
    results, paths = run_on_store(
        store, work, f"indexlab reproduce --{mode}{picked} --db {db} --out {out}")
    if as_json:
        emit_json(results)
        return
    console.print(f"report written: {paths['html']} and {paths['markdown']}")


def _print_registry(claims, mode: str) -> None:
    from rich.markup import escape

    for c in claims:
        needs = ", ".join(c.requires(mode)) or "nothing beyond this version"
        console.print(f"[bold]{escape(c.name)}[/]: {escape(c.title)}", highlight=False)
        for key, value in (("source", c.source), ("measures", c.measures),
                           ("theory", c.theory), ("pass rule", c.rule),
                           (f"needs ({mode})", needs)):
            console.print(f"    {key}: {escape(value)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``sweep``, ``status``, ``report``, ``export``, ``reproduce`` and ``measure``
    (:mod:`indexlab.experiments.measure_cli`) to ``app``."""
    app.command()(sweep)
    app.command()(status)
    app.command()(report)
    app.command()(export)
    app.command()(reproduce)
    from indexlab.experiments.measure_cli import measure

    app.command()(measure)
