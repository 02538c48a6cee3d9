"""The unified gradient algorithm for single-index models and its sparse variant.

Chen, Wu, Lu, Yang, Wang, *Can Neural Networks Achieve Optimal Computational-statistical
Tradeoff? An Analysis on Single-Index Model* (arXiv 2606.15219, ICLR 2025): label
transformation + landscape smoothing reach ``Õ(d^{s*/2} ∨ d)`` samples, and a weight-perturbation
variant reaches ``Õ(k^{s*})`` for ``k``-sparse directions. The paper's Algorithm 1 was not
retrievable; this is our reconstruction (docs/algorithms.md §4.1, [D]):

* stage 1, all ``m`` neurons independently (``a_j ≡ 1``, ``b_j ≡ 0``), per fresh sample
  ``w ← normalise(w + η ψ P_w^⊥ x)`` with ``ψ = T(y) · D_λσ(⟨w,x⟩, ‖x‖² − ⟨w,x⟩²)``: the spherical
  gradient of the smoothed correlation loss ``−T(y) (L_λσ)(⟨w,x⟩)`` (:mod:`indexlab.smoothing`).
  ``T = ζ_s/λ_s`` is the optimal label transform at ``s = s*`` (docs/algorithms.md §3.2), which
  turns the model into one of information exponent ``s*``; ``σ = h_{s*}``; ``λ = d^{1/4}`` when
  ``s* ≥ 3`` (weak-recovery phase), ``0`` otherwise. Other losses ``ℓ`` give
  ``ψ = −ℓ'(σ(⟨w,x⟩), T(y)) σ'(⟨w,x⟩)`` (unsmoothed).
* the step is constant during the search phase, then decays (descent phase, ``λ = 0``):
  see :mod:`indexlab.learners.online_engine` (the engine),
  :mod:`indexlab.learners.online_setup` (the defaults) and
  :class:`~indexlab.learners.spherical.SphericalSGD`, whose defaults this module sets. Both
  phases are capped so that they *hold* a found direction (:mod:`indexlab.learners.holding`,
  docs/algorithms.md §2.5): the search step ``η_1`` by ``1 − m* ≤ hold_search = 0.05`` for the
  search ``ψ``, and the descent starts from ``η_2 = min(η_1, step with 1 − m* = hold_descent =
  0.02 for the unsmoothed ψ)``. A deviation from the smoothed SGD of Damian et al.
  (docs/algorithms.md §2.2), which keeps the search step after the hand-over ``λ → 0``; with the
  heavy-tailed unsmoothed gradient that step has ``1 − m* = 4.5 … 61`` (He₃/He₄,
  ``d = 32 … 128``) and threw aligned replicas back to the equator (He₄,
  ``d = 32``: 2 of 8 replicas ended at 0.10/0.05 after peaking ≥ 0.93);
* stage 2: ReLU features with random biases, second layer by ridge on fresh samples.

Defaults (docs/algorithms.md §4.3, scaling with ``d``): ``η_1 = c_η λ_s λ^{2s−2} d^{−s/2}``
(``s ≥ 3``), ``c_η λ_s/(d log d)`` (``s = 2``), ``c_η λ_s/d`` (``s = 1``), where
``λ_s = E[T(y) h_s(z)]`` (so the step scales with the signal, as the drift-versus-drag balance of
docs/algorithms.md §2.1–§2.2 requires);
``m = 64``; half of the budget is spent in the search phase. The search length ``L_1`` of the
theory is a scaling whose constant is not calibrated, so with a fixed budget we split it instead
(docs/algorithms.md §2.4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from indexlab.hermite import hermite_h
from indexlab.learners.base import DataSource
from indexlab.learners.constraints import Int, Real
from indexlab.learners.label_transforms import agnostic_transform, transform_labels
from indexlab.learners.online_setup import online_setup
from indexlab.learners.spherical import SphericalSGD
from indexlab.metrics import max_overlap

__all__ = ["SparseUnified", "Unified", "agnostic_transform"]


@dataclass
class Unified(SphericalSGD):
    """The unified algorithm of Chen et al. (ICLR 2025; our reconstruction,
    docs/algorithms.md §4.1): ``m`` neurons, per minibatch
    ``w ← normalise(w + η T(y) D_λσ(⟨w,x⟩, ‖x‖² − ⟨w,x⟩²) P_w^⊥ x)`` with the optimal label
    transform ``T = ζ_{s*}/λ_{s*}``, ``σ = h_{s*}`` and smoothing ``λ = d^{1/4}`` when
    ``s* ≥ 3``; then a ReLU second layer fitted by ridge. Needs ``Õ(d^{s*/2} ∨ d)`` samples.
    Defaults scale with ``d`` as the module docstring states.

    ``fit(target, n=...)`` or ``fit(X, y)`` with ``X (n, d)`` / ``(R, n, d)`` (torch or
    numpy); ``transform(X)`` gives ``⟨w_j, x⟩``, ``predict(X)`` the fitted network.
    """

    exponent_kind: ClassVar[str] = "generative"
    theory_key: ClassVar[str] = "unified"


@dataclass
class SparseUnified(Unified):
    """Weight-perturbation variant for ``k``-sparse ``θ*`` (reconstruction [D],
    docs/algorithms.md §4.5).

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
    theory_key: ClassVar[str] = "sparse_unified"
    # the screening stage is not an online update: the mean-field overlap ODE does not apply
    overlap_theory_name: ClassVar[str | None] = None

    sparsity: int | None = None
    screen_fraction: float = 0.5

    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "sparsity": "k of the k-sparse direction; None: the target's (docs/algorithms.md §4.5)",
        "screen_fraction": "share of the budget for the support screening S_i",
    }
    constraints: ClassVar[dict] = {
        **Unified.constraints,
        "sparsity": (Int(1), None),
        "screen_fraction": (Real(0, 1, closed="neither"),),
    }

    @classmethod
    def compatible(cls, hyper, link, sparsity):
        """Besides :class:`Unified`'s rules: a sparsity, of the target or ``hyper``."""
        why = super().compatible(hyper, link, sparsity)
        if why is None and sparsity is None and hyper.get("sparsity") is None:
            why = (f"{cls.label()} needs a sparse target: give the target a sparsity k "
                   "(targets[i].sparsity, --sparsity) or the learner hyper sparsity = k")
        return why

    def _fit_first_layer(self, source: DataSource, reference):
        k = self.sparsity
        if k is None and source.target is not None:
            k = source.target.sparsity
        if not isinstance(k, int) or not 1 <= k <= source.d:
            raise ValueError(f"sparsity={k!r} is not allowed: use an int in 1..d={source.d} "
                             "(or fit a sparse target)")
        link = self._resolve_link(source)
        n_screen = max(1, int(self.screen_fraction * source.n))
        _, first_y = self._first_chunk(source)
        setup = online_setup(self, link, source.d, sample_y=first_y)
        s, T = setup.exponent, setup.transform
        R, d = source.replicas, source.d
        score = torch.zeros(R, d, dtype=torch.float64, device=source.device)
        seen, pending = 0, None
        for Xc, yc in source.chunks:
            take = min(Xc.shape[1], n_screen - seen)
            if take > 0:
                H = hermite_h(Xc[:, :take], s)
                t = transform_labels(T, yc[:, :take]).to(H.dtype).unsqueeze(1)  # (R, 1, b)
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
        shared = {f: getattr(self, f) for f in (
            "activation", "loss", "width", "smoothing", "lr", "lr_constant", "search_fraction",
            "decay", "hold_search", "hold_descent", "batch", "seed")}
        inner_learner = Unified(**shared, exponent=s, label_transform=T, link=link)
        # no trace overlaps inside: an overlap within a wrong support would overstate recovery
        W_k, diverged, used = inner_learner._fit_first_layer(inner, None)
        self.trace_ = inner_learner.trace_
        self.hyper_ = {**inner_learner.hyper_, "screen_samples": seen, "sparsity": k}
        W = torch.zeros(R, self.width, d, dtype=W_k.dtype, device=W_k.device)
        W.scatter_(2, support.unsqueeze(1).expand(-1, self.width, -1).to(W.device), W_k)
        # a replica whose screening saw a NaN/inf sample is diverged (its support is garbage)
        screened = torch.isfinite(score).all(dim=1).to(W.device)
        W = torch.where(screened[:, None, None], W, math.nan)
        diverged = diverged | ~screened.to(diverged.device)
        if reference is not None:
            self.trace_.record(used + seen, overlap=max_overlap(W, reference))
            true = reference.abs() > 0
            found = true.gather(1, support.to(true.device)).sum(dim=1)
            self.support_recall_ = found.to(torch.float64) / true.sum(dim=1).clamp_min(1)
        return W, diverged, used + seen
