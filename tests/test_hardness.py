"""The orthogonal one-layer-network family (spec ``multi-index.md`` §4) and its query bounds.

Statistical checks use fixed seeds and margins of 4 standard errors estimated from the sample
(spec §4.5). Reference numbers are the spec's §4.5 table (norms of the unnormalised ``g_k``).
"""

import functools
import itertools
import math

import numpy as np
import pytest
import torch

from indexlab import MultiIndex, get_link, theory
from indexlab.hardness import (
    HardFamily,
    activation_coefficients,
    csq_query_bound,
    family_size,
    hard_link,
    member_degree_norms,
    member_norm,
    member_values,
    parity_probability,
    sq_query_bound,
)
from indexlab.hermite import composite_rule, hermite_coefficients

# spec §4.5: (activation, k, ‖g_k‖² exact, ⟨g_k, Π_{i∈S} x_i⟩ exact)
SPEC = [
    ("relu", 2, 0.72676, 0.7979),
    ("relu", 4, 0.30302, -0.3989),
    ("tanh", 3, 0.39868, -0.5598),
    ("tanh", 5, 0.23791, 0.3922),
    ("sigmoid", 3, 0.00983, -0.0961),
]


# ---------------------------------------------------------------------------------------------
# exact formulas
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("activation", "k", "norm2"),
                         [(a, k, n) for a, k, n, _ in SPEC] + [("relu", 6, 0.42923)])
def test_exact_norm_matches_spec(activation, k, norm2):
    # the spec prints 5 decimals: agree to half a unit of the last one
    assert abs(member_norm(k, activation) ** 2 - norm2) <= 5e-6


@pytest.mark.parametrize(("activation", "k", "product"), [(a, k, p) for a, k, _, p in SPEC])
def test_degree_k_coefficient_matches_spec(activation, k, product):
    # ⟨g_k, Π x_i⟩ = 2^k √(k!) c_k k^{−k/2}, and ‖g_k‖² ≥ its square (the ℓ = k term)
    c_k = activation_coefficients(activation)[k]
    exact = 2**k * math.sqrt(math.factorial(k)) * c_k * k ** (-k / 2)
    assert abs(exact - product) <= 5e-5
    assert member_degree_norms(k, activation, k)[k] == pytest.approx(abs(exact), rel=1e-12)
    assert member_norm(k, activation) ** 2 >= exact**2


def test_parity_probability_counts_sequences():
    # π_k(ℓ) = P(ℓ uniform letters from k hit every letter an odd number of times)
    for k in (1, 2, 3, 4):
        for ell in range(9):
            hits = sum(all(seq.count(i) % 2 for i in range(k))
                       for seq in itertools.product(range(k), repeat=ell))
            assert parity_probability(k, ell) == pytest.approx(hits / k**ell, abs=1e-14)


@pytest.mark.parametrize("activation", ["relu", "relu3"])
def test_closed_form_relu_coefficients_match_quadrature(activation):
    rule = composite_rule(panel_width=0.02, breakpoints=(0.0,))
    power = 1 if activation == "relu" else 3
    quad = hermite_coefficients(lambda u: np.maximum(u, 0.0) ** power, 40, rule)
    closed = activation_coefficients(activation)[:41]
    assert np.max(np.abs(closed - quad)) < 1e-9
    if activation == "relu":
        assert closed[2] == pytest.approx(1 / (2 * math.sqrt(math.pi)), rel=1e-12)


def _kernel_norm2(k: int, kernel) -> float:
    """``‖g_k‖² = 2^k Σ_j C(k, j) (−1)^j K(1 − 2j/k)``, ``K(ρ) = E[σ(u) σ(v)]``, corr ``ρ``."""
    return 2**k * sum(math.comb(k, j) * (-1) ** j * kernel(1 - 2 * j / k) for j in range(k + 1))


def _arc_cosine(rho: float) -> float:
    """``E[relu(u) relu(v)]`` for unit normals with correlation ``ρ`` (Cho & Saul 2009)."""
    rho = min(max(rho, -1.0), 1.0)
    return (math.sqrt(1 - rho**2) + (math.pi - math.acos(rho)) * rho) / (2 * math.pi)


def _tanh_kernel(rho: float) -> float:
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)
    weights = weights / math.sqrt(2 * math.pi)
    u, v = np.meshgrid(nodes, nodes, indexing="ij")
    w = np.outer(weights, weights)
    return float(np.sum(w * np.tanh(u) * np.tanh(rho * u + math.sqrt(1 - rho**2) * v)))


@pytest.mark.parametrize("k", [1, 2, 4, 6, 10, 14])
def test_relu_norm_matches_the_arc_cosine_kernel(k):
    # an independent exact route: no Hermite series at all
    assert member_norm(k, "relu") ** 2 == pytest.approx(_kernel_norm2(k, _arc_cosine), rel=1e-8)


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_tanh_norm_matches_the_gaussian_kernel(k):
    assert member_norm(k, "tanh") ** 2 == pytest.approx(_kernel_norm2(k, _tanh_kernel), rel=1e-8)


def test_member_values_match_the_defining_sum():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(500, 3, generator=g, dtype=torch.float64)
    direct = sum(math.prod(s) * torch.tanh(z @ torch.tensor(s, dtype=torch.float64) / math.sqrt(3))
                 for s in itertools.product((-1.0, 1.0), repeat=3))
    assert torch.allclose(member_values(z, "tanh"), direct, rtol=0, atol=1e-13)
    chunked = member_values(z, "tanh", chunk_elements=8 * 7)  # 7 rows per block
    assert torch.allclose(chunked, direct, rtol=0, atol=1e-13)
    assert member_values(z.float(), "tanh").dtype == torch.float32


# ---------------------------------------------------------------------------------------------
# the activation condition and argument checks
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("activation", "k", "parity", "allowed"), [
    ("relu", 3, "odd", "every even k, odd k ≤ 1"),
    ("relu", 5, "odd", "every even k, odd k ≤ 1"),
    ("tanh", 2, "even", "no even k, every odd k"),
    ("tanh", 4, "even", "no even k, every odd k"),
    ("relu3", 5, "odd", "every even k, odd k ≤ 3"),
])
def test_degenerate_members_are_rejected(activation, k, parity, allowed):
    message = (rf"k={k} with activation='{activation}' gives g_{k} ≡ 0: .*parity of k "
               rf"\({parity}\); allowed for {activation}: {allowed}")
    with pytest.raises(ValueError, match=message):
        HardFamily(16, k, activation)
    with pytest.raises(ValueError, match=message):
        get_link(f"hard{k}_{activation}")
    with pytest.raises(ValueError, match=message):
        hard_link(k, activation, labels="boolean")


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(k=0), r"k=0 is not allowed: use an integer >= 1"),
    (dict(k=15), r"k=15 is not allowed: use k <= max_k=14 .*pass max_k=15"),
    (dict(k=5, d=4), r"k=5 is not allowed: use k <= d=4"),
    (dict(activation="gelu"), r"activation='gelu' is not allowed: use one of relu, relu3"),
    (dict(lift="spherical"), r"lift='spherical' is not allowed: use one of coordinate, rotated"),
    (dict(labels="soft"), r"labels='soft' is not allowed: use one of real, boolean"),
    (dict(labels="boolean", c=0.0), r"c=0.0 is not allowed: use a finite number > 0"),
    (dict(labels="boolean", c=-1.0), r"c=-1.0 is not allowed"),
    (dict(c=2.0), r"c=2.0 is not allowed with labels='real'"),
    (dict(frame=3), r"frame=3 is not allowed: use an integer seed >= 0 with lift='rotated'"),
    (dict(seed=-1), r"seed=-1 is not allowed"),
    (dict(replicas=0), r"replicas=0 is not allowed"),
    (dict(d=0), r"d=0 is not allowed"),
])
def test_bad_arguments_name_the_argument(kwargs, message):
    args = dict(d=16, k=2, activation="relu") | kwargs
    with pytest.raises(ValueError, match=message):
        HardFamily(**args)


def test_large_k_only_when_allowed():
    link = hard_link(15, "tanh", max_k=15)
    z = torch.randn(64, 15, generator=torch.Generator().manual_seed(0))
    assert link.r == 15 and link.mean(z).shape == (64,)


# ---------------------------------------------------------------------------------------------
# registry names and theory
# ---------------------------------------------------------------------------------------------


def test_registry_names_resolve():
    real = get_link("hard4_relu")
    assert (real.r, real.binary, real.information_exponent) == (4, False, 4)
    boolean = get_link("hard3_tanh_bool")
    assert boolean.binary and boolean.r == 3 and boolean.name == "hard3_tanh_bool"
    assert get_link("hard4_relu") is real  # cached: theory's caches see one link
    custom = get_link("hard4_relu_bool_c0.5")
    assert custom.name == "hard4_relu_bool_c0.5" and get_link(custom.name) is custom
    assert get_link("hard2_relu", noise=0.1).name == "hard2_relu+noise(0.1)"
    with pytest.raises(ValueError, match=r"unknown link 'hardx': hard-family names are"):
        get_link("hardx")
    z = torch.randn(1000, 3, generator=torch.Generator().manual_seed(1))
    f = get_link("hard3_tanh").mean(z)
    assert torch.allclose(boolean.mean(z), torch.tanh(f))


def test_theory_sees_information_exponent_k():
    assert theory.information_exponent("hard3_tanh") == 3
    # the exact degree norms of the unit-norm member, against theory's product quadrature
    exact = member_degree_norms(3, "tanh", 8) / member_norm(3, "tanh")
    assert np.allclose(theory.hermite_degree_norms("hard3_tanh", 8), exact, atol=1e-6)
    # Boolean labels: k* = s* = k, and no second-order signal at all (α_c = ∞)
    assert theory.information_exponent("hard3_tanh_bool") == 3
    assert theory.generative_exponent("hard3_tanh_bool") == 3
    assert theory.weak_recovery_threshold("hard3_tanh_bool") == math.inf


# ---------------------------------------------------------------------------------------------
# targets: sample / stream / replica contract, seeds, lifts
# ---------------------------------------------------------------------------------------------


def test_coordinate_lift_target_contract():
    target = HardFamily(32, 4, "relu", labels="boolean", replicas=3, seed=5)
    U = target.directions
    assert U.shape == (3, 4, 32)
    assert torch.equal(U.abs().sum(-1), torch.ones(3, 4))  # one-hot rows
    assert torch.equal(U.sum(-1), torch.ones(3, 4))  # +e_i, sorted support
    supports = [tuple(row.argmax(-1).tolist()) for row in U]
    assert len(set(supports)) == 3 and all(list(s) == sorted(s) for s in supports)
    X, y = target.sample(1000)
    assert X.shape == (3, 1000, 32) and set(y.unique().tolist()) == {-1.0, 1.0}
    chunks = list(target.stream(250, chunk=100))
    assert [c[0].shape[1] for c in chunks] == [100, 100, 50]


def test_member_reproduces_with_its_seed():
    big = HardFamily(32, 4, "relu", replicas=4, seed=11)
    one = HardFamily(32, 4, "relu", replicas=[2], seed=11)
    assert torch.equal(one.directions[0], big.directions[2])
    X_big, y_big = big.sample(50)
    X_one, y_one = one.sample(50)
    assert torch.equal(X_one[0], X_big[2]) and torch.equal(y_one[0], y_big[2])
    again = HardFamily(32, 4, "relu", seed=11)  # no replica axis: replica 0
    assert torch.equal(again.directions_view, big.directions[0])
    other = HardFamily(32, 4, "relu", seed=12)
    assert not torch.equal(other.directions_view, again.directions_view)


def test_rotated_lift_without_frame_is_haar_like_multi_index():
    hard = HardFamily(20, 3, "tanh", lift="rotated", replicas=2, seed=3)
    plain = MultiIndex("hard3_tanh", 20, replicas=2, seed=3)
    assert torch.equal(hard.directions, plain.directions)


def test_rotated_lift_members_are_orthonormal_in_their_frame():
    # 8 members drawn in one shared frame O: their directions are rows of O
    target = HardFamily(6, 4, "relu", lift="rotated", frame=7, replicas=8, seed=0,
                        dtype=torch.float64)
    U = target.directions
    gram = torch.einsum("aid,bjd->abij", U, U)
    assert torch.all((gram.abs() < 1e-12) | ((gram - 1).abs() < 1e-12))
    same = (gram.abs() > 0.5).sum(dim=(-1, -2))  # shared rows of O
    pairs = [(a, b) for a in range(8) for b in range(a + 1, 8) if 0 < same[a, b] < 4]
    assert pairs, "need two members with different but overlapping supports"
    a, b = pairs[0]
    X = torch.randn(400_000, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    fa = target.link.mean(X @ U[a].T)
    fb = target.link.mean(X @ U[b].T)
    for values, expected in ((fa * fb, 0.0), (fa * fa, 1.0), (fb * fb, 1.0)):
        mean, se = values.mean().item(), values.std().item() / math.sqrt(values.numel())
        assert abs(mean - expected) <= 4 * se


# ---------------------------------------------------------------------------------------------
# Monte Carlo: orthogonality to each other and to every monomial of degree < k (spec §4.5)
# ---------------------------------------------------------------------------------------------


def _monomials(variables: int, degree: int) -> list[tuple[int, ...]]:
    """Every monomial of degree ``≤ degree`` in ``x_0..x_{variables−1}`` (ordered by degree)."""
    return [m for deg in range(degree + 1)
            for m in itertools.combinations_with_replacement(range(variables), deg)]


def _monomial_features(X: torch.Tensor, monomials: list[tuple[int, ...]]) -> torch.Tensor:
    """``x^m`` for each monomial (ordered by degree): one product per degree block."""
    index = {m: j for j, m in enumerate(monomials)}
    F = torch.ones(X.shape[0], len(monomials), dtype=X.dtype)
    for degree in range(1, max(len(m) for m in monomials) + 1):
        block = [j for j, m in enumerate(monomials) if len(m) == degree]
        parents = [index[monomials[j][:-1]] for j in block]
        last = [monomials[j][-1] for j in block]
        F[:, block] = F[:, parents] * X[:, last]
    return F


class _Moments:
    """Running sums of columns and their squares: means and standard errors."""

    def __init__(self):
        self.n, self.s1, self.s2 = 0, 0.0, 0.0

    def add(self, values: torch.Tensor) -> None:
        self.n += values.shape[0]
        self.s1 = self.s1 + values.sum(0)
        self.s2 = self.s2 + (values**2).sum(0)

    def add_products(self, f: torch.Tensor, F: torch.Tensor) -> None:
        """Columns ``f · F[:, j]`` without forming them: ``f @ F`` and ``f² @ F²``."""
        self.n += f.shape[0]
        self.s1 = self.s1 + f @ F
        self.s2 = self.s2 + (f * f) @ F.square_()

    def stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.s1 / self.n
        return mean, torch.sqrt((self.s2 / self.n - mean**2) / self.n)


@functools.cache
def _spec_monte_carlo(activation: str, k: int, n: int, seed: int = 0) -> dict:
    """Spec §4.5 set-up: ``d = 12``, ``S = {0..k−1}``, ``S' = {1..k}``, unit-norm members.

    Returns ``(mean, se)`` per quantity: ``inner`` ⟨f_S, f_S'⟩, ``norm`` ‖f_S‖², ``product``
    ⟨f_S, Π_{i∈S} x_i⟩, ``monomials`` ⟨f_S, x^m⟩ for every monomial of degree ``< k`` in
    ``x_0..x_k`` (``S`` and one coordinate outside it; this covers every polynomial of degree
    ``< k`` on ``R^12``, since ``E[f q] = E[f E[q | x_S]]`` and ``E[q | x_S]`` is a polynomial
    of degree ``< k`` in ``x_S``), ``linear`` ⟨f_S, x_i⟩ and ``quadratic``
    ⟨f_S, x_i x_j − δ_ij⟩ (``i ≤ j``) on all 12 coordinates (the spec's columns), and
    ``leak`` ⟨f_S², x_i² − 1⟩ (the caveat of §4.5).
    """
    d = 12
    eye = torch.eye(d, dtype=torch.float64)
    target = MultiIndex(f"hard{k}_{activation}", d, directions=eye[:k], seed=seed,
                        dtype=torch.float64)
    monomials = _monomials(k + 1, k - 1)
    rows, cols = torch.triu_indices(d, d)
    moments = {name: _Moments() for name in
               ("inner", "norm", "product", "monomials", "linear", "quadratic", "leak")}
    for X, f in target.stream(n, chunk=32_768):
        f_other = target.link.mean(X[:, 1 : k + 1])
        moments["inner"].add(f * f_other)
        moments["norm"].add(f * f)
        moments["product"].add(f * X[:, :k].prod(dim=1))
        moments["monomials"].add_products(f, _monomial_features(X, monomials))
        moments["linear"].add_products(f, X.clone())
        moments["quadratic"].add_products(f, X[:, rows] * X[:, cols] - eye[rows, cols])
        moments["leak"].add_products(f * f, X**2 - 1)
    return {name: m.stats() for name, m in moments.items()} | {"monomial_list": monomials}


def _check_spec_row(activation, k, norm2, product_exact, n):
    mc = _spec_monte_carlo(activation, k, n)

    def within(name, expected=0.0, slack=0.0):
        mean, se = mc[name]
        return torch.all((mean - expected).abs() <= 4 * se + slack).item()

    assert within("inner"), "two members with overlapping supports are orthogonal"
    assert within("norm", 1.0), "unit norm"
    # the spec's exact value has 4 decimals: allow half a unit of the last one
    g = math.sqrt(norm2)
    assert within("product", product_exact / g, slack=5e-5 / g), "⟨f, Π x_S⟩"
    assert within("linear"), "degree 1 < k"
    if k > 2:
        assert within("quadratic"), "degree 2 < k"
    mean, se = mc["monomials"]
    bad = [(m, mean[j].item(), se[j].item()) for j, m in enumerate(mc["monomial_list"])
           if abs(mean[j]) > 4 * se[j]]
    assert not bad, f"monomials of degree < {k} with |correlation| > 4 se: {bad[:5]}"


@pytest.mark.parametrize(("activation", "k", "norm2", "product"), SPEC[:1] + SPEC[2:3])
def test_monte_carlo_orthogonality_fast(activation, k, norm2, product):
    _check_spec_row(activation, k, norm2, product, n=200_000)


@pytest.mark.slow
@pytest.mark.parametrize(("activation", "k", "norm2", "product"), SPEC)
def test_monte_carlo_orthogonality_spec(activation, k, norm2, product):
    _check_spec_row(activation, k, norm2, product, n=2_000_000)


@pytest.mark.slow
@pytest.mark.parametrize(("activation", "k", "value"), [("tanh", 3, 0.866), ("relu", 4, 0.496)])
def test_real_labels_leak_second_order_signal(activation, k, value):
    # spec §4.5 caveat: E[f² (x_i² − 1)] ≈ value for i ∈ S (3 decimals), ≈ 0 for i ∉ S
    mean, se = _spec_monte_carlo(activation, k, 2_000_000)["leak"]
    assert torch.all((mean[:k] - value).abs() <= 4 * se[:k] + 5e-4)
    assert torch.all(mean[k:].abs() <= 4 * se[k:])


def test_boolean_labels_have_no_second_order_signal():
    # G(y) ∝ E[y (x xᵀ − I)] = 0 for k ≥ 3 (spec §4.5): every entry on a d = 8 frame
    target = HardFamily(8, 3, "tanh", labels="boolean", seed=4, dtype=torch.float64)
    rows, cols = torch.triu_indices(8, 8)
    moments = _Moments()
    for X, y in target.stream(1_000_000, chunk=100_000):
        moments.add(y[:, None] * (X[:, rows] * X[:, cols] - (rows == cols).to(X.dtype)))
    mean, se = moments.stats()
    assert torch.all(mean.abs() <= 4 * se)


# ---------------------------------------------------------------------------------------------
# query bounds
# ---------------------------------------------------------------------------------------------


def test_query_bounds():
    assert family_size(12, 4) == 495 and family_size(100, 10) == math.comb(100, 10)
    assert csq_query_bound(12, 4, tau=0.1) == pytest.approx(0.01 * 494)
    assert csq_query_bound(12, 4, tau=0.1, epsilon=0.5) == pytest.approx(0.01 * 493)
    assert csq_query_bound(12, 1, tau=0.1, epsilon=0.01) == 0.0  # 12 members < 1/ε
    assert sq_query_bound(12, 4, tau=0.1, c=0.5) == pytest.approx(0.01 / 0.25 * 494)
    assert sq_query_bound(12, 4, tau=0.1, c=3.0) == pytest.approx(csq_query_bound(12, 4, 0.1))
    with pytest.raises(ValueError, match=r"tau=0 is not allowed: use a number in \(0, 1\]"):
        csq_query_bound(12, 4, tau=0)
    with pytest.raises(ValueError, match=r"k=13 is not allowed: use an integer in 1..12 \(d=12\)"):
        family_size(12, 13)
    with pytest.raises(ValueError, match=r"c=0 is not allowed"):
        sq_query_bound(12, 4, tau=0.1, c=0)


@pytest.mark.cuda
def test_member_values_on_cuda():
    z = torch.randn(10_000, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    cpu = member_values(z, "relu")
    assert torch.allclose(member_values(z.cuda(), "relu").cpu(), cpu, atol=1e-10)
    target = HardFamily(64, 4, "relu", labels="boolean", replicas=2, device="cuda")
    X, y = target.sample(1000)
    assert X.is_cuda and y.is_cuda
