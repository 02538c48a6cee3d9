"""Experiments: one run (:mod:`.single_run`) and sweeps of many.

A sweep goes spec (:mod:`.spec`, TOML validated at load) → runs (:mod:`.runner`, local or
Dask) → store (:mod:`.store`, one SQLite file, resumable) → analysis (:mod:`.analysis`,
thresholds ``n*(d)`` and exponents with bootstrap intervals) → figures (:mod:`.plots`) and
report (:mod:`.report`). The ``sweep``/``status``/``report``/``export`` commands live in
:mod:`.cli`.

Python access to results (the numbers of ``indexlab report --json``, the claims of
``indexlab reproduce``)::

    from indexlab.experiments import analyse, get_claims, load, reproduce

    results = analyse("first.db")        # {"sweeps": [{"exponents": [...], "thresholds": ...}]}
    for row in results["sweeps"][0]["exponents"]:
        print(row["learner"], row["p"], row["lo"], row["hi"], row["theory"], row["verdict"])
    df = load("he3.db")          # pandas: one row per run and replica; traces=True adds traces
    [c.name for c in get_claims()]                     # the registered claims
    judged = reproduce(["baselines"], mode="quick", db="claims.db")   # runs what is missing
    judged[0].verdict, [check.as_dict() for check in judged[0].checks]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load(db, traces: bool = False):
    """The results store ``db`` as a pandas DataFrame (see
    :func:`indexlab.experiments.store.load`)."""
    from indexlab.experiments.store import load as load_store

    return load_store(db, traces)


def analyse(db: str | Path, n_boot: int = 1000) -> dict[str, Any]:
    """Thresholds ``n*(d)``, exponents ``p̂`` with their 95% intervals, theory and verdicts of
    every sweep in the results store ``db``, as the document of ``indexlab report --json``
    (:mod:`indexlab.experiments.results` describes its keys). Reads only; draws nothing."""
    from indexlab.experiments.analysis import analyse as analyse_sweep
    from indexlab.experiments.results import results_document
    from indexlab.experiments.store import Store

    with Store(db, create=False) as store:
        analyses = [analyse_sweep(store, sweep, n_boot=n_boot) for sweep in store.sweeps()]
        return results_document(analyses, str(store.path))


def get_claims(names: list[str] | None = None):
    """The registered claims (all, or those ``names``), each with its source, theory and
    pass rule (:func:`indexlab.experiments.claims.get_claims`)."""
    from indexlab.experiments.claims import get_claims as registry

    return registry(names)


def reproduce(names: list[str] | None = None, mode: str = "quick",
              db: str | Path = "claims.db", **options):
    """Run what the store ``db`` does not hold yet of the claims ``names`` (all when
    ``None``) in ``mode`` (``"tiny"``, ``"quick"``, ``"full"``) and judge them: a list of
    :class:`~indexlab.experiments.reproduce.ClaimResult` (``verdict``, ``checks`` with their
    intervals). ``options`` go to :func:`indexlab.experiments.reproduce.reproduce`
    (``executor``, ``workers``, ``progress``, ``n_boot``, ``time_limit``)."""
    from indexlab.experiments.claims import MODES
    from indexlab.experiments.reproduce import reproduce as run
    from indexlab.experiments.store import Store

    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not allowed: use one of {', '.join(MODES)}")
    with Store(db) as store:
        return run(names, mode, store, **options)
