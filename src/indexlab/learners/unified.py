"""The unified gradient algorithm for single-index models and its sparse variant.

Chen, Wu, Lu, Yang, Wang, *Can Neural Networks Achieve Optimal Computational-statistical
Tradeoff? An Analysis on Single-Index Model* (arXiv 2606.15219, ICLR 2025): label
transformation + landscape smoothing reach ``Õ(d^{s*/2} ∨ d)`` samples, and a weight-perturbation
variant reaches ``Õ(k^{s*})`` for ``k``-sparse directions. The paper's Algorithm 1 was not
retrievable; this is the reconstruction "UNIFIED-SIM" of spec ``single-index.md`` §1.2 [D]:

* stage 1, all ``m`` neurons independently (``a_j ≡ 1``, ``b_j ≡ 0``), per fresh sample
  ``w ← normalise(w + η ψ P_w^⊥ x)`` with ``ψ = T(y) · D_λσ(⟨w,x⟩, ‖x‖² − ⟨w,x⟩²)``: the spherical
  gradient of the smoothed correlation loss ``−T(y) (L_λσ)(⟨w,x⟩)`` (:mod:`indexlab.smoothing`).
  ``T = ζ_s/λ_s`` is the optimal label transform at ``s = s*`` (spec §3.2), which turns the model
  into one of information exponent ``s*``; ``σ = h_{s*}``; ``λ = d^{1/4}`` when ``s* ≥ 3``
  (weak-recovery phase), ``0`` otherwise. Other losses ``ℓ`` give
  ``ψ = −ℓ'(σ(⟨w,x⟩), T(y)) σ'(⟨w,x⟩)`` (unsmoothed).
* the step is constant during the search phase, then decays (descent phase, ``λ = 0``):
  see :mod:`indexlab.learners.spherical`;
* stage 2: ReLU features with random biases, second layer by ridge on fresh samples.

Defaults (spec §1.4, scaling with ``d``): ``η_1 = c_η λ_s λ^{2s−2} d^{−s/2}`` (``s ≥ 3``),
``c_η λ_s/(d log d)`` (``s = 2``), ``c_η λ_s/d`` (``s = 1``), where ``λ_s = E[T(y) h_s(z)]``
(so the step scales with the signal, as the drift-versus-drag balance of §2.2 requires);
``m = 64``; half of the budget is spent in the search phase. The spec's ``L_1`` formula is a
scaling whose constant is not calibrated, so with a fixed budget we split it instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from indexlab import theory
from indexlab.hermite import hermite_h
from indexlab.learners import chain
from indexlab.learners.base import DataSource, Trace, as_replicated, data_source
from indexlab.learners.spherical import (
    RIDGES,
    Schedule,
    fit_second_layer,
    random_sphere,
    run_online,
    spherical_step,
)
from indexlab.links import Link, get_link
from indexlab.metrics import max_overlap
from indexlab.nn import Activation, get_activation, get_loss
from indexlab.smoothing import smoothed_hermite

Transform = Callable[[torch.Tensor], torch.Tensor]


def agnostic_transform(y: torch.Tensor, degree: int = 8, seed: int = 0) -> Transform:
    """Spec §1.2 stage 0: ``T(y) = τ(F̂(y))``, ``τ(u) = Σ_{l≤M} β_l P_l(2u − 1)``,
    ``β ~ N(0, I_M/M)``, with ``F̂`` the empirical CDF of held-out labels ``y`` of shape
    ``(R, n0)`` — one CDF per replica, so replicas stay independent.

    Bounded, needs no knowledge of the link; a random ``τ`` correlates with ``ζ_s`` almost surely.
    Each replica's result is centred and scaled to unit variance on its sample.
    """
    ys = torch.sort(y.to(torch.float64), dim=-1).values
    beta = torch.randn(degree, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64) / math.sqrt(degree)

    def raw(v: torch.Tensor) -> torch.Tensor:
        u = torch.searchsorted(ys, v.to(torch.float64).contiguous(), right=True) / ys.shape[-1]
        t = 2 * u - 1
        p_prev, p = torch.ones_like(t), t
        out = beta[0] * p
        for ell in range(1, degree):  # Legendre recurrence
            p_prev, p = p, ((2 * ell + 1) * t * p - ell * p_prev) / (ell + 1)
            out = out + beta[ell] * p
        return out

    ref = raw(ys)
    mean = ref.mean(dim=-1, keepdim=True)
    sd = ref.std(dim=-1, keepdim=True).clamp_min(1e-12)
    return lambda v: ((raw(v.to(ys.device)) - mean) / sd).to(v.device, v.dtype)


@dataclass
class SphericalSGD:
    """Common engine of :class:`Unified`, :class:`~indexlab.learners.online_sgd.OnlineSGD` and
    :class:`~indexlab.learners.online_sgd.SmoothedSGD` (they differ only in defaults).

    Hyperparameters (``None`` = the documented default, resolved at ``fit``):
        exponent: ``s*`` (Unified) or ``k*`` (online SGD) used for the defaults; taken from the
            target's link by :mod:`indexlab.theory` when fitting a target.
        label_transform: ``"optimal"`` (``ζ_s/λ_s`` of the link), ``"agnostic"`` (CDF + random
            Legendre), ``"identity"``, or a callable on label tensors.
        activation, loss: names from :mod:`indexlab.nn` (default ``h_s``, correlation loss).
        width: number of neurons ``m``. smoothing: ``λ`` (``"auto"``: ``d^{1/4}`` if ``s ≥ 3``).
        lr: search-phase per-sample step ``η_1``; lr_constant: ``c_η``.
        search_fraction: share of the budget in the search phase; decay: ``κ`` of the descent.
        batch: minibatch size ``B``; ridge_samples / ridge_fraction: second-stage data (fresh
            samples from a target, or the last fraction of a dataset); seed: initialisation.
        link: the link, for the optimal transform when fitting a plain dataset.
        engine: ``"full"`` (the d-dimensional network) or ``"chain"`` (the exact overlap
            chain of :mod:`indexlab.learners.chain`: the same law of the overlaps at a cost
            independent of ``d``; targets only, no ``directions_`` and no second layer).
    """

    engines: ClassVar[tuple[str, ...]] = ("full", "chain")

    exponent: int | None = None
    label_transform: str | Transform = "optimal"
    activation: str | None = None
    loss: str = "correlation"
    width: int = 64
    smoothing: float | str | None = "auto"
    lr: float | None = None
    lr_constant: float = 0.1
    search_fraction: float = 0.5
    decay: float = 0.5
    batch: int = 32
    ridge_samples: int = 10_000
    ridge_fraction: float = 0.2
    seed: int = 0
    link: str | Link | None = None
    engine: str = "full"
    exponent_kind: str = field(default="generative", repr=False)

    # ------------------------------------------------------------------ configuration
    def _check(self) -> None:
        checks = [
            ("width", self.width, isinstance(self.width, int) and self.width >= 1, "an int >= 1"),
            ("batch", self.batch, isinstance(self.batch, int) and self.batch >= 1, "an int >= 1"),
            ("search_fraction", self.search_fraction, 0 <= self.search_fraction <= 1,
             "a number in [0, 1]"),
            ("decay", self.decay, self.decay >= 0, "a number >= 0"),
            ("lr", self.lr, self.lr is None or self.lr > 0, "a number > 0 or None"),
            ("ridge_samples", self.ridge_samples, self.ridge_samples >= 0, "an int >= 0"),
            ("ridge_fraction", self.ridge_fraction, 0 <= self.ridge_fraction < 1,
             "a number in [0, 1)"),
        ]
        for name, value, ok, allowed in checks:
            if not ok:
                raise ValueError(f"{name}={value!r} is not allowed: use {allowed}")
        if self.exponent is not None and not (isinstance(self.exponent, int)
                                              and 1 <= self.exponent <= 8):
            raise ValueError(f"exponent={self.exponent!r} is not allowed: use an int in 1..8")
        if self.engine not in self.engines:
            raise ValueError(f"engine={self.engine!r} is not available for "
                             f"{type(self).__name__}: it has engine "
                             f"{' or '.join(repr(e) for e in self.engines)}")
        if self.engine == "chain":
            chain.check_learner(self)

    def _link(self, source: DataSource) -> Link | None:
        if source.target is not None:
            return source.target.link
        return get_link(self.link) if self.link is not None else None

    def _exponent(self, link: Link | None) -> int:
        if self.exponent is not None:
            return self.exponent
        if link is None:
            raise ValueError(f"{type(self).__name__} on a dataset needs exponent=... (the "
                             f"{self.exponent_kind} exponent) or link=...")
        known = (link.generative_exponent if self.exponent_kind == "generative"
                 else link.information_exponent)  # registry values, checked by tests
        fn = (theory.generative_exponent if self.exponent_kind == "generative"
              else theory.information_exponent)
        value = known if known is not None else fn(link)
        if value is None:
            raise ValueError(f"link {link.name!r} has no finite {self.exponent_kind} exponent "
                             "up to degree 8: give exponent=...")
        return value

    def _transform(
        self, s: int, link: Link | None, sample_y: torch.Tensor
    ) -> tuple[Transform, float]:
        """The label transform and its signal ``λ_s = E[T(y) h_s(z)]`` (1 if unknown)."""
        if callable(self.label_transform):
            return self.label_transform, float(getattr(self.label_transform, "lam", 1.0))
        if self.label_transform == "identity":
            return (lambda v: v), 1.0
        if self.label_transform == "agnostic":
            return agnostic_transform(sample_y, seed=self.seed), 1.0
        if self.label_transform == "optimal":
            if link is None:
                raise ValueError("label_transform='optimal' on a dataset needs link=...; or use "
                                 "label_transform='agnostic' or a callable")
            T = theory.label_transform(link, s)
            return T, T.lam
        raise ValueError(f"label_transform={self.label_transform!r} is not allowed: use 'optimal', "
                         "'agnostic', 'identity' or a callable")

    def _smoothing(self, s: int, d: int) -> float:
        if self.smoothing == "auto":
            return d**0.25 if s >= 3 else 0.0
        value = float(self.smoothing or 0.0)
        if value < 0:
            raise ValueError(f"smoothing={self.smoothing!r} is not allowed: use 'auto' or >= 0")
        return value

    def default_lr(self, s: int, d: int, lam: float, signal: float) -> float:
        """Search-phase step of the module docstring (spec §1.4 / §2.1)."""
        c = self.lr_constant * signal
        if lam > 0:
            return c * lam ** (2 * s - 2) * d ** (-s / 2)
        if s == 1:
            return c / d
        if s == 2:
            return c / (d * math.log(d))
        return c * d ** (-s / 2)

    # ------------------------------------------------------------------ the update
    def _step(self, act: Activation, loss_name: str, lam: float, d: int, s: int):
        loss = get_loss(loss_name)
        smooth = None
        if lam > 0:
            if act.hermite_degree is None or loss.name != "correlation":
                raise ValueError("smoothing needs a Hermite activation (he1..he8) and the "
                                 f"correlation loss; got activation={act.name!r}, "
                                 f"loss={loss.name!r}")
            smooth = smoothed_hermite(act.hermite_degree, lam, d)

        correlation = loss.name == "correlation"

        def step(W, X, T, eta, searching, want_loss):
            A = X @ W.transpose(1, 2)  # (R, B, m)
            Tm = T.unsqueeze(-1)
            out = act(A) if want_loss or not correlation else None
            if smooth is not None and searching:
                A64 = A.to(torch.float64)
                Rn = (X.to(torch.float64) ** 2).sum(-1, keepdim=True) - A64**2
                psi = (Tm.to(torch.float64) * smooth.slope(A64, Rn)).to(W.dtype)
            elif correlation:
                psi = Tm * act.df(A)  # −ℓ'(f, T) = T
            else:
                psi = -loss.grad(out, Tm) * act.df(A)
            value = loss.value(out, Tm).mean(dim=(1, 2)) if want_loss else None
            return spherical_step(W, X, eta * psi, A), value

        return step

    # ------------------------------------------------------------------ fit / predict
    def fit(self, data, y=None, *, n: int | None = None, reference: torch.Tensor | None = None):
        """Fit on a target with budget ``n`` (per replica) or on a dataset ``(X, y)``.

        ``reference``: true directions ``(R, d)`` for the trace's overlaps when fitting a
        dataset (taken from the target otherwise). Returns ``self``.
        """
        self._check()
        if self.engine == "chain":
            chain.fit_chain(self, data, y, n)
            return self
        source, ridge_data = self._sources(data, y, n)
        link = self._link(source)
        if reference is None and source.target is not None and source.target.r == 1:
            reference = source.target.directions[:, 0]
        if reference is not None:
            reference = reference.reshape(source.replicas, -1)
        W, diverged, used = self._fit_first_layer(source, link, reference)
        self._finish(W, diverged, used, source, ridge_data)
        return self

    def _sources(self, data, y, n):
        if y is None:
            source = data_source(data, None, n)
            return source, None
        X, yy, squeeze = as_replicated(data, y)
        total = X.shape[1] if n is None else min(int(n), X.shape[1])
        n_ridge = int(total * self.ridge_fraction) if self.ridge_samples > 0 else 0
        n1 = total - n_ridge
        if n1 < 1:
            raise ValueError(f"the dataset of {total} samples leaves none for the first layer")
        source = data_source(X[:, :n1], yy[:, :n1])
        source.squeeze = squeeze
        ridge = (X[:, n1:total], yy[:, n1:total]) if n_ridge > 0 else None
        return source, ridge

    def _first_chunk(self, source: DataSource):
        first = next(source.chunks)
        rest = source.chunks

        def chained():
            yield first
            yield from rest

        source.chunks = chained()
        return first

    def _fit_first_layer(self, source: DataSource, link: Link | None, reference):
        d = source.d
        s = self._exponent(link)
        _, first_y = self._first_chunk(source)
        T, signal = self._transform(s, link, first_y[:, :10_000])
        act = get_activation(self.activation or f"he{s}")
        lam = self._smoothing(s, d)
        lr = self.lr if self.lr is not None else self.default_lr(s, d, lam, signal)
        schedule = Schedule(lr=lr, search=int(self.search_fraction * source.n),
                            decay=self.decay, batch=self.batch)
        dtype = source.dtype
        W0 = random_sphere(source.replica_ids, self.width, d, self.seed, dtype, source.device)
        self.trace_ = Trace()
        self.hyper_ = {"exponent": s, "activation": act.name, "smoothing": lam, "lr": lr,
                       "signal": signal, "search_samples": schedule.search, "batch": self.batch}
        step = self._step(act, self.loss, lam, d, s)
        return run_online(source, W0, step, T, schedule, reference, self.trace_)

    def _finish(self, W, diverged, used, source: DataSource, ridge_data) -> None:
        self.squeeze_ = source.squeeze
        self.directions_ = W
        self.diverged_ = diverged
        self.samples_ = used
        self.network_ = None
        if ridge_data is None and source.target is not None and self.ridge_samples > 0:
            Xr, yr = source.target.sample(self.ridge_samples)
            ridge_data = (Xr[None], yr[None]) if source.target.squeeze else (Xr, yr)
        if ridge_data is not None:
            self.network_ = fit_second_layer(W, diverged, ridge_data[0], ridge_data[1],
                                             self.seed, source.replica_ids, RIDGES)
            self.samples_ += ridge_data[0].shape[1]

    def _replicated(self, X: torch.Tensor) -> torch.Tensor:
        return X[None] if X.ndim == 2 else X

    def _unreplicated(self, out: torch.Tensor) -> torch.Tensor:
        return out[0] if self.squeeze_ else out

    def _no_chain(self, what: str) -> None:
        if getattr(self, "directions_", 0) is None:
            raise ValueError(f"{what} needs the d-dimensional weights; {chain.NOTE}")

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """``⟨w_j, x⟩`` for every neuron: ``(R, n, m)`` (or ``(n, m)``)."""
        self._no_chain("transform")
        return self._unreplicated(self._replicated(X).to(self.directions_.dtype)
                                  @ self.directions_.transpose(1, 2))

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """The fitted network ``f(X)``; needs a second stage (``ridge_samples > 0``)."""
        self._no_chain("predict")
        if getattr(self, "network_", None) is None:
            raise ValueError("this learner has no second layer: fit it with ridge_samples > 0")
        return self._unreplicated(self.network_(self._replicated(X).to(self.directions_.dtype)))

    def overlap(self, theta: torch.Tensor) -> torch.Tensor:
        """Best-neuron overlap ``max_j |cos(w_j, θ)|`` per replica. With ``engine='chain'``
        the overlap with the target's ``θ*`` (the chain's state has no other direction):
        ``theta`` is only checked to have ``R·d`` entries."""
        state = getattr(self, "chain_state_", None)
        if state is not None and getattr(self, "directions_", 0) is None:
            R = state.shape[0]
            if torch.as_tensor(theta).numel() % R:
                raise ValueError(f"theta of shape {tuple(theta.shape)} is not allowed: use "
                                 f"(d,) or ({R}, d) (the target's direction)")
            return chain.best_overlap(state.numpy())
        theta = theta.reshape(self.directions_.shape[0], -1).to(self.directions_.dtype)
        return max_overlap(self.directions_, theta)


@dataclass
class Unified(SphericalSGD):
    """The unified algorithm of Chen et al. (see the module docstring for the update)."""

    exponent_kind: str = field(default="generative", repr=False)


@dataclass
class SparseUnified(Unified):
    """Weight-perturbation variant for ``k``-sparse ``θ*`` (spec §1.3, reconstruction [D]).

    (a) Support screening, a coordinate-perturbed one-step gradient statistic: on the first
    ``screen_fraction`` of the budget, ``S_i = (1/n_a) Σ_l T(y_l) h_s(x_{l,i})`` for every
    coordinate (``E S_i = λ_s (θ*_i)^s`` by the Hermite addition formula); keep the ``k`` largest
    ``|S_i|``. Flat ``θ*`` gives ``|E S_i| = λ_s k^{−s/2}`` against noise ``√(2 log d / n_a)``,
    so ``n_a ≳ k^s log d``. (b) :class:`Unified` restricted to those ``k`` coordinates (its
    defaults computed with ``d = k``) on the remaining samples, embedded back into ``R^d``.
    Total ``Õ(k^{s*})`` (Chen et al.'s sparse rate).

    Full engine only: the screening reads coordinates of ``x``, which the chain does not have.
    """

    engines: ClassVar[tuple[str, ...]] = ("full",)

    sparsity: int | None = None
    screen_fraction: float = 0.5

    def _fit_first_layer(self, source: DataSource, link: Link | None, reference):
        k = self.sparsity
        if k is None and source.target is not None:
            k = source.target.sparsity
        if not isinstance(k, int) or not 1 <= k <= source.d:
            raise ValueError(f"sparsity={k!r} is not allowed: use an int in 1..d={source.d} "
                             "(or fit a sparse target)")
        if not 0 < self.screen_fraction < 1:
            raise ValueError(f"screen_fraction={self.screen_fraction!r}: use a number in (0, 1)")
        s = self._exponent(link)
        n_screen = max(1, int(self.screen_fraction * source.n))
        _, first_y = self._first_chunk(source)
        T, _ = self._transform(s, link, first_y[:, :10_000])
        R, d = source.replicas, source.d
        score = torch.zeros(R, d, dtype=torch.float64, device=source.device)
        seen, pending = 0, None
        for Xc, yc in source.chunks:
            take = min(Xc.shape[1], n_screen - seen)
            if take > 0:
                H = hermite_h(Xc[:, :take], s)
                t = T(yc[:, :take]).to(H.dtype).unsqueeze(1)  # (R, 1, b)
                score += (t @ H).squeeze(1).to(torch.float64)
                seen += take
            if take < Xc.shape[1]:
                pending = (Xc[:, take:], yc[:, take:])
                break
        support = score.abs().topk(k, dim=1).indices.sort(dim=1).values  # (R, k)
        self.screening_scores_ = score / max(seen, 1)
        self.support_ = support
        rest = source.chunks

        def restricted():
            if pending is not None:
                yield pending
            yield from rest

        def gather(chunks):
            for Xc, yc in chunks:
                idx = support.unsqueeze(1).expand(-1, Xc.shape[1], -1)
                yield Xc.gather(2, idx), yc

        inner = DataSource(gather(restricted()), R, k, source.n - seen, False, source.dtype,
                           source.device, replica_ids=source.replica_ids)
        inner_learner = Unified(**{f: getattr(self, f) for f in (
            "exponent", "label_transform", "activation", "loss", "width", "smoothing", "lr",
            "lr_constant", "search_fraction", "decay", "batch", "seed")})
        inner_learner.exponent = s
        inner_learner.label_transform = T
        # no trace overlaps inside: an overlap within a wrong support would overstate recovery
        W_k, diverged, used = inner_learner._fit_first_layer(inner, link, None)
        self.trace_ = inner_learner.trace_
        self.hyper_ = {**inner_learner.hyper_, "screen_samples": seen, "sparsity": k}
        W = torch.zeros(R, self.width, d, dtype=W_k.dtype, device=W_k.device)
        W.scatter_(2, support.unsqueeze(1).expand(-1, self.width, -1).to(W.device), W_k)
        if reference is not None:
            self.trace_.record(used + seen, overlap=max_overlap(W, reference))
            true = reference.abs() > 0
            found = true.gather(1, support.to(true.device)).sum(dim=1)
            self.support_recall_ = found.to(torch.float64) / true.sum(dim=1).clamp_min(1)
        return W, diverged, used + seen
