"""Recovery and prediction metrics, batched over any leading axes (replicas first).

The success metrics of docs/algorithms.md §1.3:

* overlap of a neuron ``w`` with a direction ``θ``: ``|⟨w, θ⟩| / (‖w‖‖θ‖)``; for a network the
  best neuron (``max_j``) and the neuron average; the random baseline is ``≈ √(2/(πd))``;
* principal angles ``θ_1 ≤ … ≤ θ_p`` between two row spaces: ``cos θ_i`` are the singular
  values of ``Q_A Q_Bᵀ`` (``Q`` orthonormal bases);
* subspace distance ``‖P_A − P_B‖_F / √(p + q)`` for subspaces of dimensions ``p`` and ``q``,
  which is ``‖P_Û − P_U‖_F / √(2r)`` when ``p = q = r``: 0 for equal subspaces, 1
  for orthogonal ones; ``‖P_A − P_B‖_F² = p + q − 2‖Q_A Q_Bᵀ‖_F²``;
* normalised test error ``E[(f̂(x) − y)²] / Var(y)`` on fresh samples (1 = trivial predictor).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from indexlab.targets import Target


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(v.dtype).tiny)


def neuron_overlaps(W: torch.Tensor, theta: torch.Tensor, signed: bool = False) -> torch.Tensor:
    """Cosines between each neuron and each hidden direction.

    ``W``: ``(..., m, d)``; ``theta``: ``(..., d)`` or ``(..., r, d)``. Returns ``(..., m)`` for a
    single direction, ``(..., m, r)`` otherwise; absolute values unless ``signed``.
    """
    single = theta.ndim == W.ndim - 1
    t = theta.unsqueeze(-2) if single else theta
    cos = _unit(W) @ _unit(t.to(W.dtype)).transpose(-1, -2)
    cos = cos.squeeze(-1) if single else cos
    return cos if signed else cos.abs()


def max_overlap(W: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """``max_j |⟨w_j, θ⟩|/(‖w_j‖‖θ‖)``: shape ``(...)`` for ``W (..., m, d)``, ``θ (..., d)``."""
    return neuron_overlaps(W, theta).amax(dim=-1)


def mean_overlap(W: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Neuron-averaged ``|cos|`` with ``θ``: shape ``(...)``."""
    return neuron_overlaps(W, theta).mean(dim=-1)


def orthonormal_basis(A: torch.Tensor) -> torch.Tensor:
    """Orthonormal rows spanning the row space of ``A (..., p, d)`` (reduced QR of ``Aᵀ``)."""
    q, _ = torch.linalg.qr(A.transpose(-1, -2))
    return q.transpose(-1, -2)


def principal_angles(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Principal angles (radians, ascending) between the row spaces of ``A (..., p, d)`` and
    ``B (..., q, d)``: ``min(p, q)`` angles, ``arccos`` of the singular values of ``Q_A Q_Bᵀ``."""
    Qa = orthonormal_basis(A.to(torch.float64))
    Qb = orthonormal_basis(B.to(torch.float64))
    s = torch.linalg.svdvals(Qa @ Qb.transpose(-1, -2)).clamp(0.0, 1.0)
    return torch.arccos(s).to(A.dtype)


def subspace_distance(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``‖P_A − P_B‖_F / √(p + q)`` between row spaces (``= ‖P_A − P_B‖_F/√(2r)`` if p = q)."""
    Qa = orthonormal_basis(A.to(torch.float64))
    Qb = orthonormal_basis(B.to(torch.float64))
    p, q = Qa.shape[-2], Qb.shape[-2]
    overlap = (Qa @ Qb.transpose(-1, -2)).pow(2).sum(dim=(-1, -2))
    dist2 = (p + q - 2.0 * overlap).clamp_min(0.0) / (p + q)
    return dist2.sqrt().to(A.dtype)


def top_subspace(W: torch.Tensor, r: int) -> torch.Tensor:
    """Top-``r`` right singular vectors of ``W (..., m, d)`` as rows ``(..., r, d)``."""
    if r < 1 or r > min(W.shape[-2], W.shape[-1]):
        raise ValueError(f"r={r} is not allowed: use 1 <= r <= min(m, d) = "
                         f"{min(W.shape[-2], W.shape[-1])}")
    _, _, Vh = torch.linalg.svd(W.to(torch.float64), full_matrices=False)
    return Vh[..., :r, :].to(W.dtype)


def random_overlap_baseline(d: int) -> float:
    """``E|⟨w, θ⟩| ≈ √(2/(π d))`` for a uniformly random unit ``w`` in dimension ``d``."""
    return math.sqrt(2.0 / (math.pi * d))


def prediction_mse(
    predict: Callable[[torch.Tensor], torch.Tensor],
    target: Target,
    n: int = 10_000,
    normalised: bool = True,
) -> torch.Tensor:
    """Test error of ``predict`` on the target's fixed test set, per replica.

    ``predict`` maps ``X`` of the target's shape (``(R, n, d)`` or ``(n, d)``) to predictions of
    ``y``'s shape. Returns ``mean (f̂ − y)²``, divided by the empirical ``Var(y)`` when
    ``normalised`` (so 1 is the error of the best constant). Non-finite predictions give
    ``inf`` for that replica. A replica whose test labels have zero variance (a constant
    target) has no normalised error: NaN, not 0.
    """
    X, y = target.sample_test(n)
    pred = predict(X)
    if pred.shape != y.shape:
        raise ValueError(f"predict returned shape {tuple(pred.shape)}; expected {tuple(y.shape)}")
    err = (pred.to(y.dtype) - y).pow(2)
    mse = torch.where(torch.isfinite(err).all(dim=-1), err.mean(dim=-1),
                      torch.full_like(err[..., 0], math.inf))
    if normalised:
        var = y.var(dim=-1)
        constant = var <= torch.finfo(y.dtype).eps * y.pow(2).mean(dim=-1)
        mse = torch.where(constant, math.nan, mse / var.clamp_min(torch.finfo(y.dtype).tiny))
    return mse
