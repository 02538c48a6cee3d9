"""The store's schema: its tables and columns, the versions it reads, the checks made before
a file is opened for writing, and the migration of older stores.

A file given as a store is checked read-only first (:func:`check_file`), so that nothing is ever
written to a file that is not a sound indexlab store: it must be new or empty, or an SQLite database
with the tables of :data:`SCHEMA`, a ``meta`` row ``schema`` in :data:`SUPPORTED_SCHEMAS`, and every
column :data:`SCHEMA` gives its tables (``claims`` and ``passages`` may be absent and
``runs.provenance`` missing: they are added when the store is opened for writing, see
:func:`migrate`). Each refusal is a :class:`StoreError` naming what is wrong; a missing directory
and a file or directory that cannot be written have their own messages (:func:`check_location`,
:func:`readonly_error`).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

FINISHED = ("done", "diverged")
REPLICA_METRICS = ("overlap", "overlap_neuron", "subspace_distance", "test_mse")
RUN_COLUMNS = ("key", "link", "d", "r", "sparsity", "noise", "learner", "n", "replicas", "seed",
               "device", "dtype", "n_test", "trace", "version", "status", "error", "attempts",
               "seconds", "samples", "started", "finished", "config", "hyper", "provenance")

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS passages (
    key TEXT NOT NULL, metric TEXT NOT NULL, levels BLOB NOT NULL, samples BLOB NOT NULL,
    PRIMARY KEY (key, metric));
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    heartbeat REAL NOT NULL);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
"""
SCHEMA_VERSION = "3"
SUPPORTED_SCHEMAS = ("2", "3")  # 2: runs without provenance (migrated to 3 when written)
# stores written before claims (first passages) existed gain the table on open
OPTIONAL_TABLES = {"claims", "passages"}
MIGRATED_COLUMNS = {("runs", "provenance")}  # schema 2 -> 3 (:func:`migrate`)


def _columns_of(schema: str) -> dict[str, tuple[str, ...]]:
    """``{table: its columns}`` of the ``CREATE TABLE`` statements of ``schema``."""
    out = {}
    for name, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\);", schema, re.S):
        columns = []
        for part in body.split(","):
            word = part.strip().split()[0].strip('"') if part.strip() else ""
            if word and word.upper() != "PRIMARY" and not word.startswith("("):
                columns.append(word)
        out[name] = tuple(c for c in columns if not c.endswith(")"))
    return out


TABLE_COLUMNS = _columns_of(SCHEMA)
TABLES = set(TABLE_COLUMNS)


class StoreError(ValueError):
    """The file is not an indexlab results store (or cannot be opened)."""


def to_json(value: Any) -> str:
    """Sorted, compact JSON (anything else as its ``str``): how the store writes a dict."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def check_location(path: Path, create: bool) -> None:
    """Refuse a store that cannot be where it is asked to be: ``create=False`` and no such
    file; a new file in a directory that does not exist or cannot be written."""
    if not create and not path.is_file():
        raise StoreError(f"results store {str(path)!r} does not exist")
    if path.exists():
        return
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise StoreError(f"results store {str(path)!r} cannot be created: the directory "
                         f"{str(parent)!r} does not exist; create it first or give a --db in "
                         "an existing directory")
    if not os.access(parent, os.W_OK):
        raise StoreError(f"results store {str(path)!r} cannot be created: the directory "
                         f"{str(parent)!r} is not writable; give a --db in a directory you "
                         "can write to")


def readonly_error(path: Path, exc: sqlite3.Error) -> StoreError | None:
    """The :class:`StoreError` for an SQLite error that says the file (or its directory, where
    the write-ahead log lives) cannot be written; ``None`` for any other error."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return StoreError(f"results store {str(path)!r} is not writable (a read-only file, "
                          f"directory or file system: {exc}); give a --db you can write to, "
                          "or copy the store to a writable place")
    return None


def check_file(path: Path) -> bool:
    """Refuse (``StoreError``) an existing file that is not a sound indexlab store of a
    supported schema, reading it read-only so that nothing is written to it; ``True`` when
    the file is new or empty."""
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
            columns = {t: {row[1] for row in conn.execute(f'PRAGMA table_info("{t}")')}
                       for t in tables & TABLES}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{str(path)!r} is not an indexlab results store: {exc}") from None
    if not tables:
        return True
    if not tables <= TABLES or "meta" not in tables:
        foreign = ", ".join(sorted(tables - TABLES)) or ", ".join(sorted(tables))
        raise StoreError(f"{str(path)!r} is a SQLite database but not an indexlab results "
                         f"store (tables: {foreign}); it was left untouched: give a new file")
    if schema is None:
        raise StoreError(f"{str(path)!r} looks like a damaged indexlab results store (its "
                         "schema row is unreadable); it was left untouched")
    if schema[0] not in SUPPORTED_SCHEMAS:
        raise StoreError(f"{str(path)!r} is an indexlab results store of schema version "
                         f"{schema[0]!r}, which this indexlab cannot read: it supports schema "
                         f"versions {', '.join(SUPPORTED_SCHEMAS)}; it was left untouched "
                         "(open it with the indexlab version that wrote it)")
    check_structure(path, tables, columns)
    return False


def check_structure(path: Path, tables: set[str], columns: dict[str, set[str]]) -> None:
    """Refuse a store that lacks a table or a column of :data:`SCHEMA` (other than those an
    older store may lack and gains on open: :data:`OPTIONAL_TABLES`,
    :data:`MIGRATED_COLUMNS`), naming every one missing."""
    missing_tables = sorted(TABLES - tables - OPTIONAL_TABLES)
    missing_columns = [f"{t}.{c}" for t in sorted(TABLE_COLUMNS) if t in tables
                       for c in TABLE_COLUMNS[t]
                       if c not in columns.get(t, set()) and (t, c) not in MIGRATED_COLUMNS]
    if not missing_tables and not missing_columns:
        return
    what = []
    if missing_tables:
        what.append(f"table{'s' * (len(missing_tables) > 1)} {', '.join(missing_tables)}")
    if missing_columns:
        what.append(f"column{'s' * (len(missing_columns) > 1)} {', '.join(missing_columns)}")
    raise StoreError(f"{str(path)!r} is a damaged indexlab results store: it has no "
                     f"{' and no '.join(what)}; it was left untouched (nothing stored there "
                     "can be trusted to be complete: rerun the sweep into a new --db)")


def create_tables(conn: sqlite3.Connection) -> None:
    """The tables and the schema row of a new store (and ``claims`` in an older one)."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))


def migrate(conn: sqlite3.Connection, transaction) -> bool:
    """Schema 2 → 3: add ``runs.provenance`` (NULL for the runs stored before); ``False``
    when the column is missing and the file cannot be changed (read-only). ``transaction``
    is the store's ``BEGIN IMMEDIATE`` context manager."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    if "provenance" in columns:
        return True
    try:
        with transaction():
            conn.execute("ALTER TABLE runs ADD COLUMN provenance TEXT")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
    except sqlite3.OperationalError:
        return False
    return True
