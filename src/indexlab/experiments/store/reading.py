"""Reading a store: its sweeps, runs, per-replica metrics and traces, and the flat table of
one row per run and replica (:meth:`Reading.table`) exported as CSV, Parquet or a pandas
DataFrame (:func:`export_csv`, :func:`export_parquet`, :func:`to_dataframe`)."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from indexlab.experiments.store.schema import REPLICA_METRICS, RUN_COLUMNS, StoreError, to_json


class Reading:
    """The read methods of :class:`~indexlab.experiments.store.Store` (which provides
    ``conn`` and the ``_provenance`` flag: whether ``runs`` has its provenance column)."""

    conn: sqlite3.Connection
    _provenance: bool

    def _run_columns(self, prefix: str = "", columns: tuple[str, ...] = RUN_COLUMNS) -> str:
        """Run columns for a SELECT (``NULL`` for a provenance column the file lacks)."""
        return ", ".join(f"{prefix}{c}" if c != "provenance" or self._provenance else "NULL"
                         for c in columns)

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

    def passages(self, key: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """A run's first passages at one-step resolution: ``{metric: (levels (L,), samples
        (L, R) int64)}``, ``−1`` where a replica never reached the level; empty for runs (or
        stores) that recorded none."""
        try:
            rows = self.conn.execute(
                "SELECT metric, levels, samples FROM passages WHERE key = ?", (key,)).fetchall()
        except sqlite3.OperationalError:  # a store written before the table existed
            return {}
        out = {}
        for metric, levels, samples in rows:
            lv = np.frombuffer(levels, dtype=np.float64)
            out[metric] = (lv, np.frombuffer(samples, dtype=np.int64).reshape(lv.size, -1))
        return out

    def status_counts(self) -> dict[str, int]:
        """Number of runs per status."""
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))

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
    return to_json(value)


# ---------------------------------------------------------------------------------- export
def export_csv(store: Reading, path: str | Path, traces: bool = False) -> int:
    """Write the flat table (one row per run and replica, see :meth:`Store.table`) as CSV;
    trace lists are written as JSON arrays. Returns the row count."""
    cols, rows = store.table(traces)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        writer.writerows([[json.dumps(v) if isinstance(v, list) else v for v in row]
                          for row in rows])
    return len(rows)


def to_dataframe(store: Reading, traces: bool = False):
    """The flat table (:meth:`Store.table`) as a pandas DataFrame (needs the optional
    ``pandas``: ``pip install 'indexlab[export]'``); traces are list-valued columns."""
    try:
        import pandas as pd
    except ModuleNotFoundError:
        raise StoreError("pandas is not installed: pip install 'indexlab[export]' "
                         "(or pip install pandas)") from None
    cols, rows = store.table(traces)
    return pd.DataFrame.from_records(rows, columns=cols)


def export_parquet(store: Reading, path: str | Path, traces: bool = False) -> int:
    """Write the flat table as Parquet (needs ``pandas`` and ``pyarrow``)."""
    frame = to_dataframe(store, traces)
    try:
        frame.to_parquet(path, index=False)
    except ImportError:
        raise StoreError("Parquet export needs pyarrow: pip install 'indexlab[export]'") \
            from None
    return len(frame)
