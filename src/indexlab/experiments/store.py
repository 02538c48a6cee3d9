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
  as int64 bytes and ``values`` as float32 bytes of shape ``(steps, width = R)``.

A finished run is written in one transaction (its row, replicas and traces together), so a
crash or ``kill -9`` leaves either the whole result or none of it. A run's state only moves
forward: ``done`` and ``diverged`` runs are never claimed, rewritten or run again (a second
result for a finished run is dropped); ``failed`` and interrupted ones are run again.

:class:`Store` refuses a file that is not an indexlab store (a foreign SQLite database is
refused before anything is written to it).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

FINISHED = ("done", "diverged")
REPLICA_METRICS = ("overlap", "overlap_neuron", "subspace_distance", "test_mse")
RUN_COLUMNS = ("key", "link", "d", "r", "sparsity", "noise", "learner", "n", "replicas", "seed",
               "device", "dtype", "n_test", "trace", "version", "status", "error", "attempts",
               "seconds", "samples", "started", "finished", "config", "hyper", "provenance")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
    name TEXT PRIMARY KEY, spec TEXT NOT NULL, success TEXT NOT NULL,
    probability REAL NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sweep_runs (
    sweep TEXT NOT NULL, key TEXT NOT NULL, target TEXT NOT NULL, learner TEXT NOT NULL,
    PRIMARY KEY (sweep, key));
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY, link TEXT NOT NULL, d INTEGER NOT NULL, r INTEGER,
    sparsity INTEGER, noise REAL NOT NULL, learner TEXT NOT NULL, n INTEGER NOT NULL,
    replicas INTEGER NOT NULL, seed INTEGER NOT NULL, device TEXT NOT NULL,
    dtype TEXT NOT NULL, n_test INTEGER NOT NULL, trace INTEGER NOT NULL,
    version TEXT NOT NULL, status TEXT NOT NULL, error TEXT, attempts INTEGER NOT NULL,
    seconds REAL, samples INTEGER, started REAL, finished REAL, config TEXT NOT NULL,
    hyper TEXT, provenance TEXT);
CREATE TABLE IF NOT EXISTS replicas (
    key TEXT NOT NULL, replica INTEGER NOT NULL, overlap REAL, overlap_neuron REAL,
    subspace_distance REAL, test_mse REAL, diverged INTEGER NOT NULL,
    PRIMARY KEY (key, replica));
CREATE TABLE IF NOT EXISTS traces (
    key TEXT NOT NULL, metric TEXT NOT NULL, samples BLOB NOT NULL, "values" BLOB NOT NULL,
    steps INTEGER NOT NULL, width INTEGER NOT NULL, PRIMARY KEY (key, metric));
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    heartbeat REAL NOT NULL);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
"""
SCHEMA_VERSION = "3"
_TABLES = {"meta", "sweeps", "sweep_runs", "runs", "replicas", "traces", "claims"}
HEARTBEAT_SECONDS = 5.0
CLAIMED, BUSY, FINISHED_ELSEWHERE = "claimed", "busy", "finished"


def claim_timeout() -> float:
    """Seconds without a heartbeat after which a claim is stale: ``INDEXLAB_CLAIM_TIMEOUT``
    (default 120; a positive number)."""
    text = os.environ.get("INDEXLAB_CLAIM_TIMEOUT", "120")
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value < float("inf")):
        raise StoreError(f"INDEXLAB_CLAIM_TIMEOUT={text!r} is not allowed: use a number of "
                         "seconds > 0")
    return value


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def claim_alive(pid: int, host: str, heartbeat: float, now: float | None = None,
                timeout: float | None = None) -> bool:
    """Whether a claim is live: its heartbeat is recent and, on this host, its process runs."""
    now = time.time() if now is None else now
    timeout = claim_timeout() if timeout is None else timeout
    if now - heartbeat > timeout:
        return False
    return host != socket.gethostname() or _pid_alive(pid)


class StoreError(ValueError):
    """The file is not an indexlab results store (or cannot be opened)."""


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


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


class Store:
    """A results store in one SQLite file (see the module docstring for the layout).

    ``create=False`` opens an existing store only. A file that exists but is not an indexlab
    store (another SQLite database, or not SQLite at all) is a :class:`StoreError`, and is
    left untouched.
    """

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StoreError(f"results store {str(self.path)!r} does not exist")
        fresh = _check_foreign(self.path)
        if fresh and not create:
            raise StoreError(f"{str(self.path)!r} is an empty file, not an indexlab results "
                             "store")
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._heartbeat: _Heartbeat | None = None
        self._claimed = False
        try:
            self.conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if create:
                with self._transaction():
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            self.conn.execute(statement)
                    self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                                      (SCHEMA_VERSION,))
            self.conn.execute("SELECT key, value FROM meta").fetchall()
            self.conn.execute("SELECT key FROM runs LIMIT 1").fetchall()
            self._claims = bool(self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'claims'"
            ).fetchone())
            self._provenance = self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{str(self.path)!r} is not an indexlab results store: {exc}") \
                from None

    def _migrate(self) -> bool:
        """Schema 2 → 3: add ``runs.provenance`` (NULL for the runs stored before); ``False``
        when the column is missing and the file cannot be changed (read-only)."""
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(runs)")}
        if "provenance" in columns:
            return True
        try:
            with self._transaction():
                self.conn.execute("ALTER TABLE runs ADD COLUMN provenance TEXT")
                self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)",
                                  (SCHEMA_VERSION,))
        except sqlite3.OperationalError:
            return False
        return True

    def _run_columns(self, prefix: str = "", columns: tuple[str, ...] = RUN_COLUMNS) -> str:
        """Run columns for a SELECT (``NULL`` for a provenance column the file lacks)."""
        return ", ".join(f"{prefix}{c}" if c != "provenance" or self._provenance else "NULL"
                         for c in columns)

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

    def claim(self, key: str, config: dict[str, Any], version: str) -> str:
        """Try to take run ``key`` for this process, atomically: returns ``"claimed"`` (the run
        is now ``running``, ``attempts`` bumped, and ours to compute), ``"finished"`` (done or
        diverged already: never touched again) or ``"busy"`` (a live claim of another
        process). A stale claim (see the module docstring) is taken over."""
        t = config["target"]
        now = time.time()
        row = (key, t["link"], t["d"], t["r"], t["sparsity"], t["noise"],
               config["learner"]["name"], config["n"], config["replicas"], config["seed"],
               config["device"], config["dtype"], config["n_test"], int(config["trace"]),
               version, "running", None, 1, None, None, now, None, _json(config), None, None)
        timeout = claim_timeout()
        with self._transaction() as conn:
            status = conn.execute("SELECT status FROM runs WHERE key = ?", (key,)).fetchone()
            if status is not None and status[0] in FINISHED:
                return FINISHED_ELSEWHERE
            held = conn.execute("SELECT owner, pid, host, heartbeat FROM claims WHERE key = ?",
                                (key,)).fetchone()
            if held is not None and held[0] != self.owner and claim_alive(*held[1:], now,
                                                                           timeout):
                return BUSY
            pid, host = os.getpid(), socket.gethostname()
            conn.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                         (key, self.owner, pid, host, now))
            conn.execute(
                f"INSERT INTO runs VALUES ({', '.join('?' * len(RUN_COLUMNS))}) "
                "ON CONFLICT(key) DO UPDATE SET status = 'running', error = NULL, "
                "attempts = attempts + 1, started = excluded.started "
                "WHERE status NOT IN ('done', 'diverged')", row)
        self._claimed = True
        if self._heartbeat is None:
            self._heartbeat = _Heartbeat(self.path, self.owner)
        return CLAIMED

    def mark_started(self, key: str, config: dict[str, Any], version: str) -> None:
        """:meth:`claim` for callers that own the file alone (raises if the run is finished
        or held by another live process)."""
        outcome = self.claim(key, config, version)
        if outcome != CLAIMED:
            raise StoreError(f"run {key} cannot be started: it is {outcome}")

    def release(self, keys: Iterable[str] | None = None) -> None:
        """Drop this process's claims (on ``keys`` only, if given); their runs stay
        ``running`` until run again, and read as interrupted."""
        if not self._claims or not self._claimed:  # never claimed anything
            return
        with self._transaction() as conn:
            if keys is None:
                conn.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))
            else:
                conn.executemany("DELETE FROM claims WHERE key = ? AND owner = ?",
                                 [(k, self.owner) for k in keys])

    def write_result(self, result: dict[str, Any]) -> int:
        """Store a finished run (the dict of :func:`~indexlab.experiments.runner.execute_run`)
        in one transaction and drop its claim; returns the number of rows written (0 when the
        run was already finished: a finished result is never overwritten)."""
        key = result["key"]
        replica_rows = _replica_rows(key, result)
        trace_rows = _trace_rows(key, result.get("trace"))
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
            conn.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, self.owner))
        return written and 1 + len(replica_rows) + len(trace_rows)

    # ------------------------------------------------------------------ reading
    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep: name, spec (dict), success text, probability, created, and
        ``labels`` {key: (target label, learner label)}."""
        out = []
        for name, spec, success, probability, created in self.conn.execute(
                "SELECT name, spec, success, probability, created FROM sweeps ORDER BY created"
        ).fetchall():
            labels = {k: (t, lr) for k, t, lr in self.conn.execute(
                "SELECT key, target, learner FROM sweep_runs WHERE sweep = ?", (name,))}
            out.append({"name": name, "spec": json.loads(spec), "success": success,
                        "probability": probability, "created": created, "labels": labels})
        return out

    def runs(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Run rows as dicts (all columns; ``config``/``hyper`` decoded), optionally by key."""
        rows = self.conn.execute(f"SELECT {self._run_columns()} FROM runs ORDER BY "
                                 "link, learner, d, n").fetchall()
        wanted = None if keys is None else set(keys)
        out = []
        for row in rows:
            run = dict(zip(RUN_COLUMNS, row, strict=True))
            if wanted is not None and run["key"] not in wanted:
                continue
            run["config"] = json.loads(run["config"])
            run["hyper"] = json.loads(run["hyper"]) if run["hyper"] else None
            run["provenance"] = json.loads(run["provenance"]) if run["provenance"] else None
            out.append(run)
        return out

    def replicas(self, key: str) -> dict[str, np.ndarray]:
        """Per-replica metrics of one run: arrays of shape ``(R,)`` (NaN where absent)."""
        rows = self.conn.execute(
            f"SELECT {', '.join(REPLICA_METRICS)}, diverged FROM replicas WHERE key = ? "
            "ORDER BY replica", (key,)).fetchall()
        k = len(REPLICA_METRICS)
        cols = list(zip(*rows, strict=True)) if rows else [()] * (k + 1)
        out = {m: np.array([np.nan if v is None else v for v in col], dtype=np.float64)
               for m, col in zip(REPLICA_METRICS, cols[:k], strict=True)}
        out["diverged"] = np.array(cols[k], dtype=bool)
        return out

    def trace(self, key: str) -> dict[str, Any]:
        """The stored trace of a run: ``{"samples": (T,), metric: (T, R) float32, ...}``."""
        out: dict[str, Any] = {}
        for metric, samples, values, steps, width in self.conn.execute(
                'SELECT metric, samples, "values", steps, width FROM traces WHERE key = ?',
                (key,)):
            out["samples"] = np.frombuffer(samples, dtype=np.int64)
            out[metric] = np.frombuffer(values, dtype=np.float32).reshape(steps, width)
        return out

    def status_counts(self) -> dict[str, int]:
        """Number of runs per status."""
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))

    def live_claims(self) -> dict[str, str]:
        """``{key: owner}`` of the claims that are live now (see the module docstring)."""
        if not self._claims:
            return {}
        now, timeout = time.time(), claim_timeout()
        rows = self.conn.execute("SELECT key, owner, pid, host, heartbeat FROM claims")
        return {key: owner for key, owner, pid, host, beat in rows
                if claim_alive(pid, host, beat, now, timeout)}

    def run_states(self, keys: Iterable[str]) -> dict[str, str]:
        """The state of each run: ``done``, ``diverged``, ``failed``, ``running`` (a live
        process holds it), ``interrupted`` (started, no live process) or ``queued``
        (not started)."""
        live = self.live_claims()
        stored = dict(self.conn.execute("SELECT key, status FROM runs"))
        out = {}
        for key in keys:
            status = stored.get(key)
            if status in FINISHED or (status == "failed" and key not in live):
                out[key] = status
            elif key in live:
                out[key] = "running"
            else:
                out[key] = "queued" if status is None else "interrupted"
        return out

    def table(self, traces: bool = False) -> tuple[list[str], list[tuple]]:
        """The flat export table: one row per run and replica — the run columns, the
        versions (``torch_version``, ...), the replica's metrics, one ``hyper.NAME`` column per
        resolved hyperparameter (empty where a learner has no such field) and, with
        ``traces``, ``trace_samples`` and ``trace_METRIC`` (the replica's recorded trace as a
        list, ``None`` at non-finite points)."""
        run_cols = [c for c in RUN_COLUMNS if c not in ("config", "hyper", "provenance")]
        rows = self.conn.execute(
            f"SELECT {self._run_columns('runs.', (*run_cols, 'hyper', 'provenance'))}, "
            f"replicas.replica, {', '.join('replicas.' + m for m in REPLICA_METRICS)}, "
            "replicas.diverged FROM runs LEFT JOIN replicas ON runs.key = replicas.key "
            "ORDER BY runs.link, runs.learner, runs.d, runs.n, replicas.replica").fetchall()
        k = len(run_cols)
        hypers = [json.loads(row[k]) if row[k] else {} for row in rows]
        provs = [json.loads(row[k + 1]) if row[k + 1] else {} for row in rows]
        prov_keys = ("torch_version", "numpy_version", "python_version")
        hyper_keys = sorted({key for h in hypers for key in (h or {})})
        cols = [*run_cols, *prov_keys, "replica", *REPLICA_METRICS, "diverged",
                *(f"hyper.{key}" for key in hyper_keys)]
        out = []
        for row, hyper, prov in zip(rows, hypers, provs, strict=True):
            hyper, prov = hyper or {}, prov or {}
            out.append((*row[:k], *(prov.get(p) for p in prov_keys), *row[k + 2:],
                        *(_cell(hyper.get(key)) for key in hyper_keys)))
        if traces:
            cols, out = self._with_traces(cols, out)
        return cols, out

    def _with_traces(self, cols: list[str], rows: list[tuple]) -> tuple[list[str], list[tuple]]:
        key_at, replica_at = cols.index("key"), cols.index("replica")
        cache = {key: self.trace(key) for key in {row[key_at] for row in rows}}
        metrics = sorted({m for t in cache.values() for m in t if m != "samples"})
        extended = []
        for row in rows:
            trace, j = cache[row[key_at]], row[replica_at]
            values = [None if j is None or m not in trace or j >= trace[m].shape[1] else
                      [float(v) if np.isfinite(v) else None for v in trace[m][:, j]]
                      for m in metrics]
            samples = [int(s) for s in trace["samples"]] if "samples" in trace else None
            extended.append((*row, samples, *values))
        return [*cols, "trace_samples", *(f"trace_{m}" for m in metrics)], extended


def _cell(value: Any) -> Any:
    """A hyperparameter as a table cell: numbers, text and booleans as they are, else JSON."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return _json(value)


def _check_foreign(path: Path) -> bool:
    """Refuse (``StoreError``) an existing file that is not an indexlab store, reading it
    read-only so that nothing is written to it; ``True`` when the file is new or empty."""
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        return True
    if not path.is_file():
        raise StoreError(f"{str(path)!r} is not a file: give a results store file")
    try:
        uri = path.resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=60.0)
        try:
            tables = {n for (n,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")
                if not n.startswith("sqlite_")}
            schema = (conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                      if "meta" in tables else None)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{str(path)!r} is not an indexlab results store: {exc}") from None
    if not tables:
        return True
    if not tables <= _TABLES or "meta" not in tables:
        foreign = ", ".join(sorted(tables - _TABLES)) or ", ".join(sorted(tables))
        raise StoreError(f"{str(path)!r} is a SQLite database but not an indexlab results "
                         f"store (tables: {foreign}); it was left untouched: give a new file")
    if schema is None:
        raise StoreError(f"{str(path)!r} looks like a damaged indexlab results store (its "
                         "schema row is unreadable); it was left untouched")
    return False


class _Heartbeat:
    """A daemon thread refreshing the ``heartbeat`` of ``owner``'s claims every
    :data:`HEARTBEAT_SECONDS`, on its own connection (so a long run keeps its claims live)."""

    def __init__(self, path: Path, owner: str, interval: float = HEARTBEAT_SECONDS):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(path, owner, interval),
                                        daemon=True, name="indexlab-heartbeat")
        self._thread.start()

    def _loop(self, path: Path, owner: str, interval: float) -> None:
        conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
        try:
            while not self._stop.wait(interval):
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("UPDATE claims SET heartbeat = ? WHERE owner = ?",
                                 (time.time(), owner))
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)


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


# ---------------------------------------------------------------------------------- export
def export_csv(store: Store, path: str | Path, traces: bool = False) -> int:
    """Write the flat table (one row per run and replica, see :meth:`Store.table`) as CSV;
    trace lists are written as JSON arrays. Returns the row count."""
    cols, rows = store.table(traces)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        writer.writerows([[json.dumps(v) if isinstance(v, list) else v for v in row]
                          for row in rows])
    return len(rows)


def to_dataframe(store: Store, traces: bool = False):
    """The flat table (:meth:`Store.table`) as a pandas DataFrame (needs the optional
    ``pandas``: ``pip install 'indexlab[export]'``); traces are list-valued columns."""
    try:
        import pandas as pd
    except ModuleNotFoundError:
        raise StoreError("pandas is not installed: pip install 'indexlab[export]' "
                         "(or pip install pandas)") from None
    cols, rows = store.table(traces)
    return pd.DataFrame.from_records(rows, columns=cols)


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


def export_parquet(store: Store, path: str | Path, traces: bool = False) -> int:
    """Write the flat table as Parquet (needs ``pandas`` and ``pyarrow``)."""
    frame = to_dataframe(store, traces)
    try:
        frame.to_parquet(path, index=False)
    except ImportError:
        raise StoreError("Parquet export needs pyarrow: pip install 'indexlab[export]'") \
            from None
    return len(frame)
