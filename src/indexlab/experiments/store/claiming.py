"""Claims: which process computes a run now, its heartbeats, and whether it is still alive.

A run is claimed in one ``BEGIN IMMEDIATE`` transaction (:meth:`Claiming.claim`), so two
sweeps on one file never compute the same run at once; the owner refreshes ``heartbeat``
every :data:`HEARTBEAT_SECONDS` while it holds claims (:class:`Heartbeat`, a thread on its own
connection). A claim is *live* (:func:`claim_alive`) while its heartbeat is younger than
:func:`claim_timeout` and, on this host, its process runs: a process that is gone — or a
zombie, killed and not yet reaped by its parent — holds nothing, so a ``running`` run whose
claim is on this host and whose process died (``kill -9``) is *interrupted* at once; on
another host it is interrupted when its heartbeat is older than the timeout.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from indexlab.experiments.run import Run, as_run
from indexlab.experiments.store.schema import FINISHED, RUN_COLUMNS, StoreError, to_json

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


def _zombie(pid: int) -> bool:
    """Whether process ``pid`` has exited and waits to be reaped (state ``Z`` or ``X`` in
    ``/proc/PID/stat``; ``False`` where there is no ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[:1]  # the name may hold spaces and parentheses
    return state in (["Z"], ["X"])


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return not _zombie(pid)


def claim_alive(pid: int, host: str, heartbeat: float, now: float | None = None,
                timeout: float | None = None) -> bool:
    """Whether a claim is live: its heartbeat is recent and, on this host, its process runs."""
    now = time.time() if now is None else now
    timeout = claim_timeout() if timeout is None else timeout
    if now - heartbeat > timeout:
        return False
    return host != socket.gethostname() or _pid_alive(pid)


class Heartbeat:
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


class Claiming:
    """The claim methods of :class:`~indexlab.experiments.store.Store` (which provides
    ``conn``, ``path``, ``owner``, ``_transaction`` and the ``_claims`` flag)."""

    conn: sqlite3.Connection
    path: Path
    owner: str
    _claims: bool
    _claimed: bool
    _provenance: bool
    _heartbeat: Heartbeat | None

    def claim(self, key: str, config: Run | dict[str, Any], version: str) -> str:
        """Try to take run ``key`` (described by ``config``, a :class:`Run` or its
        configuration dict, stored under ``version``) for this process, atomically: returns
        ``"claimed"`` (the run is now ``running``, ``attempts`` bumped, and ours to compute),
        ``"finished"`` (done or diverged already: never touched again) or ``"busy"`` (a live
        claim of another process). A stale claim (module docstring) is taken over."""
        now = time.time()
        row = {**as_run(config, version).columns(), "key": key, "version": version}
        row = {**row, "status": "running", "error": None, "attempts": 1, "seconds": None,
               "samples": None, "started": now, "finished": None,
               "config": to_json(row["config"]), "hyper": None, "provenance": None}
        columns = [c for c in RUN_COLUMNS if c != "provenance" or self._provenance]
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
                f"INSERT INTO runs ({', '.join(columns)}) VALUES "
                f"({', '.join('?' * len(columns))}) "
                "ON CONFLICT(key) DO UPDATE SET status = 'running', error = NULL, "
                "attempts = attempts + 1, started = excluded.started "
                "WHERE status NOT IN ('done', 'diverged')", [row[c] for c in columns])
        self._claimed = True
        if self._heartbeat is None:
            self._heartbeat = Heartbeat(self.path, self.owner)
        return CLAIMED

    def claim_run(self, run: Run) -> str:
        """:meth:`claim` of a :class:`Run` under its own key and version."""
        return self.claim(run.key, run, run.version)

    def mark_started(self, key: str, config: Run | dict[str, Any], version: str) -> None:
        """:meth:`claim` for callers that own the file alone (raises if the run is finished
        or held by another live process)."""
        outcome = self.claim(key, config, version)
        if outcome != CLAIMED:
            raise StoreError(f"run {key} cannot be started: it is {outcome}")

    def release(self, keys: Iterable[str] | None = None) -> None:
        """Drop this process's claims (all, or those of ``keys``); their runs stay
        ``running`` until run again, and read as interrupted."""
        if not self._claims or not self._claimed:  # never claimed anything
            return
        with self._transaction() as conn:
            if keys is None:
                conn.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))
            else:
                conn.executemany("DELETE FROM claims WHERE key = ? AND owner = ?",
                                 [(k, self.owner) for k in keys])

    def live_claims(self) -> dict[str, str]:
        """``{key: owner}`` of the claims that are live now (module docstring)."""
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
