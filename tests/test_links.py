"""Links: registry, safe expression parser, binary and noisy labels."""

import math

import numpy as np
import pytest
import torch

from indexlab.expressions import parse_expression
from indexlab.hermite import hermite_h
from indexlab.links import REGISTRY, get_link, smooth_generative_coefficients, with_noise

REQUIRED = [f"he{k}" for k in range(1, 9)] + [
    "relu", "abs", "sign", "tanh", "phase_retrieval", "z_exp", "genexp3", "genexp4",
    "he4+he4", "he2+he4", "he3*z2", "z1*z2", "staircase",
]


def test_registry_has_the_required_links():
    missing = [n for n in REQUIRED if n not in REGISTRY]
    assert not missing
    assert REGISTRY["he4+he4"].r == 2 and REGISTRY["staircase"].r == 3


def test_expression_evaluates_like_torch():
    expr = parse_expression("z1**2 * tanh(z2) - 0.5*h(3, z1) + He(2, z2)/2")
    assert expr.r == 2
    z = torch.randn(50, 2, dtype=torch.float64)
    expected = (z[:, 0] ** 2 * torch.tanh(z[:, 1]) - 0.5 * hermite_h(z[:, 0], 3)
                + (z[:, 1] ** 2 - 1) / 2)
    assert torch.allclose(expr(z), expected)


def test_chained_comparison_is_an_indicator():
    link = get_link("0.5 < abs(z) < 1.5")
    z = np.array([0.0, 1.0, -1.0, 2.0])
    assert np.array_equal(link(z), [0.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize(
    "text, token",
    [
        ("__import__('os').system('x')", "__import__('os').system"),
        ("z.real", "z.real"),
        ("(lambda q: q)(z)", "lambda q: q"),
        ("z[0]", "z[0]"),
        ("'abc'", "'abc'"),
        ("exp(x=z)", "exp(x=z)"),
        ("foo(z)", "foo"),
        ("y + 1", "y"),
        ("h(z, z)", "z"),
        ("z % 2", "z % 2"),
    ],
)
def test_parser_rejects_unsafe_or_unknown_syntax(text, token):
    with pytest.raises(ValueError) as info:
        parse_expression(text)
    message = str(info.value)
    assert repr(token) in message
    assert "allowed" in message and "tanh" in message


def test_parser_rejects_mixing_z_with_indexed_latents():
    with pytest.raises(ValueError, match="mixes z"):
        parse_expression("z + z1")


def test_unknown_link_names_the_value():
    with pytest.raises(ValueError, match="unknown link 'nolink'"):
        get_link("nolink")


@pytest.mark.parametrize("bad", [float("nan"), -0.1, float("inf"), "x"])
def test_bad_noise_is_rejected(bad):
    with pytest.raises(ValueError, match="noise="):
        get_link("he3", noise=bad)


def test_binary_link_has_the_stated_conditional_law():
    """P(y = 1 | z) = (1 + f(z))/2: check at a fixed z with a 5-sigma CLT margin."""
    link = REGISTRY["genexp_smooth3"]
    n = 200_000
    z = torch.full((n, 1), 0.7, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    y = link(z, generator=g)
    assert set(torch.unique(y).tolist()) <= {-1.0, 1.0}
    p = (1 + float(link.mean(z[:1])[0])) / 2
    assert abs(float((y == 1).double().mean()) - p) < 5 * math.sqrt(p * (1 - p) / n)


def test_noise_adds_gaussian_variance():
    link = with_noise(REGISTRY["he2"], 0.5)
    assert link.noise == 0.5 and "noise(0.5)" in link.name
    n = 400_000
    z = torch.zeros(n, 1, dtype=torch.float64)
    y = link(z, generator=torch.Generator().manual_seed(1))
    base = float(hermite_h(torch.zeros(1, dtype=torch.float64), 2)[0])
    # residual y - g(0) is N(0, 0.25): mean within 5 SE, variance within 5 SE (Var of s² = 2σ⁴/n)
    resid = y - base
    assert abs(float(resid.mean())) < 5 * 0.5 / math.sqrt(n)
    assert abs(float(resid.var()) - 0.25) < 5 * math.sqrt(2 * 0.25**2 / n)


def test_smooth_generative_construction_matches_spec_numbers():
    """Spec single-index.md §6.1: s = 3: q1 = 1, sup 2.31; s = 4: (q0, q2) = (1/3, 2), sup 5.04."""
    q3, c3 = smooth_generative_coefficients(3)
    assert q3[1] == pytest.approx(1.0, abs=1e-9) and 1 / c3 == pytest.approx(2.31, abs=0.01)
    q4, c4 = smooth_generative_coefficients(4)
    assert q4[0] == pytest.approx(1 / 3, abs=1e-9) and q4[2] == pytest.approx(2.0, abs=1e-9)
    assert 1 / c4 == pytest.approx(5.04, abs=0.01)


def test_link_checks_latent_shape():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        REGISTRY["z1*z2"](np.zeros((4, 3)))
