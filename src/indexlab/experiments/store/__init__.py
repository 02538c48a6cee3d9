"""The results store: one SQLite file holding sweeps, runs, per-replica metrics and traces.

Tables:

* ``sweeps(name, spec, success, probability, created)``: each spec (JSON) run into this file;
  a name is bound to its spec's content: registering a *different* spec under a name already
  stored is a :class:`StoreError` (rename the sweep or use another file);
  ``sweep_runs(sweep, key, target, learner)``: the runs the sweep expands to (with this
  library version), with the labels of their target family and learner entry;
* ``runs``: one row per run, keyed by ``key`` = a hash of the run's full configuration and the
  library version, with the configuration spread over columns (``link, d, r, sparsity, noise,
  learner, n, replicas, seed, ...``) and in ``config`` (JSON), the resolved hyperparameters in
  ``hyper`` (JSON) and the versions (indexlab, torch, NumPy, Python) in ``provenance`` (JSON;
  schema 3: an older store gains the column when opened); ``status`` is ``running`` (started,
  not finished), ``done``, ``diverged`` (finished, at least one replica diverged) or ``failed``
  (``error`` holds the traceback); ``attempts`` counts starts (claims);
* ``claims(key, owner, pid, host, heartbeat)``: the process computing a run now. A run is
  claimed in one ``BEGIN IMMEDIATE`` transaction (:meth:`Store.claim`), so two sweeps on one
  file never compute the same run at once; the owner refreshes ``heartbeat`` every
  :data:`HEARTBEAT_SECONDS` while it holds claims. A claim is *stale* — taken over by the next
  sweep that wants the run — when its process is gone (same host, ``pid`` not alive) or its
  heartbeat is older than :func:`claim_timeout` (default 120 s, env
  ``INDEXLAB_CLAIM_TIMEOUT``). A ``running`` run without a live claim is *interrupted*;
* ``replicas(key, replica, overlap, overlap_neuron, test_mse, diverged)``: per-replica metrics;
* ``traces(key, metric, samples, "values", steps, width)``: a run's recorded trace, ``samples``
  as int64 bytes and ``values`` as float32 bytes of shape ``(steps, width = R)``;
* ``passages(key, metric, levels, samples)``: first passages at one-step resolution, ``levels``
  float64 bytes and ``samples`` int64 bytes of shape ``(L, R)`` (``−1``: never reached).

A finished run is written in one transaction (its row, replicas and traces together), so a
crash or ``kill -9`` leaves either the whole result or none of it. A run's state only moves
forward: ``done`` and ``diverged`` runs are never claimed, rewritten or run again (a second
result for a finished run is dropped); ``failed`` and interrupted ones are run again.

:class:`Store` refuses a file that is not an indexlab store (a foreign SQLite database is
refused before anything is written to it), a store of a schema version it cannot read, a store
missing a table or a column, a ``--db`` in a directory that does not exist and one that cannot
be written, each with its own message (:mod:`~indexlab.experiments.store.schema`).

The package: :mod:`~indexlab.experiments.store.schema` (tables, versions, checks, migration),
:mod:`~indexlab.experiments.store.claiming` (claims, heartbeats, liveness),
:mod:`~indexlab.experiments.store.reading` (reading, the flat table, exports) and here the
:class:`Store` itself, which writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from indexlab.experiments.store.claiming import (
    BUSY,
    CLAIMED,
    FINISHED_ELSEWHERE,
    HEARTBEAT_SECONDS,
    Claiming,
    Heartbeat,
    claim_alive,
    claim_timeout,
)
from indexlab.experiments.store.reading import (
    Reading,
    export_csv,
    export_parquet,
    to_dataframe,
)
from indexlab.experiments.store.schema import (
    FINISHED,
    REPLICA_METRICS,
    RUN_COLUMNS,
    SCHEMA_VERSION,
    SUPPORTED_SCHEMAS,
    StoreError,
    check_file,
    check_location,
    create_tables,
    migrate,
    readonly_error,
)
from indexlab.experiments.store.schema import to_json as _json


def _float_or_none(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _unlabelled(spec: dict) -> str:
    """A spec's JSON without the labels of its learner entries: the content a sweep name is
    bound to (a label names an entry's runs in the store and the report, it chooses none)."""
    learners = spec.get("learners")
    if not isinstance(learners, list):
        return _json(spec)
    return _json({**spec, "learners": [{k: v for k, v in e.items() if k != "label"}
                                       if isinstance(e, dict) else e for e in learners]})


def _float_or_none(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


class Store(Claiming, Reading):
    """A results store in one SQLite file (see the module docstring for the layout).

    ``create=False`` opens an existing store only. A file that exists but is not a sound
    indexlab store (another SQLite database, not SQLite at all, a schema version this library
    cannot read, a table or column missing) is a :class:`StoreError`, and is left untouched.
    """

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        check_location(self.path, create)
        fresh = check_file(self.path)
        if fresh and not create:
            raise StoreError(f"{str(self.path)!r} is an empty file, not an indexlab results "
                             "store")
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._heartbeat: Heartbeat | None = None
        self._claimed = False
        self.conn: sqlite3.Connection | None = None
        try:
            self.conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if create:
                with self._transaction():
                    create_tables(self.conn)
            self.conn.execute("SELECT key, value FROM meta").fetchall()
            self.conn.execute("SELECT key FROM runs LIMIT 1").fetchall()
            self._claims = bool(self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'claims'"
            ).fetchone())
            self._provenance = migrate(self.conn, self._transaction)
        except sqlite3.DatabaseError as exc:
            if self.conn is not None:
                self.conn.close()
            unwritable = readonly_error(self.path, exc) if create else None
            if unwritable is not None:
                raise unwritable from None
            raise StoreError(f"{str(self.path)!r} is not an indexlab results store: {exc}") \
                from None

    def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        with contextlib.suppress(sqlite3.Error):
            self.release()  # what this process still holds (nothing if it never claimed)
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error): the write lock is taken at
        the start, so a read-check-write inside is atomic against other processes."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ writing
    def register_sweep(self, name: str, spec: dict, success: str, probability: float,
                       members: Iterable[tuple[str, str, str]]) -> None:
        """Record sweep ``name``: its spec, criterion and its runs, given as
        ``(key, target label, learner label)``. The name is bound to the spec's content: a
        different spec under a stored name is a :class:`StoreError` (the same spec again
        refreshes its runs, e.g. after a library upgrade changed their keys)."""
        text = _json(spec)
        members = list(members)
        with self._transaction() as conn:
            row = conn.execute("SELECT spec, created FROM sweeps WHERE name = ?",
                               (name,)).fetchone()
            if row is not None and row[0] != text and _unlabelled(json.loads(row[0])) == \
                    _unlabelled(spec):  # only the learner labels changed: keep the new ones
                conn.execute("UPDATE sweeps SET spec = ? WHERE name = ?", (text, name))
                row = (text, row[1])
            if row is not None and row[0] != text:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row[1]))
                raise StoreError(
                    f"name={name!r} is not allowed: {str(self.path)!r} already holds a sweep "
                    f"named {name!r} with a different spec (stored {when}); a sweep name is "
                    "bound to its spec's content, so give this spec another name (or use "
                    "another --db)")
            if row is None:
                conn.execute("INSERT INTO sweeps VALUES (?, ?, ?, ?, ?)",
                             (name, text, success, probability, time.time()))
            conn.execute("DELETE FROM sweep_runs WHERE sweep = ?", (name,))
            conn.executemany("INSERT OR IGNORE INTO sweep_runs VALUES (?, ?, ?, ?)",
                             [(name, *m) for m in members])

    def finished_keys(self) -> set[str]:
        """Keys of the runs that are ``done`` or ``diverged`` (never run again)."""
        rows = self.conn.execute("SELECT key FROM runs WHERE status IN (?, ?)", FINISHED)
        return {k for (k,) in rows}

    def write_result(self, result: dict[str, Any]) -> int:
        """Store a finished run (the dict of :func:`~indexlab.experiments.runner.execute_run`)
        in one transaction and drop its claim; returns the number of rows written (0 when the
        run was already finished: a finished result is never overwritten)."""
        key = result["key"]
        replica_rows = _replica_rows(key, result)
        trace_rows = _trace_rows(key, result.get("trace"))
        passage_rows = _passage_rows(key, result.get("trace"))
        with self._transaction() as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = ?, error = ?, seconds = ?, samples = ?, finished = ?, "
                "hyper = ?, provenance = ? WHERE key = ? AND status NOT IN ('done', 'diverged')",
                (result["status"], result.get("error"), result.get("seconds"),
                 result.get("samples"), time.time(), _json(result.get("hyper")),
                 _json(result.get("provenance")), key))
            written = cursor.rowcount
            if written:
                # a retried run has the same replicas and metrics: replace its rows
                conn.executemany("INSERT OR REPLACE INTO replicas VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 replica_rows)
                conn.executemany("INSERT OR REPLACE INTO traces VALUES (?, ?, ?, ?, ?, ?)",
                                 trace_rows)
                conn.executemany("INSERT OR REPLACE INTO passages VALUES (?, ?, ?, ?)",
                                 passage_rows)
            conn.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, self.owner))
        return written and 1 + len(replica_rows) + len(trace_rows)


def _replica_rows(key: str, result: dict[str, Any]) -> list[tuple]:
    metrics = result.get("metrics") or {}
    diverged = result.get("diverged") or []
    rows = []
    for j, flag in enumerate(diverged):
        values = [_float_or_none(metrics[m][j]) if m in metrics else None
                  for m in REPLICA_METRICS]
        rows.append((key, j, *values, int(flag)))
    return rows


def _trace_rows(key: str, trace: dict[str, Any] | None) -> list[tuple]:
    if not trace or not trace.get("samples"):
        return []
    samples = np.asarray(trace["samples"], dtype=np.int64)
    rows = []
    for metric, values in trace["metrics"].items():
        arr = np.ascontiguousarray(values, dtype=np.float32)
        rows.append((key, metric, samples.tobytes(), arr.tobytes(), arr.shape[0], arr.shape[1]))
    return rows


def _passage_rows(key: str, trace: dict[str, Any] | None) -> list[tuple]:
    """``(key, metric, levels float64 bytes, samples (L, R) int64 bytes)`` per recorded metric
    (:meth:`indexlab.learners.trace.Trace.record_passages`)."""
    rows = []
    for metric, rec in ((trace or {}).get("passages") or {}).items():
        levels = np.ascontiguousarray(rec["levels"], dtype=np.float64)
        samples = np.ascontiguousarray(rec["samples"], dtype=np.int64)
        rows.append((key, metric, levels.tobytes(), samples.tobytes()))
    return rows


def load(db: str | Path, traces: bool = False):
    """The results store ``db`` as a pandas DataFrame: one row per run and replica with its
    configuration, status, versions, metrics and resolved hyperparameters (``hyper.NAME``
    columns) and, with ``traces=True``, the recorded traces (see :meth:`Store.table`).

    >>> from indexlab.experiments import load
    >>> df = load("he3.db")                                     # doctest: +SKIP
    >>> df.groupby(["learner", "d", "n"]).overlap.median()      # doctest: +SKIP
    """
    with Store(db, create=False) as store:
        return to_dataframe(store, traces)


__all__ = ["BUSY", "CLAIMED", "FINISHED", "FINISHED_ELSEWHERE", "HEARTBEAT_SECONDS",
           "REPLICA_METRICS", "RUN_COLUMNS", "SCHEMA_VERSION", "SUPPORTED_SCHEMAS", "Store",
           "StoreError", "claim_alive", "claim_timeout", "export_csv", "export_parquet", "load",
           "to_dataframe"]
