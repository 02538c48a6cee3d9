"""Experiments: one run (:mod:`.single_run`) and sweeps of many.

A sweep goes spec (:mod:`.spec`, TOML validated at load) → runs (:mod:`.runner`, local or
Dask) → store (:mod:`.store`, one SQLite file, resumable) → analysis (:mod:`.analysis`,
thresholds ``n*(d)`` and exponents with bootstrap intervals) → figures (:mod:`.plots`) and
report (:mod:`.report`). The ``sweep``/``status``/``report``/``export`` commands live in
:mod:`.cli`.
"""
