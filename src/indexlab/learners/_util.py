"""Small helpers shared by the classical baselines (spectral, SDR, kernels).

Validation at the boundary (messages name the argument, the value and what is allowed),
per-replica random generators, and the replica bookkeeping of a :class:`DataSource`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from indexlab import metrics
from indexlab.learners.base import DataSource, Trace, data_source
from indexlab.targets import _check_int

check_int = _check_int  # ``value`` as an int in ``[low, high]``, else ValueError naming it

CHUNK_ELEMENTS = 1 << 24  # default chunk: 16M numbers over all replicas (as targets.py)


def check_float(name: str, value, low: float = 0.0, strict: bool = False) -> float:
    """A finite real ``>= low`` (``> low`` when ``strict``), else ``ValueError``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok and math.isfinite(value) and (value > low if strict else value >= low):
        return float(value)
    relation = ">" if strict else ">="
    raise ValueError(f"{name}={value!r} is not allowed: use a finite number {relation} {low:g}")


def check_choice(name: str, value, allowed: tuple[str, ...]) -> str:
    if isinstance(value, str) and value in allowed:
        return value
    raise ValueError(f"{name}={value!r} is not allowed: use one of {', '.join(allowed)}")


def check_chunk(chunk) -> int | None:
    return None if chunk is None else check_int("chunk", chunk, 1)


def chunked_source(data, y, n: int | None, chunk: int | None, extra: int = 0) -> DataSource:
    """:func:`data_source` whose chunks hold ``chunk`` samples per replica, by default 16M
    numbers over all replicas for ``d + extra`` numbers per sample (datasets too, so that
    per-chunk temporaries stay small)."""
    if chunk is None:
        probe = data_source(data, y, n)
        chunk = max(1, CHUNK_ELEMENTS // (probe.replicas * (probe.d + extra)))
    return data_source(data, y, n, chunk)


def replica_ids(source: DataSource) -> tuple[int, ...]:
    """Replica ids of the data: the target's (``replicas=[j]`` reproduces replica ``j``)."""
    if source.target is not None:
        return tuple(source.target.replica_ids)
    return tuple(range(source.replicas))


def replica_generator(seed: int, replica: int, purpose: int) -> torch.Generator:
    """A CPU generator that depends only on ``(seed, replica, purpose)``.

    Random draws of the baselines (Lanczos start, random features) are made on the CPU in
    float64 from these generators and then moved, so they do not depend on the device or on
    the other replicas of the batch.
    """
    state = np.random.SeedSequence(entropy=seed, spawn_key=(replica, 2000 + purpose))
    return torch.Generator().manual_seed(int(state.generate_state(1, dtype=np.uint64)[0] >> 1))


def squeeze_out(t: torch.Tensor, squeeze: bool) -> torch.Tensor:
    """Drop the replica axis when the caller gave none."""
    return t[0] if squeeze else t


def with_replicas(X: torch.Tensor, replicas: int, what: str = "X") -> tuple[torch.Tensor, bool]:
    """``X`` as ``(R, n, d)`` for a learner fitted on ``R`` replicas, and whether to drop the
    replica axis of the output (``X (n, d)`` with ``R = 1``; with ``R > 1`` an unbatched ``X``
    is shared by all replicas and the output keeps the replica axis)."""
    X = torch.as_tensor(X)
    if X.ndim == 2:
        return X.expand(replicas, *X.shape), replicas == 1
    if X.ndim != 3 or X.shape[0] != replicas:
        raise ValueError(
            f"{what} of shape {tuple(X.shape)} is not allowed: use (n, d) or "
            f"({replicas}, n, d) for a learner fitted on {replicas} replicas"
        )
    return X, False


def fix_signs(V: torch.Tensor) -> torch.Tensor:
    """Flip each row of ``V (..., r, d)`` so that its entry of largest magnitude is positive
    (eigenvectors are defined up to sign; this makes the output deterministic)."""
    idx = V.abs().argmax(dim=-1, keepdim=True)
    signs = torch.sign(V.gather(-1, idx))
    return V * torch.where(signs == 0, torch.ones_like(signs), signs)


def unit_rows(V: torch.Tensor) -> torch.Tensor:
    return V / V.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(V.dtype).tiny)


@contextmanager
def num_threads(count: int, device: torch.device) -> Iterator[None]:
    """Run the CPU kernels of the block with ``count`` intra-op threads (no-op off the CPU)."""
    before = torch.get_num_threads()
    if device.type != "cpu" or count == before:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def threads_for(work: float, device: torch.device, full: int | None = None):
    """``num_threads`` for an operation of ``work`` multiply-adds: one thread below 16M, else
    ``full`` (default: the current setting). Small kernels lose to the intra-op thread pool,
    and it collapses when the cores are shared: on a loaded 2-core machine a 150 × 150
    ``eigh`` took 6 ms on one thread and 370 ms on two (500 × 500: 0.04 s and 2.6 s, so the
    learners run LAPACK factorisations on one thread), a ``(2, 500, 2000)`` batched product
    0.6 ms and 24 ms, and even a 64M multiply-add product was faster on one thread."""
    count = full if full is not None else torch.get_num_threads()
    return num_threads(count if work >= 1 << 24 else 1, device)


def final_trace(source: DataSource, directions: torch.Tensor, **values: torch.Tensor) -> Trace:
    """A one-record :class:`Trace` at ``n`` samples for the one-shot estimators: ``values``
    and, when fitted on a target, the subspace distance (and for ``r = 1`` targets the
    overlap) of ``directions (R, k, d)`` to the hidden directions."""
    trace = Trace()
    if source.target is not None:
        U = source.target.directions.to(device=directions.device, dtype=directions.dtype)
        values["subspace_distance"] = metrics.subspace_distance(directions, U)
        if U.shape[1] == 1:
            values["overlap"] = metrics.max_overlap(directions, U[:, 0])
    trace.record(source.n, **values)
    return trace


class Projection:
    """``transform(X) = (X − offset) Ûᵀ`` for learners with ``directions_ (R, r, d)``.

    Subclasses set ``directions_``, ``_replicas``, ``_squeeze`` and ``_offset`` (``(R, d)``
    or ``None``) in ``fit``.
    """

    _offset: torch.Tensor | None = None

    def _fitted(self) -> None:
        if not hasattr(self, "_replicas"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit first")

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Projections on the learned directions: ``(R, n, r)``, or ``(n, r)`` for ``X (n, d)``
        when the learner has a single replica."""
        self._fitted()
        V = self.directions_[None] if self._squeeze else self.directions_
        Xr, squeeze = with_replicas(X, self._replicas)
        Xr = Xr.to(V.dtype)
        if self._offset is not None:
            Xr = Xr - self._offset[:, None, :]
        return squeeze_out(Xr @ V.transpose(-1, -2), squeeze)
