"""Which links the theory covers, and what a theory computation costs (docs/theory.md).

:func:`check_supported` refuses, before any computation or sampling, the links for which
``indexlab.theory`` could only return wrong numbers. The theory accepts a link when its
regression function ``m(z) = E[y | z]`` is

1. **finite** on a uniform grid of ``[−10, 10]`` (step ``10⁻⁴``, single-index; on 20 000
   Gaussian points and along rays for ``r ≥ 2``) — no poles on the grid, no overflow of
   ``m²`` in float64 (so ``log|z|``, ``−∞`` at the grid point 0, is refused too);
2. **not constant** (a constant ``m`` carries no direction to learn; every exponent is
   undefined);
3. **square-integrable with its mass inside ``|z| ≤ 10``**: the Gaussian tail of ``m(z)²φ(z)``
   beyond ``|z| = 10`` (estimated from the local decay rate at the edge) is at most
   ``1e-8 E[m²]`` (for ``r ≥ 2``: the ``χ_r`` radial density times ``m²`` averaged over 1024
   random directions); ``exp(z²/4)`` (not square-integrable), ``exp(10 z)`` (square-integrable
   but its mass sits at ``z ≈ 20``: ``c_1 = 10 e^{50}`` is not computable on the grid) and
   ``exp(40 z)`` (``m²`` overflows) are refused;
4. **free of non-square-integrable singularities**: at every jump or spike, ``m(b ± δ)²·δ``
   must decay as ``δ → 0`` (``δ = 10⁻³ … 10⁻¹²``); ``1/(z − 0.3)`` and ``1/√|z|`` are
   refused, a finite jump (``sign``) is accepted;
5. **resolved by the grids** (single-index): the turning points of ``m`` (sign changes of its
   increments above round-off, ``1e-10·(1 + max|m|)``) counted at steps ``10⁻⁴`` and
   ``2·10⁻⁴`` must agree (:func:`turning_points`; at most ``ALIAS_SLACK`` apart): a link
   that oscillates faster is aliased on the quadrature and detection grids, so no
   computation converges (``sin(1000 z)``: 6366 at both steps, accepted; ``sin(1e8 z)``:
   180226 against 19772, refused).

A refused link raises :class:`UnsupportedLinkError` (a ``ValueError``) whose message is one
sentence naming the link and the reason.

:func:`theory_cost` estimates the memory and time of the multi-index computations (product
rules grow like ``n^r``); :func:`check_cost` raises :class:`TheoryTooCostlyError` beyond
``MAX_BYTES = 2 GB`` or ``MAX_SECONDS = 60 s``, naming ``r`` and the estimate. Every ``r ≤ 4``
computation fits; ``z1*…*z6`` and ``z1*…*z9`` are refused before anything is allocated.
"""

from __future__ import annotations

import math
from functools import lru_cache
from math import comb

import numpy as np

from indexlab.hermite import find_jumps, turning_points
from indexlab.links import Link

BOUND = 10.0
TAIL_RTOL = 1e-8
MAX_BYTES = 2e9
MAX_SECONDS = 60.0
ALIAS_SLACK = 8  # turning points by which the two grid steps may disagree (edge effects)
_FLOPS = 2.5e7  # feature·atom products per second on one core (measured, conservative)


class UnsupportedLinkError(ValueError):
    """The theory does not cover this link (see :func:`check_supported`)."""


class TheoryTooCostlyError(ValueError):
    """A theory computation would exceed ``MAX_BYTES`` or ``MAX_SECONDS``."""


def _refuse(link: Link, reason: str) -> UnsupportedLinkError:
    return UnsupportedLinkError(f"link {link.name!r} is outside what the theory covers: {reason}.")


def check_supported(link: str | Link) -> None:
    """Raise :class:`UnsupportedLinkError` unless ``link`` (a :class:`Link`, registry name or
    expression) is in the class the module docstring describes. Cheap (one grid evaluation)
    and cached per link."""
    if isinstance(link, str):
        from indexlab.links import get_link

        link = get_link(link)
    _check_supported(link)


@lru_cache(maxsize=256)
def _check_supported(link: Link) -> None:
    if link.r == 1:
        _check_single(link)
    else:
        _check_multi(link)


def _finite(link: Link, z: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        m = np.asarray(link.mean_numpy(z), dtype=np.float64)
    bad = ~np.isfinite(m)
    if bad.any():
        where = z[bad][0]
        at = f"z={where:.6g}" if np.ndim(where) == 0 else "z=(" + ", ".join(
            f"{v:.3g}" for v in where) + ")"
        raise _refuse(link, f"E[y|z] is not finite at {at} (a pole, a log of 0 or an overflow)")
    with np.errstate(over="ignore"):
        if not np.all(np.isfinite(m * m)):
            raise _refuse(link, "E[y|z]² overflows float64 on |z| ≤ 10, so its Hermite "
                          "coefficients cannot be computed to the stated accuracy")
    return m


def _check_single(link: Link) -> None:
    x = np.linspace(-BOUND, BOUND, 200_001)
    m = _finite(link, x)
    if np.ptp(m) == 0.0:
        raise _refuse(link, f"E[y|z] is constant ({m[0]:g}), so the labels carry no direction "
                      "to learn")
    with np.errstate(all="ignore"):
        logf = np.log(m * m) - 0.5 * x * x
    dx = x[1] - x[0]
    if not np.isfinite(logf).any():
        raise _refuse(link, "E[y|z]² underflows float64 everywhere on |z| ≤ 10 (|E[y|z]| below "
                      "1e-154), so its Hermite coefficients cannot be computed: rescale the link")
    f = np.exp(logf - np.nanmax(logf[np.isfinite(logf)]))
    f[~np.isfinite(f)] = 0.0
    total = f.sum() * dx
    for edge, inner in ((-1, -1001), (0, 1000)):
        if f[edge] == 0.0:
            continue
        rate = (logf[inner] - logf[edge]) / (abs(x[inner] - x[edge]))  # decay rate at the edge
        tail = math.inf if rate <= 0 else f[edge] / rate
        if not tail <= TAIL_RTOL * total:  # an oscillating m (sin(100 z)): its envelope
            tail = _envelope_tail(logf, f, edge)
        if not tail <= TAIL_RTOL * total:
            raise _refuse(link, "E[y|z]² φ(z) does not decay by |z| = 10 (not square-"
                          "integrable under N(0,1), or its mass lies beyond |z| = 10), so its "
                          "coefficients cannot be computed to the stated accuracy in float64")
    _check_singularities(link, x, m)
    _check_resolved(link, m)


def _check_resolved(link: Link, m: np.ndarray) -> None:
    fine, coarse = turning_points(m), turning_points(m[::2])
    if abs(fine - coarse) > ALIAS_SLACK:
        raise _refuse(link, f"the quadrature does not converge: E[y|z] oscillates faster than "
                      f"the theory's grids resolve ({fine} turning points on |z| ≤ 10 at step "
                      f"1e-4 but {coarse} at step 2e-4; the counts must agree to within "
                      f"{ALIAS_SLACK})")


def _envelope_tail(logf: np.ndarray, f: np.ndarray, edge: int, window: int = 1000) -> float:
    """The tail bound of :func:`_check_single` from the envelope of ``log(m² φ)``: its
    maxima over the last two windows of ``window`` grid steps (``0.1``) before the edge, so
    that the zeros of an oscillating ``m`` do not read as growth; ``inf`` when the envelope
    does not decay."""
    last = logf[-window:] if edge == -1 else logf[:window]
    before = logf[-2 * window:-window] if edge == -1 else logf[window:2 * window]
    peak, previous = np.nanmax(last), np.nanmax(before)
    rate = (previous - peak) / (window * 1e-4)
    scale = float(np.max(f[-window:] if edge == -1 else f[:window]))
    return math.inf if not rate > 0 else scale / rate


def _check_singularities(link: Link, x: np.ndarray, m: np.ndarray) -> None:
    g = link.mean_numpy
    a = np.abs(m)
    spikes = np.nonzero((a[1:-1] > a[:-2]) & (a[1:-1] > a[2:])
                        & (a[1:-1] > 10.0 * (1.0 + np.median(a))))[0] + 1
    points = list(find_jumps(g)) + [float(x[i]) for i in spikes]
    for b in points:
        if b in [float(x[i]) for i in spikes]:  # locate the spike: maximise |m| nearby
            lo, hi = b - (x[1] - x[0]), b + (x[1] - x[0])
            for _ in range(200):
                m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
                v1, v2 = np.abs(_finite(link, np.array([m1, m2])))
                lo, hi = (m1, hi) if v1 < v2 else (lo, m2)
            b = (lo + hi) / 2
        q = []
        for delta in (1e-3, 1e-6, 1e-9, 1e-12):
            near = _finite(link, np.array([b - delta, b + delta]))
            q.append(float(np.max(near**2)) * delta)
        if q[-1] > 0.1 * q[0] and q[-1] > 1e-12 * (1.0 + float(np.median(m**2))):
            raise _refuse(link, f"E[y|z] has a singularity at z≈{b:.6g} that is not square-"
                          "integrable (it grows like |z − b|^(-p) with p ≥ 1/2)")


def _check_multi(link: Link) -> None:
    rng = np.random.default_rng(2024)
    z = rng.standard_normal((20_000, link.r))
    m = _finite(link, z)
    if np.ptp(m) == 0.0:
        raise _refuse(link, f"E[y|z] is constant ({m[0]:g}), so the labels carry no direction "
                      "to learn")
    second = float(np.mean(m * m))
    u = rng.standard_normal((1024, link.r))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    r = link.r
    log_chi = (1 - r / 2) * math.log(2.0) - math.lgamma(r / 2)  # χ_r density constant
    logs = []
    for t in (9.0, BOUND):
        mean_sq = float(np.mean(_finite(link, t * u) ** 2))  # E_u[m(tu)²] over directions
        logs.append(-math.inf if mean_sq == 0 else
                    math.log(mean_sq) + log_chi + (r - 1) * math.log(t) - 0.5 * t * t)
    rate = (logs[0] - logs[1]) / (BOUND - 9.0) if math.isfinite(logs[1]) else 1.0
    tail = 0.0 if not math.isfinite(logs[1]) else math.exp(logs[1]) / max(rate, 0.1)
    if not tail <= TAIL_RTOL * max(second, 1e-300):
        raise _refuse(link, "E[y|z]² φ(z) does not decay by |z| = 10 (not square-integrable, "
                      "or its mass lies beyond |z| = 10), so its coefficients cannot be "
                      "computed to the stated accuracy in float64")


# ----------------------------------------------------------------------------------------------
# the cost guard
# ----------------------------------------------------------------------------------------------


def _gh_nodes(r: int) -> int:
    return 60 if r <= 2 else 40 if r == 3 else 20


def theory_cost(link: Link, what: str, K: int) -> tuple[float, float]:
    """``(bytes, seconds)`` estimated for a theory computation on ``link``.

    ``what``: ``"hermite"`` (product Gauss–Hermite rule, ``n^r`` nodes, ``(K+1)^r``
    coefficients), ``"generative"`` (atoms × ``C(K+r, r)`` features) or ``"covariance"``
    (atoms × ``r + r²`` features). Single-index computations are small (``~0.2 GB, ~5 s``).
    """
    r = link.r
    if r == 1:
        return 2e8, 5.0
    unit = 2 ** r if link.name.startswith("hard") else 1  # hidden units per evaluation
    if what == "hermite":  # separable contraction on the product grid, fine + coarse
        nodes = float({2: 60, 3: 40, 4: 32}.get(r, 32)) ** r * 1.3
        bytes_ = 8 * nodes * (3 * r + 6)
        return bytes_, nodes * (3 * (K + 1) + unit * r + 20) / _FLOPS
    features = comb(K + r, r) - 1 if what == "generative" else r + r * r
    if link.binary or link.noise > 0:
        n = 30 if r == 4 else _gh_nodes(r)
        atoms = float(n) ** r * (2 if link.binary else 1) * 1.3
    else:
        per_axis = max(20, round(2e6 ** (1.0 / r)))
        atoms = float(per_axis) ** r * 1.5
    bytes_ = 8 * atoms * (3 * r + 8) + 8 * min(atoms, 1 << 16) * features * 3
    if link.noise > 0:
        bytes_ += 8 * atoms * features
    flops = atoms * (features * (r + 2) + unit * r)
    return bytes_, flops / _FLOPS


def check_cost(link: Link, what: str, K: int) -> None:
    """Raise :class:`TheoryTooCostlyError` when :func:`theory_cost` exceeds 2 GB or 60 s."""
    bytes_, seconds = theory_cost(link, what, K)
    if bytes_ > MAX_BYTES or seconds > MAX_SECONDS:
        raise TheoryTooCostlyError(
            f"the theory of link {link.name!r} (r={link.r}) is too costly to compute: the "
            f"{what} step would need about {bytes_ / 1e9:.3g} GB and {seconds:.3g} s (limits "
            f"{MAX_BYTES / 1e9:g} GB and {MAX_SECONDS:g} s; r ≤ 4 fits)."
        )
