"""Layer-wise gradient descent for multi-index models, its power-iteration reading, and the
one-step baseline (docs/algorithms.md §7).

Zhang, Wang, Fu, Lee, *Neural Networks Learn Generic Multi-Index Models Near
Information-Theoretic Limit* (ICLR 2026): for ``y = g(Ux)``, ``U ∈ R^{r×d}``, a two-layer
network trained layer-wise recovers ``span(Uᵀ)`` with ``Õ(d)`` samples when the first layer is
trained for a super-constant number of steps. The algorithm (docs/algorithms.md §7.1):

* symmetric initialisation: ``w_j = w_{j+m/2} = ε0 v_j`` (``v_j`` uniform on the sphere),
  ``a_j = +a0``, ``a_{j+m/2} = −a0``, ``b = 0``, so ``f_Θ ≡ 0``; ``σ`` with ``σ'(0) = 0``,
  ``σ''(0) = 1`` (default ``log cosh``);
* stage 1: ``T1`` steps of full-batch GD on ``W`` only, with weight decay ``β1``:
  ``w_j ← w_j − η1 (∇_{w_j} L̂_{D1} + β1 w_j)``, ``L̂ = (1/n1) Σ ℓ(f_Θ(x_i) + t0, y_i)``;
  ``t0`` is a fixed output offset with ``Σ_i ℓ'(t0, y_i) = 0`` (the centring of
  docs/algorithms.md §7.1, ``center=True``), so the isotropic part of the gradient vanishes;
* stage 2: biases redrawn ``b ~ N(0, 1)``, rows normalised, ``W`` frozen, the output layer
  fitted by ridge on a fresh dataset ``D2`` (closed form, ridge chosen on a validation split).

Why stage 1 is power iteration (docs/algorithms.md §7.2): while ``‖w_j‖`` is small, ``f_Θ ≈ 0`` and
``σ'(u) ≈ u``, so ``∇_{w_j} L̂ ≈ (a_j/m) Σ̂_ℓ w_j`` with ``Σ̂_ℓ = (1/n) Σ_i ℓ'(t0, y_i) x_i x_iᵀ``
and the step is ``w_j ← ((1 − η1β1) I − η1 (a_j/m) Σ̂_ℓ) w_j``. With the default
``η1β1 = 1`` and ``η1 a0/m = 1/‖Σ̂_ℓ‖_op`` every neuron runs exactly ``w ← ∓Σ̂_ℓ w/‖Σ̂_ℓ‖`` —
:class:`PowerIteration` is the explicit counterpart. ``Σ̂_ℓ = Uᵀ S U + E`` with ``S`` the
``r × r`` signal (eigenvalues ``λ_k``) and ``E`` Wigner-like noise of edge ``2s``,
``s = sqrt(E[ψ²] d/n1)``; ``T1 ≳ log(d/r)/(2 log ρ)``, ``ρ = min|λ_k|/(2s)``, steps are needed
to suppress the noise, and ``T1 = o(log d)`` keeps the weakest direction (attenuated by
``κ^{−T1}``) alive. Default ``T1 = ⌈log(d/r)/(2 log ρ̂)⌉ + 1`` with ``ρ̂`` from the spectrum of
``Σ̂_ℓ`` (top ``r`` |eigenvalues| against the bulk edge ``2ŝ``), clipped to
``[2, ⌈√(log d)⌉ + 4]`` (docs/algorithms.md §7.3).

:class:`OneStepGD` (Damian, Lee, Soltanolkotabi, COLT 2022; docs/algorithms.md §7.5): labels
preprocessed ``y ← y − ᾱ − β̂·x`` (constant and linear Hermite parts removed), ReLU, unit-norm
symmetric init with biases ``N(0,1)``, one step with ``η1 β1 = 1`` (the init is erased,
``w_j ∝ Ĥ v_j``), then the same second stage: the ``Θ̃(d²)``-sample baseline, i.e. the ``T1 = 1``
point of the same family.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from sklearn.base import RegressorMixin, TransformerMixin

import indexlab.learners.conditional as conditional
from indexlab.learners.base import InstanceFlag, Learner, Trace, as_replicated
from indexlab.learners.constraints import Bool, InstanceOf, Int, Options, Real
from indexlab.learners.costs import conditional_layerwise_cost, layerwise_cost, with_defaults
from indexlab.metrics import max_overlap, subspace_distance, top_subspace
from indexlab.nn import (
    ACTIVATIONS,
    LOSSES,
    Activation,
    Loss,
    Network,
    get_activation,
    get_loss,
    ridge_fit,
)
from indexlab.seeding import replica_generator
from indexlab.targets import Target

LAYERWISE_STAGE_TWO_RIDGES = (1e-4, 1e-3, 1e-2, 1e-1)  # candidates of the output-layer ridge
CONDITIONAL_NOTE = ("engine='conditional' (exact Gaussian conditioning, docs/conditional.md) "
                    "has no d-dimensional directions_ or network_, and no predict or "
                    "transform: subspace_ is a d-dimensional representative with the exact "
                    "law (the fitted components along U, a Haar frame with the fitted Gram "
                    "orthogonal to it), and the test error is that of reduced_network_ on "
                    "fresh samples of the target's law, not on its fixed test set")


def output_offset(y: torch.Tensor, loss, iters: int = 60) -> torch.Tensor:
    """``t0`` per replica with ``mean_i ℓ'(t0, y_i) = 0`` (bisection; ``ℓ'`` increasing in t)."""
    lo = y.min(dim=1).values - 1.0
    hi = y.max(dim=1).values + 1.0
    for _ in range(iters):
        mid = (lo + hi) / 2
        up = loss.grad(mid.unsqueeze(1).expand_as(y), y).mean(dim=1) > 0
        hi = torch.where(up, mid, hi)
        lo = torch.where(up, lo, mid)
    return (lo + hi) / 2


def label_matrix_matvec(X: torch.Tensor, rho: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """``Σ̂ V`` for ``Σ̂ = (1/n) Σ_i ρ_i x_i x_iᵀ`` without forming it: ``Xᵀ diag(ρ) X V / n``.

    ``X (R, n, d)``, ``ρ (R, n)``, ``V (R, d, k)`` → ``(R, d, k)``; cost ``O(n d k)``.
    """
    return X.transpose(1, 2) @ (rho.unsqueeze(-1) * (X @ V)) / X.shape[1]


EXPLICIT_SPECTRUM_MAX_D = 1024  # up to here Σ̂ is formed: n d² in one product beats 30 passes


def spectrum_estimate(X, rho, r: int, iters: int = 30, seed: int = 0):
    """Top-``(r+4)`` |eigenvalues| of ``Σ̂``: exact from the formed ``Σ̂`` (``(R, d, d)``,
    one ``n d²`` product, compute-bound) for ``d ≤ 1024``, else by block subspace iteration
    (``iters`` memory-bound passes of ``O(n d r)``)."""
    R, n, d = X.shape
    k = min(d, r + 4)
    if d <= EXPLICIT_SPECTRUM_MAX_D:
        S = X.transpose(1, 2) @ (rho.unsqueeze(-1).to(X.dtype) * X) / n
        values = torch.linalg.eigvalsh(((S + S.transpose(1, 2)) / 2).to(torch.float64))
        return values.abs().sort(dim=1, descending=True).values[:, :k].to(X.dtype)
    g = torch.Generator().manual_seed(seed)
    V = torch.randn(R, d, k, generator=g, dtype=torch.float64).to(X.device, X.dtype)
    for _ in range(iters):
        V, _ = torch.linalg.qr(label_matrix_matvec(X, rho, V))
    H = V.transpose(1, 2) @ label_matrix_matvec(X, rho, V)
    return torch.linalg.eigvalsh((H + H.transpose(1, 2)) / 2).abs().sort(dim=1,
                                                                         descending=True).values


def default_t1(X, rho, r: int, eig: torch.Tensor | None = None) -> int:
    """``⌈log(d/r)/(2 log ρ̂)⌉ + 1`` clipped to ``[2, ⌈√log d⌉ + 4]`` (median over the
    replicas with data: a zeroed replica does not vote).

    ``ρ̂ = |λ_r| / (2 ŝ)`` with the bulk edge ``2ŝ``, ``ŝ = sqrt(mean ρ_i² · d/n)``; ``eig``:
    the :func:`spectrum_estimate` of ``(X, ρ, r)`` when the caller already has it.
    """
    eig = spectrum_estimate(X, rho, r) if eig is None else eig
    return t1_from_spectrum(eig, rho, X.shape[1], X.shape[2], r)


def t1_from_spectrum(eig: torch.Tensor, rho: torch.Tensor, n: int, d: int, r: int) -> int:
    """:func:`default_t1` from the top |eigenvalues| ``eig (R, ≥ r)`` of ``Σ̂`` and ``ρ``
    (``n`` samples, dimension ``d``): the formula without the data matrix."""
    edge = 2 * torch.sqrt((rho.to(torch.float64) ** 2).mean(dim=1) * d / n)
    ratio = torch.nan_to_num(eig[:, r - 1].to(torch.float64) / edge, nan=1.0, posinf=1e6)
    ratio = ratio.clamp_min(1.0 + 1e-6)  # no signal above the bulk: the upper clip applies
    t1 = torch.ceil(math.log(max(d / r, 2.0)) / (2 * torch.log(ratio))) + 1
    live = edge > 0  # a zeroed (diverged) replica has no spectrum: it does not vote
    t1 = t1[live.to(t1.device)] if bool(live.any()) else t1
    upper = math.ceil(math.sqrt(math.log(d))) + 4
    return int(t1.median().clamp(2, upper))


@dataclass
class LayerwiseGD(TransformerMixin, RegressorMixin, Learner):
    """Layer-wise GD (see the module docstring). Hyperparameters, ``None`` = default:

    r: subspace dimension to report (default: the target's when fitting a target, else 1;
    the value used is ``r_``);
    width: even number of neurons ``m`` (default 512); activation (default ``logcosh``);
    loss: stage-1 loss (``huber`` δ = 1, or any of :mod:`indexlab.nn`); t1: steps ``T1``;
    init_scale ``ε0`` (1e-3); lr ``η1`` (default ``m/(a0 ‖Σ̂‖_op)``); weight_decay ``β1``
    (default ``1/η1``); center: fit the offset ``t0``; n1_fraction: share of ``n`` for stage 1
    (rest for stage 2); preprocess: ``"none"``, ``"dls"`` (remove the constant and linear
    parts of ``y``, as in DLS22) or ``"square"`` (stage 1 on ``y²``, an even label transform;
    stage 2 still fits ``y``); stage1_bias: ``"zero"`` or ``"normal"``; seed;
    engine: ``"full"`` or ``"conditional"`` (exact Gaussian conditioning, targets only, no
    ``d``-dimensional weights: :meth:`_fit_conditional`, docs/conditional.md).
    """

    r: int | None = None
    width: int = 512
    activation: str = "logcosh"
    loss: str = "huber"
    t1: int | None = None
    init_scale: float = 1e-3
    lr: float | None = None
    weight_decay: float | None = None
    center: bool = True
    n1_fraction: float = 0.5
    preprocess: str = "none"
    stage1_bias: str = "zero"
    seed: int = 0
    engine: str = "full"

    engines: ClassVar[tuple[str, ...]] = ("full", "conditional")
    constraints: ClassVar[dict] = {
        "r": (Int(1), None),
        "width": (Int(2, even=True),),
        "activation": (Options(*ACTIVATIONS), InstanceOf(Activation)),
        "loss": (Options(*LOSSES), InstanceOf(Loss)),
        "t1": (Int(1), None),
        "init_scale": (Real(0, closed="neither"),),
        "lr": (Real(), None),
        "weight_decay": (Real(), None),
        "center": (Bool(),),
        "n1_fraction": (Real(0, 1, closed="neither"),),
        "preprocess": (Options("none", "dls", "square"),),
        "stage1_bias": (Options("zero", "normal"),),
        "seed": (Int(0),),
        "engine": (Options("full", "conditional"),),
    }
    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "r": "subspace dimension reported (subspace_); None: the target's r, else 1",
        "width": "even number of neurons m (symmetric pairs; docs/algorithms.md §7.1)",
        "activation": "σ with σ'(0) = 0, σ''(0) = 1 for stage 1 (logcosh; "
                      "docs/algorithms.md §7.3)",
        "loss": "stage-1 loss of indexlab.nn.LOSSES (huber, δ = 1)",
        "t1": "stage-1 GD steps T1; None: ⌈log(d/r)/(2 log ρ̂)⌉ + 1, clipped "
              "(docs/algorithms.md §7.3)",
        "init_scale": "ε0 of the symmetric initialisation w_j = ε0 v_j",
        "lr": "stage-1 step η1; None: m/(a0 ‖Σ̂‖_op) (pure power iteration)",
        "weight_decay": "β1; None: 1/η1 (the init is erased every step)",
        "center": "fit the output offset t0 with Σ ℓ'(t0, y_i) = 0",
        "n1_fraction": "share of the budget for stage 1 (the rest for stage 2)",
        "preprocess": "labels for stage 1: 'none', 'dls' (remove constant and linear parts, "
                      "Damian et al. 2022) or 'square' (y²)",
        "stage1_bias": "stage-1 biases: 'zero' or 'normal' N(0, 1)",
        "seed": "initialisation and stage-2 biases; replica j uses (seed, j)",
        "engine": "'full' (the d-dimensional network) or 'conditional' (exact Gaussian "
                  "conditioning: targets only, cost independent of d; docs/conditional.md)",
    }
    predicts = InstanceFlag(True, lambda self: self.engine != "conditional")
    learns_directions = InstanceFlag(True, lambda self: self.engine != "conditional")
    estimates_subspace: ClassVar[bool] = True
    stage_budgets: ClassVar[bool] = True
    width_parameter: ClassVar[str | None] = "width"
    theory_key: ClassVar[str | None] = "layerwise"

    def __sklearn_tags__(self):
        """scikit-learn's tags, with ``poor_score``: stage 1 is power iteration on
        ``Σ̂ = (1/n) Σ ℓ'(t0, y_i) x_i x_iᵀ``, which sees only the second-order part of the
        link (module docstring): a linear link, as in scikit-learn's R² check, is invisible
        to it by design."""
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags

    @classmethod
    def cost(cls, hyper, d, n, replicas, r=1):
        """Full batch, both stages: the dataset, Σ̂, the stage-2 features; with
        ``engine="conditional"`` the revealed products ``R·n₁·m(2T1 + 1)``, with no term in
        ``d`` (:mod:`indexlab.learners.costs`)."""
        h = with_defaults(cls, hyper)
        if h.get("engine") == "conditional":
            return conditional_layerwise_cost(h, d, n, replicas, r)
        return layerwise_cost(h, d, n, replicas, r)

    def _validate_combination(self) -> None:
        """``engine`` must be one of the class's ``engines``; ``engine="conditional"``
        (docs/conditional.md, section 8) supports every other hyperparameter value (any
        loss, activation, ``preprocess``, ``stage1_bias``, constant ``lr``), and a fit on a
        target only (checked by :meth:`fit`)."""
        if self.engine not in self.engines:
            raise ValueError(f"engine={self.engine!r} is not available for "
                             f"{type(self).__name__}: it has engine "
                             f"{' or '.join(repr(e) for e in self.engines)}")

    # -------------------------------------------------------------- data
    def _budgets(self, y, n, n1, n2) -> tuple[int, int]:
        """``(n1, n2)`` of a fit on a target."""
        if y is not None:
            raise ValueError("fit(target, ...) takes budgets n= or n1=/n2=, not labels")
        if n1 is None or n2 is None:
            if n is None:
                raise ValueError("fit(target) needs a sample budget: n=... or n1=, n2=")
            n1 = n1 if n1 is not None else int(self.n1_fraction * n)
            n2 = n2 if n2 is not None else n - n1
        for name, v in (("n1", n1), ("n2", n2)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}={v!r} is not allowed: use an int >= 1")
        return n1, n2

    def _data(self, data, y, n, n1, n2):
        """``(X1, y1), (X2, y2), squeeze, target``: stage-1 and stage-2 datasets."""
        if isinstance(data, Target):
            n1, n2 = self._budgets(y, n, n1, n2)
            X1, y1 = data.sample(n1)
            X2, y2 = data.sample(n2)
            if data.squeeze:
                X1, y1, X2, y2 = X1[None], y1[None], X2[None], y2[None]
            return (X1, y1), (X2, y2), data.squeeze, data
        if y is None:
            raise ValueError("fit(X) needs labels: fit(X, y), or fit(target, n=...)")
        X, yy, squeeze = as_replicated(data, y)
        total = X.shape[1]
        n1 = n1 if n1 is not None else int(self.n1_fraction * total)
        if not 1 <= n1 < total:
            raise ValueError(f"n1={n1} is not allowed: use 1 <= n1 < n = {total}")
        return (X[:, :n1], yy[:, :n1]), (X[:, n1:], yy[:, n1:]), squeeze, None

    # -------------------------------------------------------------- stage 1
    def _init(self, R, d, dtype, device, replica_ids):
        half = self.width // 2
        V = torch.stack([torch.randn(half, d, generator=replica_generator(self.seed, j, 2),
                                     dtype=torch.float64) for j in replica_ids])
        V = V / V.norm(dim=-1, keepdim=True)
        W = torch.cat([V, V], dim=1) * self.init_scale
        a = torch.cat([torch.ones(R, half), -torch.ones(R, half)], dim=1).to(torch.float64)
        if self.stage1_bias == "normal":
            b_half = torch.stack([torch.randn(half, generator=replica_generator(self.seed, j, 3),
                                              dtype=torch.float64) for j in replica_ids])
            b = torch.cat([b_half, b_half], dim=1)
        else:
            b = torch.zeros(R, self.width, dtype=torch.float64)
        return (W.to(device, dtype), a.to(device, dtype), b.to(device, dtype))

    def _labels(self, X, y):
        if self.preprocess == "square":  # an even label transform: y ↦ y²
            return y * y
        if self.preprocess == "dls":
            beta = (y.unsqueeze(-1) * X).mean(dim=1)  # β̂ = (1/n) Σ y_i x_i
            return y - y.mean(dim=1, keepdim=True) - (X @ beta.unsqueeze(-1)).squeeze(-1)
        return y

    def _prepare(self, X, y, replica_ids, loss, r: int):
        """Transformed labels, symmetric init, offset ``t0``, ``ρ_i = ℓ'(t0, y_i)``, ``T1``
        and ``spectrum()``: the top |eigenvalues| of ``Σ̂``, computed once, on first use."""
        R, _, d = X.shape
        y = self._labels(X, y)
        W, a, b = self._init(R, d, X.dtype, X.device, replica_ids or tuple(range(R)))
        t0 = (output_offset(y, loss) if self.center
              else torch.zeros(R, dtype=X.dtype, device=X.device))
        rho = loss.grad(t0.unsqueeze(1).expand_as(y), y)  # ℓ'(t0, y_i): the label transform
        spectrum = functools.cache(lambda: spectrum_estimate(X, rho, r))
        t1 = self.t1 if self.t1 is not None else default_t1(X, rho, r, spectrum())
        return y, W, a, b, t0, rho, t1, spectrum

    def stage_one(self, X: torch.Tensor, y: torch.Tensor, replica_ids=None,
                  reference: torch.Tensor | None = None, r: int | None = None):
        """Run stage 1 on ``X (R, n1, d)``, ``y (R, n1)``; returns ``(W, a, b, offset)``.

        ``r`` (default ``self.r``, else 1) sets the default ``T1``. Records
        ``self.distance_trace_`` (subspace distance after each step) when ``reference``
        (``(R, r, d)``) is given.
        """
        R = X.shape[0]
        act, loss = get_activation(self.activation), get_loss(self.loss)
        r = r or self.r or 1
        y, W, a, b, t0, _, t1, spectrum = self._prepare(X, y, replica_ids, loss, r)
        if self.lr is None:
            top = spectrum()[:, 0].clamp_min(1e-12)
            lr = (self.width / top).to(X.dtype)  # η1 a0 / m = 1/‖Σ̂‖ per replica (a0 = 1)
        else:
            lr = torch.full((R,), float(self.lr), dtype=X.dtype, device=X.device)
        decay = (1.0 / lr) if self.weight_decay is None else torch.full_like(lr,
                                                                             self.weight_decay)
        net = Network(W=W, a=a, b=b, activation=act, offset=t0)
        self.distance_trace_ = []
        for _ in range(t1):
            dW = _full_batch_gradients(net, X, y, loss)
            net.W = net.W - lr[:, None, None] * (dW + decay[:, None, None] * net.W)
            if reference is not None:
                self.distance_trace_.append(subspace_distance(
                    top_subspace(net.W, reference.shape[1]), reference.to(net.W)).cpu())
        self.hyper_ = {"t1": t1, "lr": float(lr.mean()), "weight_decay": float(decay.mean()),
                       "activation": act.name, "loss": loss.name, "width": self.width}
        return net.W, a, b, t0

    # -------------------------------------------------------------- fit
    def fit(self, data, y=None, *, n: int | None = None, n1: int | None = None,
            n2: int | None = None):
        """Fit on a target (budget ``n`` split by ``n1_fraction``, or ``n1``/``n2``) or on a
        dataset ``X (n, d)`` / ``(R, n, d)``, ``y (n,)`` / ``(R, n)``, torch or numpy (its
        first ``n1`` samples for stage 1, the rest for stage 2). Returns ``self``."""
        self.validate()
        if self.engine == "conditional":
            return self._fit_conditional(data, y, n, n1, n2)
        (X1, y1), (X2, y2), squeeze, target = self._data(data, y, n, n1, n2)
        self.r_ = self.r if self.r is not None else (target.r if target is not None else 1)
        reference = target.directions.to(X1.device) if target is not None else None
        ids = target.replica_ids if target is not None else tuple(range(X1.shape[0]))
        # a replica with a NaN/inf sample is diverged from the start: its data are zeroed so
        # that the batched spectra and solves of the others run (its weights come out NaN)
        bad = ~(_finite_rows(X1, y1) & _finite_rows(X2, y2))
        if bool(bad.any()):
            X1, y1, X2, y2 = (torch.where(bad.view(-1, *[1] * (t.ndim - 1)), 0.0, t)
                              for t in (X1, y1, X2, y2))
        W, _, _, _ = self.stage_one(X1, y1, ids, reference, r=self.r_)
        W = torch.where(bad[:, None, None], math.nan, W)
        diverged = ~torch.isfinite(W).all(dim=2).all(dim=1)
        self.network_ = self._stage_two(W, diverged, X2, y2, ids)
        self.directions_ = W
        self.subspace_ = top_subspace(torch.where(diverged[:, None, None], 0.0, W), self.r_)
        self.diverged_ = diverged
        self.samples_ = X1.shape[1] + X2.shape[1]
        self._mark_fitted(X1.shape[0], squeeze, X1.device, X1.shape[2])
        self.trace_ = Trace()
        if reference is not None:
            U = reference.to(self.subspace_)
            values = {"subspace_distance": subspace_distance(self.subspace_, U)}
            if U.shape[1] == 1:
                values["overlap"] = max_overlap(W, U[:, 0])
            self.trace_.record(self.samples_, **values)
        return self

    # -------------------------------------------------------------- engine = "conditional"
    def _fit_conditional(self, data, y, n, n1, n2):
        """``engine="conditional"`` (docs/conditional.md): both stages and the test error from
        the latents ``z = U x`` and the Gram form, never forming ``X (n, d)``.

        Stage 1: :func:`~indexlab.learners.conditional.stage_one` on ``(Z1, y1)`` gives
        ``[W∥, C]``, the law of ``W`` in the basis ``[Uᵀ, V]``. Stage 2: rows normalised,
        ``w_j/‖w_j‖`` with ``‖w_j‖² = ‖w∥_j‖² + ‖c_j‖²``; on fresh samples
        ``X₂ Wᵀ = Z₂ W∥ᵀ + Ξ R_c`` with ``R_cᵀ R_c = C Cᵀ`` and ``Ξ (n₂ × m')`` fresh
        i.i.d. ``N(0, 1)`` (:func:`~indexlab.learners.conditional.fresh_preactivations`), so
        the ridge features ``σ(X₂ Wᵀ + b)`` have exactly the full engine's law. The fitted
        network acts on the reduced input ``(z, ξ) ∈ R^{r + m'}`` with weights
        ``[W∥, R_cᵀ]`` (``reduced_network_``); the test error is its error on fresh
        ``(z, ξ ~ N(0, I))`` with the target's labels: the law of the full network's test
        error on fresh ``x``. Defaults of ``lr`` and ``T1`` from the deterministic
        equivalent of ``Σ̂``'s spectrum (:func:`~indexlab.learners.conditional.spectrum_equivalent`),
        not from ``Σ̂`` itself: docs/conditional.md, section 7."""
        if not isinstance(data, Target):
            raise ValueError("engine='conditional' fits a target (it draws the latents "
                             "z = U x and never forms X): fit(target, n=...); fit a dataset "
                             "with engine='full'")
        n1, n2 = self._budgets(y, n, n1, n2)
        d, ids = data.d, data.replica_ids
        self.r_ = self.r if self.r is not None else data.r
        Z1, y1 = data.sample_latents(n1)
        Z2, y2 = data.sample_latents(n2)
        bad = ~(torch.isfinite(y1).all(dim=1) & torch.isfinite(y2).all(dim=1))
        y1, y2 = (torch.where(bad[:, None], 0.0, t) for t in (y1, y2))
        act, loss = get_activation(self.activation), get_loss(self.loss)
        R, r = Z1.shape[0], data.r
        gen = replica_generator(self.seed, ids[0], 5)
        W_par, C, A = conditional.initial_neurons(Z1, self.width, d, self.init_scale, gen)
        B = None
        if self.preprocess == "dls":  # β̂ = Xᵀy/n: one more left product (conditional.dls_labels)
            labels, C, A, B = conditional.dls_labels(Z1, y1, C, A, B, d - r, gen)
        else:
            labels = y1 * y1 if self.preprocess == "square" else y1
        t0 = (output_offset(labels, loss) if self.center
              else torch.zeros(R, dtype=Z1.dtype, device=Z1.device))
        rho = loss.grad(t0.unsqueeze(1).expand_as(labels), labels)
        spectrum = functools.cache(lambda: conditional.spectrum_equivalent(Z1, rho, d))
        t1 = self.t1 if self.t1 is not None else t1_from_spectrum(spectrum(), rho, n1, d,
                                                                  self.r_)
        W_par, C, diverged = self._conditional_steps(
            Z1, labels, d, (W_par, C, A, B), t1=t1, offset=t0, rho=rho, spectrum=spectrum,
            act=act, loss=loss, bias=self._conditional_bias(ids, Z1), generator=gen)
        diverged = diverged | bad
        self.hyper_["engine"] = "conditional"
        self.distance_trace_ = []
        U = data.directions.to(torch.float64)
        self.subspace_ = self._representative_subspace(W_par, C, U, self.r_, gen)
        distance = subspace_distance(self.subspace_.to(torch.float64), U)
        # stage 2 on fresh samples, in the reduced coordinates (z, ξ)
        norm = (W_par.pow(2).sum(-1) + C.pow(2).sum(-1)).sqrt().clamp_min(1e-30).unsqueeze(-1)
        Wn_par, Rc = W_par / norm, conditional.gram_factor(C / norm)
        b = torch.stack([torch.randn(self.width, generator=replica_generator(self.seed, j, 4),
                                     dtype=torch.float64) for j in ids]).to(Z1)
        pre = conditional.fresh_preactivations(Z2, Wn_par, Rc, gen) + b.unsqueeze(1)
        coef, offset, _ = ridge_fit(act(pre), torch.where(diverged[:, None], 0.0, y2),
                                    LAYERWISE_STAGE_TWO_RIDGES)
        coef = torch.where(diverged[:, None], math.nan, coef)
        self.reduced_network_ = Network(W=torch.cat([Wn_par, Rc.transpose(1, 2)], dim=2),
                                        a=(coef * self.width).to(Z1.dtype), b=b,
                                        activation=act, offset=offset.to(Z1.dtype))
        self.network_ = None
        self.directions_ = None
        self.diverged_ = diverged
        self.samples_ = n1 + n2
        self._mark_fitted(R, data.squeeze, Z1.device, d)
        self.trace_ = Trace()
        values = {"subspace_distance": distance.to(Z1.dtype)}
        if r == 1 and self.r_ == 1:
            self.neuron_overlaps_ = Wn_par[:, :, 0]
            values["overlap"] = Wn_par[:, :, 0].abs().max(dim=1).values
        self.trace_.record(self.samples_, **values)
        return self

    def _conditional_bias(self, ids, like: torch.Tensor) -> torch.Tensor | None:
        """Stage-1 biases ``(R, m)`` as :meth:`_init` draws them (pairs equal), or ``None``."""
        if self.stage1_bias != "normal":
            return None
        half = torch.stack([torch.randn(self.width // 2, dtype=torch.float64,
                                        generator=replica_generator(self.seed, j, 3))
                            for j in ids])
        return torch.cat([half, half], dim=1).to(like)

    def _conditional_steps(self, Z, labels, d, state, *, t1, offset, rho, spectrum, act,
                           loss, bias, generator):
        """Stage 1 in conditional form (:func:`~indexlab.learners.conditional.iterate`):
        ``T1`` steps of ``W ← W − η1 (∇_W L̂ + β1 W)``, the gradient backpropagated from
        ``H = X Wᵀ`` (:func:`~indexlab.learners.conditional.backprop`); sets ``hyper_`` as
        :meth:`stage_one`. Returns ``(W∥, C, diverged)``."""
        R = Z.shape[0]
        if self.lr is None:
            lr = (self.width / spectrum()[:, 0].clamp_min(1e-12)).to(Z.dtype)
        else:
            lr = torch.full((R,), float(self.lr), dtype=Z.dtype, device=Z.device)
        decay = (1.0 / lr) if self.weight_decay is None else torch.full_like(lr,
                                                                             self.weight_decay)
        self.hyper_ = {"t1": t1, "lr": float(lr.mean()), "weight_decay": float(decay.mean()),
                       "activation": act.name, "loss": loss.name, "width": self.width}
        left = conditional.backprop(labels, offset, act, loss, self.width, bias)
        return conditional.iterate(Z, *state, d, t1, left, conditional.gd_step(lr, decay),
                                   generator)

    @staticmethod
    def _representative_subspace(W_par, C, U, rows, generator) -> torch.Tensor:
        """A ``d``-dimensional ``subspace_ (R, r', d)`` with the exact law of the full
        engine's: the top-``r'`` right singular rows of ``[W∥, C]`` are ``[P, Q]``
        (``P`` on ``U``, ``Q = L O`` on the explored frame, ``L`` its ``r' × r'``
        LQ factor); the law of ``W`` is invariant under rotations that fix ``U``, so
        ``P U + L F`` with ``F`` a Haar frame orthogonal to ``U`` has the law of the full
        estimate, and its principal angles to ``U`` are exactly those of ``[W∥, C]``."""
        from indexlab.metrics import top_subspace as top_rows

        r = W_par.shape[2]
        top = top_rows(torch.cat([W_par, C], dim=2).to(torch.float64), rows)
        P, Q = top[:, :, :r], top[:, :, r:]
        L = torch.linalg.qr(Q.transpose(1, 2), mode="r")[1].transpose(1, 2)  # Q = L O
        F = torch.randn(U.shape[0], L.shape[2], U.shape[2], generator=generator,
                        dtype=torch.float64)
        F = F - (F @ U.transpose(1, 2)) @ U
        F = F - (F @ U.transpose(1, 2)) @ U
        F = torch.linalg.qr(F.transpose(1, 2))[0].transpose(1, 2)
        return (P @ U + L @ F).to(W_par.dtype)

    def test_error(self, target: Target, n: int = 10_000) -> torch.Tensor:
        """Normalised test error ``mean (f̂ − y)²/Var y`` per replica on ``n`` test samples
        (``indexlab.metrics.prediction_mse``). With ``engine="conditional"``: on ``n`` fresh
        reduced inputs ``(z, ξ)`` (``fit`` docstring), the same law as the full network's
        error on fresh ``x``, but not the target's fixed test set."""
        from indexlab.metrics import prediction_mse

        self.check_fitted()
        if self.engine != "conditional":
            return prediction_mse(self.predict, target, n)
        Z, y = target.sample_latents(n, test=True)
        if Z.ndim == 2:
            Z, y = Z[None], y[None]
        net = self.reduced_network_
        g = replica_generator(self.seed, target.replica_ids[0], 6)
        Xi = torch.randn(Z.shape[0], Z.shape[1], net.W.shape[2] - Z.shape[2], generator=g,
                         dtype=torch.float64).to(Z)
        pred = net(torch.cat([Z, Xi], dim=2))
        err = (pred.to(y.dtype) - y).pow(2)
        mse = torch.where(torch.isfinite(err).all(dim=-1), err.mean(dim=-1),
                          torch.full_like(err[..., 0], math.inf))
        var = y.var(dim=-1)
        constant = var <= torch.finfo(y.dtype).eps * y.pow(2).mean(dim=-1)
        return torch.where(constant, math.nan, mse / var.clamp_min(torch.finfo(y.dtype).tiny))

    def fit_note(self) -> str | None:
        """With ``engine="conditional"``: no ``d``-dimensional weights (docs/conditional.md)."""
        return CONDITIONAL_NOTE if self.engine == "conditional" else None

    def _no_conditional(self, what: str) -> None:
        if self.engine == "conditional":
            raise ValueError(f"{what} needs the d-dimensional network; {CONDITIONAL_NOTE}")

    def _stage_two(self, W, diverged, X2, y2, ids) -> Network:
        m = W.shape[1]
        act = get_activation(self.activation)
        b = torch.stack([torch.randn(m, generator=replica_generator(self.seed, j, 4),
                                     dtype=torch.float64) for j in ids]).to(W)
        Wn = torch.where(diverged[:, None, None], 0.0, W)
        Wn = Wn / Wn.norm(dim=-1, keepdim=True).clamp_min(1e-30)
        Phi = act(torch.baddbmm(b.unsqueeze(1), X2.to(W.dtype), Wn.transpose(1, 2)))
        coef, offset, _ = ridge_fit(Phi, torch.where(diverged[:, None], 0.0, y2.to(W.dtype)),
                                    LAYERWISE_STAGE_TWO_RIDGES)
        coef = torch.where(diverged[:, None], math.nan, coef)
        return Network(W=Wn, a=(coef * m).to(W.dtype), b=b, activation=act,
                       offset=offset.to(W.dtype))

    def _unreplicated(self, out):
        return out[0] if self.squeeze_ else out

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """The fitted network ``f(X)``: ``(R, n)``, or ``(n,)`` for data fitted and given
        without a replica axis."""
        self._no_conditional("predict")
        Xr = X[None] if X.ndim == 2 else X
        return self._unreplicated(self.network_(Xr.to(self.directions_.dtype)))

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Projection of ``X (R, n, d)`` (or ``(n, d)``) on the estimated subspace:
        ``(R, n, r)`` (or ``(n, r)`` when fitted on data without a replica axis)."""
        self._no_conditional("transform")
        Xr = X[None] if X.ndim == 2 else X
        return self._unreplicated(Xr.to(self.subspace_.dtype) @ self.subspace_.transpose(1, 2))


def _finite_rows(X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(R,)``: replica ``j``'s samples ``X[j]``, labels ``y[j]`` are all finite."""
    return torch.isfinite(X).all(dim=2).all(dim=1) & torch.isfinite(y).all(dim=1)


def _full_batch_gradients(net: Network, X, y, loss, chunk: int = 4096):
    """``∇_W`` of the mean loss over the whole dataset (the ``dW`` of :func:`nn.gradients`),
    accumulated over sample chunks so temporaries stay ``(R, chunk, m)``."""
    n, m = X.shape[1], net.W.shape[1]
    dW = torch.zeros_like(net.W)
    for start in range(0, n, chunk):
        Xc, yc = X[:, start:start + chunk], y[:, start:start + chunk]
        pre = net.preactivations(Xc)
        f = (net.activation(pre) @ net.a.unsqueeze(-1)).squeeze(-1) / m
        f = f + net.offset.unsqueeze(-1)
        back = net.activation.df(pre) * (loss.grad(f, yc) / n).unsqueeze(-1)
        dW += back.transpose(1, 2) @ Xc
    # the second-layer factor a_j/m scales row j: applied once to (R, m, d), not per sample
    return dW.mul_((net.a / m).unsqueeze(-1))


@dataclass
class PowerIteration(LayerwiseGD):
    """The explicit counterpart of stage 1: ``Σ̂ = (1/n) Σ_i ℓ'(t0, y_i) x_i x_iᵀ`` and ``T1``
    steps of ``W ← (I + η Σ̂) W`` — or, with ``lr=None``, of pure power iteration
    ``W ← Σ̂ W / ‖Σ̂‖_op`` (the ``η1β1 = 1`` regime of :class:`LayerwiseGD`). Same
    initialisation, offset ``t0`` and second stage as :class:`LayerwiseGD`.

    ``engine="conditional"`` (docs/conditional.md, section 5): ``Σ̂ Wᵀ = Xᵀ G`` with
    ``G = diag(ρ) X Wᵀ/n``, the same reduction as layer-wise GD with a linear left factor
    (:meth:`_conditional_steps`); the default ``‖Σ̂‖_op`` then comes from the deterministic
    equivalent of the spectrum (section 7), which scales ``W`` only and so changes neither
    the subspace nor the normalised second stage."""

    theory_key: ClassVar[str | None] = None  # no prediction of its own

    def stage_one(self, X, y, replica_ids=None, reference=None, r=None):
        loss = get_loss(self.loss)
        y, W, a, b, t0, rho, t1, spectrum = self._prepare(X, y, replica_ids, loss,
                                                          r or self.r or 1)
        top = spectrum()[:, 0].clamp_min(1e-12).to(X.dtype)
        self.distance_trace_ = []
        for _ in range(t1):
            SW = label_matrix_matvec(X, rho, W.transpose(1, 2)).transpose(1, 2)
            W = SW / top[:, None, None] if self.lr is None else W + self.lr * SW
            if reference is not None:
                self.distance_trace_.append(subspace_distance(
                    top_subspace(W, reference.shape[1]), reference.to(W)).cpu())
        self.hyper_ = {"t1": t1, "lr": self.lr, "width": self.width, "loss": loss.name}
        return W, a, b, t0

    def _conditional_steps(self, Z, labels, d, state, *, t1, offset, rho, spectrum, act,
                           loss, bias, generator):
        """``T1`` steps of ``W ← W Σ̂/‖Σ̂‖`` (or ``W + η W Σ̂``) in conditional form:
        ``W Σ̂ = Gᵀ X`` with the left factor ``G = ρ ⊙ H/n``, ``H = X Wᵀ``
        (:func:`~indexlab.learners.conditional.iterate`)."""
        n = Z.shape[1]
        weight = (rho / n).unsqueeze(-1).to(Z)
        if self.lr is None:
            top = spectrum()[:, 0].clamp_min(1e-12).to(Z)[:, None, None]

            def update(W, P):
                return P / top
        else:
            def update(W, P):
                return W + self.lr * P
        self.hyper_ = {"t1": t1, "lr": self.lr, "width": self.width, "loss": loss.name}
        return conditional.iterate(Z, *state, d, t1, lambda H: weight * H, update, generator)


@dataclass
class OneStepGD(LayerwiseGD):
    """One large gradient step, then ridge (Damian, Lee, Soltanolkotabi 2022): ``T1 = 1``,
    ReLU, unit-norm init, biases ``N(0, 1)``, DLS label preprocessing, square loss.

    ``engine="conditional"`` (docs/conditional.md, section 5): the step of
    :class:`LayerwiseGD` with biases, and ``β̂ = Xᵀy/n`` of the DLS preprocessing revealed
    as one more left product (:func:`~indexlab.learners.conditional.dls_labels`)."""

    theory_key: ClassVar[str | None] = "one_step"

    activation: str = "relu"
    loss: str = "square"
    t1: int | None = 1
    init_scale: float = 1.0
    preprocess: str = "dls"
    stage1_bias: str = "normal"
    center: bool = False
