"""Information and generative exponents, optimal label transforms, thresholds, predictions.

Definitions (spec ``single-index.md`` §0 and §3, ``multi-index.md`` §5):

* Hermite coefficients of the regression function ``m(z) = E[y | z]``:
  ``c_k = E[m(z) h_k(z)]``; information exponent ``k* = min{k ≥ 1 : c_k ≠ 0}``
  (Ben Arous, Gheissari, Jagannath 2021). For ``r ≥ 2`` the degree-``k`` part is the tensor
  ``(c_α)_{|α| = k}`` and ``k*`` the smallest degree with a non-zero part.
* ``ζ_k(y) = E[h_k(z) | y]``, ``λ_k² = E_y[ζ_k(y)²]``; generative exponent
  ``s* = min{k ≥ 1 : λ_k > 0}`` (Damian, Pillaud-Vivien, Lee, Bruna 2024). For ``r ≥ 2`` we use
  ``λ_k² = Σ_{|α|=k} E_y[E[h_α(z) | y]²]`` (the first "generative leap").
* Optimal label transform at degree ``k``: ``T(y) = ζ_k(y)/λ_k`` maximises
  ``E[T(y) h_k(z)]`` under ``E[T²] = 1`` (Cauchy–Schwarz; spec §3.2).
* Weak-recovery threshold in the proportional regime ``n = αd`` (Mondelli–Montanari 2018,
  Barbier et al. 2019; multi-index: Troiani et al. 2025): ``α_c = 0`` if ``E[z | y] ≠ 0``;
  otherwise ``α_c⁻¹ = sup_{M ⪰ 0, ‖M‖_F = 1} ‖E_y[G(y) M G(y)]‖_F`` with
  ``G(y) = E[zzᵀ − I | y]``, which for ``r = 1`` is ``α_c = 1/E_y[(E[z²|y] − 1)²] = 1/(2λ_2²)``
  (phase retrieval: 1/2); ``α_c = ∞`` when ``G ≡ 0`` too.

How the conditional expectations are computed (deterministic, no Monte Carlo): the latent
``z`` is discretised by a quadrature rule (composite Gauss–Legendre for ``r = 1`` with the
link's jumps as panel edges, or equal-mass nodes where labels are binned; a product rule for
``r ≥ 2``) and binary labels by their two outcomes with weights ``(1 ± m(z))/2``. This turns
the joint law of the noiseless label and ``z`` into weighted atoms. Additive Gaussian label
noise is then exact: the atoms are deposited on a fine label grid (``σ/16``) and convolved
with the noise density, ``E[φ(z) | y] = Σ_a w_a φ(z_a) φ_σ(y − y_a) / Σ_a w_a φ_σ(y − y_a)``.
Without noise, if the label takes at most 64
distinct values the atoms are grouped exactly (exact ``ζ_k`` for binary links). Otherwise the
atoms are sorted by ``y`` and split into ``B`` bins of equal probability (ties never split, so
symmetric links keep their exact zeros), and ``ζ_k`` is the weighted mean of ``h_k`` in each
bin. Binning can only lower ``λ_k²`` (Jensen); with ``~10³`` atoms per bin spurious values for
exactly-zero ``λ_k`` are below ``1e-4`` in our checks. Single-index values are accurate to
~1e-3 (phase retrieval: ``α_c = 0.50025`` against 1/2); the product rule used for ``r ≥ 2`` is
coarser, and multi-index ``α_c`` carry a binning bias of up to ~2% (``z1 z2``: 0.5968 against
0.59375; ``sign(z1 z2)``: 2.469 against π²/4). A ``λ_k²`` is called zero below
``LAMBDA_TOL = 1e-3`` (the spec's threshold, §3.3), a Hermite coefficient below
``COEFF_RTOL = 1e-6`` times the standard deviation of ``m(z)`` (quadrature is accurate to
~1e-12 there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from indexlab.hermite import (
    composite_rule,
    degree_norms,
    find_jumps,
    gauss_hermite,
    hermite_coefficients,
    hermite_coefficients_nd,
    hermite_normalized,
    product_rule,
    quantile_rule,
)
from indexlab.links import Link, get_link

COEFF_RTOL = 1e-6
LAMBDA_TOL = 1e-3
DEFAULT_DEGREE = 8
_MULTI_DEGREE = 4  # generative exponent search depth for r >= 2 (tensor size grows like K^r)
_DISCRETE_MAX = 64
_BINS = 4000


def _resolve(link: str | Link) -> Link:
    return get_link(link) if isinstance(link, str) else link


@lru_cache(maxsize=64)
def _breakpoints(link: Link) -> tuple[float, ...]:
    if link.r != 1:
        return ()
    found = find_jumps(lambda z: link.mean_numpy(z))
    return tuple(sorted(set(link.breakpoints) | set(found)))


def hermite_expansion(link: str | Link, K: int = DEFAULT_DEGREE) -> np.ndarray:
    """Hermite coefficients of ``m(z) = E[y|z]``: ``(c_0..c_K)``, or the tensor for ``r ≥ 2``."""
    link = _resolve(link)
    if link.r == 1:
        rule = composite_rule(panel_width=0.02, breakpoints=_breakpoints(link))
        return hermite_coefficients(link.mean_numpy, K, rule)
    return hermite_coefficients_nd(link.mean_numpy, K, link.r)


def hermite_degree_norms(link: str | Link, K: int = DEFAULT_DEGREE) -> np.ndarray:
    """``‖c_{|α|=k}‖`` for ``k = 0..K`` (``|c_k|`` for single-index links)."""
    return degree_norms(hermite_expansion(link, K))


def information_exponent(link: str | Link, K: int = DEFAULT_DEGREE) -> int | None:
    """``k* = min{k ≥ 1 : c_k ≠ 0}`` with ``|c_k| > COEFF_RTOL · sd(m(z))``; ``None`` if no
    ``k ≤ K`` qualifies (or the regression function is constant)."""
    norms = hermite_degree_norms(link, K)
    sd = _regression_sd(_resolve(link))
    if sd == 0:
        return None
    for k in range(1, K + 1):
        if norms[k] > COEFF_RTOL * sd:
            return k
    return None


def _regression_sd(link: Link) -> float:
    if link.r == 1:
        rule = composite_rule(panel_width=0.02, breakpoints=_breakpoints(link))
    else:
        rule = product_rule(gauss_hermite(60 if link.r <= 3 else 20), link.r)
    m = link.mean_numpy(rule.nodes)
    mean = np.dot(rule.weights, m)
    return float(math.sqrt(max(np.dot(rule.weights, (m - mean) ** 2), 0.0)))


# ----------------------------------------------------------------------------------------------
# the joint law of (y, z) as weighted atoms, and conditional means given y
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionalMeans:
    """Binned conditional expectations ``E[φ_j(z) | y ∈ bin b]``.

    ``p`` (B,) bin probabilities, ``y`` (B,) mean label per bin, ``means`` (B, J).
    ``exact`` is True when labels are discrete and bins are the label values themselves.
    """

    p: np.ndarray
    y: np.ndarray
    means: np.ndarray
    exact: bool


def _latent_rule(link: Link, atoms: float, accurate: bool):
    """Quadrature over ``z`` with about ``atoms`` nodes in total.

    Binary labels are grouped exactly and noisy labels are smoothed by convolution, so both use
    an accurate rule (composite, jumps as panel edges); noiseless continuous labels are binned,
    so every atom gets the same mass (quantile rule).
    """
    if accurate and link.r == 1:
        return composite_rule(panel_width=0.001, breakpoints=_breakpoints(link))
    if accurate:
        return product_rule(gauss_hermite(60 if link.r <= 3 else 20), link.r)
    per_axis = max(20, round(atoms ** (1.0 / link.r)))
    return product_rule(quantile_rule(per_axis), link.r)


def _label_atoms(link: Link, atoms: float):
    """Atoms ``(y, weight, z)`` representing the joint law of the noiseless label and latent."""
    n_branch = 2 if link.binary else 1
    rule = _latent_rule(link, atoms / n_branch, accurate=link.binary or link.noise > 0)
    z = rule.nodes if rule.nodes.ndim == 2 else rule.nodes[:, None]
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


def _smoothed_by_noise(y0, w, phi, sigma: float, cells_per_sigma: int = 16):
    """Conditional means for ``y = y0 + σ ε`` by Gaussian convolution on a fine label grid.

    The noiseless atoms are deposited on a uniform grid of width ``δ = σ/16`` by linear
    (cloud-in-cell) weighting, then the mass ``m`` and the sums ``Σ w φ_j`` are convolved with
    the ``N(0, σ²)`` kernel: ``E[φ_j | y] = (F_j ∗ φ_σ)(y) / (m ∗ φ_σ)(y)``, exact up to the
    ``O((δ/σ)²)`` deposit error; the label law of the cell is ``(m ∗ φ_σ)``.
    """
    from scipy.signal import fftconvolve

    order = np.argsort(y0)
    cum = np.cumsum(w[order])
    lo_hi = y0[order][np.searchsorted(cum, cum[-1] * np.array([1e-12, 1 - 1e-12]))]
    lo, hi = lo_hi[0] - 8 * sigma, lo_hi[1] + 8 * sigma
    delta = max(sigma / cells_per_sigma, (hi - lo) / 4e6)
    n = math.ceil((hi - lo) / delta) + 2
    pos = np.clip((y0 - lo) / delta, 0.0, n - 1.000001)
    left = np.floor(pos).astype(np.int64)
    frac = pos - left

    def deposit(values):
        return (np.bincount(left, weights=values * (1 - frac), minlength=n)
                + np.bincount(left + 1, weights=values * frac, minlength=n))

    half = math.ceil(8 * sigma / delta)
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * delta / sigma) ** 2)
    kernel /= kernel.sum()
    den = fftconvolve(deposit(w), kernel, mode="same")
    nums = np.stack([fftconvolve(deposit(w * phi[:, j]), kernel, mode="same")
                     for j in range(phi.shape[1])], axis=1)
    ok = den > 1e-300 * max(den.max(), 1e-300)
    grid = lo + delta * np.arange(n)
    return ConditionalMeans(p=den[ok] / den[ok].sum(), y=grid[ok], means=nums[ok] / den[ok, None],
                            exact=False)


def conditional_means(link: str | Link, features, atoms: float = 2e6, bins: int = _BINS):
    """``E[φ(z) | y]`` on label bins for a feature map ``φ: (N, r) → (N, J)``.

    See the module docstring for the method. Returns :class:`ConditionalMeans`.
    """
    link = _resolve(link)
    y, w, z = _label_atoms(link, atoms)
    phi = np.asarray(features(z), dtype=np.float64)
    if link.noise > 0:
        return _smoothed_by_noise(y, w, phi, link.noise)
    values, index = np.unique(y, return_inverse=True)
    if values.size <= _DISCRETE_MAX:
        exact = True
    else:
        exact = False
        order = np.argsort(y, kind="stable")
        mass = np.cumsum(w[order])
        at = np.searchsorted(mass, mass[-1] * np.arange(1, bins) / bins)
        cut = np.unique(y[order][np.minimum(at, y.size - 1)])
        index = np.searchsorted(cut, y, side="right")
    n_bins = int(index.max()) + 1
    p = np.bincount(index, weights=w, minlength=n_bins)
    ok = p > 0
    y_mean = np.bincount(index, weights=w * y, minlength=n_bins)[ok] / p[ok]
    sums = np.stack(
        [np.bincount(index, weights=w * phi[:, j], minlength=n_bins) for j in range(phi.shape[1])],
        axis=1,
    )
    return ConditionalMeans(p=p[ok], y=y_mean, means=sums[ok] / p[ok, None], exact=exact)


def _multi_indices(r: int, K: int) -> list[tuple[int, ...]]:
    grids = np.indices((K + 1,) * r).reshape(r, -1).T
    return [tuple(int(v) for v in a) for a in grids if 1 <= sum(a) <= K]


def generative_coefficients(link: str | Link, K: int | None = None) -> np.ndarray:
    """``λ_k² = E_y[ζ_k(y)²]`` for ``k = 0..K`` (index 0 is 1 by convention).

    For ``r ≥ 2``, ``λ_k² = Σ_{|α|=k} E_y[E[h_α(z)|y]²]``; default ``K`` is 8 for ``r = 1``
    and 4 for ``r ≥ 2``. Results are cached per link.
    """
    link = _resolve(link)
    K = (DEFAULT_DEGREE if link.r == 1 else _MULTI_DEGREE) if K is None else K
    return _generative_coefficients(link, K).copy()


@lru_cache(maxsize=64)
def _generative_coefficients(link: Link, K: int) -> np.ndarray:
    if link.r == 1:
        cm = conditional_means(link, lambda z: hermite_normalized(z[:, 0], K))
        lam = cm.p @ cm.means**2
        lam[0] = 1.0
        return lam
    alphas = _multi_indices(link.r, K)

    def features(z):
        h = hermite_normalized(z, K)  # (N, r, K+1)
        return np.stack([np.prod([h[:, i, a[i]] for i in range(link.r)], axis=0)
                         for a in alphas], axis=1)

    cm = conditional_means(link, features, atoms=2e6, bins=2000)
    per_alpha = cm.p @ cm.means**2
    lam = np.zeros(K + 1)
    lam[0] = 1.0
    for a, v in zip(alphas, per_alpha, strict=True):
        lam[sum(a)] += v
    return lam


def generative_exponent(link: str | Link, K: int | None = None) -> int | None:
    """``s* = min{k ≥ 1 : λ_k² > LAMBDA_TOL}``; ``None`` if none up to ``K``."""
    lam = generative_coefficients(link, K)
    for k in range(1, lam.size):
        if lam[k] > LAMBDA_TOL:
            return k
    return None


@dataclass(frozen=True)
class LabelTransform:
    """``T(y) = ζ_k(y)/λ_k`` (or ``ζ_k`` unnormalised), piecewise linear between bin knots.

    Works on NumPy arrays and torch tensors (any device); labels outside the tabulated range
    take the end values. For binary labels the two knots ``±1`` make ``T`` affine in ``y``.
    """

    k: int
    knots: np.ndarray
    values: np.ndarray
    lam: float

    def __call__(self, y):
        if isinstance(y, torch.Tensor):
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

    At ``k = s*`` this is the optimal transform of spec §3.2: ``(x, T(y))`` has information
    exponent ``s*`` and first non-zero coefficient ``E[T(y) h_{s*}(z)] = λ_{s*}``. Raises
    ``ValueError`` if ``λ_k`` is zero (no transform of degree ``k`` correlates with ``h_k``)
    or for multi-index links.
    """
    link = _resolve(link)
    if link.r != 1:
        raise ValueError(f"label_transform needs a single-index link; {link.name!r} has r={link.r}")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 40:
        raise ValueError(f"degree k={k!r} is not allowed: use an integer in 1..40")
    return _label_transform(link, k, bool(normalise))


@lru_cache(maxsize=64)
def _label_transform(link: Link, k: int, normalise: bool) -> LabelTransform:
    """Cached body of :func:`label_transform` (tabulating ``T`` costs ~1 s: 2e6 atoms)."""
    cm = conditional_means(link, lambda z: hermite_normalized(z[:, 0], k)[:, k:k + 1])
    zeta = cm.means[:, 0]
    lam = float(math.sqrt(cm.p @ zeta**2))
    if lam**2 <= LAMBDA_TOL:
        raise ValueError(
            f"E[h_{k}(z) | y] vanishes for link {link.name!r} (λ_{k}² = {lam**2:.2e} ≤ "
            f"{LAMBDA_TOL}): use k ≥ the generative exponent"
        )
    order = np.argsort(cm.y)
    values = zeta[order] / lam if normalise else zeta[order]
    return LabelTransform(k=k, knots=cm.y[order], values=values, lam=lam)


def _conditional_covariances(link: Link):
    """Bins of ``G(y) = E[zzᵀ − I | y]`` and ``E[z | y]``: returns ``(p, G (B,r,r), m (B,r))``."""
    r = link.r

    def features(z):
        outer = z[:, :, None] * z[:, None, :] - np.eye(r)[None]
        return np.concatenate([z, outer.reshape(len(z), r * r)], axis=1)

    cm = conditional_means(link, features, atoms=2e6, bins=2000)
    return cm.p, cm.means[:, r:].reshape(-1, r, r), cm.means[:, :r]


def weak_recovery_threshold(link: str | Link) -> float:
    """``α_c`` of the proportional regime (see the module docstring); ``inf`` when infinite.

    Single-index: from ``λ_1², λ_2²``. Multi-index: ``0`` when ``E[z|y] ≠ 0``
    (``Σ_i E_y[E[z_i|y]²] > LAMBDA_TOL``). Otherwise the top
    eigenvalue of the positive self-adjoint map ``F(M) = Σ_b p_b G_b M G_b`` on symmetric
    matrices, found by power iteration on the PSD cone (Krein–Rutman), gives ``α_c = 1/ρ(F)``.
    """
    link = _resolve(link)
    if link.r == 1:
        lam = generative_coefficients(link, 2)
        if lam[1] > LAMBDA_TOL:
            return 0.0
        return math.inf if lam[2] <= LAMBDA_TOL else 1.0 / (2.0 * lam[2])
    p, G, m = _conditional_covariances(link)
    if p @ np.sum(m**2, axis=1) > LAMBDA_TOL:
        return 0.0
    M = np.eye(link.r) / math.sqrt(link.r)
    rho = 0.0
    for _ in range(500):
        FM = np.einsum("b,bij,jk,bkl->il", p, G, M, G)
        rho_new = float(np.linalg.norm(FM))
        if rho_new <= LAMBDA_TOL:
            return math.inf
        M = FM / rho_new
        if abs(rho_new - rho) < 1e-12 * rho_new:
            break
        rho = rho_new
    return 1.0 / rho_new


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
    orthogonal hard families, ``s* = k ≥ 3``: spec multi-index §4) they raise ``ValueError``
    and are left out of :func:`predicted_sample_complexities`.
    """
    link = _resolve(link)
    _check_dimension(d, sparsity)
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


def second_order_visible(link: str | Link) -> bool:
    """Whether first- and second-order statistics of transformed labels see *every*
    direction of the subspace: the smallest eigenvalue of
    ``M = E_y[G(y)² + m(y) m(y)ᵀ]``, ``G(y) = E[zzᵀ − I | y]``, ``m(y) = E[z | y]`` (both
    ``r × r`` / ``r``, in the frame of ``U``) exceeds ``LAMBDA_TOL``. ``M`` is singular
    exactly when some unit ``v`` has ``E[⟨v, z⟩ | y] = 0`` and ``G(y) v = 0`` for every ``y``,
    i.e. no label transform ``T`` makes ``E[T(y)(xxᵀ − I)]`` or ``E[T(y) x]`` move along
    ``Uᵀv`` — the situation of the orthogonal hard families (multi-index spec §4), where
    ``M = 0``. Cached per link."""
    return bool(_second_order_matrix(_resolve(link)).min() > LAMBDA_TOL)


@lru_cache(maxsize=64)
def _second_order_matrix(link: Link) -> np.ndarray:
    """Eigenvalues of ``M`` of :func:`second_order_visible` (ascending)."""
    p, G, m = _conditional_covariances(link)
    M = np.einsum("b,bij,bjk->ik", p, G, G) + np.einsum("b,bi,bj->ij", p, m, m)
    return np.linalg.eigvalsh((M + M.T) / 2)


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
