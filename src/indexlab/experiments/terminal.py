"""Terminal output shared by every ``indexlab`` command: the Rich consoles and :func:`fail`
(one red error line on stderr, exit code 2, no traceback).

Lives below both command modules (``indexlab.cli`` and ``indexlab.experiments.cli``) so that
neither imports the other's internals.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with code 2 (bad input)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code=2)
