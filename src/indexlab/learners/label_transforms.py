"""Label transforms ``T(y)`` of the online learners that need no population computation.

The optimal transform ``ζ_s/λ_s`` of a known link is :func:`indexlab.theory.label_transform`;
here are the link-free one (:func:`agnostic_transform`, docs/algorithms.md §4.2) and the
sign that makes the identity transform ascend (:func:`coefficient_sign`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from indexlab import theory
from indexlab.links import Link

Transform = Callable[[torch.Tensor], torch.Tensor]


def coefficient_sign(link: Link, s: int) -> float:
    """``sign(c_s)`` of the link's Hermite coefficient ``c_s = E[y h_s(z)]`` (1 when it is 0
    or cannot be computed)."""
    try:
        coefficients = theory.hermite_expansion(link, max(s, 1))
    except ValueError:
        return 1.0
    return -1.0 if coefficients[s] < 0 else 1.0


def agnostic_transform(y: torch.Tensor, degree: int = 8, seed: int = 0) -> Transform:
    """The agnostic transform of docs/algorithms.md §4.2: ``T(y) = τ(F̂(y))``,
    ``τ(u) = Σ_{l≤M} β_l P_l(2u − 1)``, ``β ~ N(0, I_M/M)``, with ``F̂`` the empirical CDF of
    held-out labels ``y`` of shape ``(R, n0)`` — one CDF per replica, so replicas stay independent.

    Bounded, needs no knowledge of the link; a random ``τ`` correlates with ``ζ_s`` almost surely.
    Each replica's result is centred and scaled to unit variance on its sample.
    """
    ys = torch.sort(y.to(torch.float64), dim=-1).values
    beta = torch.randn(degree, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64) / math.sqrt(degree)

    def raw(v: torch.Tensor) -> torch.Tensor:
        u = torch.searchsorted(ys, v.to(torch.float64).contiguous(), right=True) / ys.shape[-1]
        t = 2 * u - 1
        p_prev, p = torch.ones_like(t), t
        out = beta[0] * p
        for ell in range(1, degree):  # Legendre recurrence
            p_prev, p = p, ((2 * ell + 1) * t * p - ell * p_prev) / (ell + 1)
            out = out + beta[ell] * p
        return out

    ref = raw(ys)
    mean = ref.mean(dim=-1, keepdim=True)
    sd = ref.std(dim=-1, keepdim=True).clamp_min(1e-12)

    def transform(v: torch.Tensor) -> torch.Tensor:
        return ((raw(v.to(ys.device)) - mean) / sd).to(v.device, v.dtype)

    # one transform per replica, for statistics computed on labels of no replica (the hold
    # caps of online_setup); row i of the batched transform is exactly transform i
    transform.replicas = ys.shape[0] if ys.dim() > 1 else 1  # type: ignore[attr-defined]
    transform.replica = (  # type: ignore[attr-defined]
        lambda i: agnostic_transform(y[i] if y.dim() > 1 else y, degree, seed))
    return transform


def transform_labels(transform: Transform, y: torch.Tensor) -> torch.Tensor:
    """``T(y)``, NaN wherever ``y`` is not finite but ``T(y)`` is: the optimal and agnostic
    transforms map ``±inf`` (and the agnostic one NaN) to finite numbers, which would hide a
    broken label from the divergence check. With the NaN, the step that uses it turns its
    replica's weights NaN and the engine flags that replica (only) as diverged. Finite labels
    (and transforms that keep a non-finite label non-finite) give ``T(y)`` unchanged."""
    t = transform(y)
    finite = torch.isfinite(y)
    if bool(finite.all()):  # the usual case: one pass over the labels, nothing to hide
        return t
    hidden = ~finite & torch.isfinite(t)
    if bool(hidden.any()):
        t = torch.where(hidden, torch.nan, t)
    return t
