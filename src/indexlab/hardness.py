"""Hard instances: the orthogonal one-layer-network family, and its SQ / CSQ query bounds.

Construction (Goel, Gollakota, Jin, Karmalkar, Klivans, *Superpolynomial Lower Bounds for
Learning One-Layer Neural Networks using Gradient Descent*, ICML 2020, arXiv 2006.12011;
docs/algorithms.md §8). For ``k ≥ 1``, sign vectors ``s ∈ {±1}^k`` with parity
``χ(s) = Π_i s_i`` and an activation ``σ``::

    g_k(z) = Σ_{s ∈ {±1}^k} χ(s) σ(⟨s, z⟩ / √k),      z ∈ R^k,
    f(x)   = g_k(P x) / ‖g_k‖,

a one-layer network with ``2^k`` unit-norm hidden units and output weights ``±1``. ``P ∈ R^{k×d}``
has orthonormal rows: ``k`` coordinate vectors ``e_i, i ∈ S`` of a random support ``S`` (the
*coordinate lift*, ``f_S(x) = g_k(x_S)``) or ``k`` rows of a Haar rotation ``O`` (the *rotated
lift*); the latent ``z = P x`` is ``N(0, I_k)`` either way.

Why the members are orthogonal (docs/algorithms.md §8.2). Flipping the sign of one latent coordinate
``z_i`` maps ``g_k → −g_k`` (substitute ``s_i → −s_i``, which flips ``χ(s)``). Every law
invariant under that flip (every spherically symmetric one, ``N(0, I_d)`` in particular) gives:

1. ``⟨f_S, f_{S'}⟩ = 0`` for supports ``S ≠ S'`` of size ``k``, for **any** ``σ``: pick
   ``i ∈ S \\ S'``; the flip of ``x_i`` negates ``f_S`` and leaves ``f_{S'}`` unchanged;
2. ``⟨f_S, q⟩ = 0`` for every ``q`` even in some ``x_i``, ``i ∈ S``: every polynomial of degree
   ``< k``, every function of fewer than all coordinates of ``S``. The Hermite expansion of
   ``f_S`` only has multi-indices odd in every coordinate of ``S``, so its information exponent
   is at least ``k`` (exactly ``k`` when ``c_k(σ) ≠ 0``);
3. the same holds for ``ψ(f_S)`` with ``ψ`` odd, e.g. the Boolean labels below.

Rotating the frame (``x ↦ O x``) preserves ``N(0, I_d)``, so members ``g_k(O_S x)`` drawn in one
frame ``O`` are orthonormal as well; members of independent frames are only approximately
orthogonal.

Exact norm. With ``c_ℓ = E[σ(ξ) h_ℓ(ξ)]`` and Mehler's formula
``E[σ(⟨s,z⟩/√k) σ(⟨t,z⟩/√k)] = Σ_ℓ c_ℓ² ρ^ℓ``, ``ρ = ⟨s,t⟩/k = 1 − 2j/k`` when ``s`` and ``t``
differ in ``j`` places (then ``χ(s)χ(t) = (−1)^j``)::

    ‖g_k‖² = 4^k Σ_{ℓ ≥ k, ℓ ≡ k (mod 2)} c_ℓ² π_k(ℓ),
    π_k(ℓ) = 2^{−k} Σ_{j=0}^{k} C(k, j) (−1)^j (1 − 2j/k)^ℓ,

where ``π_k(ℓ)`` is the probability that ``ℓ`` uniform draws from ``k`` letters hit every
letter an odd number of times (zero unless ``ℓ ≥ k`` and ``ℓ ≡ k``). Term ``ℓ`` is exactly the
squared norm of the degree-``ℓ`` Hermite component of ``g_k`` (:func:`member_degree_norms`). Hence
the **activation condition**: ``g_k ≢ 0`` iff ``σ`` has a non-zero coefficient ``c_ℓ`` with
``ℓ ≥ k`` and ``ℓ ≡ k (mod 2)`` (``π_k(ℓ) > 0`` exactly for those ``ℓ``). ReLU fails it for
odd ``k ≥ 3`` (its odd part is ``u/2``), ``relu3 = relu(u)³`` for odd ``k ≥ 5`` (odd part
``u³/2``), ``tanh`` and ``sigmoid`` for even ``k`` (even parts ``0`` and ``1/2``).

The series is summed exactly: since ``|π_k(ℓ) − 2^{1−k}| ≤ (1 − 2/k)^ℓ`` for
``ℓ ≡ k``, the terms beyond the last computed coefficient ``L`` are ``2^{1−k}`` times the
remaining mass ``‖σ_par‖² − Σ_{ℓ ≤ L, ℓ ≡ k} c_ℓ²`` of the even/odd part ``σ_par`` of ``σ``
(up to ``(1 − 2/k)^L``). ReLU powers use their closed-form coefficients to ``L = 4000``
(``c_ℓ = p! φ(0) He_{ℓ−p−1}(0) / √(ℓ!)`` for ``σ = relu^p``, ``ℓ > p``, from Gaussian
integration by parts); other activations use quadrature to ``L = 40``.

Labels. ``labels="real"``: ``y = f(x)`` (plus optional Gaussian noise). Real labels are *not* hard
for general methods: ``E[f² (x_i² − 1)] ≠ 0`` for ``i ∈ S``, so ``y²``-weighted PCA finds ``S`` with
``O(d)`` samples (generative exponent 2, docs/algorithms.md §8.4). ``labels="boolean"``: the
p-concept ``y ∈ {±1}`` with ``P(y = 1 | x) = (1 + tanh(c f(x)))/2``; ``tanh`` is odd, so by item 3
``E[y | x]`` keeps the orthogonality, every label transform is affine in ``y``, and the generative
exponent is at least ``k`` — hard for every SQ method (:func:`sq_query_bound`).

Registry names ``hard{k}_{activation}`` and ``hard{k}_{activation}_bool`` (``c = 1``;
``hard{k}_{activation}_bool_c{c}`` otherwise) resolve through :func:`indexlab.links.get_link`,
so they work wherever a link is accepted. A bare link gives the Haar (rotated) lift in
:func:`~indexlab.targets.MultiIndex`; use :func:`HardFamily` for the coordinate lift.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import torch

from indexlab.hermite import composite_rule, expectation, hermite_coefficients
from indexlab.links import Link, register_family
from indexlab.nn import ACTIVATIONS, Activation
from indexlab.seeding import target_seeds
from indexlab.targets import MultiIndex, Target, _check_int, haar_directions
from indexlab.theory import COEFF_RTOL

MAX_K = 14  # 2^14 = 16 384 hidden units; larger k only when asked for explicitly (max_k=...)
LIFTS = ("coordinate", "rotated")
LABELS = ("real", "boolean")
_CHUNK_ELEMENTS = 1 << 24  # numbers in one (rows × 2^k) block of pre-activations
_QUADRATURE_DEGREE = 40
_CLOSED_FORM_DEGREE = 4000
_ZERO_RTOL = 1e-10  # parity mass below this fraction of E[σ²] is quadrature round-off
_NAME = re.compile(r"hard(\d+)_([a-z]+\d*)(?:_(bool)(?:_c([0-9.eE+-]+))?)?")


# the activations of the hard family, from the one table of indexlab.nn
HARD_ACTIVATIONS = ("relu", "relu3", "tanh", "sigmoid")


def _activation(name: str) -> Activation:
    if name not in HARD_ACTIVATIONS:
        raise ValueError(f"activation={name!r} is not allowed: use one of "
                         f"{', '.join(HARD_ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _numpy_fn(act: Activation) -> Callable[[np.ndarray], np.ndarray]:
    return lambda u: act.f(torch.as_tensor(np.asarray(u, dtype=np.float64))).numpy()


def _relu_power_coefficients(p: int, L: int) -> np.ndarray:
    """``c_ℓ(relu^p)`` for ``p < ℓ ≤ L`` (zeros below): ``p! φ(0) He_{ℓ−p−1}(0) / √(ℓ!)``,
    with ``He_m(0) = (−1)^{m/2} (m − 1)!!`` for even ``m`` and 0 for odd ``m``."""
    c = np.zeros(L + 1)
    for ell in range(p + 1, L + 1):
        m = ell - p - 1
        if m % 2 == 0:
            log_double_factorial = math.lgamma(m + 1) - m / 2 * math.log(2) - math.lgamma(m / 2 + 1)
            magnitude = math.exp(math.log(math.factorial(p)) - 0.5 * math.log(2 * math.pi)
                                 + log_double_factorial - 0.5 * math.lgamma(ell + 1))
            c[ell] = (-1) ** (m // 2) * magnitude
    return c


@cache
def activation_coefficients(activation: str) -> np.ndarray:
    """Hermite coefficients ``c_ℓ = E[σ(ξ) h_ℓ(ξ)]``, ``ℓ = 0..L`` (read-only float64 array).

    ``L = 4000`` for ReLU powers (closed form above ``p``, quadrature up to ``p``), ``L = 40``
    otherwise (composite Gauss–Legendre with the kinks as panel edges, ~1e-12).
    """
    act = _activation(activation)
    rule = composite_rule(panel_width=0.02, breakpoints=act.breakpoints)
    c = hermite_coefficients(_numpy_fn(act), _QUADRATURE_DEGREE, rule)
    if act.relu_power is not None:
        closed = _relu_power_coefficients(act.relu_power, _CLOSED_FORM_DEGREE)
        closed[: act.relu_power + 1] = c[: act.relu_power + 1]
        c = closed
    c.flags.writeable = False
    return c


@cache
def _parity_mass(activation: str, parity: int) -> float:
    """``E[σ_par(ξ)²]`` for the even (``parity = 0``) or odd part ``(σ(u) ± σ(−u))/2``."""
    act = _activation(activation)
    fn = _numpy_fn(act)
    rule = composite_rule(panel_width=0.02, breakpoints=act.breakpoints)
    sign = -1.0 if parity else 1.0
    return expectation(lambda u: ((fn(u) + sign * fn(-u)) / 2) ** 2, rule)


def _mass_from(activation: str, k: int) -> float:
    """``Σ_{ℓ ≥ k, ℓ ≡ k} c_ℓ²`` (the parity mass not used by degrees below ``k``)."""
    c = activation_coefficients(activation)
    low = c[k % 2 : k : 2]
    return _parity_mass(activation, k % 2) - float(np.sum(low**2))


def _is_degenerate(activation: str, k: int) -> bool:
    scale = _parity_mass(activation, 0) + _parity_mass(activation, 1)  # E[σ²]
    return _mass_from(activation, k) <= _ZERO_RTOL * scale


def _allowed_k(activation: str) -> str:
    """Which ``k`` give a non-zero member, per parity, in words."""
    c = activation_coefficients(activation)
    scale = _ZERO_RTOL * (_parity_mass(activation, 0) + _parity_mass(activation, 1))
    parts = []
    for parity, word in ((0, "even"), (1, "odd")):
        if not _is_degenerate(activation, _QUADRATURE_DEGREE + 2 - parity):  # ℓ > 40
            parts.append(f"every {word} k")
            continue
        nonzero = [ell for ell in range(parity, _QUADRATURE_DEGREE + 1, 2)
                   if ell >= 1 and c[ell] ** 2 > scale]
        parts.append(f"{word} k ≤ {max(nonzero)}" if nonzero else f"no {word} k")
    return ", ".join(parts)


def check_activation(k: int, activation: str) -> None:
    """Raise ``ValueError`` if ``g_k ≡ 0`` for this activation (see the module docstring).

    The test is exact up to quadrature round-off: ``Σ_{ℓ ≥ k, ℓ ≡ k} c_ℓ² = ‖σ_par‖² −
    Σ_{ℓ < k, ℓ ≡ k} c_ℓ²`` must exceed ``1e-10 · E[σ(ξ)²]``.
    """
    if _is_degenerate(activation, k):
        parity = "even" if k % 2 == 0 else "odd"
        raise ValueError(
            f"k={k} with activation={activation!r} gives g_{k} ≡ 0: {activation} has no "
            f"non-zero Hermite coefficient of degree ≥ {k} with the parity of k ({parity}); "
            f"allowed for {activation}: {_allowed_k(activation)}"
        )


def parity_probability(k: int, ell) -> np.ndarray:
    """``π_k(ℓ) = 2^{−k} Σ_j C(k, j) (−1)^j (1 − 2j/k)^ℓ`` (vectorised over ``ℓ``)."""
    j = np.arange(k + 1)
    weights = np.array([math.comb(k, int(i)) for i in j], dtype=np.float64) * (-1.0) ** j
    base = 1.0 - 2.0 * j / k
    ell = np.asarray(ell, dtype=np.float64)
    return (base ** ell[..., None]) @ weights / 2.0**k


def member_degree_norms(k: int, activation: str, K: int) -> np.ndarray:
    """Exact norms of the degree-``ℓ`` Hermite components of ``g_k``, ``ℓ = 0..K``
    (unnormalised): ``2^k |c_ℓ| √π_k(ℓ)``. ``K`` is at most the number of known coefficients."""
    c = activation_coefficients(activation)
    if not 0 <= K < c.size:
        raise ValueError(f"K={K!r} is not allowed: use an integer in 0..{c.size - 1}")
    ells = np.arange(K + 1)
    pi = np.clip(parity_probability(k, ells), 0.0, None)
    pi[(ells < k) | (ells % 2 != k % 2)] = 0.0  # exact zeros (the alternating sum rounds)
    return 2.0**k * np.abs(c[: K + 1]) * np.sqrt(pi)


@cache
def member_norm(k: int, activation: str) -> float:
    """``‖g_k‖`` under ``N(0, I_k)``, by the exact formula of the module docstring.

    Coefficients up to ``L`` contribute ``c_ℓ² π_k(ℓ)``; the rest of the parity mass of ``σ``
    contributes ``2^{1−k}`` times itself (error ``≤ (1 − 2/k)^L`` of it). Checked against the
    arc-cosine kernel (ReLU, to 1e-8 for ``k ≤ 14``) and a Gaussian-kernel quadrature (tanh).
    Returns 0 for a ``k`` the activation makes identically zero (:func:`check_activation`).
    """
    k = _check_int("k", k, 1)
    c = activation_coefficients(activation)
    ells = np.arange(k, c.size)
    ells = ells[ells % 2 == k % 2]
    head = float(np.sum(c[ells] ** 2 * parity_probability(k, ells)))
    tail = max(_mass_from(activation, k) - float(np.sum(c[ells] ** 2)), 0.0)
    return math.sqrt(4.0**k * (head + 2.0 ** (1 - k) * tail))


def _check_k(k, max_k: int = MAX_K, d: int | None = None) -> int:
    k = _check_int("k", k, 1)
    if k > max_k:
        raise ValueError(f"k={k} is not allowed: use k <= max_k={max_k} (2^k = {2**k} hidden "
                         f"units; pass max_k={k} to allow it explicitly)")
    if d is not None and k > d:
        raise ValueError(f"k={k} is not allowed: use k <= d={d}")
    return int(k)


def _sign_matrix(k: int, dtype: torch.dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """All ``s ∈ {±1}^k`` as the columns of ``(k, 2^k)``, scaled by ``1/√k``, and ``χ(s)``."""
    index = torch.arange(2**k, device=device)
    bits = (index[None, :] >> torch.arange(k, device=device)[:, None]) & 1
    signs = (1 - 2 * bits).to(dtype)
    return signs / math.sqrt(k), signs.prod(dim=0)


def member_values(z: torch.Tensor, activation: str, chunk_elements: int = _CHUNK_ELEMENTS):
    """``g_k(z)`` (unnormalised) for ``z`` of shape ``(n, k)``; returns ``(n,)`` in ``z.dtype``.

    Computed in float64 on ``z.device`` in row blocks of at most ``chunk_elements`` numbers
    (``(rows, k) @ (k, 2^k)``, then ``σ``, then ``@ χ``): the ``2^k`` terms cancel to a sum much
    smaller than each of them, which float32 would not resolve for large ``k``.
    """
    act = _activation(activation)
    n, k = z.shape
    signs, chi = _sign_matrix(k, torch.float64, z.device)
    rows = max(1, chunk_elements >> k)
    out = torch.empty(n, dtype=torch.float64, device=z.device)
    for start in range(0, n, rows):
        block = z[start : start + rows].to(torch.float64)
        out[start : start + rows] = act.f(block @ signs) @ chi
    return out.to(z.dtype)


def _known_exponents(k: int, activation: str, boolean: bool) -> tuple[int | None, int | None]:
    """Exponents proved from the construction (``None`` where only numerics support a value).

    Real labels: ``k* = min{ℓ : degree-ℓ norm > 1e-6}``; ``s* = k*`` when ``k* ≤ 2`` (for
    ``k ≥ 2`` flipping two coordinates of ``S`` leaves ``y`` unchanged, so ``E[z | y] = 0``).
    Boolean labels: ``k* = s* ≥ k`` (labels are ``±1``, so every transform is affine), but the
    value depends on ``tanh(c f)``: left to :mod:`indexlab.theory`.
    """
    if boolean:
        return None, None
    K = min(activation_coefficients(activation).size - 1, 60)
    norms = member_degree_norms(k, activation, K)
    above = np.nonzero(norms / member_norm(k, activation) > COEFF_RTOL)[0]
    k_star = int(above[0]) if above.size else None
    return k_star, (k_star if k_star is not None and k_star <= 2 else None)


def _link_name(k: int, activation: str, c: float | None) -> str:
    if c is None:
        return f"hard{k}_{activation}"
    return f"hard{k}_{activation}_bool" + ("" if c == 1.0 else f"_c{c:g}")


@cache
def _hard_link(k: int, activation: str, c: float | None) -> Link:
    norm = member_norm(k, activation)
    k_star, s_star = _known_exponents(k, activation, c is not None)
    formula = f"Σ_s χ(s) {activation}(⟨s,z⟩/√{k}) / {norm:.6g}"
    if c is None:
        def mean(z: torch.Tensor) -> torch.Tensor:
            return member_values(z, activation) / norm
        description = f"hard family g_{k} = {formula} (real labels)"
    else:
        def mean(z: torch.Tensor) -> torch.Tensor:
            return torch.tanh(c * member_values(z, activation) / norm)
        description = f"±1 label, P(y=1|z) = (1 + tanh({c:g} f))/2, f = {formula}"
    return Link(name=_link_name(k, activation, c), mean=mean, r=k, binary=c is not None,
                information_exponent=k_star, generative_exponent=s_star,
                description=description)


def _check_labels(labels: str, c: float | None) -> float | None:
    if labels not in LABELS:
        raise ValueError(f"labels={labels!r} is not allowed: use one of {', '.join(LABELS)}")
    if labels == "real":
        if c is not None:
            raise ValueError(f"c={c!r} is not allowed with labels='real': c only sets the "
                             "Boolean labels' P(y=1|x) = (1 + tanh(c f))/2")
        return None
    c = 1.0 if c is None else c
    return _check_c(c)


def _check_c(c) -> float:
    if not isinstance(c, (int, float)) or isinstance(c, bool) or not math.isfinite(c) or c <= 0:
        raise ValueError(f"c={c!r} is not allowed: use a finite number > 0")
    return float(c)


def hard_link(
    k: int,
    activation: str = "relu",
    labels: str = "real",
    c: float | None = None,
    max_k: int = MAX_K,
) -> Link:
    """The link of one member, ``r = k``: mean ``g_k/‖g_k‖`` (real labels) or, for
    ``labels="boolean"``, ``±1`` labels with ``P(y = 1 | z) = (1 + tanh(c g_k/‖g_k‖))/2``
    (``c = 1`` by default). Cached: the same arguments give the same :class:`Link`.

    Raises ``ValueError`` naming the argument for a bad ``k`` (``< 1`` or ``> max_k``), an
    unknown ``activation`` or ``labels``, ``c ≤ 0``, or a ``k`` that makes ``g_k ≡ 0``.
    """
    _activation(activation)
    k = _check_k(k, max_k)
    c = _check_labels(labels, c)
    check_activation(k, activation)
    return _hard_link(k, activation, c)


def link_from_name(name: str) -> Link:
    """Resolve ``hard{k}_{activation}[_bool[_c{c}]]`` (what :func:`~indexlab.links.get_link`
    calls for names starting with ``hard``)."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"unknown link {name!r}: hard-family names are hard{{k}}_{{activation}} "
                         f"or hard{{k}}_{{activation}}_bool[_c{{c}}] with activation one of "
                         f"{', '.join(HARD_ACTIVATIONS)}, e.g. hard4_relu, hard3_tanh_bool")
    k, activation, boolean, c = match.groups()
    if c is not None:
        try:
            c = float(c)
        except ValueError:
            raise ValueError(f"c={c!r} in link name {name!r} is not a number") from None
    return hard_link(int(k), activation, "boolean" if boolean else "real", c)


register_family("hard", link_from_name)


def member_directions(
    d: int, k: int, lift: str, generator: torch.Generator, frame: torch.Tensor | None = None
) -> torch.Tensor:
    """``P ∈ R^{k×d}`` (float64, CPU, orthonormal rows) of one member.

    ``coordinate``: rows ``e_i`` for a uniformly random support ``S`` (sorted). ``rotated``:
    rows ``S`` of ``frame`` (a ``d×d`` orthogonal matrix) when given, else a Haar ``k``-frame
    (the law of ``k`` rows of a Haar rotation, drawn as :func:`~indexlab.targets.MultiIndex`
    draws its directions).
    """
    if lift == "rotated" and frame is None:
        return haar_directions(d, k, generator)
    support = torch.sort(torch.randperm(d, generator=generator)[:k]).values
    if lift == "rotated":
        return frame[support].clone()
    P = torch.zeros(k, d, dtype=torch.float64)
    P[torch.arange(k), support] = 1.0
    return P


def HardFamily(
    d: int,
    k: int,
    activation: str = "relu",
    lift: str = "coordinate",
    labels: str = "real",
    c: float | None = None,
    noise: float = 0.0,
    *,
    frame: int | None = None,
    max_k: int = MAX_K,
    replicas: int | Sequence[int] | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> Target:
    """One random member ``f(x) = g_k(P x)/‖g_k‖`` per replica, as a :class:`Target`.

    Same ``sample`` / ``sample_test`` / ``stream`` / replica contract as
    :func:`~indexlab.targets.MultiIndex` (whose keyword arguments it accepts): replica ``j``
    draws its support (or frame) from the seed ``(seed, j)`` only, so a member reproduces with
    its seed and ``replicas=[j]`` gives the same member and data as replica ``j`` of a larger
    run. ``lift="coordinate"`` (default; members of different supports exactly orthogonal) or
    ``"rotated"``; with ``frame`` (an integer seed, rotated lift only) all replicas share one
    Haar rotation ``O`` (``d×d``, ``O(d²)`` memory) and take rows ``S_j`` of it, so their
    members are orthonormal whenever their supports differ. ``labels``: ``"real"`` or
    ``"boolean"`` with ``P(y = 1 | x) = (1 + tanh(c f(x)))/2``, ``c = 1`` by default; ``noise``
    adds Gaussian label noise. The module docstring gives the construction and its proofs.

    Raises ``ValueError`` naming the argument for a bad ``d``, ``k`` (``< 1``, ``> max_k = 14``
    by default, ``> d``), ``activation``, ``lift``, ``labels``, ``c``, ``frame`` or a ``k`` the
    activation makes identically zero; other arguments are checked as in ``MultiIndex``.
    """
    d = _check_int("d", d, 1)
    k = _check_k(k, max_k, d)
    if lift not in LIFTS:
        raise ValueError(f"lift={lift!r} is not allowed: use one of {', '.join(LIFTS)}")
    if frame is not None and (lift != "rotated" or not isinstance(frame, (int, np.integer))
                              or isinstance(frame, bool) or frame < 0):
        raise ValueError(f"frame={frame!r} is not allowed: use an integer seed >= 0 with "
                         "lift='rotated' (or None)")
    link = hard_link(k, activation, labels, c, max_k)
    options = dict(noise=noise, replicas=replicas, seed=seed, dtype=dtype, device=device)
    target = MultiIndex(link, d, **options)  # validates the rest; Haar = the free rotated lift
    if lift == "rotated" and frame is None:
        return target
    O = None if frame is None else haar_directions(d, d, torch.Generator().manual_seed(frame))
    U = [member_directions(d, k, lift,
                           torch.Generator().manual_seed(target_seeds(target.seed, j)[0]), O)
         for j in target.replica_ids]
    return MultiIndex(link, d, directions=torch.stack(U), **options)


# ----------------------------------------------------------------------------------------------
# query lower bounds
# ----------------------------------------------------------------------------------------------


def family_size(d: int, k: int) -> int:
    """``N = C(d, k)``: the number of pairwise-orthogonal coordinate-lift members (one per
    support; sign flips only negate a member). ``N ≥ (d/k)^k``, so ``k ≍ log d`` gives
    ``2^k = poly(d)`` hidden units and ``N = d^{Ω(log d)}`` (Goel et al. 2020)."""
    d = _check_int("d", d, 1)
    return math.comb(d, _check_int("k", k, 1, d, f" (d={d})"))


def _check_bound_args(tau, epsilon) -> tuple[float, float]:
    for name, value in (("tau", tau), ("epsilon", epsilon)):
        if (not isinstance(value, (int, float)) or isinstance(value, bool)
                or not math.isfinite(value) or not 0 < value <= 1):
            raise ValueError(f"{name}={value!r} is not allowed: use a number in (0, 1]")
    return float(tau), float(epsilon)


def csq_query_bound(d: int, k: int, tau: float, epsilon: float = 1.0) -> float:
    """Fewest correlational statistical queries of tolerance ``τ`` that learn the coordinate
    family: ``q ≥ τ² (N − 1/ε)``, ``N = C(d, k)`` (0 when negative).

    A CSQ oracle answers ``E[φ(x) y]`` for ``‖φ‖ ≤ 1`` up to ``±τ``; "learn" means output
    ``h`` with ``‖h − f‖² ≤ 1 − ε`` (``ε = 1``: identify ``f``). Proof (Szörényi, ALT 2009;
    Feldman, JCSS 2012; Goel et al. 2020 use it with this family): the members are orthonormal,
    so by Bessel ``Σ_S ⟨φ, f_S⟩² ≤ 1`` and fewer than ``1/τ²`` of them have
    ``|⟨φ, f_S⟩| > τ``. An adversary answering 0 to every query stays consistent with more than
    ``N − q/τ²`` members; ``‖h − f‖² ≤ 1 − ε`` forces ``⟨h/‖h‖, f⟩ ≥ √ε``, which at most
    ``1/ε`` orthonormal members satisfy. So ``N − q/τ² ≤ 1/ε``. Hence either ``τ ≤ N^{−1/4}``
    or ``q ≳ N^{1/2}``: ``d^{Ω(k)}`` queries or tolerance ``d^{−Ω(k)}``. Gradient descent on
    the square loss with ``τ``-approximate gradients is such an algorithm.
    """
    tau, epsilon = _check_bound_args(tau, epsilon)
    return max(0.0, tau**2 * (family_size(d, k) - 1.0 / epsilon))


def sq_query_bound(d: int, k: int, tau: float, c: float = 1.0, epsilon: float = 1.0) -> float:
    """Fewest general statistical queries of tolerance ``τ`` that learn the Boolean family
    (``P(y = 1 | x) = (1 + tanh(c f_S(x)))/2``): ``q ≥ (τ/ρ)² (N − 1/ε)`` with
    ``ρ² = min(1, c²) ≥ E[tanh(c f)²]``.

    A query ``φ: R^d × {±1} → [−1, 1]`` splits as ``φ_0(x) + y φ_1(x)`` with
    ``φ_{0,1} = (φ(·, 1) ± φ(·, −1))/2`` (Bshouty & Feldman, JMLR 2002); ``E[φ_0]`` is the same for
    every member, so only the correlational part ``E[φ_1(x) ψ_S(x)]``, ``ψ_S = tanh(c f_S)``,
    tells members apart. ``tanh`` is odd, so the ``ψ_S`` are orthogonal with a common norm
    ``≤ ρ`` (``|tanh u| ≤ min(1, |u|)``), and :func:`csq_query_bound`'s argument applies to
    ``ψ_S/‖ψ_S‖`` with tolerance ``τ/ρ``; "learn" means predicting ``E[y|x]`` with squared
    error at most ``1 − ε`` times that of the zero predictor. This is the general-SQ lower bound
    for classification of Goel et al. (2020); see Feldman et al. (STOC 2013 / JACM 2017) for
    statistical dimension in general.
    """
    tau, epsilon = _check_bound_args(tau, epsilon)
    rho2 = min(1.0, _check_c(c) ** 2)
    return max(0.0, tau**2 / rho2 * (family_size(d, k) - 1.0 / epsilon))
