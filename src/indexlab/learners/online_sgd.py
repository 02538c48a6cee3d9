"""Online SGD baselines on the sphere: vanilla (Ben Arous, Gheissari, Jagannath 2021) and
landscape-smoothed (Damian, Nichani, Ge, Lee 2023); docs/algorithms.md §2.

Both use the engine of :mod:`indexlab.learners.online_engine` with the raw labels (``T(y) = y``)
and ``σ = h_{k*}`` (the known-link setting of BGJ/DNGL) by default:

* :class:`OnlineSGD`: ``w ← normalise(w + η y σ'(⟨w,x⟩) P_w^⊥ x)`` (correlation loss), needing
  ``n ≍ d`` (k*=1), ``d log d`` (k*=2), ``d^{k*−1}`` (k*≥3). Default search step
  (docs/algorithms.md §2.1): ``η = c/d``, ``c/(d log d)``, ``c d^{−k*/2}`` with ``c = 1``.
* :class:`SmoothedSGD`: the same on the smoothed loss ``L_λ`` with ``λ = d^{1/4}`` during the
  search phase (exact smoothed gradient, :mod:`indexlab.smoothing`), needing ``d^{k*/2}``.
  Default step (docs/algorithms.md §2.2): ``η = 0.1 λ^{2k−2} d^{−k/2}``.

Both steps are capped so that a found direction is held (:mod:`indexlab.learners.holding`,
docs/algorithms.md §2.5): at ``d = 32 … 128`` the uncapped vanilla step has a constant-step
stationary misalignment ``1 − m* ≈ 0.4 … 1.7`` (He₃/He₄), which made the curves fall during the
search phase, and the smoothed search step kept after the hand-over ``λ → 0`` has
``1 − m* = 4.5 … 61`` for the unsmoothed gradient (the SmoothedSGD collapse). The cap makes the
vanilla step ``∝ 1/d`` at these ``d`` (it binds until ``d ~ 10⁴`` for He₃), so the measured vanilla
exponent over ``d ≤ 128`` is that of the smaller step, not ``k* − 1``; ``hold_search=None`` restores
the uncapped step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from indexlab.learners.spherical import SphericalSGD


@dataclass
class OnlineSGD(SphericalSGD):
    """Vanilla spherical online SGD on the first layer (the ``d^{k*−1}`` baseline)."""

    label_transform: object = "identity"
    smoothing: float | str | None = 0.0
    lr_constant: float = 1.0
    exponent_kind: ClassVar[str] = "information"
    theory_key: ClassVar[str] = "online_sgd"


@dataclass
class SmoothedSGD(SphericalSGD):
    """Online SGD on the smoothed correlation loss (the ``d^{k*/2}`` CSQ-optimal baseline)."""

    label_transform: object = "identity"
    smoothing: float | str | None = "auto"
    exponent_kind: ClassVar[str] = "information"
    theory_key: ClassVar[str] = "smoothed_sgd"
    auto_smoothing_from: ClassVar[int] = 2  # "auto": λ = d^{1/4} from k* = 2 on
