"""Experiments: one run (:mod:`.single_run`) and sweeps of many.

A sweep goes spec (:mod:`.spec`, TOML validated at load) → runs (:mod:`.runner`, local or
Dask) → store (:mod:`.store`, one SQLite file, resumable) → analysis (:mod:`.analysis`,
thresholds ``n*(d)`` and exponents with bootstrap intervals) → figures (:mod:`.plots`) and
report (:mod:`.report`). The ``sweep``/``status``/``report``/``export`` commands live in
:mod:`.cli`.

Load a results store into pandas (``pip install 'indexlab[export]'``)::

    from indexlab.experiments import load

    df = load("he3.db")          # one row per run and replica; traces=True adds the traces
"""


def load(db, traces: bool = False):
    """The results store ``db`` as a pandas DataFrame (see
    :func:`indexlab.experiments.store.load`)."""
    from indexlab.experiments.store import load as load_store

    return load_store(db, traces)
