"""The record of a fit: metrics at growing sample counts (``Learner.trace_``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


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
