"""Thread counts of a sweep process that shares the machine with other sweeps.

Two ``indexlab sweep`` processes on one store each ran torch (and numba) with one thread per
core: on ``c`` cores that is ``2c`` spinning threads, and both stalled inside the online-SGD
step (with ``OMP_NUM_THREADS=1`` the pair finished in 10 s). A process that sees ``k`` other
live sweeps on its host (their claims in the store, :meth:`Store.live_claims`) therefore
takes ``max(1, cores // (k + 1))`` threads (:func:`threads_for`), ``cores`` being the cores
this process may run on (``os.sched_getaffinity``).

The count only ever goes down in a process (never back up: switching torch's thread count
back and forth between batched LAPACK solves made MKL's ``lu_solve`` fail), and a sweep alone
on its host keeps the threads it started with, so its numbers are those of any earlier
version. The chain engine's results do not depend on numba's thread count (every replica has
its own generators), so lowering it changes nothing but the speed.
"""

from __future__ import annotations

import os
import socket
import sys

from indexlab.experiments.store import Store


def available_cores() -> int:
    """The cores this process may run on (its affinity mask; ``os.cpu_count()`` where the
    platform has none)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def threads_for(cores: int, processes: int) -> int:
    """Threads per process when ``processes`` processes share ``cores`` cores:
    ``max(1, cores // processes)``."""
    return max(1, cores // max(1, processes))


def other_live_sweeps(store: Store) -> int:
    """Processes on this host, other than this one, that hold a live claim in ``store``."""
    host = socket.gethostname()
    owners = set(store.live_claims().values())
    return sum(1 for owner in owners
               if owner != store.owner and owner.split(":", 1)[0] == host)


def share_cores(store: Store) -> int | None:
    """Lower this process's torch and numba threads to :func:`threads_for` its share of the
    cores when other sweeps run on this host (:func:`other_live_sweeps`); returns the count
    set, or ``None`` when this sweep is alone (nothing is changed)."""
    others = other_live_sweeps(store)
    if others == 0:
        return None
    import torch

    threads = threads_for(available_cores(), others + 1)
    numba = sys.modules.get("numba")  # first: launching its threading layer resets OpenMP's
    if numba is not None:
        if threads < numba.get_num_threads():
            numba.set_num_threads(threads)
    elif "NUMBA_NUM_THREADS" not in os.environ:  # read when numba is first imported
        os.environ["NUMBA_NUM_THREADS"] = str(threads)
    if threads < torch.get_num_threads():
        torch.set_num_threads(threads)
    return threads
