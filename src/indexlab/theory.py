"""Information and generative exponents, optimal label transforms, thresholds, predictions.

Definitions (docs/algorithms.md §1.1, §3 and §6.2):

* Hermite coefficients of the regression function ``m(z) = E[y | z]``:
  ``c_k = E[m(z) h_k(z)]``; information exponent ``k* = min{k ≥ 1 : c_k ≠ 0}``
  (Ben Arous, Gheissari, Jagannath 2021). For ``r ≥ 2`` the degree-``k`` part is the tensor
  ``(c_α)_{|α| = k}`` and ``k*`` the smallest degree with a non-zero part.
* ``ζ_k(y) = E[h_k(z) | y]``, ``λ_k² = E_y[ζ_k(y)²]``; generative exponent
  ``s* = min{k ≥ 1 : λ_k > 0}`` (Damian, Pillaud-Vivien, Lee, Bruna 2024). For ``r ≥ 2`` we use
  ``λ_k² = Σ_{|α|=k} E_y[E[h_α(z) | y]²]`` (the first "generative leap").
* Optimal label transform at degree ``k``: ``T(y) = ζ_k(y)/λ_k`` maximises
  ``E[T(y) h_k(z)]`` under ``E[T²] = 1`` (Cauchy–Schwarz; docs/algorithms.md §3.2).
* Weak-recovery threshold in the proportional regime ``n = αd`` (Mondelli–Montanari 2018,
  Barbier et al. 2019; multi-index: Troiani et al. 2025): ``α_c = 0`` if ``E[z | y] ≠ 0``;
  otherwise ``α_c⁻¹ = sup_{M ⪰ 0, ‖M‖_F = 1} ‖E_y[G(y) M G(y)]‖_F`` with
  ``G(y) = E[zzᵀ − I | y]``, which for ``r = 1`` is ``α_c = 1/E_y[(E[z²|y] − 1)²] = 1/(2λ_2²)``
  (phase retrieval: 1/2); ``α_c = ∞`` when ``G ≡ 0`` too.

Errors and zeros. Every number comes with an error estimate (:func:`hermite_estimate`,
:func:`generative_estimate`, :func:`weak_recovery_estimate`), and a value counts as non-zero
only when it exceeds ``ZERO_FACTOR = 10`` times its error (:func:`is_nonzero`) — no fixed
cut-off: a tiny but certain ``λ_1² = 1.2e-4 ± 2e-7`` (``h_3 + 10ξ``) gives ``s* = 1``.

How the numbers are computed (docs/theory.md has the full account):

* Hermite coefficients: composite Gauss–Legendre against the Gaussian with the link's jumps as
  panel edges (``r = 1``, panel widths 0.02 and 0.01 for the error), product Gauss–Hermite rules
  for ``r ≥ 2`` (two orders for the error).
* Single-index ``λ_k²``: :mod:`indexlab.generative` — exact conditional laws from the preimages
  of ``y`` (noiseless real labels), exact grouping (discrete labels) and Gaussian convolution
  (noisy labels), each at two resolutions; accurate to ``~1e-6`` or better for the registry.
* Multi-index: the latent is discretised by a product of equal-mass rules, labels are grouped
  exactly when discrete, convolved with the noise density when noisy, else binned into
  equal-probability label bins; the error is twice the change between ``(10⁶ atoms, 1000 bins)``
  and ``(2·10⁶, 2000)`` (binning is biased low, roughly like ``1/B``). The weak-recovery
  threshold of noiseless continuous labels with ``r = 2, 3`` uses a deterministic scheme
  instead (:func:`_lattice_threshold`: the conditional means are ``L²`` projections onto
  cubic splines in ``y`` with knots at normal-score quantiles and breaks at the local extremum
  values of ``E[y|z]``, the expectations sums over a shifted trapezoid lattice; ``z1 z2``:
  ``α_c = 0.593769 ± 7.1e-5`` against the exact 19/32). Exact zeros are kept exact
  by the link's sign-flip symmetries: a feature odd under a flip ``z_i ↦ −z_i, i ∈ F`` that
  leaves ``E[y|z]`` unchanged has conditional mean zero, and is set to zero
  (:func:`sign_symmetries`); permutations create no zeros and are not needed.
* Links the theory does not cover are refused before any computation
  (:func:`check_supported`, :class:`UnsupportedLinkError`), and a cost guard
  (:func:`check_cost`, :class:`TheoryTooCostlyError`) refuses computations beyond 2 GB or 60 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from indexlab._arrays import is_tensor
from indexlab.generative import ROUND_OFF, Estimate, single_index_lambda, smoothed_conditional
from indexlab.hermite import (
    composite_rule,
    degree_norms,
    find_jumps,
    gauss_hermite,
    hermite_coefficients,
    hermite_normalized,
    product_rule,
    quantile_rule,
)
from indexlab.links import Link, get_link
from indexlab.support import (  # noqa: F401  (re-exported: the public face of the checks)
    TheoryTooCostlyError,
    UnsupportedLinkError,
    check_cost,
    check_supported,
    theory_cost,
)

COEFF_RTOL = 1e-6  # kept for indexlab.hardness (its exact degree norms); theory uses errors
LAMBDA_TOL = 1e-3  # the old fixed cut-off (docs/algorithms.md §3.3); no longer decides zeros
ZERO_FACTOR = 10.0
DEFAULT_DEGREE = 8
_MULTI_DEGREE = 4  # generative exponent search depth for r >= 2 (tensor size grows like K^r)
_DISCRETE_MAX = 64
MC_SEED = 20_241_130
MC_BLOCKS = 8
MC_SAMPLES = 1 << 18  # per block: 2^21 samples in all
MC_BINS = 4096  # equal-count label bins per block (64 samples each, 32 per half)
_CHUNK = 1 << 16
_DISCRETE_ATOMS = 4e6  # equal-mass product rule for deterministic discrete multi-index labels


def _resolve(link: str | Link) -> Link:
    link = get_link(link) if isinstance(link, str) else link
    if not isinstance(link, Link):
        raise ValueError(f"link={link!r} is not allowed: give a registry name, an expression "
                         "in z (a string) or an indexlab.links.Link")
    check_supported(link)
    return link


def is_nonzero(value: float, error: float) -> bool:
    """A computed value counts as non-zero when ``|value| > ZERO_FACTOR · error``."""
    return bool(abs(value) > ZERO_FACTOR * error)


@lru_cache(maxsize=64)
def _breakpoints(link: Link) -> tuple[float, ...]:
    if link.r != 1:
        return ()
    found = find_jumps(lambda z: link.mean_numpy(z))
    return tuple(sorted(set(link.breakpoints) | set(found)))


@lru_cache(maxsize=64)
def _hermite_levels(link: Link, K: int) -> tuple[np.ndarray, np.ndarray]:
    """Hermite coefficients at a fine and a coarse resolution (see the module docstring)."""
    if link.r == 1:
        fine, coarse = (hermite_coefficients(link.mean_numpy, K, composite_rule(
            panel_width=w, breakpoints=_breakpoints(link))) for w in (0.01, 0.02))
        return fine, coarse
    n = HERMITE_NODES[min(link.r, 4)]
    fine, coarse = (_separable_coefficients(link, K, m) for m in (n, (2 * n) // 3))
    return fine, coarse


HERMITE_NODES = {2: 60, 3: 40, 4: 32}  # Gauss–Hermite nodes per axis of the product rule


def _separable_coefficients(link: Link, K: int, n: int) -> np.ndarray:
    """``c_α = Σ w f Π_i h_{α_i}(z_i)`` on the ``n^r`` product Gauss–Hermite grid, contracting
    one axis at a time (``O(n^r (K+1))`` instead of ``O(n^r (K+1)^r)``)."""
    rule = gauss_hermite(n)
    r = link.r
    grid = product_rule(rule, r)
    F = (grid.weights * link.mean_numpy(grid.nodes)).reshape((n,) * r)
    H = hermite_normalized(rule.nodes, K)  # (n, K+1)
    for _ in range(r):  # contract the leading axis; the new degree axis goes last
        F = np.tensordot(F, H, axes=([0], [0]))
    return F


def hermite_estimate(link: str | Link, K: int = DEFAULT_DEGREE) -> Estimate:
    """Hermite coefficients (``c_0..c_K``, or the tensor for ``r ≥ 2``) with error estimates
    ``|fine − coarse| + ROUND_OFF · sd(m)`` (round-off of the quadrature sums)."""
    link = _resolve(link)
    check_cost(link, "hermite", K)
    fine, coarse = _hermite_levels(link, K)
    scale = max(_regression_sd(link), 1e-300)
    return Estimate(fine.copy(), np.abs(fine - coarse) + ROUND_OFF * scale, "quadrature")


def hermite_expansion(link: str | Link, K: int = DEFAULT_DEGREE) -> np.ndarray:
    """Hermite coefficients of ``m(z) = E[y|z]``: ``(c_0..c_K)``, or the tensor for ``r ≥ 2``."""
    return hermite_estimate(link, K).value


def hermite_degree_norms(link: str | Link, K: int = DEFAULT_DEGREE) -> np.ndarray:
    """``‖c_{|α|=k}‖`` for ``k = 0..K`` (``|c_k|`` for single-index links)."""
    return degree_norms(hermite_expansion(link, K))


def hermite_degree_estimate(link: str | Link, K: int = DEFAULT_DEGREE) -> Estimate:
    """``‖c_{|α|=k}‖`` with errors (the norm of the per-entry errors, by the triangle
    inequality an upper bound on the error of the norm)."""
    est = hermite_estimate(link, K)
    return Estimate(degree_norms(est.value), degree_norms(est.error), est.method)


def information_exponent(link: str | Link, K: int = DEFAULT_DEGREE) -> int | None:
    """``k* = min{k ≥ 1 : c_k ≠ 0}``, ``‖c_{|α|=k}‖`` non-zero by :func:`is_nonzero`;
    ``None`` if no ``k ≤ K`` qualifies."""
    est = hermite_degree_estimate(link, K)
    for k in range(1, K + 1):
        if is_nonzero(est.value[k], est.error[k]):
            return k
    return None


def _regression_sd(link: Link) -> float:
    if link.r == 1:
        rule = composite_rule(panel_width=0.02, breakpoints=_breakpoints(link))
    else:
        rule = product_rule(gauss_hermite(HERMITE_NODES[min(link.r, 4)]), link.r)
    m = link.mean_numpy(rule.nodes)
    mean = np.dot(rule.weights, m)
    return float(math.sqrt(max(np.dot(rule.weights, (m - mean) ** 2), 0.0)))


# ----------------------------------------------------------------------------------------------
# multi-index: the joint law of (y, z) as weighted atoms, conditional means given y
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Levels:
    """Conditional means ``E[φ_j(z) | y ∈ bin b]`` of a multi-index link at two levels.

    Each entry of ``fine``/``coarse`` is ``(p, mA, mB)``: bin probabilities ``(B,)`` and two
    estimates ``(B, J)`` of the conditional means. Quadrature kinds (``"groups"``: discrete
    labels grouped exactly; ``"convolution"``: noisy labels) have one entry per level and
    ``mA = mB``; ``"monte_carlo"`` has one entry per independent block, ``mA``/``mB`` from the
    two halves of the block's samples (so ``Σ_b p_b mA_b mB_b`` is unbiased for the binned
    ``E[ζ²]``), and the coarse (coarser) level merges 2 (4) neighbouring bins.
    """

    fine: list
    coarse: list
    kind: str
    coarser: list | None = None  # Monte Carlo only: bins merged by 4


@lru_cache(maxsize=64)
def sign_symmetries(link: Link) -> tuple[tuple[int, ...], ...]:
    """Sign flips ``F ⊆ {1..r}`` with ``E[y | S_F z] = E[y | z]`` (``S_F`` negates ``z_i``,
    ``i ∈ F``), checked on 512 Gaussian points to ``1e-12`` relative. Labels depend on ``z``
    only through ``E[y|z]`` (binary or additive noise), so the joint law of ``(y, z)`` is
    invariant and ``E[φ(z)|y] = 0`` for every ``φ`` odd under some ``S_F``. All ``2^r − 1``
    flips are tested (``r ≤ 9``)."""
    r = link.r
    if r < 2:
        return ()
    z = np.random.default_rng(12345).standard_normal((512, r))
    base = link.mean_numpy(z)
    tol = 1e-12 * (1.0 + np.abs(base))
    found = []
    for code in range(1, 2**r):
        flip = tuple(i for i in range(r) if code >> i & 1)
        zs = z.copy()
        zs[:, list(flip)] *= -1
        if np.all(np.abs(link.mean_numpy(zs) - base) <= tol):
            found.append(flip)
    return tuple(found)


def _odd_under_symmetry(link: Link, parities: np.ndarray) -> np.ndarray:
    """For features with per-coordinate parities ``(J, r)``: True where some symmetry flip
    makes the feature odd (its conditional mean is then exactly zero)."""
    odd = np.zeros(len(parities), dtype=bool)
    for flip in sign_symmetries(link):
        odd |= parities[:, list(flip)].sum(axis=1) % 2 == 1
    return odd


def _quadrature_atoms(link: Link, n: int, equal_mass: bool = False):
    """Atoms ``(y, weight, z)`` of the noiseless label on a product rule: Gauss–Hermite
    (smooth ``E[y|z]``), or equal-mass midpoints (deterministic discrete labels, whose jumps
    along the axes, e.g. ``sign(z1 z2)``, such a rule integrates exactly)."""
    rule = product_rule(quantile_rule(n) if equal_mass else gauss_hermite(n), link.r)
    z = rule.nodes
    m = link.mean_numpy(z)
    if link.binary:
        f = np.clip(m, -1.0, 1.0)
        y = np.concatenate([np.ones_like(f), -np.ones_like(f)])
        w = np.concatenate([rule.weights * (1 + f) / 2, rule.weights * (1 - f) / 2])
        z = np.concatenate([z, z])
    else:
        y, w = m, rule.weights
    keep = w > 0
    return y[keep], w[keep], z[keep]


def _chunked(features, z: np.ndarray, cols: np.ndarray):
    for start in range(0, len(z), _CHUNK):
        yield start, np.asarray(features(z[start:start + _CHUNK]), dtype=np.float64)[:, cols]


def _is_discrete(link: Link) -> bool:
    if link.binary:
        return True
    z = np.random.default_rng(7).standard_normal((4096, link.r))
    return np.unique(link.mean_numpy(z)).size <= _DISCRETE_MAX // 2


def conditional_levels(link: str | Link, features, parities: np.ndarray | None = None,
                       J: int | None = None) -> Levels:
    """:class:`Levels` of ``E[φ(z) | y]`` for a multi-index link and ``φ: (N, r) → (N, J)``.

    ``parities`` (J, r): each feature's parity in each coordinate; features odd under a sign
    symmetry of the link (:func:`sign_symmetries`) are exactly zero and not computed.
    Discrete labels: exact grouping on product rules (Gauss–Hermite for binary labels,
    equal-mass midpoints with ``4·10⁶`` atoms for deterministic ones; ``n`` and ``2n/3``
    nodes per axis); noisy labels: convolution of the same atoms (cells ``σ/32`` and ``σ/16``);
    otherwise Monte Carlo: ``MC_BLOCKS`` blocks of ``MC_SAMPLES`` Gaussian samples (fixed
    seed), ``MC_BINS`` equal-count label bins.
    """
    link = _resolve(link)
    J = np.asarray(features(np.zeros((2, link.r)))).shape[1] if J is None else J
    keep = np.ones(J, dtype=bool)
    if parities is not None:
        keep &= ~_odd_under_symmetry(link, parities)
    cols = np.nonzero(keep)[0]
    n_axis = 60 if link.r <= 2 else 40 if link.r == 3 else 30
    if link.noise > 0 or _is_discrete(link):
        equal_mass = not link.binary and link.noise == 0
        if equal_mass:
            n_axis = 2 * max(10, round(_DISCRETE_ATOMS ** (1.0 / link.r) / 2))
        levels = []
        for n, cells in ((n_axis, 32), (2 * round(n_axis / 3), 16)):  # even: no node at 0
            y, w, z = _quadrature_atoms(link, n, equal_mass)
            if link.noise > 0:
                phi = np.concatenate([part for _, part in _chunked(features, z, cols)])
                p, _, means_kept = smoothed_conditional(y, w, phi, link.noise, cells)
            else:
                values, index = np.unique(y, return_inverse=True)
                p = np.bincount(index, weights=w, minlength=values.size)
                sums = np.zeros((values.size, cols.size))
                for start, phi in _chunked(features, z, cols):
                    sl = slice(start, start + _CHUNK)
                    for j in range(cols.size):
                        sums[:, j] += np.bincount(index[sl], weights=w[sl] * phi[:, j],
                                                  minlength=values.size)
                ok = p > 0
                p, means_kept = p[ok], sums[ok] / p[ok, None]
            means = np.zeros((len(p), J))
            means[:, cols] = means_kept
            levels.append([(p / p.sum(), means, means)])
        kind = "convolution" if link.noise > 0 else "equal_mass" if equal_mass else "groups"
        return Levels(levels[0], levels[1], kind)
    rng = np.random.default_rng(MC_SEED)
    fine, coarse, coarser = [], [], []
    n, B = MC_SAMPLES, MC_BINS
    for _ in range(MC_BLOCKS):
        z = rng.standard_normal((n, link.r))
        y = link.mean_numpy(z)
        index = np.empty(n, dtype=np.int64)
        index[np.argsort(y, kind="stable")] = np.arange(n) * B // n
        half = np.arange(n) % 2
        sums = np.zeros((2, B, J))
        counts = np.zeros((2, B))
        for h in (0, 1):
            counts[h] = np.bincount(index[half == h], minlength=B)
        for start, phi in _chunked(features, z, cols):
            sl = slice(start, start + _CHUNK)
            for h in (0, 1):
                sel = half[sl] == h
                for j, c in enumerate(cols):
                    sums[h, :, c] += np.bincount(index[sl][sel], weights=phi[sel, j],
                                                 minlength=B)
        for level, merge in ((fine, 1), (coarse, 2), (coarser, 4)):
            s = sums.reshape(2, B // merge, merge, J).sum(axis=2)
            c = counts.reshape(2, B // merge, merge).sum(axis=2)
            m = s / np.maximum(c, 1)[:, :, None]
            level.append(((c[0] + c[1]) / n, m[0], m[1]))
    return Levels(fine, coarse, "monte_carlo", coarser)


def _reduce(levels: Levels, fn) -> tuple[np.ndarray, np.ndarray]:
    """Value and error of a quantity ``fn(p, mA, mB)`` (an array) over :class:`Levels`.

    Quadrature: the fine value, error ``|fine − coarse|`` (``2|fine − coarse|`` for the
    equal-mass rule, whose tails converge like ``1/n``: ``n`` vs ``2n/3`` nodes). Monte Carlo:
    block means ``v_0, v_1, v_2`` at ``B, B/2, B/4`` bins. Binning loses information, and the
    loss decays geometrically in the number of bins (ratio ``q = d_1/d_2``, ``d_1 = v_0 − v_1``,
    ``d_2 = v_1 − v_2``; measured ``q ≈ 0.66`` for ``hard4_relu``), so the value is
    ``v_0 + d_1 q/(1 − q)`` (Aitken) and the error ``3·SE + |d_1 q/(1 − q)| + |d_1|`` (SE: the
    standard error over the blocks); without a clean trend (``q ∉ (0, 0.9)``) the value is
    ``v_0`` and the error ``3·SE + 10|d_1| + |d_2|``. ``ROUND_OFF`` is added throughout.
    """
    def values(level):
        return np.array([np.atleast_1d(fn(*t)) for t in level], dtype=np.float64)

    fine, coarse = values(levels.fine), values(levels.coarse)
    if levels.kind == "equal_mass":  # midpoint rule in probability: O(1/n) from the tails
        return fine[0], 2.0 * np.abs(fine[0] - coarse[0]) + ROUND_OFF
    if levels.kind != "monte_carlo":
        return fine[0], np.abs(fine[0] - coarse[0]) + ROUND_OFF
    v0, v1, v2 = fine.mean(axis=0), coarse.mean(axis=0), values(levels.coarser).mean(axis=0)
    se = fine.std(axis=0, ddof=1) / math.sqrt(len(fine))
    d1, d2 = v0 - v1, v1 - v2
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(d2 != 0, d1 / d2, np.nan)
    clean = (q > 0) & (q < 0.9)
    tail = np.where(clean, d1 * q / np.where(clean, 1 - q, 1.0), 0.0)
    error = 3.0 * se + np.where(clean, np.abs(tail) + np.abs(d1), 10 * np.abs(d1) + np.abs(d2))
    return v0 + tail, error + ROUND_OFF


def _multi_indices(r: int, K: int) -> list[tuple[int, ...]]:
    grids = np.indices((K + 1,) * r).reshape(r, -1).T
    return [tuple(int(v) for v in a) for a in grids if 1 <= sum(a) <= K]


# ----------------------------------------------------------------------------------------------
# generative coefficients and exponent
# ----------------------------------------------------------------------------------------------


def generative_estimate(link: str | Link, K: int | None = None) -> Estimate:
    """``λ_k², k = 0..K`` with error estimates (index 0 is 1 by convention).

    Single-index: :func:`indexlab.generative.single_index_lambda` (``method`` says which).
    Multi-index: ``λ_k² = Σ_{|α|=k} E_y[E[h_α(z)|y]²]`` by the atoms-and-bins scheme of the
    module docstring. Default ``K`` is 8 for ``r = 1`` and 4 for ``r ≥ 2``; cached per link.
    """
    link = _resolve(link)
    K = (DEFAULT_DEGREE if link.r == 1 else _MULTI_DEGREE) if K is None else K
    if not isinstance(K, (int, np.integer)) or isinstance(K, bool) or not 1 <= K <= 40:
        raise ValueError(f"degree K={K!r} is not allowed: use an integer in 1..40")
    check_cost(link, "generative", int(K))
    est = _generative_estimate(link, int(K))
    return Estimate(est.value.copy(), est.error.copy(), est.method)


@lru_cache(maxsize=64)
def _generative_estimate(link: Link, K: int) -> Estimate:
    if link.r == 1:
        return single_index_lambda(link, K, _breakpoints(link))
    alphas = _multi_indices(link.r, K)
    parities = np.array(alphas) % 2

    def features(z):
        h = hermite_normalized(z, K)  # (N, r, K+1)
        return np.stack([np.prod([h[:, i, a[i]] for i in range(link.r)], axis=0)
                         for a in alphas], axis=1)

    levels = conditional_levels(link, features, parities, J=len(alphas))
    degree = np.array([sum(a) for a in alphas])

    def per_degree(p, mA, mB):
        per_alpha = p @ (mA * mB)
        return np.bincount(degree, weights=per_alpha, minlength=K + 1)

    value, error = _reduce(levels, per_degree)
    value[0], error[0] = 1.0, 0.0
    method = levels.kind
    return Estimate(value, error, method)


def generative_coefficients(link: str | Link, K: int | None = None) -> np.ndarray:
    """``λ_k² = E_y[ζ_k(y)²]`` for ``k = 0..K`` (index 0 is 1 by convention): the values of
    :func:`generative_estimate` (which also gives their errors)."""
    return generative_estimate(link, K).value


def generative_exponent(link: str | Link, K: int | None = None) -> int | None:
    """``s* = min{k ≥ 1 : λ_k² ≠ 0}`` (non-zero by :func:`is_nonzero`); ``None`` if none up to
    ``K``."""
    est = generative_estimate(link, K)
    for k in range(1, est.value.size):
        if is_nonzero(est.value[k], est.error[k]):
            return k
    return None


@dataclass(frozen=True)
class LabelTransform:
    """``T(y) = ζ_k(y)/λ_k`` (or ``ζ_k`` unnormalised), piecewise linear between knots.

    Works on NumPy arrays and torch tensors (any device); labels outside the tabulated range
    take the end values. For binary labels the two knots ``±1`` make ``T`` affine in ``y``.
    """

    k: int
    knots: np.ndarray
    values: np.ndarray
    lam: float

    def __call__(self, y):
        if is_tensor(y):
            import torch

            knots = torch.as_tensor(self.knots, dtype=y.dtype, device=y.device)
            values = torch.as_tensor(self.values, dtype=y.dtype, device=y.device)
            yc = y.clamp(knots[0], knots[-1])
            i = torch.searchsorted(knots, yc.contiguous(), right=True).clamp(1, len(knots) - 1)
            x0, x1 = knots[i - 1], knots[i]
            t = ((yc - x0) / (x1 - x0)).clamp(0, 1)
            return values[i - 1] + t * (values[i] - values[i - 1])
        return np.interp(np.asarray(y, dtype=np.float64), self.knots, self.values)


def label_transform(link: str | Link, k: int, normalise: bool = True) -> LabelTransform:
    """The transform ``T(y) ≈ E[h_k(z) | y]`` (divided by ``λ_k`` when ``normalise``).

    At ``k = s*`` this is the optimal transform of docs/algorithms.md §3.2: ``(x, T(y))`` has
    information exponent ``s*`` and first non-zero coefficient ``E[T(y) h_{s*}(z)] = λ_{s*}``.
    ``ζ_k`` is tabulated by :func:`indexlab.generative.zeta_table` (exact at the knots for noiseless
    piecewise-monotone links) and ``λ_k`` comes from :func:`generative_estimate`. Raises
    ``ValueError`` if ``λ_k`` is zero (within its error: no transform of degree ``k``
    correlates with ``h_k``) or for multi-index links.
    """
    link = _resolve(link)
    if link.r != 1:
        raise ValueError(f"label_transform needs a single-index link; {link.name!r} has r={link.r}")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 40:
        raise ValueError(f"degree k={k!r} is not allowed: use an integer in 1..40")
    return _label_transform(link, k, bool(normalise))


@lru_cache(maxsize=64)
def _label_transform(link: Link, k: int, normalise: bool) -> LabelTransform:
    """Cached body of :func:`label_transform`."""
    from indexlab.generative import zeta_table

    est = generative_estimate(link, max(k, 2))
    lam2, err = float(est.value[k]), float(est.error[k])
    if not is_nonzero(lam2, err):
        raise ValueError(
            f"E[h_{k}(z) | y] vanishes for link {link.name!r} (λ_{k}² = {lam2:.2e} ± {err:.1e}, "
            f"not above {ZERO_FACTOR:g}× its error): use k ≥ the generative exponent"
        )
    knots, zeta = zeta_table(link, k, _breakpoints(link))
    lam = math.sqrt(lam2)
    values = zeta / lam if normalise else zeta
    return LabelTransform(k=k, knots=knots, values=values, lam=lam)


def _covariance_levels(link: Link) -> Levels:
    """:class:`Levels` of ``(E[z | y], G(y) = E[zzᵀ − I | y])`` per label bin (features
    ``z_i`` and ``z_i z_j − δ_ij``), with symmetry zeros kept exact."""
    r = link.r
    check_cost(link, "covariance", 2)

    def features(z):
        outer = z[:, :, None] * z[:, None, :] - np.eye(r)[None]
        return np.concatenate([z, outer.reshape(len(z), r * r)], axis=1)

    eye = np.eye(r, dtype=int)
    parities = np.concatenate([eye, ((eye[:, None, :] + eye[None]) % 2).reshape(r * r, r)])
    return conditional_levels(link, features, parities, J=r + r * r)


def _split(m: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    return m[:, :r], m[:, r:].reshape(-1, r, r)


def _first_order(r: int):
    """``Σ_i E_y[E[z_i|y]²]`` from two estimates of the conditional means."""
    def fn(p, mA, mB):
        return p @ np.sum(_split(mA, r)[0] * _split(mB, r)[0], axis=1)
    return fn


def _symmetric_operator(p, GA, GB) -> np.ndarray:
    """``F(M) = Σ_b p_b (G_A M G_B + G_B M G_A)/2`` as a matrix on an orthonormal basis of the
    symmetric ``r × r`` matrices (``GA, GB``: ``(B, r, r)``)."""
    r = GA.shape[-1]
    F = np.einsum("b,bij,bkl->ikjl", p, GA, GB)  # F(M)_il = Σ G_A[i,j] M[j,k] G_B[k,l]
    F = F.reshape(r * r, r * r)
    F = (F + F.T) / 2
    sym = _symmetric_basis(r)
    return sym.T @ F @ sym


def _symmetric_basis(r: int) -> np.ndarray:
    """``(r², r(r+1)/2)``: an orthonormal basis of the symmetric ``r × r`` matrices."""
    sym = np.zeros((r * r, r * (r + 1) // 2))
    col = 0
    for i in range(r):
        for j in range(i, r):
            E = np.zeros((r, r))
            E[i, j] = E[j, i] = 1.0 if i == j else 1.0 / math.sqrt(2.0)
            sym[:, col] = E.ravel()
            col += 1
    return sym


def _threshold_rho(r: int):
    """Top eigenvalue of ``F(M) = E_y[G M G]`` on symmetric matrices, from the symmetrised
    operator ``Σ_b p_b (G_A ⊗ G_B + G_B ⊗ G_A)/2`` (unbiased for Monte Carlo halves; for
    exact ``F`` the top eigenvector is PSD by Krein–Rutman, so this is the sup over the cone)."""
    def fn(p, mA, mB):
        GA, GB = _split(mA, r)[1], _split(mB, r)[1]
        return float(np.linalg.eigvalsh(_symmetric_operator(p, GA, GB))[-1])
    return fn


LATTICE_MAX_R = 3  # noiseless continuous labels: the spline-projection scheme below for r = 2, 3
LATTICE_NODES = {2: (1130, 800), 3: (120, 84)}  # nodes per axis, fine and coarse
SPLINE_KNOTS = {2: (80, 57), 3: (40, 28)}  # interior knots (normal-score quantiles of y)
LATTICE_ACCEPT = 0.01  # relative error of ρ above which the Monte Carlo scheme is used
_CHANGE_FACTOR = 2.5  # knots: remainder ≤ 2.5 × the change after a √2 refinement (first order)
SPLINE_FLOOR = 1e-4  # relative: the slow 1/log cusp of G at a saddle value (z1 z2: 3e-5)
SPLINE_SCORE = 3.5  # knots at the quantiles Φ(t), t uniform on [−3.5, 3.5]
SPLINE_DEGREE = 3
LATTICE_BOUND = 9.0
_REFINE = {2: 16, 3: 6}  # sub-nodes per axis in the cells that straddle a break
_EXTREMA_GRID = {2: 81, 3: 31}
_MAX_BREAKS = 16


@lru_cache(maxsize=64)
def _local_extremum_values(link: Link) -> tuple[float, ...]:
    """Values ``g(z₀)`` of the strict local minima and maxima of ``g = E[y|z]`` in
    ``[−4.5, 4.5]^r``: found on a grid (81 or 31 nodes per axis, strict against all
    ``3^r − 1`` neighbours) and polished by a compass search (:func:`_polish_extremum`). At a
    local extremum inside the range of
    ``y`` a new component of the level set ``{g = y}`` appears, so for ``r = 2`` the density
    of ``y`` and ``G(y)`` jump there (for ``r = 3`` they have a square-root kink); the spline
    basis gets a break at each such value. More than 16 extrema (an oscillating link): none."""
    from itertools import product

    r = link.r
    m = _EXTREMA_GRID[r]
    x = np.linspace(-4.5, 4.5, m)
    grid = np.stack([g.ravel() for g in np.meshgrid(*([x] * r), indexing="ij")], axis=1)
    Y = link.mean_numpy(grid).reshape((m,) * r)
    centre = Y[(slice(1, -1),) * r]
    is_max = np.ones(centre.shape, dtype=bool)
    is_min = np.ones(centre.shape, dtype=bool)
    for step in product((-1, 0, 1), repeat=r):
        if any(step):
            other = Y[tuple(slice(1 + s, m - 1 + s) for s in step)]
            is_max &= centre > other
            is_min &= centre < other
    found: list[float] = []
    for mask, sign in ((is_max, -1.0), (is_min, 1.0)):
        points = np.argwhere(mask)
        if len(found) + len(points) > _MAX_BREAKS:
            return ()
        for index in points:
            found.append(_polish_extremum(link, x[index + 1], sign, float(x[1] - x[0])))
    return tuple(sorted(set(np.round(found, 12).tolist())))


def _polish_extremum(link: Link, start: np.ndarray, sign: float, step: float) -> float:
    """``g`` at a local minimum (``sign = 1``) or maximum (``−1``) near ``start``: a compass
    search on the ``3^r`` stencil, moving to its best node and halving the step when the
    centre is best, down to a step of ``1e-9`` (the value is then exact to ``O(1e-18)``)."""
    from itertools import product

    stencil = np.array(list(product((-1.0, 0.0, 1.0), repeat=link.r)))
    centre = stencil.tolist().index([0.0] * link.r)
    point = np.asarray(start, dtype=np.float64)
    for _ in range(400):
        values = sign * link.mean_numpy(point + step * stencil)
        best = int(np.argmin(values))
        if values[best] >= values[centre]:
            step /= 2
            if step < 1e-9:
                break
        else:
            point = point + step * stencil[best]
    return float(link.mean_numpy(point[None])[0])


_OFFSETS = (math.sqrt(2.0) % 1 - 0.5, math.sqrt(3.0) % 1 - 0.5, math.sqrt(5.0) % 1 - 0.5)


def _lattice_atoms(link: Link, n: int, breaks: tuple[float, ...] = ()):
    """Atoms ``(z, w)`` of the standard Gaussian on ``R^r`` for the link's label.

    The uniform grid of ``n`` nodes per axis on ``[−9, 9]^r`` shifted by irrational fractions
    of the step (so that no quadratic form of the link takes one value on many atoms, as
    ``‖z‖²`` would on an unshifted grid: the label law on the lattice would be lumpy at the
    scale the knots resolve), weights ``∝ φ(z)`` (the trapezoid rule, spectrally accurate for
    smooth integrands). Cells that straddle a level set ``{g = c}`` of a break ``c``
    (``|g − c| ≤ 0.75 √r h |∇g|``) are replaced by a midpoint sub-grid (16 or 6 nodes per
    axis): the spline basis jumps there, and the trapezoid rule of a jump is only ``O(h)``."""
    r = link.r
    x = np.linspace(-LATTICE_BOUND, LATTICE_BOUND, n)
    h = float(x[1] - x[0])
    z = np.stack([g.ravel() for g in np.meshgrid(*([x] * r), indexing="ij")], axis=1)
    z = z + h * np.asarray(_OFFSETS[:r])
    w = np.exp(-0.5 * np.sum(z * z, axis=1))
    keep = w > 1e-18
    z, w = z[keep], w[keep]
    y = link.mean_numpy(z)
    breaks = tuple(c for c in breaks if y.min() < c < y.max())  # a global extremum is no break
    if breaks:
        spread = math.sqrt(float(np.average((y - np.average(y, weights=w)) ** 2, weights=w)))
        near = np.nonzero(np.min(np.abs(y[:, None] - np.array(breaks)[None]), axis=1)
                          < 0.2 * spread)[0]
        grad2 = np.zeros(near.size)
        for i in range(r):
            e = np.zeros(r)
            e[i] = 1e-6
            grad2 += ((link.mean_numpy(z[near] + e) - link.mean_numpy(z[near] - e)) / 2e-6) ** 2
        gap = np.min(np.abs(y[near, None] - np.array(breaks)[None]), axis=1)
        cells = near[gap <= 0.75 * math.sqrt(r) * h * np.sqrt(grad2) + 1e-12]
        m = _REFINE[r]
        sub = ((np.arange(m) + 0.5) / m - 0.5) * h
        offsets = np.stack([g.ravel() for g in np.meshgrid(*([sub] * r), indexing="ij")],
                           axis=1)
        zs = (z[cells][:, None, :] + offsets[None]).reshape(-1, r)
        rest = np.ones(len(z), dtype=bool)
        rest[cells] = False
        z = np.concatenate([z[rest], zs])
        w = np.concatenate([w[rest], np.exp(-0.5 * np.sum(zs * zs, axis=1)) / m**r])
    return z, w / w.sum()


def _spline_knots(y: np.ndarray, w: np.ndarray, count: int,
                  breaks: tuple[float, ...]) -> np.ndarray:
    """Clamped cubic knot vector on ``[min y, max y]``: ``count`` interior knots at the
    quantiles ``Φ(t_j)`` of ``y`` (``t_j`` uniform on ``[−SPLINE_SCORE, SPLINE_SCORE]``:
    equal steps in the normal score, so the tails get knots too), and each break inside the
    range with multiplicity 4 (the spline may jump there); quantile knots closer to a break
    than a quarter of their neighbours' spacing are dropped."""
    k = SPLINE_DEGREE
    order = np.argsort(y, kind="stable")
    cw = np.cumsum(w[order])
    scores = np.linspace(-SPLINE_SCORE, SPLINE_SCORE, count)
    knots = np.interp(np.array([0.5 * math.erfc(-t / math.sqrt(2.0)) for t in scores]),
                      cw - w[order] / 2, y[order])
    lo, hi = float(y[order[0]]), float(y[order[-1]])
    inner = [c for c in breaks if lo < c < hi]
    if inner:
        spacing = np.gradient(knots)
        far = np.all(np.abs(knots[:, None] - np.array(inner)[None]) > spacing[:, None] / 4,
                     axis=1)
        knots = np.concatenate([knots[far], np.repeat(inner, k + 1)])
    knots = np.sort(knots[(knots > lo) & (knots < hi)])
    return np.concatenate([[lo] * (k + 1), knots, [hi] * (k + 1)])


def _bspline_basis(x: np.ndarray, knots: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(i, B)``: for each ``x`` the knot interval ``t_i ≤ x < t_{i+1}`` (the last one closed)
    and the ``k + 1`` B-splines of degree ``k`` that do not vanish there, ``B[:, m]`` being
    basis function ``i − k + m`` (Cox–de Boor recursion; Piegl & Tiller, *The NURBS Book*,
    algorithm A2.2). Breaks of multiplicity ``k + 1`` make the basis discontinuous there."""
    n = len(knots) - k - 1
    i = np.clip(np.searchsorted(knots, x, side="right") - 1, k, n - 1)
    B = np.zeros((len(x), k + 1))
    B[:, 0] = 1.0
    left = np.zeros((len(x), k + 1))
    right = np.zeros((len(x), k + 1))
    for j in range(1, k + 1):
        left[:, j] = x - knots[i + 1 - j]
        right[:, j] = knots[i + j] - x
        saved = np.zeros(len(x))
        for m in range(j):
            temp = B[:, m] / (right[:, m + 1] + left[:, j - m])
            B[:, m] = saved + right[:, m + 1] * temp
            saved = left[:, j - m] * temp
        B[:, j] = saved
    return i, B


def _spline_rho(link: Link, z: np.ndarray, w: np.ndarray, y: np.ndarray,
                knots: np.ndarray) -> tuple[float, float]:
    """``(Σ_i E_y[E[z_i|y]²], ρ)`` with the conditional expectations replaced by the
    ``L²`` projection onto the cubic splines ``T_a(y)`` of ``knots``.

    With the Gram matrix ``A_ab = E[T_a T_b]`` and ``C_a = E[T_a(y) φ(z)]`` for the features
    ``φ = (z_i, z_i z_j − δ_ij)``, the projection of ``E[φ|y]`` has ``E_y[Pφ Pφᵀ] = Cᵀ A⁻¹ C``
    (all sums over the atoms, whose integrands are now ``C²`` functions of ``z`` away from the
    breaks). It increases to ``E_y[E[φ|y] E[φ|y]ᵀ]`` as knots are added (nested spans), so
    the binning loss of the old scheme becomes a spline approximation error, which is
    ``O(Δ⁴)`` in the knot spacing where ``G`` is smooth. ``ρ`` is the top eigenvalue of
    ``F(M) = E_y[PG M PG]`` on symmetric matrices."""
    from scipy.sparse import csr_matrix  # not scipy.interpolate: it loads scipy.optimize

    r = link.r
    nb = len(knots) - SPLINE_DEGREE - 1
    index, B = _bspline_basis(np.clip(y, knots[0], knots[-1]), knots, SPLINE_DEGREE)
    cols = (index - SPLINE_DEGREE)[:, None] + np.arange(SPLINE_DEGREE + 1)[None]
    D = csr_matrix((B.ravel(), cols.ravel(), np.arange(0, B.size + 1, SPLINE_DEGREE + 1)),
                   shape=(len(y), nb))
    Dw = csr_matrix(((B * w[:, None]).ravel(), cols.ravel(),
                     np.arange(0, B.size + 1, SPLINE_DEGREE + 1)), shape=(len(y), nb))
    A = (Dw.T @ D).toarray()
    feats = np.concatenate([z, (z[:, :, None] * z[:, None, :] - np.eye(r)).reshape(-1, r * r)],
                           axis=1)
    C = np.asarray(Dw.T @ feats)
    eye = np.eye(r, dtype=int)
    parities = np.concatenate([eye, ((eye[:, None, :] + eye[None]) % 2).reshape(r * r, r)])
    C[:, _odd_under_symmetry(link, parities)] = 0.0  # exact zeros (:func:`sign_symmetries`)
    scale = np.sqrt(np.diag(A))
    ok = scale > 0
    A = A[np.ix_(ok, ok)] / np.outer(scale[ok], scale[ok])
    C = C[ok] / scale[ok, None]
    vals, vecs = np.linalg.eigh(A)
    keep = vals > 1e-13 * vals.max()
    Q = (vecs[:, keep] / np.sqrt(vals[keep])).T @ C  # coefficients on an orthonormal basis
    first = float(np.sum(Q[:, :r] ** 2))
    GG = Q[:, r:]
    F = np.einsum("aij,akl->ikjl", GG.reshape(-1, r, r), GG.reshape(-1, r, r))
    F = F.reshape(r * r, r * r)
    F = (F + F.T) / 2
    sym = _symmetric_basis(r)
    return first, float(np.linalg.eigvalsh(sym.T @ F @ sym)[-1])


@lru_cache(maxsize=64)
def _lattice_threshold(link: Link) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """``(first, error), (ρ, error)`` of a noiseless continuous-label link with ``r = 2, 3``.

    Value: :func:`_spline_rho` on the fine lattice (:func:`_lattice_atoms`, ``1130`` or ``120``
    nodes per axis) with ``80`` or ``40`` quantile knots (:func:`_spline_knots`) and breaks at
    the local extremum values (:func:`_local_extremum_values`). Error:
    ``2.5 |fine − coarse knots (57, 28)| + |fine − coarse lattice (800, 84)| + 10⁻⁴ ρ +
    ROUND_OFF``: the factor 2.5 bounds the remainder after a ``√2`` refinement of a first-order
    method; the lattice sums converge faster (measured: ``h₃ z2`` moves by ``3e-4`` from 800 to
    1130 nodes and by ``6e-6`` from 1130 to 1600); the relative floor covers the slow
    convergence at a saddle value, where ``G`` has a ``1/log`` cusp (``z1 z2``: ``3e-5``).
    Measured against exact values (docs/theory.md has the table): ``z1 z2`` ``α_c =
    0.593769 ± 7.1e-5`` (19/32 = 0.59375), ``‖z‖²/3`` ``1.499996 ± 7.4e-4`` (3/2; ``G`` is
    linear in ``y``, inside the spline space). ``None`` when one label value sits on more than
    ``1/640`` of the atoms (a link constant on a set of positive measure, e.g. ``hard2_relu``,
    whose label atom a spline cannot carry); the Monte Carlo scheme is used then."""
    breaks = _local_extremum_values(link)
    fine_n, coarse_n = LATTICE_NODES[link.r]
    z, w = _lattice_atoms(link, fine_n, breaks)
    y = link.mean_numpy(z)
    _, counts = np.unique(y, return_counts=True)
    fine_k, coarse_k = SPLINE_KNOTS[link.r]
    if counts.max() * fine_k * 8 > y.size:
        return None
    knots = _spline_knots(y, w, fine_k, breaks)
    f0, r0 = _spline_rho(link, z, w, y, knots)
    f1, r1 = _spline_rho(link, z, w, y, _spline_knots(y, w, coarse_k, breaks))
    del z, w, y
    zc, wc = _lattice_atoms(link, coarse_n, breaks)
    fc, rc = _spline_rho(link, zc, wc, link.mean_numpy(zc), knots)
    first_err = _CHANGE_FACTOR * abs(f0 - f1) + abs(f0 - fc) + SPLINE_FLOOR * f0 + ROUND_OFF
    rho_err = _CHANGE_FACTOR * abs(r0 - r1) + abs(r0 - rc) + SPLINE_FLOOR * r0 + ROUND_OFF
    return (f0, first_err), (r0, rho_err)


def _is_coordinate_product(link: Link) -> bool:
    """``y = z1 z2 z3`` exactly (any spelling): a noiseless, deterministic ``r = 3`` link whose
    mean equals the product of the coordinates at 64 fixed Gaussian points."""
    if link.r != 3 or link.is_random or link.noise:
        return False
    z = np.random.default_rng(20261203).standard_normal((64, 3))
    with np.errstate(all="ignore"):
        value = np.asarray(link.mean_numpy(z), dtype=np.float64)
    product = z.prod(axis=1)
    return value.shape == product.shape and bool(
        np.all(np.abs(value - product) <= 1e-12 * (1.0 + np.abs(product))))


def _gauss_panels(a: np.ndarray, b: np.ndarray, panels: int, nodes: int):
    """Composite Gauss–Legendre nodes and weights on ``[a, b]`` (arrays of intervals, one row
    each): ``panels`` equal panels of ``nodes`` points."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    edges = np.linspace(0.0, 1.0, panels + 1)
    u = (edges[:-1, None] + (x[None, :] + 1.0) / (2.0 * panels)).ravel()  # in (0, 1)
    wu = np.tile(w / (2.0 * panels), panels)
    a, b = np.asarray(a, dtype=np.float64)[..., None], np.asarray(b, dtype=np.float64)[..., None]
    return a + (b - a) * u, (b - a) * wu


def _product_density(panels: int, nodes: int = 16):
    """``(y, weights, p(y), p(y) E[z1² | y])`` of ``y = z1 z2 z3`` on the quadrature nodes of
    :func:`_product_rho` (``y > 0``; ``2 Σ weights · f(y)`` is ``E[f(y)]`` for even ``f``)."""
    from scipy.special import k0e

    t, wt = _gauss_panels(np.array(-40.0), np.array(5.0), panels, nodes)
    y = np.exp(t)
    sv, ws = _gauss_panels(t - 9.0, np.full_like(t, 4.5), panels, nodes)  # (len(t), M)
    z = np.exp(sv)
    arg = y[:, None] / z
    kernel = k0e(arg) * np.exp(-arg - 0.5 * z * z) / (math.pi * math.sqrt(2.0 * math.pi)) * ws
    return y, y * wt, 2.0 * kernel.sum(axis=1), 2.0 * (z * z * kernel).sum(axis=1)


def _product_rho(panels: int, nodes: int = 16) -> float:
    """``ρ = 1/α_c`` of ``y = z1 z2 z3`` by nested one-dimensional quadrature.

    The sign flips of two coordinates keep ``y`` and flip ``z_i`` or ``z_i z_j``, and the
    coordinates are exchangeable, so ``E[z | y] = 0`` and ``G(y) = E[zzᵀ − I | y] = g(y) I``
    with ``g(y) = E[z1² | y] − 1``; then ``F(M) = E_y[G M G] = E[g²] M`` and
    ``ρ = E_y[g(y)²]``. With ``w = z2 z3`` of density ``K₀(|w|)/π`` (the product of two
    standard normals), ``y = z1 w`` has, for ``y > 0`` and ``z1 = e^s``,
    ``p(y) = (2/π) ∫ φ(e^s) K₀(y e^{−s}) ds`` and
    ``p(y) E[z1² | y] = (2/π) ∫ e^{2s} φ(e^s) K₀(y e^{−s}) ds``; ``ρ = 2 ∫₀^∞ g² p dy``, taken
    over ``t = log y ∈ [−40, 5]`` (outside, the mass is below 1e-15) and ``s ∈ [t − 9, 4.5]``
    (``K₀(e⁹)`` and ``φ(e^{4.5})`` vanish in double precision). Every integrand is analytic in
    its log variable, so composite Gauss–Legendre converges geometrically in ``panels``."""
    _, weights, p, second = _product_density(panels, nodes)
    g = second / p - 1.0
    return float(2.0 * np.sum(g * g * p * weights))


@lru_cache(maxsize=1)
def _product_threshold() -> tuple[float, float]:
    """``(ρ, error)`` of ``y = z1 z2 z3`` (:func:`_product_rho`): the error is the change
    from 24 to 48 panels (geometric convergence: the finer value is far closer) plus a
    round-off floor."""
    coarse, fine = _product_rho(24), _product_rho(48)
    return fine, abs(fine - coarse) + 1e-12 * fine


def _lattice_usable(link: Link) -> bool:
    """The spline scheme applies (no label atom) and is accurate: either ``E[z|y] ≠ 0`` is
    certain, or ``ρ`` has a relative error below ``LATTICE_ACCEPT``. Links whose level sets
    pinch where ``G(y)`` varies fastest (``hard3_tanh``: ``y = 0`` on the
    coordinate planes) converge slowly on the lattice; they go to the Monte Carlo scheme."""
    result = _lattice_threshold(link)
    if result is None:
        return False
    (first, first_err), (rho, rho_err) = result
    return is_nonzero(first, first_err) or rho_err <= LATTICE_ACCEPT * rho


@dataclass(frozen=True)
class Threshold:
    """``α_c`` with its error estimate; ``value`` is ``0``, finite, or ``math.inf``."""

    value: float
    error: float
    inverse: float  # ρ = 1/α_c (0 when α_c = ∞), what is actually computed
    inverse_error: float


def weak_recovery_estimate(link: str | Link) -> Threshold:
    """``α_c`` with an error estimate (see the module docstring for the formula).

    ``α_c = 0`` when ``E[z|y] ≠ 0`` (single-index: ``λ_1²`` non-zero; multi-index:
    ``Σ_i E_y[E[z_i|y]²]`` non-zero, by :func:`is_nonzero`). Otherwise ``ρ = 1/α_c`` is
    ``2λ_2²`` (single-index) or the top eigenvalue of ``F(M) = E_y[G(y) M G(y)]`` on the PSD
    cone; ``α_c = ∞`` when ``ρ`` is zero within its error, else ``α_c = 1/ρ`` with error
    ``ε_ρ/ρ²``.
    """
    link = _resolve(link)
    if link.r == 1:
        est = generative_estimate(link, 2)
        if is_nonzero(est.value[1], est.error[1]):
            return Threshold(0.0, 0.0, math.inf, 0.0)
        rho, rho_err = 2.0 * float(est.value[2]), 2.0 * float(est.error[2])
    elif _is_coordinate_product(link):
        rho, rho_err = _product_threshold()  # exact symmetry reduction: E[z|y] = 0
    elif (link.r <= LATTICE_MAX_R and not link.is_random and not _is_discrete(link)
          and _lattice_usable(link)):
        (first, first_err), (rho, rho_err) = _lattice_threshold(link)
        if is_nonzero(first, first_err):
            return Threshold(0.0, 0.0, math.inf, 0.0)
    else:
        levels = _covariance_levels(link)
        first, first_err = _reduce(levels, _first_order(link.r))
        if is_nonzero(first[0], first_err[0]):
            return Threshold(0.0, 0.0, math.inf, 0.0)
        value, error = _reduce(levels, _threshold_rho(link.r))
        rho, rho_err = float(value[0]), float(error[0])
    if not is_nonzero(rho, rho_err):
        return Threshold(math.inf, 0.0, 0.0, rho_err)
    return Threshold(1.0 / rho, rho_err / rho**2, rho, rho_err)


def weak_recovery_threshold(link: str | Link) -> float:
    """``α_c`` of the proportional regime; ``math.inf`` when infinite (see
    :func:`weak_recovery_estimate`, which also gives the error)."""
    return weak_recovery_estimate(link).value


# ----------------------------------------------------------------------------------------------
# predicted sample complexities
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prediction:
    """Predicted sample complexity ``n ≍ base^exponent`` (up to constants and polylogs).

    ``base`` is ``"d"``, or ``"k"`` (the sparsity) for the sparse algorithms; ``samples`` is
    the formula evaluated at the given ``d`` (and ``k``) with constant 1, ``log`` natural.
    """

    algorithm: str
    exponent: float
    base: str
    formula: str
    samples: float
    source: str


_SINGLE = (
    "online_sgd", "smoothed_sgd", "csq_lower_bound", "unified", "sq_lower_bound",
    "batch_reuse_sgd", "information_theoretic",
)
_SPARSE = ("sparse_unified", "sparse_sq_lower_bound")
_MULTI = ("layerwise", "one_step", "information_theoretic")
_AMP = ("amp",)  # n = α_c d: Bayes-optimal GAMP (predicted_sample_complexity only)
ALGORITHMS = tuple(dict.fromkeys(_SINGLE + _SPARSE + _MULTI + _AMP))  # every key of a prediction


def _power(base: str, p: float) -> str:
    if p == 1:
        return base
    return f"{base}^{p:g}"


def _predict(algorithm, k_star, s_star, d, sparsity) -> Prediction:
    log_d = math.log(d)
    if algorithm == "information_theoretic":
        return Prediction(algorithm, 1.0, "d", "d", float(d), "Θ(d): DPVLB24, BKMMZ19")
    if algorithm == "layerwise":
        return Prediction(algorithm, 1.0, "d", "d polylog d", d * log_d,
                          "Zhang, Wang, Fu, Lee (ICLR 2026), Thm 1")
    if algorithm == "one_step":
        return Prediction(algorithm, 2.0, "d", "d^2", float(d) ** 2,
                          "Damian, Lee, Soltanolkotabi (COLT 2022)")
    if algorithm in _SPARSE:
        if sparsity is None:
            raise ValueError(f"algorithm {algorithm!r} needs sparsity k (1 <= k <= d)")
        s = s_star
        samples = float(sparsity) ** s * (log_d if algorithm == "sparse_unified" else 1.0)
        formula = f"{_power('k', s)} log d" if algorithm == "sparse_unified" else _power("k", s)
        return Prediction(algorithm, float(s), "k", formula, samples,
                          "Chen, Wu, Lu, Yang, Wang (arXiv 2606.15219), sparse case")
    k, s = k_star, s_star
    if algorithm == "online_sgd":
        if k <= 2:
            formula, samples = ("d", float(d)) if k == 1 else ("d log d", d * log_d)
            return Prediction(algorithm, 1.0, "d", formula, samples, "Ben Arous et al. 2021")
        return Prediction(algorithm, float(k - 1), "d", _power("d", k - 1), float(d) ** (k - 1),
                          "Ben Arous et al. 2021")
    if algorithm in ("smoothed_sgd", "csq_lower_bound"):
        p = max(k / 2, 1.0)
        return Prediction(algorithm, p, "d", _power("d", p), float(d) ** p,
                          "Damian, Nichani, Ge, Lee 2023")
    if algorithm in ("unified", "sq_lower_bound"):
        p = max(s / 2, 1.0)
        src = ("Chen, Wu, Lu, Yang, Wang (arXiv 2606.15219)" if algorithm == "unified"
               else "Damian, Pillaud-Vivien, Lee, Bruna 2024")
        return Prediction(algorithm, p, "d", _power("d", p), float(d) ** p, src)
    if algorithm == "batch_reuse_sgd":
        p = float(max(s - 1, 1))
        return Prediction(algorithm, p, "d", _power("d", p) + " polylog d",
                          float(d) ** p * log_d, "Lee, Oko, Suzuki, Wu 2024")
    raise AssertionError(algorithm)


def predicted_sample_complexity(
    algorithm: str, link: str | Link, d: int, sparsity: int | None = None
) -> Prediction:
    """Theoretical sample complexity of ``algorithm`` on ``link`` in dimension ``d``.

    Single-index (``k* = `` information, ``s* = `` generative exponent):

    ==========================  =====================================  ======================
    algorithm                   samples                                source
    ==========================  =====================================  ======================
    ``online_sgd``              ``d`` (k*=1), ``d log d`` (k*=2),       Ben Arous et al. 2021
                                ``d^{k*−1}`` (k* ≥ 3)
    ``smoothed_sgd``            ``d^{k*/2} ∨ d``                        Damian et al. 2023
    ``csq_lower_bound``         ``d^{k*/2} ∨ d``                        Damian et al. 2023
    ``unified``                 ``d^{s*/2} ∨ d``                        Chen et al. 2026
    ``sq_lower_bound``          ``d^{s*/2} ∨ d``                        Damian et al. 2024
    ``batch_reuse_sgd``         ``d^{(s*−1) ∨ 1}`` polylog              Lee et al. 2024
    ``sparse_unified``          ``k^{s*} log d`` (k = sparsity)         Chen et al. 2026
    ``sparse_sq_lower_bound``   ``k^{s*}``                              Chen et al. 2026
    ``information_theoretic``   ``d``                                   —
    ==========================  =====================================  ======================

    Multi-index: ``layerwise`` ``d polylog d`` (Zhang et al. 2026), ``one_step`` ``d²``
    (Damian, Lee, Soltanolkotabi 2022), ``information_theoretic`` ``d``. The two gradient
    predictions assume every direction of the subspace is visible to first- and second-order
    statistics of a transformed label (:func:`second_order_visible`); where it is not (the
    orthogonal hard families, ``s* = k ≥ 3``: docs/algorithms.md §8) they raise ``ValueError``
    and are left out of :func:`predicted_sample_complexities`.
    """
    link = _resolve(link)
    _check_dimension(d, sparsity)
    if algorithm == "amp":
        return _amp_prediction(link, d)
    allowed = _allowed_algorithms(link, sparsity)
    if algorithm not in allowed:
        raise ValueError(
            f"algorithm={algorithm!r} is not available for link {link.name!r} "
            f"(r={link.r}, sparsity={sparsity}); allowed: {', '.join(allowed)}"
        )
    if algorithm in _SECOND_ORDER and not second_order_visible(link):
        raise ValueError(
            f"algorithm={algorithm!r} has no prediction for link {link.name!r}: its labels carry "
            "no first- or second-order information on some direction of the subspace "
            "(E_y[G(y)² + m(y)m(y)ᵀ] is singular), which the layer-wise/one-step analyses "
            "assume")
    k_star = information_exponent(link) if link.r == 1 else None
    s_star = generative_exponent(link) if link.r == 1 else None
    if link.r == 1 and algorithm not in ("information_theoretic",) and (
        k_star is None or s_star is None
    ):
        raise ValueError(f"link {link.name!r} has no finite exponent up to degree 8")
    return _predict(algorithm, k_star, s_star, d, sparsity)


_SECOND_ORDER = ("layerwise", "one_step")


def _amp_prediction(link: Link, d: int) -> Prediction:
    """``n = α_c d`` for Bayes-optimal GAMP (weak recovery from an uninformed start,
    :func:`weak_recovery_estimate`); ``ValueError`` when ``α_c`` is 0 (any ``α > 0``
    suffices) or infinite (no ``n = Θ(d)`` suffices)."""
    alpha = weak_recovery_estimate(link)
    if alpha.value == 0 or math.isinf(alpha.value):
        raise ValueError(f"algorithm='amp' has no n = α_c d prediction for link {link.name!r}: "
                         f"α_c = {'0' if alpha.value == 0 else '∞'}")
    return Prediction("amp", 1.0, "d", f"{alpha.value:.4g} d", alpha.value * d,
                      "weak-recovery threshold of GAMP: Troiani et al. (AISTATS 2025)")


def second_order_visible(link: str | Link) -> bool:
    """Whether first- and second-order statistics of transformed labels see *every*
    direction of the subspace: the smallest eigenvalue of
    ``M = E_y[G(y)² + m(y) m(y)ᵀ]``, ``G(y) = E[zzᵀ − I | y]``, ``m(y) = E[z | y]`` (both
    ``r × r`` / ``r``, in the frame of ``U``) is non-zero by :func:`is_nonzero` (its error:
    the change between the two resolutions of :func:`conditional_means`). ``M`` is singular
    exactly when some unit ``v`` has ``E[⟨v, z⟩ | y] = 0`` and ``G(y) v = 0`` for every ``y``,
    i.e. no label transform ``T`` makes ``E[T(y)(xxᵀ − I)]`` or ``E[T(y) x]`` move along
    ``Uᵀv`` — the situation of the orthogonal hard families (docs/algorithms.md §8), where
    ``M = 0``. Cached per link."""
    value, error = _second_order_eigenvalue(_resolve(link))
    return is_nonzero(value, error)


@lru_cache(maxsize=64)
def _second_order_eigenvalue(link: Link) -> tuple[float, float]:
    """Smallest eigenvalue of ``M`` of :func:`second_order_visible` and its error."""
    r = link.r

    def fn(p, mA, mB):
        (zA, GA), (zB, GB) = _split(mA, r), _split(mB, r)
        M = np.einsum("b,bij,bjk->ik", p, GA, GB) + np.einsum("b,bi,bj->ij", p, zA, zB)
        return float(np.linalg.eigvalsh((M + M.T) / 2)[0])

    value, error = _reduce(_covariance_levels(link), fn)
    return float(value[0]), float(error[0])


def _allowed_algorithms(link: Link, sparsity: int | None) -> tuple[str, ...]:
    if link.r > 1:
        return _MULTI
    return _SINGLE + (_SPARSE if sparsity is not None else ())


def _check_dimension(d, sparsity) -> None:
    if not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d={d!r} is not allowed: use an integer >= 1")
    if sparsity is not None and (not isinstance(sparsity, (int, np.integer))
                                 or not 1 <= sparsity <= d):
        raise ValueError(f"sparsity={sparsity!r} is not allowed: use an integer in 1..d={d}")


def predicted_sample_complexities(
    link: str | Link, d: int, sparsity: int | None = None,
    k_star: int | None = None, s_star: int | None = None,
) -> dict[str, Prediction]:
    """Every applicable :class:`Prediction` for ``link`` at dimension ``d``, by algorithm.

    ``k_star``/``s_star`` may be passed when already computed (they are computed otherwise).
    Algorithms needing an exponent that is infinite up to degree 8 are left out.
    """
    link = _resolve(link)
    _check_dimension(d, sparsity)
    if link.r == 1:
        k_star = information_exponent(link) if k_star is None else k_star
        s_star = generative_exponent(link) if s_star is None else s_star
    out = {}
    for name in _allowed_algorithms(link, sparsity):
        needs_k = name in ("online_sgd", "smoothed_sgd", "csq_lower_bound")
        needs_s = name in ("unified", "sq_lower_bound", "batch_reuse_sgd", *_SPARSE)
        if (needs_k and k_star is None) or (needs_s and s_star is None):
            continue
        if link.r > 1 and name in _SECOND_ORDER and not second_order_visible(link):
            continue
        out[name] = _predict(name, k_star, s_star, d, sparsity)
    return out
