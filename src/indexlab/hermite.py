"""Hermite polynomials and Gaussian quadrature.

Conventions (docs/algorithms.md §1.1): ``He_k`` are the probabilists' (monic) Hermite
polynomials, orthogonal under the standard Gaussian ``φ(z) = exp(-z²/2)/√(2π)``, and
``h_k = He_k / √(k!)`` are orthonormal: ``E[h_j(z) h_k(z)] = δ_jk`` for ``z ~ N(0, 1)``.
The Hermite coefficients of ``f ∈ L²(N(0,1))`` are ``c_k(f) = E[f(z) h_k(z)]`` and
``f = Σ_k c_k h_k`` in L².

Two quadrature rules are provided, both returning probability weights (``Σ w ≈ 1``):

* :func:`gauss_hermite` — the n-point Gauss–Hermite rule for ``N(0, 1)``; exact for polynomials
  of degree ``≤ 2n − 1``, so the method of choice for smooth integrands.
* :func:`composite_rule` — composite Gauss–Legendre on ``[−L, L]`` with the Gaussian density
  folded into the weights and panel edges placed at user-given breakpoints. For piecewise
  smooth integrands (``relu``, ``sign``, indicator labels) with the breakpoints on panel edges
  it converges like a smooth rule; :func:`rule_for` finds jump discontinuities of a function
  automatically (grid scan + bisection) and adds them as breakpoints.

Every function here is vectorised and works in float64 on NumPy arrays; the polynomial
evaluators also accept torch tensors (any dtype and device).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from indexlab._arrays import as_like, is_tensor

MAX_DEGREE = 40
_DEFAULT_BOUND = 10.0  # P(|z| > 10) ≈ 1.5e-23: negligible against float64 round-off


class Rule(NamedTuple):
    """A quadrature rule for the Gaussian: ``E[f(z)] ≈ Σ_i weights[i] f(nodes[i])``.

    ``nodes`` has shape ``(N,)`` for one variable or ``(N, r)`` for a product rule.
    """

    nodes: np.ndarray
    weights: np.ndarray


def _check_degree(K: int) -> None:
    if not isinstance(K, (int, np.integer)) or K < 0 or K > MAX_DEGREE:
        raise ValueError(f"degree K={K!r} is not allowed: use an integer in 0..{MAX_DEGREE}")


def _stack(parts: list, like):
    if is_tensor(like):
        import torch

        return torch.stack(parts, dim=-1)
    return np.stack(parts, axis=-1)


def hermite_normalized(x, K: int):
    """``h_0(x), …, h_K(x)`` stacked on a new last axis (shape ``x.shape + (K+1,)``).

    Uses the three-term recurrence of the orthonormal family,
    ``h_{k+1}(x) = (x h_k(x) − √k h_{k−1}(x)) / √(k+1)``, ``h_0 = 1``, ``h_1 = x``, which
    never forms the large integers of ``He_k`` and ``k!`` and is stable up to ``K = 40``.
    """
    _check_degree(K)
    if not is_tensor(x):  # NumPy: fill one (K+1, ...) block (no list of temporaries to stack)
        x = np.asarray(x, dtype=np.float64)
        block = np.empty((K + 1, *x.shape))
        block[0] = 1.0
        if K >= 1:
            block[1] = x
        for k in range(1, K):
            nxt = block[k + 1, ...]  # a view, also for 0-d x
            np.multiply(x, block[k, ...], out=nxt)
            nxt -= math.sqrt(k) * block[k - 1, ...]
            nxt /= math.sqrt(k + 1)
        return np.moveaxis(block, 0, -1)
    out = [x * 0 + 1]
    if K >= 1:
        out.append(x * 1)
    for k in range(1, K):
        out.append((x * out[k] - math.sqrt(k) * out[k - 1]) / math.sqrt(k + 1))
    return _stack(out, x)


def hermite_he(x, K: int):
    """Monic probabilists' Hermite polynomials ``He_0(x) … He_K(x)`` on a new last axis.

    ``He_k = √(k!) h_k``; computed from :func:`hermite_normalized` for stability.
    """
    h = hermite_normalized(x, K)
    scale = [math.sqrt(math.factorial(k)) for k in range(K + 1)]
    return h * as_like(scale, h) if is_tensor(h) else h * np.asarray(scale)


def hermite_h(x, k: int):
    """The single normalised polynomial ``h_k(x) = He_k(x)/√(k!)`` (same shape as ``x``).

    Same recurrence as :func:`hermite_normalized`, keeping only two terms (no stacking).
    """
    _check_degree(k)
    x = x if is_tensor(x) else np.asarray(x, dtype=np.float64)
    prev, cur = x * 0 + 1, x * 1
    if k == 0:
        return prev
    for j in range(1, k):
        prev, cur = cur, (x * cur - math.sqrt(j) * prev) / math.sqrt(j + 1)
    return cur


def gauss_hermite(n: int) -> Rule:
    """n-point Gauss–Hermite rule for ``z ~ N(0, 1)`` (probabilists' weight, ``Σ w = 1``).

    Exact for polynomials of degree ``≤ 2n − 1`` (Golub–Welsch, via
    :func:`numpy.polynomial.hermite_e.hermegauss`).
    """
    if not isinstance(n, (int, np.integer)) or n < 1 or n > 400:
        raise ValueError(f"number of nodes n={n!r} is not allowed: use an integer in 1..400")
    nodes, weights = np.polynomial.hermite_e.hermegauss(int(n))
    return Rule(nodes, weights / math.sqrt(2.0 * math.pi))


def composite_rule(
    panel_width: float = 0.05,
    order: int = 10,
    bound: float = _DEFAULT_BOUND,
    breakpoints: Sequence[float] = (),
) -> Rule:
    """Composite Gauss–Legendre rule on ``[−bound, bound]`` for ``z ~ N(0, 1)``.

    Panel edges are a uniform grid of width ``≤ panel_width`` plus every breakpoint and its
    mirror image, so the rule is exactly symmetric (``nodes[::-1] == −nodes``), which keeps
    odd integrands of even functions exactly zero. Weights are ``(Δ/2)·w_GL·φ(node)``.
    """
    if panel_width <= 0 or order < 1 or bound <= 0:
        raise ValueError(
            f"composite_rule needs panel_width > 0, order >= 1, bound > 0; got "
            f"panel_width={panel_width}, order={order}, bound={bound}"
        )
    n_panels = max(1, math.ceil(bound / panel_width))
    positive = np.linspace(0.0, bound, n_panels + 1)
    extra = np.abs(np.asarray(list(breakpoints), dtype=np.float64))
    extra = extra[(extra > 0) & (extra < bound)]
    positive = np.unique(np.concatenate([positive, extra]))
    t, w = np.polynomial.legendre.leggauss(order)
    t = (t - t[::-1]) / 2.0  # exact mirror symmetry of the reference nodes
    w = (w + w[::-1]) / 2.0
    # build the positive half and mirror it, so the whole rule is exactly symmetric
    a, b = positive[:-1], positive[1:]
    mid, half = (a + b) / 2.0, (b - a) / 2.0
    pos_nodes = (mid[:, None] + half[:, None] * t[None, :]).ravel()
    pos_weights = (half[:, None] * w[None, :]).ravel()
    nodes = np.concatenate([-pos_nodes[::-1], pos_nodes])
    weights = np.concatenate([pos_weights[::-1], pos_weights])
    return Rule(nodes, weights * np.exp(-0.5 * nodes**2) / math.sqrt(2.0 * math.pi))


# Wichura's AS241 (PPND16) rational approximations of the normal quantile, relative error
# ~1e-16 (the algorithm of Python's statistics.NormalDist.inv_cdf), highest degree first
_AS241 = {
    "central": ([2.5090809287301226727e3, 3.3430575583588128105e4, 6.7265770927008700853e4,
                 4.5921953931549871457e4, 1.3731693765509461125e4, 1.9715909503065514427e3,
                 1.3314166789178437745e2, 3.3871328727963666080e0],
                [5.2264952788528545610e3, 2.8729085735721942674e4, 3.9307895800092710610e4,
                 2.1213794301586595867e4, 5.3941960214247511077e3, 6.8718700749205790830e2,
                 4.2313330701600911252e1, 1.0]),
    "inner": ([7.74545014278341407640e-4, 2.27238449892691845833e-2, 2.41780725177450611770e-1,
               1.27045825245236838258e0, 3.64784832476320460504e0, 5.76949722146069140550e0,
               4.63033784615654529590e0, 1.42343711074968357734e0],
              [1.05075007164441684324e-9, 5.47593808499534494600e-4, 1.51986665636164571966e-2,
               1.48103976427480074590e-1, 6.89767334985100004550e-1, 1.67638483018380384940e0,
               2.05319162663775882187e0, 1.0]),
    "tail": ([2.01033439929228813265e-7, 2.71155556874348757815e-5, 1.24266094738807843860e-3,
              2.65321895265761230930e-2, 2.96560571828504891230e-1, 1.78482653991729133580e0,
              5.46378491116411436990e0, 6.65790464350110377720e0],
             [2.04426310338993978564e-15, 1.42151175831644588870e-7, 1.84631831751005468180e-5,
              7.86869131145613259100e-4, 1.48753612908506148525e-2, 1.36929880922735805310e-1,
              5.99832206555887937690e-1, 1.0]),
}


def _ndtri(p) -> np.ndarray:
    """The standard normal quantile ``Φ⁻¹(p)`` for ``p ∈ (0, 1)``, vectorised (AS241), so the
    theory needs no SciPy import."""
    p = np.asarray(p, dtype=np.float64)
    q = p - 0.5
    out = np.empty_like(p)
    central = np.abs(q) <= 0.425
    r = 0.180625 - q[central] ** 2
    num, den = _AS241["central"]
    out[central] = q[central] * np.polyval(num, r) / np.polyval(den, r)
    tail = ~central
    r = np.sqrt(-np.log(np.where(q[tail] <= 0, p[tail], 1.0 - p[tail])))
    inner = r <= 5.0
    x = np.empty_like(r)
    for part, shift, mask in (("inner", 1.6, inner), ("tail", 5.0, ~inner)):
        num, den = _AS241[part]
        x[mask] = np.polyval(num, r[mask] - shift) / np.polyval(den, r[mask] - shift)
    out[tail] = np.where(q[tail] < 0, -x, x)
    return out


def quantile_rule(n: int, standardise: bool = False) -> Rule:
    """Equal-mass rule: nodes ``Φ⁻¹((i − ½)/n)``, weights ``1/n`` (exactly symmetric).

    A midpoint rule in probability space. It is a poor integrator of polynomials in the tails
    but every atom carries the same mass, which is what equal-probability binning of a label
    needs (:mod:`indexlab.theory`): a bin edge then misplaces at most ``1/n`` of probability
    per branch. With ``standardise`` the nodes are rescaled so that ``Σ w z² = 1`` exactly.
    """
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"number of nodes n={n!r} is not allowed: use an integer >= 2")
    half = _ndtri(0.5 + (np.arange(n // 2) + (0.5 if n % 2 == 0 else 1.0)) / n)
    nodes = np.concatenate([-half[::-1], [0.0] * (n % 2), half])
    if standardise:
        nodes = nodes / math.sqrt(np.mean(nodes**2))
    return Rule(nodes, np.full(n, 1.0 / n))


def _as_numpy(values) -> np.ndarray:
    if is_tensor(values):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def find_jumps(
    f: Callable, bound: float = _DEFAULT_BOUND, grid: int = 200_001, ratio: float = 10.0
) -> list[float]:
    """Locations of the jump discontinuities of a scalar function ``f`` on ``[−bound, bound]``.

    Scans ``f`` on a uniform grid; an interval whose increment exceeds ``ratio`` times both
    neighbouring increments is a candidate, located by 60 bisection steps (to ~1e-16 of the
    grid spacing). Kinks may also be flagged; adding them as panel edges only helps. Raises
    ValueError if ``f`` is not finite on the grid.
    """
    x = np.linspace(-bound, bound, grid)
    fx = _as_numpy(f(x))
    if fx.shape != x.shape:
        raise ValueError(f"function returned shape {fx.shape} for input of shape {x.shape}")
    if not np.all(np.isfinite(fx)):
        bad = x[~np.isfinite(fx)][0]
        raise ValueError(f"function is not finite at z={bad:.6g}; links must be finite on R")
    inc = np.abs(np.diff(fx))
    left = np.concatenate([[0.0], inc[:-1]])
    right = np.concatenate([inc[1:], [0.0]])
    scale = 1e-12 * (1.0 + np.max(np.abs(fx)))
    idx = np.nonzero((inc > ratio * np.maximum(left, right)) & (inc > scale))[0]
    if idx.size == 0:
        return []
    lo, hi = x[idx].copy(), x[idx + 1].copy()
    f_lo = _as_numpy(f(lo))
    for _ in range(60):
        mid = (lo + hi) / 2.0
        f_mid = _as_numpy(f(mid))
        go_left = np.abs(f_mid - f_lo) > np.abs(_as_numpy(f(hi)) - f_mid)
        hi = np.where(go_left, mid, hi)
        lo = np.where(go_left, lo, mid)
        f_lo = np.where(go_left, f_lo, f_mid)
    return sorted(float(v) for v in (lo + hi) / 2.0)


def turning_points(m: np.ndarray) -> int:
    """Sign changes of the increments of the samples ``m`` (a uniform grid), increments of
    size ``≤ 1e-10·(1 + max|m|)`` (round-off, flat parts) ignored."""
    inc = np.diff(m)
    signs = np.sign(inc[np.abs(inc) > 1e-10 * (1.0 + float(np.max(np.abs(m))))])
    return int(np.count_nonzero(signs[1:] != signs[:-1]))


def rule_for(
    f: Callable | None = None,
    breakpoints: Sequence[float] = (),
    panel_width: float = 0.05,
    order: int = 10,
    bound: float = _DEFAULT_BOUND,
) -> Rule:
    """A composite rule adapted to ``f``: known breakpoints plus detected jumps as panel edges."""
    points = list(breakpoints)
    if f is not None:
        points += find_jumps(f, bound=bound)
    return composite_rule(panel_width=panel_width, order=order, bound=bound, breakpoints=points)


def product_rule(rule: Rule, r: int) -> Rule:
    """Tensor-product rule for ``z ~ N(0, I_r)``: nodes ``(N^r, r)``, weights ``(N^r,)``."""
    if r < 1:
        raise ValueError(f"dimension r={r} is not allowed: use r >= 1")
    grids = np.meshgrid(*([rule.nodes] * r), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=-1)
    weights = np.ones(1)
    for _ in range(r):
        weights = np.multiply.outer(weights, rule.weights).ravel()
    return Rule(nodes, weights)


def expectation(f: Callable, rule: Rule | None = None) -> float:
    """``E[f(z)]`` for ``z ~ N(0, 1)`` (or ``N(0, I_r)`` with a product rule)."""
    rule = rule if rule is not None else rule_for(f)
    return float(np.dot(rule.weights, _as_numpy(f(rule.nodes))))


def hermite_coefficients(f: Callable, K: int, rule: Rule | None = None) -> np.ndarray:
    """``c_k = E[f(z) h_k(z)]`` for ``k = 0..K`` (float64 array of length ``K + 1``).

    ``f`` is any vectorised function of a float64 array. Without a rule, one adapted to ``f``
    (detected jumps as panel edges) is used, accurate to ~1e-12 for piecewise smooth ``f``.
    """
    _check_degree(K)
    rule = rule if rule is not None else rule_for(f)
    values = _as_numpy(f(rule.nodes))
    return hermite_normalized(rule.nodes, K).T @ (rule.weights * values)


def hermite_coefficients_nd(f: Callable, K: int, r: int, rule: Rule | None = None) -> np.ndarray:
    """Tensor Hermite coefficients ``c_α = E[f(z) Π_i h_{α_i}(z_i)]``, ``α ∈ {0..K}^r``.

    ``f`` maps an ``(N, r)`` array to ``(N,)``. The default rule is the product of 60-point
    Gauss–Hermite rules (exact for polynomial ``f`` of degree ``≤ 119 − K`` in each variable).
    Returns an array of shape ``(K+1,)*r``.
    """
    _check_degree(K)
    if rule is None:
        rule = product_rule(gauss_hermite(60 if r <= 3 else 20), r)
    values = rule.weights * _as_numpy(f(rule.nodes))
    h = hermite_normalized(rule.nodes, K)  # (N, r, K+1)
    letters = "abcdefghij"[:r]
    operands = [h[:, i, :] for i in range(r)]
    spec = ",".join(f"n{c}" for c in letters) + ",n->" + letters
    return np.einsum(spec, *operands, values, optimize=True)


def degree_norms(coefficients: np.ndarray) -> np.ndarray:
    """``‖c_{|α|=k}‖₂`` for each total degree ``k`` (1-D input is returned as ``|c_k|``)."""
    c = np.asarray(coefficients)
    if c.ndim == 1:
        return np.abs(c)
    K = c.shape[0] - 1
    total = sum(np.indices(c.shape))
    return np.sqrt(np.array([np.sum(c[total == k] ** 2) for k in range(K + 1)]))
