"""Error-controlled generative coefficients ``λ_k² = E_y[ζ_k(y)²]``, ``ζ_k(y) = E[h_k(z) | y]``,
for single-index links (docs/algorithms.md §3.1, §3.3).

Every value comes with an error estimate (:class:`Estimate`): the same computation is done at
two resolutions and the error is ``|coarse − fine| + ROUND_OFF`` (the fine value is reported),
so an estimate is honest as long as the coarse level is already in the convergent regime — the
tests compare it with the error against exact values. Three methods, chosen by the link:

* **preimages** (noiseless, real-valued, piecewise monotone ``y = g(z)``): ``g`` is split on
  ``[−10, 10]`` into monotone pieces (turning points, jumps) and flat pieces (label atoms, e.g.
  ``relu`` at 0). For ``y`` in the continuous part, by the coarea formula
  ``ζ_k(y) = Σ_i h_k(z_i) φ(z_i)/|g'(z_i)| ÷ Σ_i φ(z_i)/|g'(z_i)|`` over the preimages
  ``z_i ∈ g⁻¹(y)`` (one per monotone piece whose range contains ``y``, found by bisection), and
  ``λ_k² = ∫ φ(z) ζ_k(g(z))² dz + Σ_atoms P(y = c) E[h_k | y = c]²``. The ``z``-integral uses
  composite Gauss–Legendre whose panel edges are the pieces' ends and the preimages of every
  critical value (where the number of preimages changes and ``ζ_k`` jumps), with panels graded
  geometrically towards those edges (``ζ_k`` has a square-root singularity on one side).
  Resolutions: panel width 0.1 and 0.05. This is the exact conditional law, not a binning:
  symmetric links give exact zeros to rounding (``z²``: odd ``λ_k² ~ 1e-30``).
* **groups** (discrete labels, at most 64 values: binary links, ``sign``, indicators): exact
  ``ζ_k(v) = E[h_k 1{y = v}] / P(y = v)`` by composite quadrature with the jumps as panel edges
  (panel widths 0.002 and 0.001).
* **convolution** (additive Gaussian label noise ``σ``): the noiseless atoms are deposited on a
  label grid of width ``δ`` and convolved (direct sum, so the tails keep their relative
  accuracy) with the ``N(0, σ²)`` density; ``ζ_k = (F_k ∗ φ_σ)/(m ∗ φ_σ)``
  (docs/algorithms.md §3.3).
  Resolutions ``δ = σ/16`` and ``σ/32`` (latent panels 0.002 and 0.001); the linear deposit
  widens the kernel (bias ``∝ δ²``, always downwards), so the reported value is the Richardson
  extrapolation ``λ(σ/32) + (λ(σ/32) − λ(σ/16))/3`` and the error ``|λ(σ/32) − λ(σ/16)|/2``
  (1.5 times the correction).
* **binning** (fallback: more than ``MAX_PIECES`` monotone pieces): equal-probability label bins
  at ``B = 2000`` and ``4000`` on ``4·10⁶`` equal-mass atoms. Binning only loses information
  (Jensen), with a bias decaying roughly like ``1/B``; we report ``λ(B) + (λ(B) − λ(B/2))`` with
  error ``2|λ(B) − λ(B/2)|`` — a heuristic estimate, marked by ``method = "binning"``.

Tails beyond ``|z| > 10`` are neglected and their bound ``E[h_k² 1{|z| > 10}]`` (2.5e-12 at
``k = 8``, :func:`tail_mass`) is added to every error, as is ``ROUND_OFF = 1e-12`` absolute
(float64 sums, bisection to machine precision). Features narrower than the detection grid
(``2·10⁻⁴``) are assumed absent.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from indexlab.hermite import (
    composite_rule,
    find_jumps,
    hermite_normalized,
    quantile_rule,
    turning_points,
)
from indexlab.links import Link

ROUND_OFF = 1e-12
BOUND = 10.0
MAX_PIECES = 24
DISCRETE_MAX = 64
_GRID = 100_001
_GRADING = (4.0 ** -np.arange(1, 17))  # panel edges at h·4^{-i} from every breakpoint
_GL_T, _GL_W = np.polynomial.legendre.leggauss(10)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Estimate:
    """Values ``(v_0..v_K)`` with absolute error estimates ``(e_0..e_K)`` and the method used."""

    value: np.ndarray
    error: np.ndarray
    method: str


def _pdf(z):
    return np.exp(-0.5 * z * z) / _SQRT_2PI


def _fn(link: Link):
    return lambda z: link.mean_numpy(np.asarray(z, dtype=np.float64).ravel())


def derivative(link: Link, z: np.ndarray) -> np.ndarray:
    """``g'(z)`` by automatic differentiation of the link's torch function (central
    differences with step ``1e-6·max(1, |z|)`` if the function is not differentiable).

    Links that also evaluate on NumPy (``link.any_backend``: registry and expression links) use
    the five-point stencil ``(−g(z+2h) + 8g(z+h) − 8g(z−h) + g(z−2h)) / 12h`` with
    ``h = 1e-3·max(1, |z|)`` instead (truncation ``O(h⁴)`` ≈ 1e-12, round-off ≈ 1e-13), so
    the theory of such links never imports torch."""
    if getattr(link, "any_backend", False):
        g = _fn(link)
        z = np.asarray(z, dtype=np.float64)
        h = 1e-3 * np.maximum(1.0, np.abs(z))
        return (-g(z + 2 * h) + 8 * g(z + h) - 8 * g(z - h) + g(z - 2 * h)) / (12 * h)
    import torch  # autograd through the link's torch function

    zt = torch.tensor(np.asarray(z, dtype=np.float64), requires_grad=True)
    try:
        y = link.mean(zt[:, None])
        if y.requires_grad:
            (grad,) = torch.autograd.grad(y.sum(), zt, allow_unused=True)
            if grad is not None and torch.isfinite(grad).all():
                return grad.detach().numpy()
        else:
            return np.zeros_like(np.asarray(z, dtype=np.float64))
    except RuntimeError:
        pass
    g = _fn(link)
    h = 1e-6 * np.maximum(1.0, np.abs(z))
    return (g(z + h) - g(z - h)) / (2 * h)


# ----------------------------------------------------------------------------------------------
# monotone structure of g on [-BOUND, BOUND]
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """``[a, b]`` on which ``g`` is strictly monotone (``up`` or not) with range ``(lo, hi)``,
    or constant (``flat``, value ``lo == hi``)."""

    a: float
    b: float
    flat: bool
    up: bool
    lo: float
    hi: float


def _bisect_flat_edge(g, outside: float, inside: float, c: float) -> float:
    lo, hi = np.array([outside]), np.array([inside])
    for _ in range(60):
        mid = (lo + hi) / 2
        is_flat = g(mid) == c
        hi = np.where(is_flat, mid, hi)
        lo = np.where(is_flat, lo, mid)
    return float(hi[0])


def _turning_point(link: Link, a: float, b: float) -> float:
    """Root of ``g'`` in ``[a, b]`` where ``g'`` changes sign (bisection on the sign)."""
    da = derivative(link, np.array([a]))[0]
    lo, hi = a, b
    for _ in range(60):
        mid = (lo + hi) / 2
        dm = derivative(link, np.array([mid]))[0]
        if dm == 0:
            return mid
        if (dm > 0) == (da > 0):
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def monotone_pieces(link: Link, bound: float = BOUND, grid: int = _GRID) -> list[Piece]:
    """Split ``g = E[y|z]`` on ``[−bound, bound]`` into monotone and flat pieces.

    Turning points are sign changes of the increments on a uniform grid, refined by bisection
    on the sign of ``g'``; flat runs (increments exactly zero, checked at interior points) are
    refined by bisection on ``g(z) == c``; jumps come from :func:`indexlab.hermite.find_jumps`.
    """
    g = _fn(link)
    x = np.linspace(-bound, bound, grid)
    f = g(x)
    edges = {-bound, bound, *find_jumps(g, bound=bound)}
    flats: list[tuple[float, float, float]] = []
    s = np.sign(np.diff(f))
    i, n = 0, s.size
    last_sign, last_index = 0.0, -1
    while i < n:
        if s[i] == 0:
            j = i
            while j + 1 < n and s[j + 1] == 0:
                j += 1
            c = f[i]
            probe = np.linspace(x[i], x[j + 1], 7)[1:-1]
            if np.all(g(probe) == c):
                left = x[i] if i == 0 else _bisect_flat_edge(g, x[i - 1], x[i], c)
                right = x[j + 1] if j + 1 == n else _bisect_flat_edge(g, x[j + 2], x[j + 1], c)
                flats.append((left, right, float(c)))
                edges.update((left, right))
                last_sign, last_index = 0.0, j
            elif last_sign != 0:  # a cell of equal end values: a turning point inside it
                edges.add(_turning_point(link, x[last_index], x[j + 1]))
                last_sign = 0.0
            i = j + 1
            continue
        if last_sign != 0 and s[i] != last_sign and last_index == i - 1:
            edges.add(_turning_point(link, x[i - 1], x[i + 1]))
        last_sign, last_index = s[i], i
        i += 1
    points = np.array(sorted(edges))
    jumps = set(find_jumps(g, bound=bound))
    pieces = []
    for a, b in itertools.pairwise(points):
        if b - a <= 1e-13 * max(1.0, abs(a)):
            continue
        flat = next((c for lo, hi, c in flats if lo <= a + 1e-15 and b <= hi + 1e-15), None)
        if flat is not None:
            pieces.append(Piece(float(a), float(b), True, True, flat, flat))
            continue
        # one-sided limits at jumps; the value itself at turning points and at ±bound
        delta = 1e-12 * max(1.0, abs(a), abs(b))
        za = a + delta if a in jumps else a
        zb = b - delta if b in jumps else b
        ga, gb = g(np.array([za, zb]))
        up = bool(gb > ga)
        pieces.append(Piece(float(a), float(b), False, up, float(min(ga, gb)), float(max(ga, gb))))
    return _merge_critical(pieces)


def _monotone_pieces_or_none(link: Link) -> list[Piece] | None:
    """:func:`monotone_pieces`, or ``None`` (the binning fallback) without refining anything
    when the detection grid already shows more than ``4·MAX_PIECES`` turning points: each
    one costs a bisection, and the preimage method would not be used anyway (bounded work
    for ``sin(1000 z)``: 6366 turning points)."""
    x = np.linspace(-BOUND, BOUND, _GRID)
    if turning_points(np.asarray(_fn(link)(x))) > 4 * MAX_PIECES:
        return None
    return monotone_pieces(link)


def _merge_critical(pieces: list[Piece]) -> list[Piece]:
    """Snap range ends that agree to rounding (``≤ 1e-13·max(1, |v|)``) to one value, so that
    pieces meeting at a common critical value (``z²`` at 0, ``He₄`` at both minima) agree on
    it exactly: a mismatch ``ε`` would leave a window of ``y`` with probability ``~√ε``."""
    values = sorted({v for p in pieces if not p.flat for v in (p.lo, p.hi)})
    snap: dict[float, float] = {}
    rep = None
    for v in values:
        if rep is None or abs(v - rep) > 1e-13 * max(1.0, abs(rep)):
            rep = v
        snap[v] = rep
    return [p if p.flat else Piece(p.a, p.b, False, p.up, snap[p.lo], snap[p.hi])
            for p in pieces]


def _preimage(g, piece: Piece, y: np.ndarray) -> np.ndarray:
    """``z ∈ [a, b]`` with ``g(z) = y`` on a monotone piece (vectorised bisection)."""
    lo = np.full(y.shape, piece.a)
    hi = np.full(y.shape, piece.b)
    for _ in range(64):
        mid = (lo + hi) / 2
        gm = g(mid)
        right = gm < y if piece.up else gm > y
        lo = np.where(right, mid, lo)
        hi = np.where(right, hi, mid)
        if np.all(hi - lo <= 4e-16 * np.maximum(1.0, np.abs(mid))):
            break
    return (lo + hi) / 2


def _graded_rule(edges: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss–Legendre (order 10) with the Gaussian density folded in: panels of
    width ``≤ h`` between consecutive ``edges``, graded geometrically (``h·4^{-i}``) towards
    every edge."""
    points = [edges]
    for e0, e1 in itertools.pairwise(edges):
        width = e1 - e0
        if width <= 0:
            continue
        near = np.minimum(h, width / 2) * _GRADING
        points += [e0 + near, e1 - near]
        n = max(1, math.ceil(width / h))
        points.append(np.linspace(e0, e1, n + 1))
    cuts = np.unique(np.concatenate(points))
    a, b = cuts[:-1], cuts[1:]
    mid, half = (a + b) / 2, (b - a) / 2
    nodes = (mid[:, None] + half[:, None] * _GL_T[None, :]).ravel()
    weights = (half[:, None] * _GL_W[None, :]).ravel() * _pdf(nodes)
    return nodes, weights


def _preimage_lambda(link: Link, pieces: list[Piece], K: int, h: float) -> np.ndarray:
    g = _fn(link)
    monotone = [p for p in pieces if not p.flat]
    critical = np.unique([v for p in monotone for v in (p.lo, p.hi)])
    total = np.zeros(K + 1)
    for piece in monotone:
        inside = critical[(critical > piece.lo) & (critical < piece.hi)]
        cuts = _preimage(g, piece, inside) if inside.size else np.empty(0)
        edges = np.unique(np.concatenate([[piece.a, piece.b], cuts]))
        z, w = _graded_rule(edges, h)
        y = g(z)
        wsum = _pdf(z) / np.maximum(np.abs(derivative(link, z)), 1e-300)
        hsum = wsum[:, None] * hermite_normalized(z, K)
        for other in monotone:
            if other is piece:
                continue
            mask = (y > other.lo) & (y < other.hi)
            if not mask.any():
                continue
            zo = _preimage(g, other, y[mask])
            wo = _pdf(zo) / np.maximum(np.abs(derivative(link, zo)), 1e-300)
            wsum[mask] += wo
            hsum[mask] += wo[:, None] * hermite_normalized(zo, K)
        zeta = hsum / wsum[:, None]
        total += w @ zeta**2
    atoms: dict[float, list[np.ndarray]] = {}
    for piece in (p for p in pieces if p.flat):
        z, w = _graded_rule(np.array([piece.a, piece.b]), h)
        mass_and_sums = np.concatenate([[w.sum()], w @ hermite_normalized(z, K)])
        atoms.setdefault(piece.lo, []).append(mass_and_sums)
    for parts in atoms.values():
        acc = np.sum(parts, axis=0)
        if acc[0] > 0:
            total += acc[1:] ** 2 / acc[0]
    return total


# ----------------------------------------------------------------------------------------------
# discrete labels, noise, binning
# ----------------------------------------------------------------------------------------------


def _label_atoms(link: Link, panel: float, breakpoints: tuple[float, ...]):
    """Atoms ``(y, weight, z)`` of the noiseless label and the latent (composite rule)."""
    rule = composite_rule(panel_width=panel, breakpoints=breakpoints)
    z, w = rule.nodes, rule.weights
    m = link.mean_numpy(z)
    if link.binary:
        f = np.clip(m, -1.0, 1.0)
        y = np.concatenate([np.ones_like(f), -np.ones_like(f)])
        w = np.concatenate([w * (1 + f) / 2, w * (1 - f) / 2])
        z = np.concatenate([z, z])
    else:
        y = m
    keep = w > 0
    return y[keep], w[keep], z[keep]


def _grouped_lambda(y, w, z, K: int) -> np.ndarray:
    values, index = np.unique(y, return_inverse=True)
    p = np.bincount(index, weights=w, minlength=values.size)
    h = hermite_normalized(z, K)
    sums = np.stack([np.bincount(index, weights=w * h[:, k], minlength=values.size)
                     for k in range(K + 1)], axis=1)
    ok = p > 0
    return (sums[ok] ** 2 / p[ok, None]).sum(axis=0)


def smoothed_conditional(y0, w, phi, sigma: float, cells_per_sigma: int):
    """``(p, y, ζ)`` for ``y = y0 + σε`` by deposit on a grid of width ``σ/cells_per_sigma``
    (linear weights) and direct convolution with the ``N(0, σ²)`` density (8σ half-width)."""
    lo, hi = y0.min() - 8 * sigma, y0.max() + 8 * sigma  # every atom: tails carry h_k² ~ z^2k
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
    den = np.convolve(deposit(w), kernel, mode="same")
    nums = np.stack([np.convolve(deposit(w * phi[:, j]), kernel, mode="same")
                     for j in range(phi.shape[1])], axis=1)
    ok = den > 0
    grid = lo + delta * np.arange(n)
    return den[ok] / den[ok].sum(), grid[ok], nums[ok] / den[ok, None]


def _binned_lambda(link: Link, K: int, bins: tuple[int, ...], atoms: int = 4_000_000
                   ) -> list[np.ndarray]:
    """``λ_k²`` of the label binned into ``B`` equal-probability bins, for each ``B`` in
    ``bins`` (one evaluation and one sort of the atoms shared by every ``B``)."""
    rule = quantile_rule(atoms)
    y = link.mean_numpy(rule.nodes)
    order = np.argsort(y, kind="stable")
    mass = np.cumsum(rule.weights[order])
    h = hermite_normalized(rule.nodes, K)
    out = []
    for b in bins:
        at = np.searchsorted(mass, mass[-1] * np.arange(1, b) / b)
        cut = np.unique(y[order][np.minimum(at, y.size - 1)])
        index = np.searchsorted(cut, y, side="right")
        nb = int(index.max()) + 1
        p = np.bincount(index, weights=rule.weights, minlength=nb)
        sums = np.stack([np.bincount(index, weights=rule.weights * h[:, k], minlength=nb)
                         for k in range(K + 1)], axis=1)
        ok = p > 0
        out.append((sums[ok] ** 2 / p[ok, None]).sum(axis=0))
    return out


# ----------------------------------------------------------------------------------------------
# the entry point
# ----------------------------------------------------------------------------------------------


def tail_mass(K: int, bound: float = BOUND) -> np.ndarray:
    """``E[h_k(z)² 1{|z| > bound}]``, ``k = 0..K``: what truncating the latent to
    ``|z| ≤ bound`` can change in ``λ_k²`` (``ζ_k² ≤ E[h_k² | y]``); ``2.5e-12`` at ``k = 8``."""
    edges = np.linspace(bound, bound + 30.0, 601)
    z, w = _graded_rule(edges, 0.05)
    return 2.0 * (w @ hermite_normalized(z, K) ** 2)


def _finish(fine: np.ndarray, coarse: np.ndarray, method: str, factor: float = 1.0,
            shift: bool = False) -> Estimate:
    diff = fine - coarse
    value = fine + diff if shift else fine.copy()
    error = factor * np.abs(diff) + ROUND_OFF + tail_mass(fine.size - 1)
    value = np.maximum(value, 0.0)
    value[0], error[0] = 1.0, 0.0
    return Estimate(value, error, method)


def single_index_lambda(link: Link, K: int, breakpoints: tuple[float, ...] = ()) -> Estimate:
    """``λ_k², k = 0..K`` with error estimates for a single-index link (see the module
    docstring for the method chosen). ``breakpoints``: known jumps/kinks of ``E[y|z]``."""
    if link.noise > 0:
        levels = []
        for panel, cells in ((0.002, 16), (0.001, 32)):
            y0, w, z = _label_atoms(link, panel, breakpoints)
            p, _, zeta = smoothed_conditional(y0, w, hermite_normalized(z, K), link.noise, cells)
            levels.append(p @ zeta**2)
        # the linear deposit widens the kernel by O(δ²): bias ∝ δ², removed by Richardson
        fine = levels[1] + (levels[1] - levels[0]) / 3.0
        return _finish(fine, levels[0], "convolution", factor=0.5)
    y0, _, _ = _label_atoms(link, 0.002, breakpoints)
    if link.binary or np.unique(y0).size <= DISCRETE_MAX:
        levels = [_grouped_lambda(*_label_atoms(link, panel, breakpoints), K)
                  for panel in (0.002, 0.001)]
        return _finish(levels[1], levels[0], "groups")
    pieces = _monotone_pieces_or_none(link)
    if pieces is None or sum(not p.flat for p in pieces) > MAX_PIECES:
        coarse, fine = _binned_lambda(link, K, (2000, 4000))
        return _finish(fine, coarse, "binning", factor=2.0, shift=True)
    coarse, fine = (_preimage_lambda(link, pieces, K, h) for h in (0.1, 0.05))
    est = _finish(fine, coarse, "preimages")
    est.error[1:] += _critical_window(link, pieces, K)[1:]
    if _is_even(link):  # g(−z) = g(z): ζ_k(y) = (−1)^k ζ_k(y), odd λ_k vanish exactly
        est.value[1::2], est.error[1::2] = 0.0, 0.0
    return est


def _is_even(link: Link) -> bool:
    g = _fn(link)
    x = np.linspace(0.0, BOUND, 20_001)
    a, b = g(x), g(-x)
    return bool(np.all(np.abs(a - b) <= 1e-14 * (1.0 + np.abs(a))))


def _critical_window(link: Link, pieces: list[Piece], K: int) -> np.ndarray:
    """Error bound from critical values shared by several turning points (``He₄``'s two minima,
    ``sin``'s maxima), snapped to one value within ``ε = 1e-13·max(1, |y_c|)``: labels within
    ``ε`` of ``y_c`` may miss the preimages near the *other* turning points. Their probability
    is ``Σ_t φ(z_t)(r₋ + r₊)`` with ``|g(z_t ± r) − y_c| = ε`` (``~√ε`` at a quadratic turning
    point); there the coalescing preimages dominate the conditional law, so ``ζ_k²`` changes by
    at most ``4 max(1, E_c)``, ``E_c`` the mean of ``h_k(z_t)²`` weighted like the
    coalescing preimages (by the window masses). A turning point alone at its value is exact (both
    adjacent pieces take the range end from the same evaluation ``g(z_t)``)."""
    g = _fn(link)
    error = np.zeros(K + 1)
    monotone = [p for p in pieces if not p.flat]
    groups: dict[float, list[float]] = {}
    for left, right in itertools.pairwise(monotone):
        if left.b == right.a and left.up != right.up:
            yc = left.hi if left.up else left.lo
            groups.setdefault(yc, []).append(left.b)
    for yc, turning in groups.items():
        if len(turning) < 2:
            continue
        eps = 1e-13 * max(1.0, abs(yc))
        masses = []
        for zc in turning:
            mass = 0.0
            for sign in (-1.0, 1.0):
                lo, hi = 0.0, 1.0
                for _ in range(80):
                    mid = (lo + hi) / 2
                    if abs(g(np.array([zc + sign * mid]))[0] - yc) > eps:
                        hi = mid
                    else:
                        lo = mid
                mass += float(_pdf(zc)) * hi
            masses.append(mass)
        m = np.array(masses)
        hbar = m @ hermite_normalized(np.array(turning), K) ** 2 / max(m.sum(), 1e-300)
        error += m.sum() * 4.0 * np.maximum(hbar, 1.0)
    return error


def zeta_table(link: Link, k: int, breakpoints: tuple[float, ...] = (),
               knots: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """``ζ_k(y) = E[h_k(z) | y]`` tabulated at sorted label values ``(y, ζ_k(y))``.

    Noisy labels: the convolution grid (``δ = σ/32``); discrete labels: the label values;
    piecewise-monotone noiseless labels: exact (preimage formula) at ``knots`` label quantiles
    plus every atom; otherwise the means of ``knots`` equal-probability bins.
    """
    if link.noise > 0:
        y0, w, z = _label_atoms(link, 0.001, breakpoints)
        phi = hermite_normalized(z, k)[:, k:k + 1]
        _, grid, zeta = smoothed_conditional(y0, w, phi, link.noise, 32)
        return grid, zeta[:, 0]
    y0, w, z = _label_atoms(link, 0.001, breakpoints)
    values, index = np.unique(y0, return_inverse=True)
    pieces = None if values.size <= DISCRETE_MAX else _monotone_pieces_or_none(link)
    if pieces is None or sum(not p.flat for p in pieces) > MAX_PIECES:
        if values.size > DISCRETE_MAX:  # bins of equal probability
            order = np.argsort(y0, kind="stable")
            mass = np.cumsum(w[order])
            at = np.searchsorted(mass, mass[-1] * np.arange(1, knots) / knots)
            cut = np.unique(y0[order][np.minimum(at, y0.size - 1)])
            index = np.searchsorted(cut, y0, side="right")
        n = int(index.max()) + 1
        p = np.bincount(index, weights=w, minlength=n)
        ok = p > 0
        ys = np.bincount(index, weights=w * y0, minlength=n)[ok] / p[ok]
        hs = np.bincount(index, weights=w * hermite_normalized(z, k)[:, k], minlength=n)[ok]
        return ys, hs / p[ok]
    g = _fn(link)
    monotone = [p for p in pieces if not p.flat]
    rule = quantile_rule(knots)
    y = np.unique(g(rule.nodes))
    cont = np.ones(y.shape, dtype=bool)
    atoms: dict[float, list[float]] = {}
    for piece in (p for p in pieces if p.flat):
        zz, ww = _graded_rule(np.array([piece.a, piece.b]), 0.05)
        acc = atoms.setdefault(piece.lo, [0.0, 0.0])
        acc[0] += ww.sum()
        acc[1] += ww @ hermite_normalized(zz, k)[:, k]
        cont &= y != piece.lo
    y = y[cont]
    wsum = np.zeros(y.shape)
    hsum = np.zeros(y.shape)
    for piece in monotone:
        mask = (y > piece.lo) & (y < piece.hi)
        if mask.any():
            zo = _preimage(g, piece, y[mask])
            wo = _pdf(zo) / np.maximum(np.abs(derivative(link, zo)), 1e-300)
            wsum[mask] += wo
            hsum[mask] += wo * hermite_normalized(zo, k)[:, k]
    good = wsum > 0
    ys = np.concatenate([y[good], list(atoms)])
    zs = np.concatenate([hsum[good] / wsum[good], [s / m for m, s in atoms.values()]])
    order = np.argsort(ys)
    return ys[order], zs[order]
