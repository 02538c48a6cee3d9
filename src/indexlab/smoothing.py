"""Landscape smoothing ``L_λ`` of a Hermite activation, closed form (docs/algorithms.md §2.2–§2.3).

Damian, Nichani, Ge, Lee (NeurIPS 2023) smooth the per-sample loss over a cap of the sphere:
``(L_λ F)(w) = E_{z ~ Unif(S^{d−1} ∩ w^⊥)} F((w + λz)/√(1+λ²))``. For a correlation loss
``−T(y) σ(⟨w, x⟩)`` only the 1-D law of ``⟨z, x⟩ = √R s`` matters, where ``a = ⟨w, x⟩``,
``R = ‖x‖² − a²`` and ``s`` is one coordinate of a uniform point of ``S^{d−2}``:
``E s^{2j} = μ_{2j} = (2j−1)!! / Π_{i<j} (d − 1 + 2i)``, odd moments 0. With ``ρ = (1+λ²)^{−1/2}``
and ``h_k(u) = Σ_m c_{k,m} u^{k−2m}``, ``c_{k,m} = √(k!) (−1)^m / (m! (k−2m)! 2^m)``,

    (L_λ h_k)(a, R) = Σ_m c_{k,m} ρ^{k−2m} Σ_j C(k−2m, 2j) a^{k−2m−2j} λ^{2j} R^j μ_{2j},

an exact polynomial ``Σ_{p,q} C_pq a^p R^q``. The update uses its total derivative along ``w``
(``R`` depends on ``a``): ``D_λσ(a, R) = ∂_a F − 2a ∂_R F``, so the spherical gradient of the
smoothed correlation loss is ``−T(y) D_λσ(a, R) (x − a w)``. Pitfalls the closed form avoids
(docs/algorithms.md §2.3): replacing ``⟨z, x⟩`` by an independent Gaussian turns ``L_λ`` into
``ρ^k h_k`` (no benefit), and one Monte Carlo ``z`` per sample keeps the unsmoothed noise. Evaluate
in float64: terms cancel to relative size ``d^{−1/2}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def sphere_moment(j: int, d: int) -> float:
    """``μ_{2j} = E s^{2j}`` for ``s`` a coordinate of a uniform point of ``S^{d−2}``."""
    num = math.prod(range(1, 2 * j, 2)) if j > 0 else 1
    return num / math.prod(d - 1 + 2 * i for i in range(j))


@dataclass(frozen=True)
class SmoothedHermite:
    """The polynomial ``(L_λ h_k)(a, R) = Σ C_pq a^p R^q`` for given ``k``, ``λ``, ``d``."""

    k: int
    lam: float
    d: int
    coefficients: tuple[tuple[int, int, float], ...]  # (p, q, C_pq)

    def value(self, a: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
        return sum(c * a**p * R**q for p, q, c in self.coefficients)

    def slope(self, a: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
        """``D_λσ(a, R) = ∂_a F − 2a ∂_R F`` (total derivative along ``w``)."""
        out = torch.zeros_like(a)
        for p, q, c in self.coefficients:
            if p:
                out = out + (c * p) * a ** (p - 1) * R**q
            if q:
                out = out - (2 * c * q) * a ** (p + 1) * R ** (q - 1)
        return out


def smoothed_hermite(k: int, lam: float, d: int) -> SmoothedHermite:
    """Coefficients of ``L_λ h_k`` in dimension ``d`` (formula in the module docstring)."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"smoothing needs a Hermite activation h_k with k >= 1, got k={k!r}")
    if not lam >= 0:
        raise ValueError(f"smoothing radius lambda={lam!r} is not allowed: use a number >= 0")
    if d < 3:
        raise ValueError(f"smoothing needs d >= 3, got d={d}")
    rho = (1.0 + lam * lam) ** -0.5
    table: dict[tuple[int, int], float] = {}
    for m in range(k // 2 + 1):
        c_km = math.sqrt(math.factorial(k)) * (-1) ** m / (
            math.factorial(m) * math.factorial(k - 2 * m) * 2**m
        )
        e = k - 2 * m
        for j in range(e // 2 + 1):
            coef = c_km * rho**e * math.comb(e, 2 * j) * lam ** (2 * j) * sphere_moment(j, d)
            key = (e - 2 * j, j)
            table[key] = table.get(key, 0.0) + coef
    return SmoothedHermite(k, float(lam), d, tuple((p, q, c) for (p, q), c in table.items()))
