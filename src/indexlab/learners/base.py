"""What every learner shares: the data contract, replica handling, sample budgets, traces.

The contract (``../shared/DESIGN.md``, "Two faces, one core"):

* ``Learner(**hyper).fit(data, y=None, *, n=None)`` returns ``self``; ``data`` is either

  - a :class:`~indexlab.targets.Target` and a sample budget ``n`` per replica (fresh samples
    are drawn chunk by chunk, so ``n·d`` never has to fit in memory), or
  - a dataset ``X`` of shape ``(R, n, d)`` or ``(n, d)`` with labels ``y`` of shape ``(R, n)``
    or ``(n,)`` (a user's own data; one pass unless the learner says otherwise);

* fitted attributes end in ``_``: ``directions_`` (``(R, m, d)`` learned first-layer
  directions, or the estimated subspace), ``trace_`` (a :class:`Trace`), ``diverged_``
  (``(R,)`` bool), ``samples_`` (samples used per replica);
* ``transform(X)`` projects on the learned directions, ``predict(X)`` where there is a
  predictor. Outputs keep the caller's replica convention (no replica axis in, none out).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from indexlab.progress import report
from indexlab.targets import Target


@dataclass
class DataSource:
    """Chunks ``(X (R, b, d), y (R, b))`` from a target or a dataset, with its shape facts."""

    chunks: Iterator[tuple[torch.Tensor, torch.Tensor]]
    replicas: int
    d: int
    n: int
    squeeze: bool
    dtype: torch.dtype
    device: torch.device
    target: Target | None = None
    replica_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.replica_ids:
            self.replica_ids = tuple(range(self.replicas))


def _check_budget(n) -> int:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n={n!r} is not allowed: use an integer sample budget >= 1")
    return int(n)


def as_replicated(X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Validate a dataset and give it a replica axis: ``(R, n, d)``, ``(R, n)``, squeezed?"""
    X = torch.as_tensor(X)
    y = torch.as_tensor(y)
    if not X.is_floating_point():
        raise ValueError(f"X has dtype {X.dtype}: use a floating-point tensor")
    squeeze = X.ndim == 2
    if squeeze:
        X, y = X[None], y[None]
    if X.ndim != 3 or y.shape != X.shape[:2]:
        raise ValueError(
            f"X of shape {tuple(X.shape)} and y of shape {tuple(y.shape)} do not fit: use "
            "X (n, d) with y (n,), or X (R, n, d) with y (R, n)"
        )
    if X.shape[1] < 1:
        raise ValueError("the dataset is empty (n = 0): give at least one sample")
    return X, y.to(X.dtype), squeeze


def data_source(data, y=None, n: int | None = None, chunk: int | None = None) -> DataSource:
    """Turn the ``fit`` arguments into a :class:`DataSource` (see the module docstring)."""
    if isinstance(data, Target):
        if y is not None:
            raise ValueError("fit(target, ...) takes a sample budget n=..., not labels y")
        if n is None:
            raise ValueError("fit(target) needs a sample budget: fit(target, n=...)")
        n = _check_budget(n)

        def from_target():
            for Xc, yc in data.stream(n, chunk):
                yield (Xc[None], yc[None]) if data.squeeze else (Xc, yc)
                report(Xc.shape[-2])  # the consumer has finished this chunk

        return DataSource(from_target(), data.replicas, data.d, n, data.squeeze, data.dtype,
                          data.device, target=data, replica_ids=data.replica_ids)
    if y is None:
        raise ValueError("fit(X) needs labels: fit(X, y), or fit(target, n=...)")
    X, y, squeeze = as_replicated(data, y)
    total = X.shape[1] if n is None else min(_check_budget(n), X.shape[1])
    step = total if chunk is None else chunk

    def from_tensor():
        for start in range(0, total, step):
            yield X[:, start:start + step], y[:, start:start + step]
            report(min(step, total - start))

    return DataSource(from_tensor(), X.shape[0], X.shape[2], total, squeeze, X.dtype, X.device)


def log_checkpoints(n: int, per_decade: int = 8, first: int = 16) -> list[int]:
    """Sample counts at which traces are recorded: log-spaced from ``first`` to ``n``."""
    if n <= first:
        return [n]
    count = max(2, math.ceil(per_decade * math.log10(n / first)) + 1)
    points = np.unique(np.round(np.geomspace(first, n, count)).astype(int))
    return [int(p) for p in points]


@dataclass
class Trace:
    """Metrics recorded during a fit: ``samples[t]`` and one ``(T, R)`` array per metric."""

    samples: list[int] = field(default_factory=list)
    values: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def record(self, samples: int, **metrics: torch.Tensor | np.ndarray) -> None:
        self.samples.append(int(samples))
        for key, value in metrics.items():
            if isinstance(value, torch.Tensor):
                value = value.detach().to("cpu", torch.float64).numpy()
            self.values.setdefault(key, []).append(np.asarray(value, dtype=np.float64))

    def __getitem__(self, key: str) -> np.ndarray:
        return np.stack(self.values[key]) if key in self.values else np.empty((0,))

    def keys(self) -> list[str]:
        return list(self.values)

    def __contains__(self, key: object) -> bool:
        return key in self.values
