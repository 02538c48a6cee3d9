"""The record of a fit: metrics at growing sample counts (``Learner.trace_``), and first
passages at the resolution of one step.

**First passages.** The checkpoints of a trace are log-spaced (24 per decade), so a first
passage read from them is known only up to a factor ``10^{1/24} ≈ 1.1``. The online engines
also watch the best overlap ``max_j |⟨w_j, θ*⟩|`` after *every* step and record, for each
level ``τ`` of :data:`PASSAGE_LEVELS`, the sample count ``N_j(τ)`` at the end of the first
step at which replica ``j`` reaches ``τ`` (``−1``: never, right-censored): exact for
minibatch size 1, and within one minibatch otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

PASSAGE_LEVELS = np.array([0.05 * i for i in range(1, 20)] + [0.99], dtype=np.float64)
"""The levels of the best overlap whose first passages the online engines record: 0.05,
0.10, …, 0.95 and 0.99 (a criterion ``overlap >= τ`` with ``τ`` among them is read exactly)."""


@dataclass
class Trace:
    """Metrics recorded during a fit: ``samples[t]`` and one ``(T, R)`` array per metric."""

    samples: list[int] = field(default_factory=list)
    values: dict[str, list[np.ndarray]] = field(default_factory=dict)
    passages: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def record(self, samples: int, **metrics: torch.Tensor | np.ndarray) -> None:
        self.samples.append(int(samples))
        for key, value in metrics.items():
            if isinstance(value, torch.Tensor):
                value = value.detach().to("cpu", torch.float64).numpy()
            self.values.setdefault(key, []).append(np.asarray(value, dtype=np.float64))

    def record_passages(self, metric: str, levels: np.ndarray, samples: np.ndarray) -> None:
        """First passages of ``metric``: ``samples (len(levels), R)`` int64, the sample count
        at which each replica first reached each level (``−1``: never; module docstring)."""
        levels = np.asarray(levels, dtype=np.float64)
        samples = np.asarray(samples, dtype=np.int64)
        if samples.shape[0] != levels.shape[0]:
            raise ValueError(f"first passages of {metric!r}: {samples.shape[0]} rows for "
                             f"{levels.shape[0]} levels")
        self.passages[metric] = (levels.copy(), samples.copy())

    def __getitem__(self, key: str) -> np.ndarray:
        return np.stack(self.values[key]) if key in self.values else np.empty((0,))

    def keys(self) -> list[str]:
        return list(self.values)

    def __contains__(self, key: object) -> bool:
        return key in self.values
