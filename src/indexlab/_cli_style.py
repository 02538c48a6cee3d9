"""Help-screen polish for the ``indexlab`` command (Typer + Rich).

Typer ≥ 0.2x prints a type column for every option, flags included (``--json <bool>``,
``--help <bool>``), although a flag takes no value. :func:`clean_flag_rendering` drops the
type of flags and leaves every other option as Typer prints it. It is a no-op on Typer
versions without ``TyperOption.display_type_rich`` (they print no type for flags anyway).
"""

from __future__ import annotations


def clean_flag_rendering() -> None:
    """Render boolean flags without a value type in ``--help`` (idempotent)."""
    try:
        from typer.core import TyperOption
    except ImportError:  # pragma: no cover - very old Typer
        return
    original = getattr(TyperOption, "display_type_rich", None)
    if original is None or getattr(original, "_indexlab_flags", False):
        return

    def display_type_rich(self, ctx):
        if getattr(self, "is_flag", False) and not getattr(self, "metavar", None):
            return None
        return original(self, ctx)

    display_type_rich._indexlab_flags = True
    TyperOption.display_type_rich = display_type_rich
