"""Population anchors the reproductions are judged against (no learner, no data).

**Lu–Li asymptotics** of the spectral estimator ``D = (1/n) Σ T(y_i) x_i x_iᵀ`` for a
single-index model in the proportional limit ``n/d → α`` (Lu & Li, *Phase transitions of
spectral initialization for high-dimensional nonconvex estimation*, Inf. Inference 2020;
docs/algorithms.md §6.3). For ``T`` bounded above by ``τ = sup T`` and ``t > τ``::

    Φ(t) = t E[T z²/(t − T)],   Ψ_α(t) = t (1/α + E[T/(t − T)]),   t̄ = argmin_{t>τ} Ψ_α(t),

``t*`` solves ``Ψ_α(max(t, t̄)) = Φ(t)`` and the squared overlap of the top eigenvector tends
to ``Ψ'_α(t*)/(Ψ'_α(t*) − Φ'(t*))`` when ``Ψ'_α(t*) > 0`` (``t* > t̄``), else 0. Expectations
over ``z ~ N(0, 1)`` by adaptive quadrature. For phase retrieval ``y = z²`` with
``T*(y) = 1 − 1/y`` (:func:`lu_li_overlap`) this gives 0.144 / 0.206 / 0.333 / 0.480 / 0.799 at
``α = 0.55 / 0.6 / 0.75 / 1 / 2`` (docs/algorithms.md §6.4) and weak recovery from ``α_c = 1/2``.

**Stage-1 matrix of layer-wise GD** (docs/algorithms.md §7.2, §7.4): at the symmetric
initialisation stage 1 is a power iteration on ``S_ψ = E[ψ_c(y)(zzᵀ − I)]`` with
``ψ(y) = −∂_t ℓ(0, y)`` (square loss: ``ψ(y) = y``; Huber with ``δ = 1``: ``clip(y, −1, 1)``) and
``ψ_c = ψ − E ψ``. Stage 1 can find all ``r`` directions only if ``S_ψ`` has rank ``r``
(:func:`stage_one_matrix`, tensor Gauss–Hermite quadrature).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np

PSI = {"square": lambda y: y, "huber": lambda y: np.clip(y, -1.0, 1.0), "l1": np.sign}


def _expect(f: Callable[[float], float]) -> float:
    """``E f(z)``, ``z ~ N(0, 1)``, for an even integrand (twice the integral over z > 0)."""
    from scipy import integrate

    def g(z: float) -> float:
        return f(z) * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    left = integrate.quad(g, 0.0, 1.0, limit=200)[0]
    right = integrate.quad(g, 1.0, math.inf, limit=200)[0]
    return 2.0 * (left + right)


@lru_cache(maxsize=256)
def lu_li_overlap(alpha: float, floor: float = -math.inf) -> float:
    """Asymptotic overlap ``|⟨ŵ, θ*⟩|`` of the spectral estimator with ``T*(y) = max(1 − 1/y,
    floor)`` on noiseless phase retrieval ``y = z²`` at ``α = n/d`` (module docstring);
    ``floor = −10`` is the clip of ``Spectral(preprocess="optimal")``."""
    from scipy import optimize

    if not (isinstance(alpha, (int, float)) and alpha > 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha={alpha!r} is not allowed: use a finite number > 0")

    def T(z: float) -> float:
        return max(1.0 - 1.0 / (z * z), floor) if z != 0 else floor

    tau = 1.0

    def phi(t: float) -> float:
        return t * _expect(lambda z: T(z) * z * z / (t - T(z)))

    def psi(t: float) -> float:
        return t * (1.0 / alpha + _expect(lambda z: T(z) / (t - T(z))))

    res = optimize.minimize_scalar(lambda s: psi(tau + math.exp(s)), bounds=(-14.0, 8.0),
                                   method="bounded")
    t_bar = tau + math.exp(res.x)

    def gap(t: float) -> float:
        return psi(t) - phi(t)

    if gap(t_bar) >= 0:
        return 0.0
    hi = 2.0 * t_bar
    while gap(hi) < 0:
        hi *= 2.0
    t_star = optimize.brentq(gap, t_bar, hi, xtol=1e-12)
    h = 1e-5 * t_star
    d_psi = (psi(t_star + h) - psi(t_star - h)) / (2 * h)
    d_phi = (phi(t_star + h) - phi(t_star - h)) / (2 * h)
    if d_psi <= 0:
        return 0.0
    return math.sqrt(d_psi / (d_psi - d_phi))


@lru_cache(maxsize=64)
def stage_one_matrix(link: str, loss: str, nodes: int = 80) -> np.ndarray:
    """``S_ψ = E[ψ_c(y)(zzᵀ − I)]`` (an ``r × r`` matrix) of a noiseless multi-index registry
    link for the loss ``square``, ``huber`` (``δ = 1``) or ``l1``, by ``nodes^r``-point
    Gauss–Hermite quadrature (module docstring)."""
    from indexlab.links import get_link

    if loss not in PSI:
        raise ValueError(f"loss={loss!r} is not allowed: use one of {', '.join(PSI)}")
    resolved = get_link(link)
    r = resolved.r
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    grids = np.meshgrid(*([x] * r), indexing="ij")
    Z = np.stack([g.ravel() for g in grids], axis=-1)  # (N, r)
    W = np.ones(Z.shape[0])
    for g in np.meshgrid(*([w] * r), indexing="ij"):
        W = W * g.ravel()
    y = np.asarray(resolved.mean_numpy(Z), dtype=np.float64).reshape(-1)
    psi = PSI[loss](y)
    psi_c = psi - (W * psi).sum()
    outer = Z[:, :, None] * Z[:, None, :] - np.eye(r)[None]
    return np.einsum("n,n,nij->ij", W, psi_c, outer)
