"""Expanding a spec into runs and executing them, in-process or on Dask, into a store.

A *run* is one (target, learner, d, n) with its ``R`` replicas: a frozen
:class:`~indexlab.experiments.run.Run` (:func:`expand_runs`; :func:`expand` gives their
JSON-ready configuration dicts). Its seed derives from the spec seed and the target's
configuration at that ``d`` only (:func:`run_seed`): every learner and every budget ``n`` at a
given ``(target, d)`` sees the same hidden directions, the same data stream (a run at a larger
``n`` extends the smaller one's samples) and the same initialisation — common random numbers,
so replica ``j`` is paired across ``n`` and across learners. The run's key hashes the whole
configuration and the library version (:func:`run_key`).

:func:`execute_run` is the unit of work (a pure function of the configuration, which never
raises: errors come back as ``status = "failed"`` with the traceback); local and Dask execution
call the same function, so they store identical results. :func:`sweep` skips runs that the
store already holds as finished, claims each run atomically before computing it (so
concurrent sweeps on one store share the work and never compute a run twice) and writes each
result as soon as it arrives.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from indexlab import __version__
from indexlab.experiments.run import Run, as_run, config_key, run_seed
from indexlab.experiments.spec import Spec, TargetSpec, budgets, resolve_hyper
from indexlab.experiments.store import BUSY, CLAIMED, FINISHED_ELSEWHERE, Store
from indexlab.experiments.threads import available_cores, share_cores, threads_for

if TYPE_CHECKING:
    from indexlab.experiments.progress_bars import SweepBar

EXECUTORS = ("local", "dask")


def run_key(config: Run | dict[str, Any], version: str | None = None) -> str:
    """Store key of a run: its :attr:`Run.key`, or for a configuration dict the first 24 hex
    digits of SHA-256 of the configuration + version (default: this library's version, read
    at call time; :func:`~indexlab.experiments.run.config_key`)."""
    if isinstance(config, Run) and version is None:
        return config.key
    if isinstance(config, Run):
        config = config.config()
    return config_key(config, __version__ if version is None else version)


def target_label(target: TargetSpec) -> str:
    """Label of a target family (all its d), e.g. ``he3`` or ``genexp3, k=4, noise=0.5``."""
    extra = "".join(f", {k}={getattr(target, k)}" for k in ("r", "sparsity")
                    if getattr(target, k) is not None)
    return target.link + extra + (f", noise={target.noise:g}" if target.noise else "")


def learner_labels(spec: Spec) -> list[str]:
    """Label of each learner entry: its ``label`` when given, else its name, with ``#i`` when
    a name appears twice."""
    names = [learner.name for learner in spec.learners]
    return [learner.label or (name if names.count(name) == 1 else f"{name}#{i}")
            for i, (learner, name) in enumerate(zip(spec.learners, names, strict=True))]


def run_config(spec: Spec, target: TargetSpec, d: int, i: int, n: int) -> Run:
    """The run of learner ``i`` of ``spec`` on ``target`` at ``d`` with budget ``n``, keyed
    under this library's version."""
    tconf = target.config(d)
    learner = spec.learners[i]
    return Run(**tconf, learner=learner.name,
               hyper=resolve_hyper(learner, d, f"learners[{i}]"), n=n,
               replicas=spec.replicas, seed=run_seed(spec.seed, tconf), device=spec.device,
               dtype=spec.dtype, n_test=spec.n_test, trace=learner.trace,
               version=__version__, learner_class=learner.cls)


def expand_labelled(spec: Spec) -> list[tuple[Run, str, str]]:
    """Every run of ``spec`` with its target label and learner label (an adaptive budget
    adds its runs while the sweep runs: :func:`adaptive_searches`)."""
    runs = []
    labels = learner_labels(spec)
    for target in spec.targets:
        for d in target.d:
            for i, learner in enumerate(spec.learners):
                for n in budgets(spec, learner, target, d):
                    runs.append((run_config(spec, target, d, i, n), target_label(target),
                                 labels[i]))
    return runs


def adaptive_searches(spec: Spec) -> list[tuple[TargetSpec, int, int]]:
    """``(target, d, learner index)`` of every adaptive budget search of ``spec``."""
    out = []
    for target in spec.targets:
        for d in target.d:
            for i, learner in enumerate(spec.learners):
                budget = learner.budget or spec.budget
                if budget.search is not None and not learner.trace:
                    out.append((target, d, i))
    return out


def search_plans(spec: Spec, store: Store | None = None
                 ) -> list[tuple[tuple[TargetSpec, int, int], list[Run]]]:
    """Per adaptive search of ``spec`` (:func:`adaptive_searches`), the runs it may still
    make, at most (:func:`indexlab.experiments.adaptive.remaining_budgets`: every
    refinement counted at the upper bound; runs ``store`` holds are left out). The dry run,
    the time guard and the progress bar count these, so no adaptive search is left out of
    an estimate; the refinements at the upper bound share a key, so keep duplicates."""
    from indexlab.experiments.adaptive import remaining_budgets

    plans = []
    for target, d, i in adaptive_searches(spec):
        budget = spec.learners[i].budget or spec.budget
        low, high = budget.bounds(d)

        def make(n: int, t=target, d=d, i=i) -> Run:
            return run_config(spec, t, d, i, n)

        ns = remaining_budgets(store, make, run_key, low, high, spec.success,
                               budget.rel_width)
        plans.append(((target, d, i), [make(n) for n in ns]))
    return plans


def expand_runs(spec: Spec) -> list[Run]:
    """Every run of ``spec`` (target × d × learner × n)."""
    return [run for run, _, _ in expand_labelled(spec)]


def expand(spec: Spec) -> list[dict[str, Any]]:
    """Every run of ``spec`` (target × d × learner × n), each a configuration dict."""
    return [run.config() for run in expand_runs(spec)]


def describe(config: Run | dict[str, Any]) -> str:
    """One line naming a run, e.g. ``unified on he3, d=64, n=4096``."""
    return as_run(config, __version__).describe()


def run_estimate(config: Run | dict[str, Any]):
    """The :func:`indexlab.experiments.guards.estimate` of one run (its effective budget)."""
    from indexlab.experiments.guards import estimate
    from indexlab.links import get_link

    run = as_run(config, __version__)
    r = run.r or get_link(run.link).r
    return estimate(run.cls(), dict(run.hyper), run.d, run.budget, run.replicas, r,
                    run.n_test, 8 if run.dtype == "float64" else 4, run.device)


def check_resources(configs: list[Run] | list[dict[str, Any]],
                    memory_limit: str | float | None = None,
                    where: str = "--memory-limit") -> None:
    """Refuse (:class:`~indexlab.experiments.guards.ResourceError`) a sweep whose largest run
    is estimated to need more memory than the limit
    (:func:`~indexlab.experiments.guards.memory_limit`)."""
    from indexlab.experiments.guards import check_memory

    if not configs:
        return
    sized = [(run_estimate(c), c) for c in configs]
    est, config = max(sized, key=lambda ec: ec[0].bytes)
    run = as_run(config, __version__)
    check_memory(est, f"run '{run.describe()}' (R={run.replicas})", memory_limit, run.device,
                 where)


def check_time(configs: list[Run], what: str, time_limit: str | float | None = None,
               parallel: int = 1, where: str = "--time-limit") -> float:
    """Refuse (:class:`~indexlab.experiments.guards.ResourceError`) ``configs`` whose summed
    time estimate, shared by ``parallel`` workers, exceeds the time limit
    (:func:`~indexlab.experiments.guards.time_limit`); returns the estimate in seconds
    (``nan`` without a limit: then nothing is estimated)."""
    from indexlab.experiments.guards import check_time as check
    from indexlab.experiments.guards import time_limit as limit_of

    if math.isinf(limit_of(time_limit, where)[0]):  # no limit: nothing to estimate
        return math.nan
    seconds = sum(run_estimate(c).seconds for c in configs) / max(1, parallel)
    check(seconds, what, time_limit, where)
    return seconds


def _set_torch_threads(threads: int | None) -> None:
    """Give this worker process ``threads`` intra-op threads, once: the count is never
    switched back and forth (changing it between batched LAPACK solves in one process made
    MKL's ``torch.linalg.solve`` fail with "Pivots given to lu_solve must all be greater or
    equal to 1" on our machines)."""
    import torch

    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def execute_run(config: Run | dict[str, Any], threads: int | None = None) -> dict[str, Any]:
    """Fit the run's learner on its target and measure every replica; never raises.

    Returns ``{"key", "status" ("done" | "diverged" | "failed"), "error", "seconds",
    "samples", "metrics" {name: (R,) float64 array}, "diverged" [R flags], "trace"
    {"samples", "metrics" {name: (T, R) float32 array}}, "hyper" (resolved hyperparameters),
    "provenance" (versions, device)}`` (picklable, for Dask).
    ``threads`` sets torch's intra-op threads.
    """
    import torch

    from indexlab.experiments.provenance import resolved_hyperparameters, versions
    from indexlab.experiments.single_run import make_target, replica_metrics
    from indexlab.learners.registry import learner_defaults, make_learner

    key = run_key(config)
    start = time.perf_counter()
    try:
        _set_torch_threads(threads)
        run = as_run(config, __version__)
        target = make_target(run.link, run.d, r=run.r, sparsity=run.sparsity, noise=run.noise,
                             replicas=run.replicas, seed=run.seed, device=run.device,
                             dtype=getattr(torch, run.dtype))
        cls = run.cls()
        learner = make_learner(cls, **{**learner_defaults(cls, target, run.seed),
                                       **run.hyper})
        learner.fit(target, n=run.n)
        metrics = replica_metrics(target, learner, run.n_test)
    except Exception:
        return {"key": key, "status": "failed", "error": traceback.format_exc()[-4000:],
                "seconds": time.perf_counter() - start}
    diverged = metrics.pop("diverged")
    trace = learner.trace_  # every learner has one (empty when it records nothing)
    trace_out = None
    if trace.samples:
        trace_out = {"samples": list(trace.samples),
                     "metrics": {k: trace[k].astype("float32") for k in trace.values},
                     "passages": {k: {"levels": levels, "samples": samples}
                                  for k, (levels, samples) in trace.passages.items()}}
    return {
        "key": key, "status": "diverged" if bool(diverged.any()) else "done", "error": None,
        "seconds": time.perf_counter() - start, "samples": int(learner.samples_),
        "metrics": {k: v.double().numpy() for k, v in metrics.items()},
        "diverged": [bool(v) for v in diverged], "trace": trace_out,
        "hyper": resolved_hyperparameters(learner),
        "provenance": {**versions(), "device": str(target.device)},
    }


# ---------------------------------------------------------------------------------- executors
Report = Callable[[Run, dict[str, Any]], None]


POLL_SECONDS = 0.5  # how often a sweep re-checks runs that another live process is computing


class _Queue:
    """The runs a sweep still has to see finished, handed out one claim at a time.

    :meth:`next` claims (atomically, :meth:`Store.claim_run`) the next run nobody else is
    computing and returns it; runs held by another live process wait in
    ``waiting`` and are retried (taken over when their claim goes stale, dropped when they
    finish elsewhere); ``elsewhere`` counts the runs another process finished meanwhile."""

    def __init__(self, runs: list[Run], store: Store):
        self.todo = list(runs)
        self.waiting: list[Run] = []
        self.store = store
        self.elsewhere = 0
        self.elsewhere_configs: list[Run] = []  # for the progress bar's cost

    def empty(self) -> bool:
        return not self.todo and not self.waiting

    def _take(self, config: Run) -> str:
        outcome = self.store.claim_run(config)
        if outcome == FINISHED_ELSEWHERE:
            self.elsewhere += 1
            self.elsewhere_configs.append(config)
        return outcome

    def next(self) -> Run | None:
        """The next run claimed for this process, or ``None`` when every remaining run is
        held by another live process (call again after a pause)."""
        while self.todo:
            config = self.todo.pop(0)
            outcome = self._take(config)
            if outcome == CLAIMED:
                return config
            if outcome == BUSY:
                self.waiting.append(config)
        for config in list(self.waiting):
            outcome = self._take(config)
            if outcome != BUSY:
                self.waiting.remove(config)
            if outcome == CLAIMED:
                return config
        return None


@contextmanager
def _bar(configs: list[Run], progress: bool, bar: SweepBar | None) -> Iterator[SweepBar]:
    """``bar`` when the caller holds one open (a sweep's one bar over all its steps), else
    a new bar over ``configs``."""
    from indexlab.experiments.progress_bars import SweepBar

    if bar is not None:
        yield bar
        return
    with SweepBar(configs, progress) as own:
        yield own


def run_local(configs: list[Run] | list[dict[str, Any]], store: Store, on_result: Report,
              progress: bool = True, on_elsewhere: Callable[[], None] | None = None,
              bar: SweepBar | None = None) -> int:
    """Run each run (a :class:`Run` or its configuration dict) in this process, claiming it
    first and storing its result when it finishes; runs another live sweep holds are waited
    for (taken over if that sweep dies). ``bar``: an open bar to advance (else one is drawn
    for these runs). Returns the number of runs finished by other processes meanwhile."""
    configs = [as_run(c, __version__) for c in configs]
    queue = _Queue(configs, store)
    seen = 0
    try:
        with _bar(configs, progress, bar) as bar:
            while not queue.empty():
                config = queue.next()
                for other in queue.elsewhere_configs[seen:]:
                    bar.finished(other, "finished by another sweep")
                seen = len(queue.elsewhere_configs)
                if config is None:
                    bar.waiting(f"waiting for {len(queue.waiting)} run(s) of another sweep")
                    time.sleep(POLL_SECONDS)
                    continue
                label = config.describe()
                share_cores(store)  # fewer threads while other sweeps run on this host
                with bar.running(config, label):
                    result = execute_run(config)
                store.write_result(result)
                on_result(config, result)
                bar.finished(config, label)
    finally:
        store.release()
    return queue.elsewhere


def _dask_client(scheduler: str | None, workers: int | None, processes: bool):
    try:
        from distributed import Client, LocalCluster
    except ModuleNotFoundError:  # pragma: no cover - distributed is a dependency
        raise ValueError("executor='dask' needs the 'distributed' package") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise ValueError(f"scheduler={scheduler!r} cannot be reached: {exc}") from None
    cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=processes,
                           host="127.0.0.1", dashboard_address=None)
    return Client(cluster), cluster


def run_dask(configs: list[Run] | list[dict[str, Any]], store: Store, on_result: Report,
             scheduler: str | None = None, workers: int | None = None, progress: bool = True,
             processes: bool = True, bar: SweepBar | None = None) -> int:
    """Run the configurations on Dask (a ``distributed.Client`` on ``scheduler``, or a
    ``LocalCluster`` of ``workers`` single-threaded processes on loopback); this client claims
    each run just before submitting it (keeping twice the cluster's threads busy) and writes
    results as they complete. ``bar``: an open bar to advance (else one is drawn for these
    runs). Returns the runs finished by other processes meanwhile."""
    from distributed import wait

    configs = [as_run(c, __version__) for c in configs]
    client, cluster = _dask_client(scheduler, workers, processes)
    # worker processes of a LocalCluster share this machine's cores; threads of this process
    # (processes=False) and remote workers keep their own setting
    threads = (None if scheduler or not processes
               else threads_for(available_cores(), workers or 2))
    window = max(2, 2 * sum(client.nthreads().values()))
    queue = _Queue(list({c.key: c for c in configs}.values()), store)
    in_flight: dict[Any, Run] = {}
    seen = 0
    try:
        with _bar(configs, progress, bar) as bar:
            while not queue.empty() or in_flight:
                while len(in_flight) < window:
                    config = queue.next()
                    if config is None:
                        break
                    future = client.submit(execute_run, config, threads,
                                           key=f"indexlab-run-{config.key}", pure=False)
                    in_flight[future] = config
                for other in queue.elsewhere_configs[seen:]:
                    bar.finished(other, "finished by another sweep")
                seen = len(queue.elsewhere_configs)
                if not in_flight:
                    time.sleep(POLL_SECONDS)
                    continue
                done, _ = wait(list(in_flight), return_when="FIRST_COMPLETED")
                for future in done:
                    config = in_flight.pop(future)
                    key = config.key
                    try:
                        result = future.result()
                    except Exception:  # a lost worker: the run is recorded as failed
                        result = {"key": key, "status": "failed",
                                  "error": traceback.format_exc()[-4000:]}
                    store.write_result(result)
                    on_result(config, result)
                    bar.finished(config, config.describe())
    finally:
        store.release()
        client.close()
        if cluster is not None:
            cluster.close()
    return queue.elsewhere


def sweep(spec: Spec, store: Store, executor: str = "local", scheduler: str | None = None,
          workers: int | None = None, progress: bool = True, processes: bool = True,
          on_result: Report | None = None, memory_limit: str | float | None = None,
          time_limit: str | float | None = None) -> dict[str, Any]:
    """Expand ``spec``, register it in ``store``, run every run not finished yet, and return
    ``{"total", "skipped", "ran", "elsewhere", "done", "diverged", "failed", "seconds"}``.

    Several sweeps may share one store (the same spec or overlapping ones, local or Dask):
    each run is claimed atomically before it is computed, so no run is computed twice, and
    a sweep returns only when every one of its runs is finished (runs that another live sweep
    holds are waited for, and taken over if that sweep dies). ``ran`` counts the runs
    computed here, ``elsewhere`` those another process finished meanwhile.

    Before anything is registered or run, every run's memory is estimated
    (:func:`check_resources`); a run over ``memory_limit`` (default: ``INDEXLAB_MEMORY_LIMIT``,
    else 80% of the available memory) is an
    :class:`~indexlab.experiments.guards.ResourceError`, and so are runs not yet stored whose
    estimated time, shared by the Dask workers, exceeds ``time_limit`` (default:
    ``INDEXLAB_TIME_LIMIT``, else one day; :func:`check_time`). An adaptive search chooses
    its runs while it runs: the estimate counts the most it may still make
    (:func:`search_plans`, every refinement at the upper bound).

    One progress bar (``progress``, on a terminal) covers the whole sweep in samples (``n ·
    R`` summed over runs): the fixed runs and each search at its most; when a search stops,
    the total is settled on the runs it made (it grows if a search makes more).
    """
    from indexlab.experiments.progress_bars import SweepBar, run_samples

    if executor not in EXECUTORS:
        raise ValueError(f"executor={executor!r} is not allowed: use one of {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers={workers!r} is not allowed: use an integer >= 1")
    labelled = expand_labelled(spec)
    configs = [c for c, _, _ in labelled]
    check_resources(configs, memory_limit)
    keys = [c.key for c in configs]
    stored = store.finished_keys()
    todo = list({c.key: c for c in configs if c.key not in stored}.values())
    plans = search_plans(spec, store)
    planned = [run for _, runs in plans for run in runs]
    what = f"{len(todo)} runs to compute" + (
        f" and at most {len(planned)} of {len(plans)} adaptive search(es)" if plans else "")
    check_time(todo + planned, f"sweep {spec.name!r} ({what})", time_limit,
               (workers or 2) if executor == "dask" else 1)
    store.register_sweep(spec.name, spec.source, spec.success.text(), spec.success.probability,
                         [(k, t, lr) for k, (_, t, lr) in zip(keys, labelled, strict=True)])
    finished = store.finished_keys()
    pending = list({k: c for k, c in zip(keys, configs, strict=True)
                    if k not in finished}.values())
    counts = {"done": 0, "diverged": 0, "failed": 0}

    def count(config: Run, result: dict[str, Any]) -> None:
        counts[result["status"]] += 1
        if on_result is not None:
            on_result(config, result)

    start = time.perf_counter()
    elsewhere = [0]
    notes: list[str] = []
    with SweepBar(pending + planned, progress) as bar:

        def execute(batch: list[Run]) -> None:
            if executor == "local":
                elsewhere[0] += run_local(batch, store, count, progress, bar=bar)
            elif batch:
                elsewhere[0] += run_dask(batch, store, count, scheduler, workers, progress,
                                         processes, bar=bar)

        execute(pending)
        if plans:
            from indexlab.experiments.adaptive import refine

            members = [(k, t, lr) for k, (_, t, lr) in zip(keys, labelled, strict=True)]
            labels = learner_labels(spec)

            def execute_new(batch: list[Run]) -> None:
                done = store.finished_keys()
                todo = list({c.key: c for c in batch if c.key not in done}.values())
                check_resources(todo, memory_limit)
                execute(todo)

            for (target, d, i), runs in plans:
                budget = spec.learners[i].budget or spec.budget
                low, high = budget.bounds(d)
                runs_before, samples_before = bar.runs_done, bar.booked
                used = refine(store, lambda n, t=target, d=d, i=i: run_config(spec, t, d, i, n),
                              execute_new, run_key, low, high, spec.success, budget.rel_width,
                              notes.append)
                # the search's planned runs give way to those it made
                bar.replan(bar.runs_done - runs_before - len(runs),
                           bar.booked - samples_before - sum(map(run_samples, runs)))
                members += [(c.key, target_label(target), labels[i]) for c in used]
                store.register_sweep(spec.name, spec.source, spec.success.text(),
                                     spec.success.probability, members)
            keys = [k for k, _, _ in members]
    ran = sum(counts.values())
    return {"total": len(set(keys)), "skipped": len(set(keys)) - ran - elsewhere[0],
            "ran": ran, "elsewhere": elsewhere[0], **counts,
            "seconds": time.perf_counter() - start, **({"notes": notes} if notes else {})}
