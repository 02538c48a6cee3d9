"""The no-feature-learning baselines: random features and kernel ridge regression.

Both fit a predictor in a *fixed* feature space, so they learn no direction: a degree-``k``
component of the target costs them ``n ≍ d^k`` samples on ``N(0, I_d)`` inputs (Ghorbani,
Mei, Misiakiewicz & Montanari, *Linearized two-layers neural networks in high dimension*, Ann.
Statist. 2021; Mei, Misiakiewicz & Montanari, *Generalization error of random features and
kernel methods: hypercontractivity and kernel matrix concentration*, ACHA 2022), against
``n ≍ d^{s*/2} ∨ d`` for the feature-learning algorithms. They have no ``directions_`` (and no
``transform``): accessing either raises ``AttributeError`` with this explanation, and their
result is the test error, :meth:`test_error` (``indexlab.metrics.prediction_mse``).

Both minimise the same ridge objective over their function space ``F`` (an RKHS):

    f̂ = argmin_{f ∈ F} (1/n) Σ_i (y_i − ȳ − f(x_i))² + ridge · ‖f‖²_F,   prediction ȳ + f̂(x)

* :class:`RandomFeatures` (Rahimi & Recht, *Random features for large-scale kernel machines*,
  NeurIPS 2007): ``f(x) = Σ_j a_j φ_j(x)``, ``φ_j(x) = σ(⟨w_j, x⟩ + b_j)/√m`` with fixed random
  ``w_j ~ N(0, I_d/d)`` (so ``⟨w_j, x⟩ ≈ N(0, 1)``) and ``b_j ~ N(0, bias²)``; for
  ``activation="cos"``, ``φ_j = √2 cos(⟨w_j, x⟩ + b_j)/√m`` with ``b_j ~ U[0, 2π]``, the random
  Fourier features of the Gaussian kernel of bandwidth ``√d``. ``‖f‖_F = ‖a‖``, so
  ``a = (ΦᵀΦ + n·ridge·I)⁻¹ Φᵀ(y − ȳ)``. One streamed pass: ``O(m²)`` memory per replica
  (``ΦᵀΦ`` and ``Φᵀy`` accumulated chunk by chunk).
* :class:`KernelRidge`: ``f(x) = Σ_i α_i k(x_i, x)``, ``α = (K + n·ridge·I)⁻¹ (y − ȳ)``,
  ``K_ij = k(x_i, x_j)``. The predictor needs every training point: this learner keeps its
  ``n`` samples (``O(n d + n²)`` memory per replica, also when fitted on a target), the one
  exception to the streaming rule, so keep ``n ≲ 10⁴``. Kernels, with length ``ℓ``
  (``bandwidth``, default ``√d`` so that ``‖x − x'‖²/ℓ² ≈ 2``):
  ``rbf`` ``exp(−‖x − x'‖²/(2ℓ²))``, ``laplace`` ``exp(−‖x − x'‖/ℓ)``,
  ``poly`` ``(1 + ⟨x, x'⟩/ℓ²)^degree``, ``arccos`` (Cho & Saul, *Kernel methods for deep
  learning*, NeurIPS 2009; the infinite-width limit of ReLU random features)
  ``‖x‖‖x'‖ (sin ϑ + (π − ϑ) cos ϑ)/(2π ℓ²)``, ``ϑ`` the angle between ``x`` and ``x'``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from sklearn.base import RegressorMixin

from indexlab import metrics
from indexlab.learners._util import (
    chunked_source,
    replica_ids,
    squeeze_out,
    with_replicas,
)
from indexlab.learners.base import Learner, Trace, data_source
from indexlab.learners.constraints import Int, Options, Real
from indexlab.learners.costs import kernel_ridge_cost, random_features_cost, with_defaults
from indexlab.nn import ACTIVATIONS
from indexlab.seeding import replica_generator
from indexlab.targets import Target


def sqrt2_cos(u: torch.Tensor) -> torch.Tensor:
    """``√2 cos u``: the random Fourier feature map."""
    return math.sqrt(2.0) * torch.cos(u)


# the random-feature nonlinearities: two activations of indexlab.nn, and √2 cos (random
# Fourier features; a feature map, not an activation: it has no use as σ elsewhere)
FEATURE_MAPS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": ACTIVATIONS["relu"].f,
    "tanh": ACTIVATIONS["tanh"].f,
    "cos": sqrt2_cos,
}
KERNELS = ("rbf", "laplace", "poly", "arccos")
_ELEMENTS = 1 << 24  # numbers per chunk over all replicas


def _ridge_solve(G: torch.Tensor, h: torch.Tensor, shift: float) -> torch.Tensor:
    """``(G + shift·I)⁻¹ h`` for PSD ``G (R, k, k)``, ``h (R, k)``; a pseudo-inverse where the
    shifted matrix is singular (``ridge = 0``)."""
    A = G + shift * torch.eye(G.shape[-1], dtype=G.dtype, device=G.device)
    L, info = torch.linalg.cholesky_ex(A)
    x = torch.cholesky_solve(h[..., None], L)[..., 0]
    # the pseudo-inverse only where it can help: singular but finite replicas (a NaN/inf
    # replica is left NaN, flagged diverged by the caller, without an SVD of garbage)
    finite = torch.isfinite(A).all(dim=2).all(dim=1) & torch.isfinite(h).all(dim=1)
    singular = (info != 0) & finite
    if bool(singular.any()):
        idx = singular.nonzero()[:, 0]
        pinv = torch.linalg.pinv(A[idx], hermitian=True)
        x[idx] = (pinv @ h[idx][..., None])[..., 0]
    return torch.where(finite[:, None], x, math.nan)


class FixedFeatureLearner(RegressorMixin, Learner):
    """Shared face of the fixed-feature learners: no directions, predictions and test error."""

    predicts: ClassVar[bool] = True
    learns_directions: ClassVar[bool] = False

    _WHY = (
        "{name} learns no features: its feature map is fixed before it sees data, so it has "
        "no learned directions (and no transform). Report its test error instead: "
        "{name}.test_error(target) or indexlab.metrics.prediction_mse(model.predict, target)"
    )

    @property
    def directions_(self) -> torch.Tensor:
        raise AttributeError(self._WHY.format(name=type(self).__name__))

    @property
    def transform(self):
        raise AttributeError(self._WHY.format(name=type(self).__name__))

    def _predict_block(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """Predictions ``ȳ + f̂(x)`` for ``X (R, n, d)`` or ``(n, d)``: ``(R, n)``, or ``(n,)``
        for ``X (n, d)`` with one replica (numpy in, numpy out)."""
        Xr, squeeze = with_replicas(X, self.replicas_)
        Xr = Xr.to(device=self.offset_.device, dtype=self.offset_.dtype)
        step = max(1, _ELEMENTS // (self.replicas_ * self._width(Xr.shape[-1])))
        parts = [self._predict_block(Xr[:, i:i + step]) for i in range(0, Xr.shape[1], step)]
        return squeeze_out(torch.cat(parts, dim=1) + self.offset_[:, None], squeeze)

    def _width(self, d: int) -> int:
        raise NotImplementedError

    def test_error(self, target: Target, n: int = 10_000) -> torch.Tensor:
        """Normalised test MSE ``E[(f̂ − y)²]/Var(y)`` on the target's fixed test set."""
        return metrics.prediction_mse(self.predict, target, n)


@dataclass
class RandomFeatures(FixedFeatureLearner):
    """Ridge regression on ``m`` fixed random features (Rahimi & Recht 2007; module docstring).

    Hyperparameters: ``m`` features (default 1024; the approximation of the limiting kernel
    needs ``m ≳ n``), ``activation`` (``relu``, ``tanh``, ``cos``), ``ridge ≥ 0``
    (default ``1e-3``), ``bias`` (standard deviation of ``b_j`` for relu/tanh, default 1),
    ``seed`` (replica ``j`` draws its features from ``(seed, j)``), ``chunk``.

    Fitted: ``coef_ (R, m)``, ``offset_ (R,)`` (``ȳ``), ``weights_ (R, m, d)``,
    ``biases_ (R, m)``, ``diverged_``, ``samples_``, ``trace_`` (training error).
    """

    m: int = 1024
    activation: str = "relu"
    ridge: float = 1e-3
    bias: float = 1.0
    seed: int = 0
    chunk: int | None = None

    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "m": "number of random features (≳ n to approximate the limiting kernel)",
        "activation": "feature map: 'relu', 'tanh' or 'cos' (random Fourier features, Rahimi "
                      "& Recht 2007)",
        "ridge": "ridge λ of (ΦᵀΦ + nλI)a = Φᵀ(y − ȳ)",
        "bias": "standard deviation of b_j for relu/tanh",
        "seed": "feature draw; replica j uses (seed, j)",
        "chunk": "samples per replica per chunk (None: 16M numbers)",
    }
    constraints: ClassVar[dict] = {
        "m": (Int(1),),
        "activation": (Options(*FEATURE_MAPS),),
        "ridge": (Real(0),),
        "bias": (Real(0),),
        "seed": (Int(0),),
        "chunk": (Int(1), None),
    }
    width_parameter: ClassVar[str | None] = "m"

    @classmethod
    def cost(cls, hyper, d, n, replicas, r=1):
        """The features of a chunk and the ``m×m`` Gram matrix
        (:mod:`indexlab.learners.costs`)."""
        return random_features_cost(with_defaults(cls, hyper), d, n, replicas)

    def _width(self, d: int) -> int:
        return self.m + d

    def features(self, X: torch.Tensor) -> torch.Tensor:
        """``φ(X)``: ``(R, n, m)`` for ``X (R, n, d)`` (the fixed random feature map)."""
        pre = X @ self.weights_.transpose(-1, -2) + self.biases_[:, None, :]
        return FEATURE_MAPS[self.activation](pre) / math.sqrt(self.m)

    def _predict_block(self, X: torch.Tensor) -> torch.Tensor:
        return (self.features(X) @ self.coef_[..., None])[..., 0]

    def fit(self, data, y=None, *, n: int | None = None) -> RandomFeatures:
        """Fit on a target with a sample budget ``n`` or on a dataset ``X (n, d)`` /
        ``(R, n, d)``, ``y (n,)`` / ``(R, n)``, torch or numpy (one pass)."""
        self.validate()
        source = chunked_source(data, y, n, self.chunk, extra=self.m)
        R, d = source.replicas, source.d
        W, b = [], []
        for j in replica_ids(source):
            g = replica_generator(self.seed, j, 11)
            W.append(torch.randn(self.m, d, generator=g, dtype=torch.float64) / math.sqrt(d))
            if self.activation == "cos":
                b.append(2 * math.pi * torch.rand(self.m, generator=g, dtype=torch.float64))
            else:
                b.append(self.bias * torch.randn(self.m, generator=g, dtype=torch.float64))
        opts = {"dtype": source.dtype, "device": source.device}
        self.weights_, self.biases_ = torch.stack(W).to(**opts), torch.stack(b).to(**opts)
        G = torch.zeros(R, self.m, self.m, **opts)
        Phi_y, Phi_1 = torch.zeros(R, self.m, **opts), torch.zeros(R, self.m, **opts)
        Sy, Syy = torch.zeros(R, **opts), torch.zeros(R, **opts)
        y0 = None
        for Xc, yc in source.chunks:
            y0 = yc.mean(dim=1) if y0 is None else y0
            ys = yc - y0[:, None]
            Phi = self.features(Xc)
            G += Phi.transpose(-1, -2) @ Phi
            Phi_y += (ys[:, None, :] @ Phi)[:, 0]
            Phi_1 += Phi.sum(dim=1)
            Sy += ys.sum(dim=1)
            Syy += (ys * ys).sum(dim=1)
        N = source.n
        ybar = Sy / N
        h = Phi_y - ybar[:, None] * Phi_1  # Φᵀ(y − ȳ)
        coef = _ridge_solve(G, h, N * self.ridge)
        var = Syy / N - ybar**2
        train = (var - 2 * (coef * h).sum(-1) / N
                 + (coef[:, None, :] @ G @ coef[..., None])[:, 0, 0] / N)
        finite = torch.isfinite(coef).all(dim=1)
        self.coef_ = torch.where(finite[:, None], coef, math.nan)
        self.offset_ = y0 + ybar
        self.diverged_ = ~finite
        self.samples_ = N
        self._mark_fitted(R, source.squeeze, source.device, source.d)
        self.trace_ = Trace()
        self.trace_.record(N, train_error=train / var.clamp_min(torch.finfo(var.dtype).tiny))
        return self


def kernel_matrix(
    kernel: str, A: torch.Tensor, B: torch.Tensor, bandwidth: float, degree: int = 2
) -> torch.Tensor:
    """``k(a_i, b_j)``: ``(R, p, q)`` for ``A (R, p, d)``, ``B (R, q, d)`` (module docstring)."""
    inner = A @ B.transpose(-1, -2)
    if kernel == "poly":
        return (1.0 + inner / bandwidth**2) ** degree
    na, nb = A.pow(2).sum(-1), B.pow(2).sum(-1)
    if kernel == "arccos":
        norms = (na[..., :, None] * nb[..., None, :]).sqrt()
        cos = (inner / norms.clamp_min(torch.finfo(A.dtype).tiny)).clamp(-1.0, 1.0)
        angle = torch.arccos(cos)
        return norms * (torch.sin(angle) + (math.pi - angle) * cos) / (2 * math.pi * bandwidth**2)
    sq = (na[..., :, None] + nb[..., None, :] - 2 * inner).clamp_min(0.0)
    if kernel == "rbf":
        return torch.exp(-sq / (2 * bandwidth**2))
    return torch.exp(-sq.sqrt() / bandwidth)


@dataclass
class KernelRidge(FixedFeatureLearner):
    """Kernel ridge regression (module docstring). Keeps its training set.

    Hyperparameters: ``kernel`` (``rbf``, ``laplace``, ``poly``, ``arccos``), ``ridge ≥ 0``
    (default ``1e-3``), ``bandwidth`` ``ℓ > 0`` (default ``√d``), ``degree`` of ``poly``
    (default 2), ``chunk`` (samples per replica per chunk while collecting a target's data).

    Fitted: ``dual_coef_ (R, n)``, ``offset_ (R,)``, ``X_fit_ (R, n, d)``, ``diverged_``,
    ``samples_``, ``trace_`` (training error).
    """

    kernel: str = "rbf"
    ridge: float = 1e-3
    bandwidth: float | None = None
    degree: int = 2
    chunk: int | None = None

    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "kernel": "'rbf', 'laplace', 'poly' or 'arccos' (Cho & Saul 2009, the ReLU limit)",
        "ridge": "ridge λ of (K + nλI)α = y − ȳ",
        "bandwidth": "length ℓ; None: √d (so that ‖x − x'‖²/ℓ² ≈ 2)",
        "degree": "degree of 'poly'",
        "chunk": "samples per replica per chunk while collecting a target's data",
    }
    @classmethod
    def cost(cls, hyper, d, n, replicas, r=1):
        """The training set and three ``n×n`` kernel matrices
        (:mod:`indexlab.learners.costs`)."""
        return kernel_ridge_cost(d, n, replicas)

    constraints: ClassVar[dict] = {
        "kernel": (Options(*KERNELS),),
        "ridge": (Real(0),),
        "bandwidth": (Real(0, closed="neither"), None),
        "degree": (Int(1),),
        "chunk": (Int(1), None),
    }

    def _width(self, d: int) -> int:
        return self.X_fit_.shape[1] + d

    def _predict_block(self, X: torch.Tensor) -> torch.Tensor:
        K = kernel_matrix(self.kernel, X, self.X_fit_, self.bandwidth_, self.degree)
        return (K @ self.dual_coef_[..., None])[..., 0]

    def fit(self, data, y=None, *, n: int | None = None) -> KernelRidge:
        """Fit on a target with a sample budget ``n`` or on a dataset ``X (n, d)`` /
        ``(R, n, d)``, ``y (n,)`` / ``(R, n)`` (torch or numpy)."""
        self.validate()
        source = data_source(data, y, n, self.chunk)
        Xs, ys = zip(*source.chunks, strict=True)
        X, yy = torch.cat(Xs, dim=1), torch.cat(ys, dim=1)
        N = X.shape[1]
        self.bandwidth_ = self.bandwidth if self.bandwidth is not None else math.sqrt(source.d)
        ybar = yy.mean(dim=1)
        yc = yy - ybar[:, None]
        K = kernel_matrix(self.kernel, X, X, self.bandwidth_, self.degree)
        alpha = _ridge_solve(K, yc, N * self.ridge)
        finite = torch.isfinite(alpha).all(dim=1)
        residual = yc - (K @ alpha[..., None])[..., 0]
        var = yc.pow(2).mean(dim=1).clamp_min(torch.finfo(yc.dtype).tiny)
        self.X_fit_ = X
        self.dual_coef_ = torch.where(finite[:, None], alpha, math.nan)
        self.offset_ = ybar
        self.diverged_ = ~finite
        self.samples_ = N
        self._mark_fitted(source.replicas, source.squeeze, source.device, source.d)
        self.trace_ = Trace()
        self.trace_.record(N, train_error=residual.pow(2).mean(dim=1) / var)
        return self
