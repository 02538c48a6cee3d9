"""A light, optional progress hook for long loops (no learner needs to know who listens).

Loops that consume samples call :func:`report` with how many samples per replica they have
just finished (the data sources of :mod:`indexlab.learners.base` do it for every chunk a
learner consumes, so the online engine, the spectral/SDR passes and the kernel learners all
report); figures report ``kind="figures"``. Nothing happens unless a caller installed a
callback with :func:`reporting` — the CLI's Rich bars do, a library user may too::

    from indexlab.progress import reporting

    with reporting(lambda amount, kind: print(kind, amount)):
        Unified().fit(target, n=100_000)

The callback lives in a :class:`contextvars.ContextVar`, so threads and Dask workers that
did not install one pay one ``ContextVar.get`` per chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Callback = Callable[[float, str], None]
_CALLBACK: ContextVar[Callback | None] = ContextVar("indexlab_progress", default=None)


def report(amount: float, kind: str = "samples") -> None:
    """Tell the installed callback (if any) that ``amount`` more units of ``kind`` are done."""
    callback = _CALLBACK.get()
    if callback is not None:
        callback(amount, kind)


@contextmanager
def reporting(callback: Callback | None) -> Iterator[None]:
    """Install ``callback(amount, kind)`` for the duration of the block (``None``: silence)."""
    token = _CALLBACK.set(callback)
    try:
        yield
    finally:
        _CALLBACK.reset(token)
