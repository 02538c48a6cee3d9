"""Rich progress bars of the command line: samples of a fit, samples of a sweep, report steps.

Every bar shows the work done with its rate and an ETA. The bars draw only on an interactive
terminal and when ``enabled`` (``--no-progress`` turns them off): piped or captured output
(``--json``, CI logs, tests) never holds a progress line. Each bar feeds from the hook of
:mod:`indexlab.progress`.

The sweep bar counts *samples*, ``n · R`` summed over the runs (the same count as
``--dry-run``'s "samples n·R" column), not runs: the large runs of a sweep come last, so an
ETA from the run count alone is far too short. An adaptive search enters at the most runs it
may make (:func:`indexlab.experiments.runner.search_plans`) and is settled on the runs it
made when it stops (:meth:`SweepBar.replan`); the bar is never restarted between searches.
:func:`run_cost` gives a run's declared floating-point work instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from indexlab.experiments.run import Run
from indexlab.progress import reporting


def _human(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}" if x != int(x) else str(int(x))


class _Amount(ProgressColumn):
    """``done / total unit`` in human units (``120k / 400k samples``)."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        total = "?" if task.total is None else _human(task.total)
        return Text(f"{_human(task.completed)} / {total} {self.unit}", style="progress.download")


class _Rate(ProgressColumn):
    """Work per second (``31.2k samples/s``)."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.completed and task.elapsed:  # one report so far
            speed = task.completed / task.elapsed
        return Text("" if speed is None else f"{_human(speed)} {self.unit}/s",
                    style="progress.data.speed")


def bars_enabled(enabled: bool, console: Console | None = None) -> bool:
    """Draw bars? Only if asked for and the console is an interactive terminal."""
    console = console or Console()
    return bool(enabled) and console.is_terminal and not console.is_dumb_terminal


def _progress(unit: str, enabled: bool, console: Console | None, *extra) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    _Amount(unit), _Rate(unit), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), *extra, console=console,
                    disable=not bars_enabled(enabled, console), transient=True)


@contextmanager
def samples_bar(total: int | None, description: str, enabled: bool = True,
                console: Console | None = None) -> Iterator[Progress]:
    """A bar over ``total`` samples per replica, fed by the samples that the learners'
    data sources report while the block runs."""
    progress = _progress("samples", enabled, console)
    task = progress.add_task(description, total=total)

    def on_report(amount: float, kind: str) -> None:
        if kind == "samples":
            progress.advance(task, amount)

    with progress, reporting(on_report):
        yield progress


def learner_width(name: str, hyper: dict[str, Any]) -> int:
    """Neurons of a run: the learner's ``width_parameter`` (``width``, or ``m`` for random
    features) from the run's hyperparameters, else its default; 1 for learners without
    neurons."""
    from indexlab.learners.registry import learner_class, width_of

    return width_of(learner_class(name), hyper)


def run_cost(config: Run | dict[str, Any]) -> float:
    """Relative cost of a run (a :class:`~indexlab.experiments.run.Run` or its configuration
    dict): the floating-point work its learner declares for the engine it runs
    (:meth:`~indexlab.learners.base.Learner.cost`; see the module docstring)."""
    from indexlab.learners.registry import learner_class

    if isinstance(config, Run):
        return max(1.0, float(config.cls().cost(dict(config.hyper), config.d, config.budget,
                                                config.replicas, config.r or 1).flops))
    learner, target = config["learner"], config["target"]
    cls = learner_class(learner["name"])
    cost = cls.cost(dict(learner.get("hyper", {})), target["d"], config["n"],
                    config["replicas"], target.get("r") or 1)
    return max(1.0, float(cost.flops))


def run_samples(config: Run | dict[str, Any]) -> int:
    """Samples a run draws: its budget per replica (:attr:`Run.budget`) times its replicas."""
    if isinstance(config, Run):
        return max(1, config.budget) * config.replicas
    return max(1, config["n"]) * config["replicas"]


class SweepBar:
    """The sweep's bar in samples (``n · R``): :meth:`running` feeds the current run's
    reported samples per replica (local executor, times ``R``); :meth:`finished` books the
    run's whole ``n · R`` (and counts runs for the ``runs i/N`` column); :meth:`replan`
    moves the totals when an adaptive search makes fewer or more runs than planned. The
    total never drops below what is done."""

    def __init__(self, configs: list[Run] | list[dict[str, Any]], enabled: bool = True,
                 console: Console | None = None):
        self.progress = _progress("samples", enabled, console,
                                  TextColumn("runs {task.fields[runs]}"),
                                  TextColumn("[dim]{task.fields[current]}"))
        self.runs_total = len(configs)
        self.runs_done = 0
        self.booked = 0
        self.total = sum(run_samples(c) for c in configs)
        self.task = self.progress.add_task("sweep", total=self.total or 1,
                                           runs=f"0/{len(configs)}", current="")

    def __enter__(self) -> SweepBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def _show(self, completed: float, **fields) -> None:
        self.total = max(self.total, int(completed))
        self.runs_total = max(self.runs_total, self.runs_done)
        self.progress.update(self.task, completed=completed, total=self.total or 1,
                             runs=f"{self.runs_done}/{self.runs_total}", **fields)

    @contextmanager
    def running(self, config: Run | dict[str, Any], label: str) -> Iterator[None]:
        """The block runs ``config`` in this process: its samples advance the bar."""
        samples = run_samples(config)
        replicas = config.replicas if isinstance(config, Run) else config["replicas"]
        partial = 0
        self._show(self.booked, current=label)

        def on_report(amount: float, kind: str) -> None:
            nonlocal partial
            if kind == "samples" and partial < samples:
                partial = min(samples, partial + amount * replicas)
                self._show(self.booked + partial)

        with reporting(on_report):
            yield

    def waiting(self, label: str) -> None:
        """Show why nothing advances (runs held by another sweep)."""
        self.progress.update(self.task, current=label)

    def finished(self, config: Run | dict[str, Any], label: str = "") -> None:
        """Book a finished run at its whole ``n · R``."""
        self.booked += run_samples(config)
        self.runs_done += 1
        self._show(self.booked, current=label)

    def replan(self, runs: int, samples: int) -> None:
        """Add ``runs`` and ``samples`` (negative: fewer than planned) to the totals."""
        self.runs_total += runs
        self.total += samples
        self._show(self.booked)


@contextmanager
def steps_bar(total: int, description: str, unit: str, enabled: bool = True,
              console: Console | None = None) -> Iterator[Progress]:
    """A bar over ``total`` steps of ``unit`` (e.g. figures of a report), fed by the reports
    of that kind; the total grows if more steps come than expected."""
    progress = _progress(unit, enabled, console)
    task = progress.add_task(description, total=max(total, 1))

    def on_report(amount: float, kind: str) -> None:
        if kind == unit:
            state = progress.tasks[0]
            if state.completed + amount > (state.total or 0):
                progress.update(task, total=state.completed + amount)
            progress.advance(task, amount)

    with progress, reporting(on_report):
        yield progress


def expected_figures(store) -> int:
    """About how many figures ``indexlab report`` draws for ``store``: per sweep, 3 for each
    (target, learner) pair (curves, collapse, phase) and 1 per target (thresholds)."""
    total = 0
    for sweep in store.sweeps():
        pairs = set(sweep["labels"].values())
        total += 3 * len(pairs) + len({target for target, _ in pairs})
    return total


__all__ = ["SweepBar", "bars_enabled", "expected_figures", "learner_width", "run_cost",
           "run_samples", "samples_bar", "steps_bar"]
