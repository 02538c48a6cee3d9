"""Adaptive sample budgets: bisection in ``log n`` until ``n*`` is pinned down.

A learner whose budget is ``search = { low = "2*d", high = "64*d**2" }, rel_width = 0.15``
(spec :mod:`indexlab.experiments.spec`) gets no fixed grid. For each (target, learner, d) the
sweep runs it at ``low``, ``high`` and their geometric mean, then repeats (the bracketing
search of tramp-style threshold finders, in ``log n``):

1. estimate ``n*`` and its bootstrap interval ``[lo, hi]`` from every run made so far
   (:func:`indexlab.experiments.analysis.curve_threshold`: the isotonic crossing of the
   success fraction, the same estimator as for fixed grids);
2. stop if the threshold is censored (the success fraction does not cross the level inside
   ``[low, high]``: the bound is hit and the report says ``n* > high`` or ``n* < low``), or
   if ``(hi − lo)/n* <= rel_width``;
3. otherwise run at the geometric midpoint of the widest gap (in ``log n``) between
   consecutive budgets that overlaps ``[lo, hi]`` — first the cell that brackets the
   crossing, later the cells inside the interval; stop when that gap is narrower than
   ``log(1 + rel_width/2)`` (more budgets cannot narrow an interval that the replicas'
   spread sets: "replica-limited"), when no gap that overlaps ``[lo, hi]`` has an integer
   budget strictly inside it (consecutive integers: the bracket cannot be split further,
   whatever ``rel_width`` asks), or after ``MAX_ROUNDS`` refinements. The last two stops
   are reported through ``note`` (the interval reached and the width asked for).

Every run is an ordinary run of the store (keyed by its configuration hash), so the search is
resumable: a rerun replays the same decisions from the stored results without recomputing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from indexlab.experiments.analysis import Curve, curve_threshold
from indexlab.experiments.run import Run
from indexlab.experiments.spec import Success
from indexlab.experiments.store import Store

MAX_ROUNDS = 12
N_BOOT = 400


def next_budget(ns: list[int], lo: float, hi: float, rel_width: float) -> int | None:
    """The geometric midpoint of the widest log-gap between consecutive ``ns`` that overlaps
    ``[lo, hi]``; ``None`` when that gap is narrower than ``log(1 + rel_width/2)``."""
    ns = sorted(set(ns))
    best, gap = None, math.log1p(rel_width / 2)
    for a, b in itertools.pairwise(ns):
        if b < lo or a > hi:
            continue
        width = math.log(b) - math.log(a)
        mid = round(math.sqrt(a * b))
        if width > gap and a < mid < b:
            best, gap = mid, width
    return best


def refine(
    store: Store,
    make_config: Callable[[int], Run | dict[str, Any]],
    run: Callable[[list[Run]], None],
    key_of: Callable[[Run], str],
    low: int,
    high: int,
    success: Success,
    rel_width: float,
    note: Callable[[str], None] | None = None,
) -> list[Run]:
    """Run the search for one (target, learner, d); returns every run it used (each one run
    and stored).

    ``make_config(n)`` builds the run at budget ``n``; ``run(configs)`` executes those not yet
    finished and stores them; ``key_of`` is the store key of a run; ``note(text)``
    receives one sentence when the search stops short of ``rel_width`` (integer bracket or
    ``MAX_ROUNDS``)."""
    ns = sorted({low, round(math.sqrt(low * high)), high})
    configs: dict[int, Run] = {}
    for round_ in range(MAX_ROUNDS + 1):
        for n in ns:
            configs.setdefault(n, make_config(n))
        run([configs[n] for n in ns])
        curve = _curve(store, [configs[n] for n in ns], key_of, success)
        if curve is None:
            break
        t = curve_threshold(curve, success, N_BOOT, rng=np.random.default_rng(0))
        if t.censored or (t.hi - t.lo) / t.n_star <= rel_width:
            break
        n_next = next_budget(ns, t.lo, t.hi, rel_width)
        reached = (f"n* = {t.n_star:.6g} in [{t.lo:.6g}, {t.hi:.6g}] (relative width "
                   f"{(t.hi - t.lo) / t.n_star:.3g}, rel_width = {rel_width:g} asked)")
        if n_next is None:
            if note is not None and _integer_limited(ns, t.lo, t.hi, rel_width):
                note(f"{_where(configs[ns[0]])}: the budget bracket around n* cannot be split "
                     f"further (no integer n strictly between consecutive budgets), so the "
                     f"search stopped at {reached}")
            break
        if round_ == MAX_ROUNDS:
            if note is not None:
                note(f"{_where(configs[ns[0]])}: the search stopped after MAX_ROUNDS = "
                     f"{MAX_ROUNDS} refinements at {reached}")
            break
        ns = sorted({*ns, n_next})
    return [configs[n] for n in ns]


def _integer_limited(ns: list[int], lo: float, hi: float, rel_width: float) -> bool:
    """True when some gap overlapping ``[lo, hi]`` is wider than ``log(1 + rel_width/2)``
    (so :func:`next_budget` would split it) but holds no integer strictly inside."""
    gap = math.log1p(rel_width / 2)
    return any(math.log(b) - math.log(a) > gap and not a < round(math.sqrt(a * b)) < b
               for a, b in itertools.pairwise(sorted(set(ns))) if not (b < lo or a > hi))


def _parts(config: Run | dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """``(n, target config, learner config)`` of a run (or of a configuration dict)."""
    if isinstance(config, Run):
        return config.n, config.target_config(), config.learner_config()
    return config["n"], config["target"], config["learner"]


def _where(config: Run | dict[str, Any]) -> str:
    _, t, learner = _parts(config)
    return f"adaptive search of {learner['name']} on {t['link']} at d={t['d']}"


def _curve(store: Store, configs: list[Run], key_of, success: Success) -> Curve | None:
    rows, ns = [], []
    finished = store.finished_keys()
    for config in sorted(configs, key=lambda c: _parts(c)[0]):
        key = key_of(config)
        if key not in finished:
            continue  # a failed run: left out, as in the analysis
        reps = store.replicas(key)
        rows.append(np.where(reps["diverged"], np.nan, reps[success.metric]))
        ns.append(_parts(config)[0])
    if len(rows) < 2 or len({len(r) for r in rows}) != 1:
        return None
    _, t, learner = _parts(configs[0])
    return Curve(t["link"], learner["name"], t["d"], np.array(ns), np.stack(rows), "runs", t,
                 learner)


def planned_budgets(low: int, high: int, rel_width: float) -> list[int]:
    """The budgets a search between ``low`` and ``high`` runs *at most*, for ``--dry-run``
    and the time guard: ``low``, ``high`` and their geometric mean, then one refinement per
    halving of the log-bracket until it is narrower than ``log(1 + rel_width/2)`` (the stop of
    :func:`next_budget`), at most ``MAX_ROUNDS``. The refinements land near ``n*``, unknown
    before the runs: each is counted at ``high``, so the estimate is an upper bound (a search
    that is censored early stops after three runs)."""
    mid = round(math.sqrt(low * high))
    gap = math.log(high / low) / 2  # after the first three runs
    rounds = 0
    while gap > math.log1p(rel_width / 2) and rounds < MAX_ROUNDS:
        gap /= 2
        rounds += 1
    return [low, mid, high] + [high] * rounds


class _PendingRunsError(Exception):
    """Raised by the replay of :func:`remaining_budgets` at the first round with runs not
    stored yet."""

    def __init__(self, budgets: list[int]):
        super().__init__()
        self.budgets = budgets


def remaining_budgets(
    store: Store | None,
    make_config: Callable[[int], Run],
    key_of: Callable[[Run], str],
    low: int,
    high: int,
    success: Success,
    rel_width: float,
) -> list[int]:
    """The budgets of the runs a search may still make, at most: :func:`planned_budgets`
    for a search not started (``store`` ``None`` or holding none of its runs); for one
    resumed, :func:`refine` replayed on the stored results up to the first round with a run
    not stored (its missing budgets), then the rounds :func:`planned_budgets` allows beyond
    it, each at ``high``; empty for a search the store holds to its end. The sweep's time
    guard and progress bar count these (the bar settles on the runs actually made)."""
    planned = planned_budgets(low, high, rel_width)
    if store is None:
        return planned
    finished = store.finished_keys()
    rounds = [0]

    def replay(configs: list[Run]) -> None:
        missing = [_parts(c)[0] for c in configs if key_of(c) not in finished]
        if missing:
            raise _PendingRunsError(missing)
        rounds[0] += 1

    try:
        refine(store, make_config, replay, key_of, low, high, success, rel_width)
    except _PendingRunsError as pending:
        # round 0 is the first three runs; round k >= 1 is refinement k
        left = max(0, len(planned) - 3 - rounds[0])
        return sorted(pending.budgets) + [high] * left
    return []
