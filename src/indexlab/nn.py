"""Two-layer networks with a leading replica axis, their activations and losses.

The network (docs/algorithms.md §1.2) is

    f(x) = (1/m) Σ_j a_j σ(⟨w_j, x⟩ + b_j),   W: (R, m, d),  a, b: (R, m),

evaluated on inputs ``X: (R, n, d)`` with batched matrix products. Every activation and loss
carries its derivative, so gradients have an explicit fast path (:func:`gradients`) that a test
checks against autograd. With ``g_i = ∂ℓ/∂f (f(x_i), y_i)`` and ``p_ij = ⟨w_j,x_i⟩ + b_j``:

    ∂L/∂w_j = (1/n) Σ_i g_i (a_j/m) σ'(p_ij) x_i,   ∂L/∂a_j = (1/n) Σ_i g_i σ(p_ij)/m,
    ∂L/∂b_j = (1/n) Σ_i g_i (a_j/m) σ'(p_ij),        L = (1/n) Σ_i ℓ(f(x_i), y_i).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from indexlab.hermite import hermite_h

Fn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Activation:
    """``σ`` with its first derivative ``σ'`` — the one activation type of the package
    (networks, learners, the hard family of :mod:`indexlab.hardness`).

    ``hermite_degree`` is ``k`` for ``σ = h_k``; ``breakpoints`` are the kinks of ``σ`` (panel
    edges for quadrature); ``relu_power`` is ``p`` for ``σ = relu^p`` (closed-form Hermite
    coefficients).
    """

    name: str
    f: Fn
    df: Fn
    hermite_degree: int | None = None
    breakpoints: tuple[float, ...] = ()
    relu_power: int | None = None

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        return self.f(u)


@dataclass(frozen=True)
class HermiteFn:
    """``h_k`` (``derivative=False``) or ``h_k' = √k h_{k−1}`` (Appell property of the
    Hermite family): a named, picklable callable."""

    k: int
    derivative: bool = False

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        if self.derivative:
            return math.sqrt(self.k) * hermite_h(u, self.k - 1)
        return hermite_h(u, self.k)


def _hermite_activation(k: int) -> Activation:
    """``h_k`` with ``h_k' = √k h_{k−1}``."""
    return Activation(name=f"he{k}", f=HermiteFn(k), df=HermiteFn(k, derivative=True),
                      hermite_degree=k)


# the activations and their derivatives as module-level functions, so that an Activation, a
# Network and a fitted learner holding one pickle (Dask, saved models) and compare equal
def step(u: torch.Tensor) -> torch.Tensor:
    """``relu' = 1[u > 0]``."""
    return (u > 0).to(u.dtype)


def relu3(u: torch.Tensor) -> torch.Tensor:
    return torch.relu(u) ** 3


def relu3_derivative(u: torch.Tensor) -> torch.Tensor:
    return 3 * torch.relu(u) ** 2


def tanh_derivative(u: torch.Tensor) -> torch.Tensor:
    return 1 - torch.tanh(u) ** 2


def quadratic(u: torch.Tensor) -> torch.Tensor:
    return u * u / 2


def identity(u: torch.Tensor) -> torch.Tensor:
    return u


def logcosh(u: torch.Tensor) -> torch.Tensor:
    """log cosh u = logaddexp(u, −u) − log 2: stable for large |u|, three passes."""
    return torch.logaddexp(u, -u).sub_(math.log(2))


def sigmoid_derivative(u: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(u) * (1 - torch.sigmoid(u))


def _activations() -> dict[str, Activation]:
    acts = {
        "relu": Activation("relu", torch.relu, step, breakpoints=(0.0,), relu_power=1),
        "relu3": Activation("relu3", relu3, relu3_derivative, breakpoints=(0.0,),
                            relu_power=3),
        "tanh": Activation("tanh", torch.tanh, tanh_derivative),
        "quadratic": Activation("quadratic", quadratic, identity),
        # log cosh: σ' = tanh, σ'(0) = 0, σ''(0) = 1, |σ'''| ≤ 0.77 (docs/algorithms.md §7.3)
        "logcosh": Activation("logcosh", logcosh, torch.tanh),
        "softplus": Activation("softplus", torch.nn.functional.softplus, torch.sigmoid),
        "sigmoid": Activation("sigmoid", torch.sigmoid, sigmoid_derivative),
    }
    for k in range(1, 9):
        acts[f"he{k}"] = _hermite_activation(k)
    return acts


ACTIVATIONS: dict[str, Activation] = _activations()


def get_activation(name: str | Activation) -> Activation:
    """Look up an activation by name (``relu``, ``relu3``, ``tanh``, ``quadratic``,
    ``logcosh``, ``softplus``, ``sigmoid``, ``he1``..``he8``)."""
    if isinstance(name, Activation):
        return name
    if name not in ACTIVATIONS:
        raise ValueError(
            f"activation={name!r} is not allowed: use one of {', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]


@dataclass(frozen=True)
class Loss:
    """``ℓ(f, y)`` and ``∂ℓ/∂f``, elementwise. ``ψ(y) = −ℓ'(0, y)`` is its label transform."""

    name: str
    value: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    grad: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _huber_value(f, y, delta: float):
    r = (f - y).abs()
    return torch.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta))


def _huber_grad(f, y, delta: float):
    return (f - y).clamp(-delta, delta)


def huber_loss(delta: float = 1.0) -> Loss:
    """Huber: ``½r²`` for ``|r| ≤ δ``, ``δ(|r| − δ/2)`` beyond (``r = f − y``).

    Its derivative is ``ℓ' = clip(r, −δ, δ)``.
    """
    if not delta > 0:
        raise ValueError(f"huber delta={delta!r} is not allowed: use a number > 0")
    return Loss(f"huber({delta:g})", functools.partial(_huber_value, delta=delta),
                functools.partial(_huber_grad, delta=delta))


# the losses as module-level functions (picklable, as the activations)
def _square_value(f, y):
    return 0.5 * (f - y) ** 2


def _square_grad(f, y):
    return f - y


def _correlation_value(f, y):
    return -y * f


def _correlation_grad(f, y):
    return -y


def _logistic_value(f, y):
    return torch.nn.functional.softplus(-y * f)


def _logistic_grad(f, y):
    return -y * torch.sigmoid(-y * f)


LOSSES: dict[str, Loss] = {
    "square": Loss("square", _square_value, _square_grad),
    "correlation": Loss("correlation", _correlation_value, _correlation_grad),
    "huber": huber_loss(1.0),
    # logistic for labels y ∈ {−1, +1}: log(1 + e^{−y f}), ℓ' = −y σ(−y f)
    "logistic": Loss("logistic", _logistic_value, _logistic_grad),
}


def get_loss(name: str | Loss) -> Loss:
    """Look up a loss by name (``square``, ``correlation``, ``huber``, ``logistic``)."""
    if isinstance(name, Loss):
        return name
    if name not in LOSSES:
        raise ValueError(f"loss={name!r} is not allowed: use one of {', '.join(LOSSES)}")
    return LOSSES[name]


@dataclass
class Network:
    """Parameters of ``f(x) = (1/m) Σ_j a_j σ(⟨w_j,x⟩ + b_j)`` for ``R`` replicas."""

    W: torch.Tensor  # (R, m, d)
    a: torch.Tensor  # (R, m)
    b: torch.Tensor  # (R, m)
    activation: Activation
    offset: torch.Tensor | None = None  # (R,) output intercept, fitted in the second stage

    def preactivations(self, X: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.b.unsqueeze(1), X, self.W.transpose(1, 2))

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        """``f(X)`` of shape ``(R, n)`` for ``X`` of shape ``(R, n, d)``."""
        out = self.activation(self.preactivations(X)) @ self.a.unsqueeze(-1)
        out = out.squeeze(-1) / self.W.shape[1]
        return out if self.offset is None else out + self.offset.unsqueeze(-1)


def gradients(net: Network, X: torch.Tensor, y: torch.Tensor, loss: str | Loss):
    """Mean loss ``(R,)`` and its explicit gradients ``(dW, da, db)`` (formulas in the module
    docstring); ``X (R, n, d)``, ``y (R, n)``."""
    loss = get_loss(loss)
    n, m = X.shape[1], net.W.shape[1]
    pre = net.preactivations(X)
    act = net.activation(pre)
    f = (act @ net.a.unsqueeze(-1)).squeeze(-1) / m
    if net.offset is not None:
        f = f + net.offset.unsqueeze(-1)
    g = loss.grad(f, y) / n  # (R, n)
    back = g.unsqueeze(-1) * net.activation.df(pre) * (net.a / m).unsqueeze(1)  # (R, n, m)
    dW = back.transpose(1, 2) @ X
    da = (act.transpose(1, 2) @ g.unsqueeze(-1)).squeeze(-1) / m
    db = back.sum(dim=1)
    return loss.value(f, y).mean(dim=1), (dW, da, db)


def relu_features(W: torch.Tensor, b: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Second-stage features ``φ_j(x) = ReLU(⟨w_j, x⟩ + b_j)``: ``(R, n, m)``."""
    return torch.relu(torch.baddbmm(b.unsqueeze(1), X, W.transpose(1, 2)))


def ridge_fit(
    Phi: torch.Tensor, y: torch.Tensor, ridges: tuple[float, ...], valid_fraction: float = 0.2
):
    """Ridge regression of ``y`` on features ``Φ`` with an intercept, per replica.

    Solves ``(Φ_cᵀΦ_c/n + μ·tr(Φ_cᵀΦ_c)/(n m) I) a = Φ_cᵀ y_c / n`` (``_c``: centred; μ relative
    to the mean feature variance) for every ``μ`` in ``ridges`` on the first ``1 − valid``
    fraction, picks the ``μ`` with the smallest validation error per replica, and refits on
    all samples. Returns ``(a (R, m), offset (R,), chosen μ (R,))``.
    """
    R, n, m = Phi.shape
    Phi64, y64 = Phi.to(torch.float64), y.to(torch.float64)
    n_fit = max(1, int(n * (1 - valid_fraction))) if len(ridges) > 1 else n

    def solve(P, t, mu):
        mean_p, mean_t = P.mean(dim=1, keepdim=True), t.mean(dim=1, keepdim=True)
        Pc, tc = P - mean_p, t - mean_t
        gram = Pc.transpose(1, 2) @ Pc / P.shape[1]
        scale = torch.diagonal(gram, dim1=1, dim2=2).mean(dim=1).clamp_min(1e-12)
        eye = torch.eye(m, dtype=P.dtype, device=P.device)
        lhs = gram + (mu * scale)[:, None, None] * eye
        rhs = (Pc.transpose(1, 2) @ tc.unsqueeze(-1)) / P.shape[1]
        coef = torch.linalg.solve(lhs, rhs).squeeze(-1)
        offset = mean_t.squeeze(1) - (mean_p.squeeze(1) * coef).sum(dim=1)
        return coef, offset

    mus = torch.as_tensor(ridges, dtype=torch.float64, device=Phi.device)
    if len(ridges) == 1 or n_fit >= n:
        coef, offset = solve(Phi64, y64, mus[0].expand(R))
        return coef, offset, mus[0].expand(R)
    errors = []
    for mu in mus:
        coef, offset = solve(Phi64[:, :n_fit], y64[:, :n_fit], mu.expand(R))
        pred = (Phi64[:, n_fit:] @ coef.unsqueeze(-1)).squeeze(-1) + offset.unsqueeze(-1)
        errors.append((pred - y64[:, n_fit:]).pow(2).mean(dim=1))
    err = torch.stack(errors)  # (n_mu, R)
    err = torch.where(torch.isfinite(err), err, torch.full_like(err, math.inf))
    best = mus[err.argmin(dim=0)]
    coef, offset = solve(Phi64, y64, best)
    return coef, offset, best
