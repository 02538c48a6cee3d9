"""Network, activations, losses and the exact smoothing operator."""

import math

import pytest
import torch

from indexlab.hermite import hermite_h
from indexlab.nn import ACTIVATIONS, LOSSES, Network, get_activation, get_loss, gradients
from indexlab.smoothing import smoothed_hermite


def _network(act, R=2, m=5, d=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    kw = dict(dtype=torch.float64, generator=g)
    return Network(W=torch.randn(R, m, d, **kw) / math.sqrt(d), a=torch.randn(R, m, **kw),
                   b=torch.randn(R, m, **kw) * 0.5, activation=act)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_explicit_gradients_equal_autograd(act, loss):
    net = _network(ACTIVATIONS[act])
    g = torch.Generator().manual_seed(1)
    X = torch.randn(2, 40, 7, dtype=torch.float64, generator=g)
    y = torch.sign(torch.randn(2, 40, dtype=torch.float64, generator=g)) * 1.5
    value, (dW, da, db) = gradients(net, X, y, loss)
    params = [p.clone().requires_grad_(True) for p in (net.W, net.a, net.b)]
    auto = Network(*params, activation=net.activation)
    ell = get_loss(loss)
    total = ell.value(auto(X), y).mean(dim=1)
    total.sum().backward()
    assert torch.allclose(value, total.detach(), atol=1e-12)
    for mine, p in zip((dW, da, db), params, strict=True):
        assert torch.allclose(mine, p.grad, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_derivatives_match_finite_differences(name):
    act = get_activation(name)
    u = torch.linspace(-2.5, 2.5, 41, dtype=torch.float64) + 0.013  # avoid relu's kink at 0
    h = 1e-6
    fd = (act(u + h) - act(u - h)) / (2 * h)
    assert torch.allclose(act.df(u), fd, atol=1e-6)


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="activation='swish'"):
        get_activation("swish")
    with pytest.raises(ValueError, match="loss='hinge'"):
        get_loss("hinge")


def test_smoothed_h3_slope_matches_the_spec_closed_form():
    """Spec §2.3: D_λh₃(a,R) = [ρ³(3a² + 3λ²(‖x‖² − 3a²)/(d−1)) − 3ρ]/√6."""
    d, lam = 50, 50**0.25
    rho = (1 + lam**2) ** -0.5
    a = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    x2 = torch.tensor([48.0, 55.0, 51.0], dtype=torch.float64)
    inner = 3 * a**2 + 3 * lam**2 * (x2 - 3 * a**2) / (d - 1)
    expected = (rho**3 * inner - 3 * rho) / math.sqrt(6)
    assert torch.allclose(smoothed_hermite(3, lam, d).slope(a, x2 - a**2), expected, atol=1e-14)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_smoothed_value_matches_monte_carlo_over_the_sphere(k):
    """L_λh_k(w; x) = E_z h_k(⟨(w + λz)/√(1+λ²), x⟩), z uniform on S^{d−1} ∩ w^⊥:
    the closed form lies within 5 Monte Carlo standard errors (4·10⁵ draws)."""
    d, lam = 30, 30**0.25
    g = torch.Generator().manual_seed(k)
    w = torch.randn(d, dtype=torch.float64, generator=g)
    w /= w.norm()
    x = torch.randn(d, dtype=torch.float64, generator=g) * 1.3
    z = torch.randn(400_000, d, dtype=torch.float64, generator=g)
    z = z - (z @ w)[:, None] * w
    z /= z.norm(dim=1, keepdim=True)
    vals = hermite_h(((w + lam * z) / math.sqrt(1 + lam**2)) @ x, k)
    a = w @ x
    closed = smoothed_hermite(k, lam, d).value(a, x @ x - a**2)
    assert abs(float(vals.mean() - closed)) < 5 * float(vals.std()) / math.sqrt(len(vals))


def test_zero_smoothing_is_the_activation():
    a = torch.linspace(-2, 2, 9, dtype=torch.float64)
    sh = smoothed_hermite(4, 0.0, 20)
    assert torch.allclose(sh.value(a, torch.ones_like(a) * 19), hermite_h(a, 4))
    assert torch.allclose(sh.slope(a, torch.ones_like(a) * 19), get_activation("he4").df(a))
