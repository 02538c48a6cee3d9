"""Step sizes that hold a found direction: the constant-step stationary overlap at alignment.

The spherical online update ``w ← normalise(w + η ψ(a, R, T(y)) (x − a w))``
(docs/algorithms.md §1.2), with ``a = ⟨w, x⟩``, ``R = ‖x‖² − a²``, ``z = ⟨θ, x⟩`` and
``m = ⟨w, θ⟩``, moves the overlap by (``‖x − a w‖² = R`` and ``⟨w, x − a w⟩ = 0``)

    Δm = η ψ (z − a m) − (η²/2) m ψ² R + O(η³).

Near alignment the population drift is linear in ``1 − m``: ``E[ψ (z − a m)] ≈ 2 D (1 − m)``,
and the normalisation drag is ``(η²/2) V`` with ``V = E[ψ² R]`` at ``w = θ``. A constant step
therefore holds the overlap only around the stationary point

    1 − m* = η V / (4 D)                                                         (H)

([D], docs/algorithms.md §2.5). Measured for the default steps of docs/algorithms.md §2.1–§2.2, §4.3
(Monte Carlo below): vanilla SGD with ``η = d^{−k/2}`` has ``1 − m* = 1.4 / 0.99 / 0.69`` (He₃) and
``1.7 / 0.81 / 0.42`` (He₄) at ``d = 32 / 64 / 128`` — no aligned stationary state, so the overlap
of a replica that found ``θ`` wanders back down during the search phase; smoothed SGD's search step
(``c_η = 0.1``, ``λ = d^{1/4}``) has ``0.18`` (He₃, any ``d``) and ``0.64 … 0.30`` (He₄); and the
smoothed search step kept after the hand-over ``λ → 0`` meets the *unsmoothed* gradient, whose ``V``
is 500–40 000 times larger (``h_k(z) h_k'(z)`` is heavy-tailed), giving ``1 − m* = 4.5 … 61`` for
He₃/He₄: single samples rotate an aligned neuron by more than a radian, which is the collapse after
the hand-over.

:func:`hold_step` inverts (H): the largest ``η`` whose stationary misalignment is ``ε``,
``η = 4 ε D / V``. ``V`` and ``D`` are averages at alignment of the learner's own ``ψ`` over
``z ~ N(0, 1)`` (Gauss–Hermite), ``y ~ P(·|z)`` (the link), ``R = z² + g² + χ²_{d−2} − a²``;
``D`` is the drift at ``m = 1 − δ`` divided by ``2δ`` (antithetic ``±g``, ``δ = 0.02``).
This needs the link (a target, or ``link=...`` on a dataset); without it no cap is applied.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

# psi(a, R, t) -> ψ, all float64 tensors of one shape
PsiFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def alignment_statistics(
    psi: PsiFn,
    link,
    transform: Callable[[torch.Tensor], torch.Tensor],
    d: int,
    nodes: int = 96,
    draws: int = 512,
    seed: int = 0,
    delta: float = 0.02,
) -> tuple[float, float]:
    """``(V, D)`` of (H): ``V = E[ψ² R]`` at ``m = 1`` and the drift coefficient ``D``.

    ``z`` runs over ``nodes`` Gauss–Hermite nodes (``ψ²`` of a Hermite link is a high-degree
    polynomial in ``z``: plain Monte Carlo in ``z`` was 10% off at 2^17 draws); the label
    given ``z``, ``g`` and ``χ²_{d−2}`` are drawn ``draws`` times per node (seeded)."""
    zq, wq = np.polynomial.hermite_e.hermegauss(nodes)
    wq = wq / wq.sum()
    rng = np.random.default_rng(seed)
    z = torch.as_tensor(np.repeat(zq, draws))
    w = torch.as_tensor(np.repeat(wq / draws, draws))
    g = torch.as_tensor(rng.standard_normal(z.numel()))
    rest = torch.as_tensor(rng.chisquare(max(d - 2, 1), z.numel()))
    y = link(z[:, None], torch.Generator().manual_seed(seed)).to(torch.float64)
    t = transform(y).to(torch.float64)
    R1 = g * g + rest
    V = _exact_sum(w * psi(z, R1, t) ** 2 * R1)
    m = 1.0 - delta
    s = math.sqrt(1.0 - m * m)
    norm2 = z * z + g * g + rest
    drift = 0.0
    for sign in (1.0, -1.0):
        a = m * z + sign * s * g
        drift += _exact_sum(w * psi(a, norm2 - a * a, t) * (z - a * m)) / 2
    return V, drift / (2 * delta)


def _exact_sum(values: torch.Tensor) -> float:
    """``Σ values`` correctly rounded (``math.fsum``): a threaded torch reduction sums in an
    order that depends on the thread count, and the resolved step is stored with every run, so
    it must be the same number in a one-thread Dask worker and in a multi-threaded process."""
    return math.fsum(values.detach().to("cpu", torch.float64).numpy().ravel().tolist())


def hold_step(V: float, D: float, misalignment: float) -> float | None:
    """``η = 4 ε D / V``: the step whose stationary ``1 − m*`` of (H) is ``ε``; ``None`` when
    the statistics give no cap (no drift towards ``θ``, or no noise)."""
    if not (D > 0 and V > 0 and math.isfinite(D) and math.isfinite(V)):
        return None
    # 12 significant digits: a step has no meaning beyond them, and the stored value must not
    # depend on the last bits of the elementwise kernels (vectorised or not per thread chunk)
    return float(f"{4.0 * misalignment * D / V:.12g}")
