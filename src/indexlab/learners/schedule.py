"""The per-sample step schedule of the online learners: a search phase, then Robbins–Monro.

A constant search step ``η_1`` for the first ``L_1`` samples (docs/algorithms.md §2.4),
then the decaying descent step ``η_t = 1/(1/η_2 + κ (t − L_1))``, which averages the noise
out so that ``1 − ⟨w, θ⟩ = O(d/n)``. ``η_2`` is the learner's choice: the constant-step
stationary overlap of :mod:`indexlab.learners.holding` sets it. Minibatches of ``B`` samples
take the step ``B·η_t`` at their first sample (the linear-scaling rule of
:mod:`indexlab.learners.online_engine`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Schedule:
    """Per-sample step schedule: ``η_1 = lr`` for the first ``search`` samples, then the
    descent ``η_t = 1/(1/η_2 + κ t')``, ``t' = t − search``, ``κ = decay``, from
    ``η_2 = descent_lr`` (``None``: ``η_2 = η_1``, the schedule before the hold caps of
    docs/algorithms.md §2.5).

    ``η_2`` is a separate field because the descent phase may follow a different gradient
    from the search phase: smoothed learners switch ``λ → 0`` at the hand-over, and the
    unsmoothed per-sample gradient of a Hermite link is heavy-tailed (``E ψ²`` at alignment
    is 10²–10⁴ times its smoothed value), so the search step would throw the aligned neurons
    off (see :func:`hold_step`). Everything the engine does with the step is in
    :meth:`step_at`, so an engine that reads this object (e.g. an exact overlap chain) follows
    it without knowing the learner.
    """

    lr: float
    search: int
    decay: float
    batch: int
    descent_lr: float | None = None

    def step_at(self, t: int) -> float:
        if t < self.search:
            return self.lr
        base = self.lr if self.descent_lr is None else self.descent_lr
        if self.decay == 0:
            return base
        return 1.0 / (1.0 / base + self.decay * (t - self.search))

    def steps_at(self, t: np.ndarray) -> np.ndarray:
        """:meth:`step_at` at every entry of the integer array ``t`` (the same float64
        arithmetic, so the same numbers)."""
        t = np.asarray(t, dtype=np.int64)
        base = self.lr if self.descent_lr is None else self.descent_lr
        if self.decay == 0:
            descent = np.full(t.shape, float(base))
        else:
            elapsed = np.maximum(t - self.search, 0).astype(np.float64)
            descent = 1.0 / (1.0 / base + self.decay * elapsed)
        return np.where(t < self.search, float(self.lr), descent)
