"""Terminal output shared by every ``indexlab`` command: the Rich consoles and :func:`fail`
(one red error line on stderr, exit code 2, no traceback).

Lives below both command modules (``indexlab.cli`` and ``indexlab.experiments.cli``) so that
neither imports the other's internals.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with code 2 (bad input)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code=2)


def _interrupted(store: Any, sweep_name: str | None, command: str) -> NoReturn:
    """After Ctrl-C: what the store holds (finished runs of the sweep, or of the whole store)
    and the command that resumes; exits with 130 (the shell's code for SIGINT)."""
    finished = store.finished_keys()
    sweeps = [s for s in store.sweeps() if sweep_name is None or s["name"] == sweep_name]
    keys = {k for s in sweeps for k in s["labels"]}
    held = len(keys & finished) if keys else len(finished)
    total = f" of {len(keys)}" if keys else ""
    console.print(f"interrupted: {held}{total} runs are stored in {escape(str(store.path))} "
                  "(each finished run is kept; a run cut off is computed again)")
    console.print(f"resume with: {escape(command)}", highlight=False)
    raise typer.Exit(130)


def run_on_store(store: Any, work: Callable[[], T], resume: str,
                 sweep_name: str | None = None) -> T:
    """``work()`` with the store's command-line contract: Ctrl-C prints what is stored and
    ``resume``, the command that resumes (exit 130); bad input met on the way (a
    ``ValueError``) or a damaged store prints one error line (exit 2); the store is closed
    in every case, and every run finished before stays in it."""
    try:
        return work()
    except KeyboardInterrupt:
        _interrupted(store, sweep_name, resume)
    except ValueError as exc:
        fail(str(exc))
    except sqlite3.DatabaseError as exc:
        fail(f"results store {str(store.path)!r} is damaged or unreadable: {exc}")
    finally:
        store.close()


def emit_json(results: Any) -> None:
    """One JSON object per result (its ``as_dict()``), one per line: ``--json`` output."""
    for result in results:
        typer.echo(json.dumps(result.as_dict()))
