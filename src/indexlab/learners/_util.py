"""Small helpers shared by the classical baselines (spectral, SDR, kernels).

Validation at the boundary (messages name the argument, the value and what is allowed)
and the replica bookkeeping of a :class:`DataSource`.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import TransformerMixin

from indexlab import metrics
from indexlab.learners.base import DataSource, Learner, Trace, data_source
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


class Projection(TransformerMixin, Learner):
    """A subspace estimator: ``directions_ (R, r, d)`` (``(r, d)`` for data without a
    replica axis) are orthonormal estimates of the hidden subspace, and
    ``transform(X) = (X − offset) Ûᵀ``.

    Subclasses call ``_mark_fitted`` and set ``directions_`` and ``_offset`` (``(R, d)`` or
    ``None``) in ``fit``.
    """

    _offset: torch.Tensor | None = None
    estimates_subspace: ClassVar[bool] = True

    @property
    def subspace_(self) -> torch.Tensor:
        """The estimated subspace: ``directions_``."""
        return self.directions_

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Projections of ``X (R, n, d)`` or ``(n, d)`` on the learned directions:
        ``(R, n, r)``, or ``(n, r)`` for ``X (n, d)`` when the learner has a single replica
        (numpy in, numpy out)."""
        V = self.directions_[None] if self.squeeze_ else self.directions_
        Xr, squeeze = with_replicas(X, self.replicas_)
        Xr = Xr.to(V.dtype)
        if self._offset is not None:
            Xr = Xr - self._offset[:, None, :]
        return squeeze_out(Xr @ V.transpose(-1, -2), squeeze)
