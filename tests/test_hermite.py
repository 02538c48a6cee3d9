"""Hermite polynomials and Gaussian quadrature (spec single-index.md §0)."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from indexlab.hermite import (
    composite_rule,
    expectation,
    find_jumps,
    gauss_hermite,
    hermite_coefficients,
    hermite_coefficients_nd,
    hermite_he,
    hermite_normalized,
    product_rule,
    quantile_rule,
    rule_for,
)


def test_quadrature_orthonormality_to_degree_20():
    rule = gauss_hermite(64)
    H = hermite_normalized(rule.nodes, 20)
    gram = (H * rule.weights[:, None]).T @ H
    assert np.max(np.abs(gram - np.eye(21))) < 1e-10


def _he_exact(x: Fraction, k: int) -> Fraction:
    a, b = Fraction(1), x
    if k == 0:
        return a
    for j in range(1, k):
        a, b = b, x * b - j * a
    return b


@pytest.mark.parametrize("x", [0.3, -1.7, 2.5, 6.0])
def test_recurrence_is_stable_up_to_degree_40(x):
    """h_40 in float64 matches exact rational arithmetic to 1e-11 relative."""
    got = hermite_normalized(np.array([x]), 40)[0]
    for k in (10, 25, 40):
        exact = float(_he_exact(Fraction(x), k)) / math.sqrt(math.factorial(k))
        assert got[k] == pytest.approx(exact, rel=1e-11, abs=1e-300)


def test_monic_and_torch_paths_agree():
    x = np.linspace(-3, 3, 7)
    He = hermite_he(x, 5)
    assert np.allclose(He[:, 3], x**3 - 3 * x)
    t = hermite_he(torch.tensor(x), 5)
    assert np.allclose(t.numpy(), He)


def test_composite_rule_handles_jumps_found_automatically():
    sign_z = lambda z: np.sign(z) * z  # noqa: E731 - |z| written with a jump in sign
    assert expectation(sign_z) == pytest.approx(math.sqrt(2 / math.pi), abs=1e-12)
    c = math.sqrt(2 * math.log(2))
    jumps = find_jumps(lambda z: np.sign(np.abs(z) - c))
    assert np.allclose(jumps, [-c, c], atol=1e-10)
    step = lambda z: (z > c).astype(float)  # noqa: E731
    # P(z > c) exactly, through the detected breakpoint
    from scipy.stats import norm

    assert expectation(step, rule_for(step)) == pytest.approx(norm.sf(c), abs=1e-12)


def test_composite_rule_is_exactly_symmetric():
    rule = composite_rule(panel_width=0.1, breakpoints=(0.3,))
    assert np.array_equal(rule.nodes[::-1], -rule.nodes)
    assert rule.weights.sum() == pytest.approx(1.0, abs=1e-13)
    q = quantile_rule(1001)
    assert np.array_equal(q.nodes[::-1], -q.nodes)
    assert np.mean(quantile_rule(40, standardise=True).nodes ** 2) == pytest.approx(1.0)


def test_relu_coefficients_match_closed_form():
    """c_0 = φ(0), c_1 = 1/2, c_k = φ(0) He_{k-2}(0)/√k! for k ≥ 2 (integration by parts)."""
    phi0 = 1 / math.sqrt(2 * math.pi)
    c = hermite_coefficients(lambda z: np.maximum(z, 0.0), 12)
    expected = [phi0, 0.5] + [
        phi0 * float(_he_exact(Fraction(0), k - 2)) / math.sqrt(math.factorial(k))
        for k in range(2, 13)
    ]
    assert np.allclose(c, expected, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=1, max_size=11))
def test_coefficients_invert_the_expansion(coeffs):
    a = np.array(coeffs)
    K = len(a) - 1
    f = lambda z: hermite_normalized(z, K) @ a  # noqa: E731
    got = hermite_coefficients(f, K, gauss_hermite(40))
    assert np.allclose(got, a, atol=1e-9)


def test_tensor_coefficients_of_a_product():
    c = hermite_coefficients_nd(lambda z: z[:, 0] * z[:, 1] + 2.0 * z[:, 1] ** 2, 3, 2)
    expected = np.zeros((4, 4))
    expected[1, 1] = 1.0
    expected[0, 0] = 2.0  # 2 z2² = 2 + 2√2 h_2(z2)
    expected[0, 2] = 2 * math.sqrt(2)
    assert np.allclose(c, expected, atol=1e-12)
    rule = product_rule(gauss_hermite(10), 3)
    assert rule.nodes.shape == (1000, 3) and rule.weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [-1, 41, 2.5])
def test_degree_is_validated(bad):
    with pytest.raises(ValueError, match="degree K"):
        hermite_normalized(np.zeros(3), bad)
