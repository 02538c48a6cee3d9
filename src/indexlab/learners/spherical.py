"""The online engine shared by the spherical single-index learners, and their second stage.

Every first-layer learner of spec ``single-index.md`` §1–§4 is an instance of the per-sample
update ``w ← normalise(w + η ψ(⟨w,x⟩, y) P_w^⊥ x)`` (§0, "the unified per-sample update"). The
engine runs it for ``R`` replicas × ``m`` neurons at once on minibatches of ``B`` fresh samples,
with the linear-scaling rule: one minibatch step uses the averaged direction
``(1/B) Σ_i ψ_i P_w^⊥ x_i`` and step ``B·η_t`` (drift and normalisation drag then match ``B``
single steps to first order). The per-sample step follows a two-phase schedule (§1.2, §2.2):
a constant search step ``η_1`` for the first ``L_1`` samples, then the decaying descent step
``η_t = 1/(1/η_2 + κ (t − L_1))`` (Robbins–Monro), which averages the noise out so that
``1 − ⟨w, θ⟩ = O(d/n)``. ``η_2`` (``Schedule.descent_lr``) is the learner's choice: the
constant-step stationary overlap of :mod:`indexlab.learners.holding` sets it (issue 13).

A replica whose weights or loss become NaN/inf is marked diverged and frozen (its weights are
kept as NaN); the others run on.

The second stage (§1.2, stage 2) freezes ``W``, draws biases ``b_j ~ Unif[−2, 2]``, flips every
other neuron (``w_j → −w_j``; the first stage leaves all neurons on the same side of ``θ*`` for
odd transforms, and ReLU features of one orientation cannot follow the other tail) and fits the
output layer of ``f(x) = (1/m) Σ_j a_j ReLU(⟨w_j,x⟩ + b_j) + c`` by ridge regression on fresh
samples, the ridge chosen on a 20% validation split.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from indexlab import theory
from indexlab.learners.base import (
    DataSource,
    InstanceFlag,
    Learner,
    Trace,
    as_replicated,
    data_source,
    log_checkpoints,
)
from indexlab.learners.chain import NOTE as CHAIN_NOTE
from indexlab.learners.chain import (
    ChainData,
    check_config,
    check_data,
    check_supported,
    chunk_samples,
    initial_state,
    run_chain,
)
from indexlab.learners.constraints import InstanceOf, Int, IsCallable, Options, Real, Text
from indexlab.learners.holding import PsiFn, alignment_statistics, hold_step
from indexlab.links import Link, get_link
from indexlab.metrics import max_overlap, mean_overlap
from indexlab.nn import (
    ACTIVATIONS,
    LOSSES,
    Activation,
    Loss,
    Network,
    get_activation,
    get_loss,
    relu_features,
    ridge_fit,
)
from indexlab.smoothing import smoothed_hermite

# step(W, X, t_labels, eta_batch, searching, want_loss) -> (new W, per-replica loss or None)
StepFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float, bool, bool],
                  tuple[torch.Tensor, torch.Tensor | None]]

ONLINE_SECOND_STAGE_RIDGES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # chosen on a 20% split

Transform = Callable[[torch.Tensor], torch.Tensor]
_ALIGNMENT_CACHE: dict[tuple, tuple[float, float]] = {}
# trace checkpoints per decade of n: first passages are read from the trace, so its grid
# (a factor 10^(1/24) ≈ 1.1 between checkpoints) bounds how well n* can be located
TRACE_PER_DECADE = 24


@dataclass(frozen=True)
class Schedule:
    """Per-sample step schedule: ``η_1 = lr`` for the first ``search`` samples, then the
    descent ``η_t = 1/(1/η_2 + κ t')``, ``t' = t − search``, ``κ = decay``, from
    ``η_2 = descent_lr`` (``None``: ``η_2 = η_1``, the schedule before issue 13).

    ``η_2`` is a separate field because the descent phase may follow a different gradient
    from the search phase: smoothed learners switch ``λ → 0`` at the hand-over, and the
    unsmoothed per-sample gradient of a Hermite link is heavy-tailed (``E ψ²`` at alignment
    is 10²–10⁴ times its smoothed value), so the search step would throw the aligned neurons
    off (see :func:`hold_step`). Everything the engine does with the step is in
    :meth:`step_at`, so an engine that reads this object (e.g. an exact overlap chain) follows
    it without knowing the learner.
    """

    lr: float
    search: int
    decay: float
    batch: int
    descent_lr: float | None = None

    def step_at(self, t: int) -> float:
        if t < self.search:
            return self.lr
        base = self.lr if self.descent_lr is None else self.descent_lr
        if self.decay == 0:
            return base
        return 1.0 / (1.0 / base + self.decay * (t - self.search))

    def steps_at(self, t: np.ndarray) -> np.ndarray:
        """:meth:`step_at` at every entry of the integer array ``t`` (the same float64
        arithmetic, so the same numbers)."""
        t = np.asarray(t, dtype=np.int64)
        base = self.lr if self.descent_lr is None else self.descent_lr
        if self.decay == 0:
            descent = np.full(t.shape, float(base))
        else:
            elapsed = np.maximum(t - self.search, 0).astype(np.float64)
            descent = 1.0 / (1.0 / base + self.decay * elapsed)
        return np.where(t < self.search, float(self.lr), descent)


def coefficient_sign(link: Link, s: int) -> float:
    """``sign(c_s)`` of the link's Hermite coefficient ``c_s = E[y h_s(z)]`` (1 when it is 0
    or cannot be computed)."""
    try:
        coefficients = theory.hermite_expansion(link, max(s, 1))
    except ValueError:
        return 1.0
    return -1.0 if coefficients[s] < 0 else 1.0


def normalise_rows(W: torch.Tensor) -> torch.Tensor:
    return W / W.norm(dim=-1, keepdim=True)


def replica_generator(seed: int, replica: int, purpose: int) -> torch.Generator:
    """A CPU generator that depends only on ``(seed, replica, purpose)``."""
    state = np.random.SeedSequence(entropy=seed, spawn_key=(replica, 1000 + purpose))
    return torch.Generator().manual_seed(int(state.generate_state(1, dtype=np.uint64)[0] >> 1))


def random_sphere(replicas, m: int, d: int, seed: int, dtype, device) -> torch.Tensor:
    """``W (R, m, d)`` with rows uniform on ``S^{d−1}``; replica ``j`` depends on ``(seed, j)``."""
    rows = []
    for j in replicas:
        g = replica_generator(seed, j, 0)
        rows.append(torch.randn(m, d, generator=g, dtype=torch.float64))
    return normalise_rows(torch.stack(rows)).to(device=device, dtype=dtype)


def spherical_step(W, X, psi, A=None):
    """``W ← normalise(W + G)`` with ``G_j = (1/B) Σ_i ψ_ij (x_i − a_ij w_j)`` pre-scaled by η
    (the Riemannian gradient step on the sphere, single-index spec §2.1).

    Computed as ``ψᵀX/B + W (1 − mean_i ψ_ij a_ij)`` with one product and one fused pass
    over ``W`` (``addcmul_``), normalised in place; ``A = XWᵀ`` (``(R, B, m)``) may be passed
    when the caller already has it.
    """
    if A is None:
        A = X @ W.transpose(1, 2)  # (R, B, m)
    shrink = 1.0 - (psi * A).mean(dim=1).unsqueeze(-1)  # (R, m, 1)
    # ψᵀ made contiguous first: MKL ran the product with a transposed view 5x slower
    G = torch.bmm((psi / X.shape[1]).transpose(1, 2).contiguous(), X)  # (R, m, d), fresh
    G.addcmul_(W, shrink)
    return G.div_(torch.linalg.vector_norm(G, dim=-1, keepdim=True))


def run_online(
    source: DataSource,
    W: torch.Tensor,
    step: StepFn,
    labels: Callable[[torch.Tensor], torch.Tensor],
    schedule: Schedule,
    reference: torch.Tensor | None,
    trace: Trace,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Run ``step`` over the data in minibatches; returns ``(W, diverged (R,), samples)``.

    ``labels`` maps raw labels to the transformed ``T(y)`` once per chunk. ``reference``
    (``(R, d)`` true directions, when known) adds overlaps to the trace.
    """
    diverged = torch.zeros(W.shape[0], dtype=torch.bool, device=W.device)
    checkpoints = log_checkpoints(source.n, per_decade=TRACE_PER_DECADE)
    next_cp = 0
    seen = 0
    loss = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device)
    any_diverged = False
    B = schedule.batch
    for Xc, yc in source.chunks:
        Xc = Xc.to(W.dtype)
        Tc = labels(yc).to(W.dtype)
        # minibatches are views (R, B, d) of the chunk: batched products take the replica
        # stride as it is (measured as fast as on a copy), and a transposing copy of the
        # whole chunk into (steps, R, B, d) blocks cost a fifth of the training time
        batches = [(Xc[:, i:i + B], Tc[:, i:i + B]) for i in range(0, Xc.shape[1], B)]
        for X, T in batches:
            eta = schedule.step_at(seen) * X.shape[1]
            at_checkpoint = next_cp < len(checkpoints) and seen + X.shape[1] >= checkpoints[
                next_cp]
            W_new, batch_loss = step(W, X, T, eta, seen < schedule.search, at_checkpoint)
            W = torch.where(diverged[:, None, None], W, W_new) if any_diverged else W_new
            seen += X.shape[1]
            if at_checkpoint:
                loss = batch_loss
                bad = ~torch.isfinite(W).all(dim=2).all(dim=1) | ~torch.isfinite(loss)
                diverged |= bad
                any_diverged = bool(diverged.any())
                metrics = {"loss": torch.where(diverged, torch.nan, loss)}
                if reference is not None:
                    metrics["overlap"] = max_overlap(W, reference)
                    metrics["overlap_mean"] = mean_overlap(W, reference)
                trace.record(seen, **metrics)
                while next_cp < len(checkpoints) and seen >= checkpoints[next_cp]:
                    next_cp += 1
    diverged |= ~torch.isfinite(W).all(dim=2).all(dim=1) | ~torch.isfinite(loss)
    return W, diverged, seen


def fit_second_layer(
    W: torch.Tensor,
    diverged: torch.Tensor,
    X: torch.Tensor,
    y: torch.Tensor,
    seed: int,
    replicas,
    ridges: tuple[float, ...] = ONLINE_SECOND_STAGE_RIDGES,
    bias_range: float = 2.0,
) -> Network:
    """Freeze ``W``, draw ``b ~ Unif[−2, 2]``, fit ``a`` and the intercept by ridge (see module)."""
    m = W.shape[1]
    b = torch.stack([torch.rand(m, generator=replica_generator(seed, j, 1), dtype=torch.float64)
                     for j in replicas])
    b = (b * 2 * bias_range - bias_range).to(W.device, W.dtype)
    # alternate orientations: neurons aligned with +θ only would leave ReLU(z + b) blind to
    # the z < −bias_range tail, so every other neuron is flipped (w_j → −w_j) for this stage
    signs = torch.ones(m, dtype=W.dtype, device=W.device)
    signs[1::2] = -1
    W = W * signs[None, :, None]
    safe_W = torch.where(diverged[:, None, None], torch.zeros_like(W), W)
    Phi = relu_features(safe_W, b, X.to(W.dtype))
    y = torch.where(diverged[:, None], torch.zeros_like(y), y)
    coef, offset, _ = ridge_fit(Phi, y, ridges)
    nan = torch.full_like(coef, math.nan)
    coef = torch.where(diverged[:, None], nan, coef)
    return Network(W=W, a=(coef * m).to(W.dtype), b=b, activation=ACTIVATIONS["relu"],
                   offset=torch.where(diverged, math.nan, offset).to(W.dtype))


# ------------------------------------------------------------------------------------------
# label transforms
# ------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------
# the learners' shared face
# ------------------------------------------------------------------------------------------


@dataclass
class SphericalLearner(Learner):
    """What every online spherical learner shares: ``m`` neurons on the sphere trained by the
    engine above (:func:`run_online`), the second stage (:func:`fit_second_layer`) and the
    data handling. Subclasses supply ``_fit_first_layer(source, reference)``.

    Hyperparameters:
        width: number of neurons ``m``.
        lr: search-phase per-sample step ``η_1`` (``None``: the subclass's default in ``d``);
            lr_constant: its constant ``c_η``.
        search_fraction: share of the budget in the search phase; decay: ``κ`` of the
            descent step ``1/(1/η_1 + κ t')``.
        batch: minibatch size ``B``.
        ridge_samples: fresh second-stage samples drawn from a target (0: no second stage,
            no ``predict``); ridge_fraction: the last fraction of a dataset used for it.
        seed: initialisation (replica ``j`` uses ``(seed, j)``).

    Fitted: ``directions_ (R, m, d)`` (unit rows, the replica axis always kept),
    ``diverged_ (R,)``, ``samples_``, ``trace_`` (loss, and overlaps when the true direction
    is known, at log-spaced sample counts), ``hyper_`` (resolved defaults), ``network_``
    (the second stage, or ``None``).
    """

    width: int = 64
    lr: float | None = None
    lr_constant: float = 0.1
    search_fraction: float = 0.5
    decay: float = 0.5
    batch: int = 32
    ridge_samples: int = 10_000
    ridge_fraction: float = 0.2
    seed: int = 0

    constraints: ClassVar[dict] = {
        "width": (Int(1),),
        "lr": (Real(0, closed="neither"), None),
        "lr_constant": (Real(0, closed="neither"),),
        "search_fraction": (Real(0, 1),),
        "decay": (Real(0),),
        "batch": (Int(1),),
        "ridge_samples": (Int(0),),
        "ridge_fraction": (Real(0, 1, closed="left"),),
        "seed": (Int(0),),
    }
    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "width": "number of neurons m, each run independently on the sphere (spec "
                 "single-index.md §1.4: m = 64)",
        "lr": "search-phase per-sample step η_1; None: the learner's default in d "
              "(single-index.md §1.4, §2.1)",
        "lr_constant": "constant c_η of the default step",
        "search_fraction": "share of the budget spent at the constant search step "
                           "(single-index.md §1.2)",
        "decay": "κ of the descent step η_t = 1/(1/η_1 + κ (t − L_1)) (Robbins–Monro)",
        "batch": "minibatch size B (linear scaling: one step of B·η on the averaged "
                 "direction)",
        "ridge_samples": "fresh samples for the second stage when fitting a target; 0: no "
                         "second stage, no predict (single-index.md §1.2, stage 2)",
        "ridge_fraction": "last fraction of a dataset kept for the second stage",
        "seed": "initialisation and second-stage biases; replica j uses (seed, j)",
    }
    traced: ClassVar[bool] = True
    width_parameter: ClassVar[str | None] = "width"

    def _has_second_layer(self) -> bool:
        """Before ``fit``: whether a second layer will be fitted (``ridge_samples > 0``, and
        not ``engine="chain"``); after: whether one was."""
        if hasattr(self, "network_"):
            return self.network_ is not None
        return self.ridge_samples > 0 and getattr(self, "engine", "full") != "chain"

    predicts = InstanceFlag(True, _has_second_layer)

    # ------------------------------------------------------------------ fit
    def fit(self, data, y=None, *, n: int | None = None, reference: torch.Tensor | None = None):
        """Fit on a target with budget ``n`` (per replica) or on a dataset ``X (n, d)`` /
        ``(R, n, d)``, ``y (n,)`` / ``(R, n)`` (torch or numpy; the last ``ridge_fraction``
        of it for the second stage).

        ``reference``: true directions ``(R, d)`` for the trace's overlaps when fitting a
        dataset (taken from the target otherwise). Returns ``self``.
        """
        self.validate()
        source, ridge_data = self._sources(data, y, n)
        if reference is None and source.target is not None and source.target.r == 1:
            reference = source.target.directions[:, 0]
        if reference is not None:
            reference = torch.as_tensor(reference).reshape(source.replicas, -1)
        W, diverged, used = self._fit_first_layer(source, reference)
        self._finish(W, diverged, used, source, ridge_data)
        return self

    def _fit_first_layer(self, source: DataSource, reference):
        raise NotImplementedError

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

    def _finish(self, W, diverged, used, source: DataSource, ridge_data) -> None:
        self._mark_fitted(source.replicas, source.squeeze, source.device, source.d)
        self.directions_ = W
        self.diverged_ = diverged
        self.samples_ = used
        self.ridge_samples_ = 0  # second-stage (ridge) samples, included in samples_
        self.network_ = None
        if ridge_data is None and source.target is not None and self.ridge_samples > 0:
            Xr, yr = source.target.sample(self.ridge_samples)
            ridge_data = (Xr[None], yr[None]) if source.target.squeeze else (Xr, yr)
        if ridge_data is not None:
            self.network_ = fit_second_layer(W, diverged, ridge_data[0], ridge_data[1],
                                             self.seed, source.replica_ids)
            self.ridge_samples_ = int(ridge_data[0].shape[1])
            self.samples_ += self.ridge_samples_

    # ------------------------------------------------------------------ use
    def _replicated(self, X: torch.Tensor) -> torch.Tensor:
        return X[None] if X.ndim == 2 else X

    def _unreplicated(self, out: torch.Tensor) -> torch.Tensor:
        return out[0] if self.squeeze_ else out

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """``⟨w_j, x⟩`` for every neuron: ``(R, n, m)`` for ``X (R, n, d)``, ``(n, m)`` for
        ``X (n, d)`` when fitted on data without a replica axis."""
        return self._unreplicated(self._replicated(X).to(self.directions_.dtype)
                                  @ self.directions_.transpose(1, 2))

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """The fitted network ``f(X)``: ``(R, n)`` (or ``(n,)``); needs a second stage
        (``ridge_samples > 0``)."""
        if getattr(self, "network_", None) is None:
            raise ValueError("this learner has no second layer: fit it with ridge_samples > 0")
        return self._unreplicated(self.network_(self._replicated(X).to(self.directions_.dtype)))


@dataclass
class SphericalSGD(SphericalLearner):
    """The label-transformed, smoothed online SGD shared by :class:`~indexlab.learners.
    unified.Unified`, :class:`~indexlab.learners.online_sgd.OnlineSGD` and
    :class:`~indexlab.learners.online_sgd.SmoothedSGD` (they differ only in defaults): per
    minibatch ``w ← normalise(w + η ψ P_w^⊥ x)`` with ``ψ = T(y) · D_λσ(⟨w,x⟩, ‖x‖² − ⟨w,x⟩²)``
    (the spherical gradient of the smoothed correlation loss, :mod:`indexlab.smoothing`),
    or ``ψ = −ℓ'(σ(⟨w,x⟩), T(y)) σ'(⟨w,x⟩)`` for another loss (unsmoothed).

    Hyperparameters (besides :class:`SphericalLearner`'s; ``None`` = the documented default,
    resolved at ``fit``):
        exponent: ``s*`` (Unified) or ``k*`` (online SGD) used for the defaults; taken from the
            target's link by :mod:`indexlab.theory` when fitting a target.
        label_transform: ``"optimal"`` (``ζ_s/λ_s`` of the link), ``"agnostic"`` (CDF + random
            Legendre), ``"identity"``, or a callable on label tensors.
        activation, loss: names from :mod:`indexlab.nn` (default ``h_s``, correlation loss).
        smoothing: ``λ`` (``"auto"``: ``d^{1/4}`` if ``s ≥ 3``; needs a Hermite activation and
            the correlation loss when ``λ > 0``).
        link: the link, for the optimal transform when fitting a plain dataset.
        engine: ``"full"`` (the d-dimensional network) or ``"chain"``: the exact overlap
            chain of :mod:`indexlab.learners.chain` (``docs/chain.md``), the same law of the
            overlaps at a cost independent of ``d``; targets only, no ``directions_``, no
            second layer, ``overlap(θ)`` and the trace from the chain's state.
    """

    exponent: int | None = None
    label_transform: str | Transform = "optimal"
    activation: str | None = None
    loss: str = "correlation"
    smoothing: float | str | None = "auto"
    link: str | Link | None = None
    engine: str = "full"

    engines: ClassVar[tuple[str, ...]] = ("full", "chain")
    hold_search: float | None = 0.05
    hold_descent: float | None = 0.02

    exponent_kind: ClassVar[str] = "generative"  # which exponent sets the defaults

    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "exponent": "s* (Unified) or k* (online SGD) behind the defaults; None: from the "
                    "target's link (indexlab.theory)",
        "label_transform": "T(y): 'optimal' ζ_s/λ_s of the link (single-index.md §3.2), "
                           "'agnostic' (CDF + random Legendre, §1.2 stage 0), 'identity', "
                           "or a callable",
        "activation": "σ, a name of indexlab.nn.ACTIVATIONS; None: h_s (Hermite of the "
                      "exponent)",
        "loss": "loss ℓ of indexlab.nn.LOSSES; 'correlation' is −T(y)σ (the only one that "
                "smooths)",
        "smoothing": "λ of the smoothed loss L_λ (Damian et al. 2023); 'auto': d^{1/4} if "
                     "s ≥ 3 else 0",
        "link": "the link, for label_transform='optimal' or the exponent when fitting a "
                "dataset",
        "engine": "'full' (d-dimensional network) or 'chain' (exact overlap chain, cost "
                  "independent of d; docs/chain.md)",
        "hold_search": "stationary misalignment 1 − m* that caps the default search step "
                       "(indexlab.learners.holding, issue 13); None: no cap",
        "hold_descent": "stationary misalignment 1 − m* of the first descent step for the "
                        "descent gradient (after λ → 0); None: the search step",
    }

    constraints: ClassVar[dict] = {
        **SphericalLearner.constraints,
        "exponent": (Int(1, 8), None),
        "label_transform": (Options("optimal", "agnostic", "identity"),
                            IsCallable("a callable on label tensors")),
        "activation": (Options(*ACTIVATIONS), InstanceOf(Activation), None),
        "loss": (Options(*LOSSES), InstanceOf(Loss)),
        "smoothing": (Real(0), Options("auto"), None),
        "link": (Text("a link name or expression"), InstanceOf(Link), None),
        "engine": (Text("'full' or 'chain'"),),
        "hold_search": (Real(0, 1, closed="neither"), None),
        "hold_descent": (Real(0, 1, closed="neither"), None),
    }

    def _learns_directions(self) -> bool:
        """``directions_`` exists unless ``engine="chain"`` (the chain has no d-vectors)."""
        return self.engine != "chain"

    learns_directions = InstanceFlag(True, _learns_directions)

    def _validate_combination(self) -> None:
        if self.engine not in self.engines:
            raise ValueError(f"engine={self.engine!r} is not available for "
                             f"{type(self).__name__}: it has engine "
                             f"{' or '.join(repr(e) for e in self.engines)}")
        if self.engine == "chain":
            check_config(self.loss, self.activation, type(self).__name__)

    # ------------------------------------------------------------------ configuration
    def _resolve_link(self, source: DataSource) -> Link | None:
        if source.target is not None:
            return source.target.link
        return get_link(self.link) if isinstance(self.link, str) else self.link

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
        """The label transform and its signal ``λ_s = E[T(y) h_s(z)]`` (1 if unknown).

        ``"identity"`` is ``T(y) = sign(c_s) · y`` when the link is known, ``c_s = E[y h_s(z)]``
        its Hermite coefficient at the learner's exponent: the population correlation
        ``E[T(y) h_s(⟨w, x⟩)] = |c_s| m^s`` then grows with the overlap. With ``c_s < 0`` and
        ``y`` itself (e.g. ``genexp4``, ``c₄ ≈ −0.336``) an even ``s`` drives every neuron to
        the equator, and an odd one to ``−θ*``."""
        if callable(self.label_transform):
            return self.label_transform, float(getattr(self.label_transform, "lam", 1.0))
        if self.label_transform == "identity":
            if link is not None and link.r == 1 and coefficient_sign(link, s) < 0:
                return (lambda v: -v), 1.0
            return (lambda v: v), 1.0
        if self.label_transform == "agnostic":
            return agnostic_transform(sample_y, seed=self.seed), 1.0
        if link is None:
            raise ValueError("label_transform='optimal' on a dataset needs link=...; or use "
                             "label_transform='agnostic' or a callable")
        T = theory.label_transform(link, s)
        return T, T.lam

    def _smoothing(self, s: int, d: int) -> float:
        if self.smoothing == "auto":
            return d**0.25 if s >= 3 else 0.0
        return float(self.smoothing or 0.0)

    def default_lr(self, s: int, d: int, lam: float, signal: float) -> float:
        """Search-phase step (spec §1.4 / §2.1): ``c_η λ_s λ^{2s−2} d^{−s/2}`` when smoothed,
        else ``c_η λ_s/d`` (``s = 1``), ``c_η λ_s/(d log d)`` (``s = 2``), ``c_η λ_s d^{−s/2}``."""
        c = self.lr_constant * signal
        if lam > 0:
            return c * lam ** (2 * s - 2) * d ** (-s / 2)
        if s == 1:
            return c / d
        if s == 2:
            return c / (d * math.log(d))
        return c * d ** (-s / 2)

    # ------------------------------------------------------------------ the update
    def _psi(self, act: Activation, loss_name: str, lam: float, d: int):
        """``(ψ_search, ψ_descent)``, each ``ψ(a, R, T)`` with ``R = ‖x‖² − a²``: the smoothed
        slope ``T D_λσ(a, R)`` while searching when ``λ > 0``, else ``−ℓ'(σ(a), T) σ'(a)``."""
        loss = get_loss(loss_name)
        descent: PsiFn
        if loss.name == "correlation":
            def descent(a, R, t):
                return t * act.df(a)  # −ℓ'(f, T) = T
        else:
            def descent(a, R, t):
                return -loss.grad(act(a), t) * act.df(a)
        if lam <= 0:
            return descent, descent
        if act.hermite_degree is None or loss.name != "correlation":
            raise ValueError("smoothing needs a Hermite activation (he1..he8) and the "
                             f"correlation loss; got activation={act.name!r}, "
                             f"loss={loss.name!r}")
        smooth = smoothed_hermite(act.hermite_degree, lam, d)

        def search(a, R, t):
            return t * smooth.slope(a, R)

        return search, descent

    def _step(self, act: Activation, loss_name: str, lam: float, d: int, s: int):
        loss = get_loss(loss_name)
        search_psi, descent_psi = self._psi(act, loss_name, lam, d)
        smoothed = lam > 0
        correlation = loss.name == "correlation"

        def step(W, X, T, eta, searching, want_loss):
            A = X @ W.transpose(1, 2)  # (R, B, m)
            Tm = T.unsqueeze(-1)
            out = act(A) if want_loss or not correlation else None
            if smoothed and searching:
                A64 = A.to(torch.float64)
                Rn = (X.to(torch.float64) ** 2).sum(-1, keepdim=True) - A64**2
                psi = search_psi(A64, Rn, Tm.to(torch.float64)).to(W.dtype)
            else:
                psi = descent_psi(A, None, Tm)
            value = loss.value(out, Tm).mean(dim=(1, 2)) if want_loss else None
            return spherical_step(W, X, eta * psi, A), value

        return step

    def _schedule(self, n: int, lr: float, act: Activation, lam: float, d: int, link, T,
                  s: int) -> Schedule:
        """The step schedule, with the hold caps of :mod:`indexlab.learners.holding`:
        ``η_1 ≤ 4 ε_s D/V`` for the search ``ψ`` (``ε_s = hold_search``; only for the default
        step — a user's ``lr`` is kept) and ``η_2 = min(η_1, 4 ε_d D/V)`` for the descent ``ψ``
        (``ε_d = hold_descent``), ``V, D`` at alignment (issue 13: the spec's steps do not
        hold a found direction at ``d ≤ 128``, and the search step kept after ``λ → 0``
        threw aligned neurons off)."""
        search_psi, descent_psi = self._psi(act, self.loss, lam, d)
        caps: dict[str, float | None] = {"search": None, "descent": None}
        if link is not None and link.r == 1:
            for phase, psi, eps in (("search", search_psi, self.hold_search),
                                    ("descent", descent_psi, self.hold_descent)):
                if eps is not None and not (phase == "search" and self.lr is not None):
                    # the statistics depend on the configuration only (fixed Monte Carlo
                    # seed): cached, except for a data-dependent (agnostic/callable) transform
                    key = ((phase, act.name, str(self.loss), lam, d, link.name, link.noise,
                            self.label_transform, s)
                           if self.label_transform in ("optimal", "identity") else None)
                    stats = _ALIGNMENT_CACHE.get(key) if key is not None else None
                    if stats is None:
                        stats = alignment_statistics(psi, link, T, d)
                        if key is not None:
                            _ALIGNMENT_CACHE[key] = stats
                    caps[phase] = hold_step(*stats, eps)
        eta1 = lr if caps["search"] is None else min(lr, caps["search"])
        eta2 = eta1 if caps["descent"] is None else min(eta1, caps["descent"])
        return Schedule(lr=eta1, search=int(self.search_fraction * n), decay=self.decay,
                        batch=self.batch, descent_lr=eta2)

    def _fit_first_layer(self, source: DataSource, reference):
        d = source.d
        link = self._resolve_link(source)
        s = self._exponent(link)
        _, first_y = self._first_chunk(source)
        T, signal = self._transform(s, link, first_y[:, :10_000])
        act = get_activation(self.activation or f"he{s}")
        lam = self._smoothing(s, d)
        lr = self.lr if self.lr is not None else self.default_lr(s, d, lam, signal)
        schedule = self._schedule(source.n, lr, act, lam, d, link, T, s)
        dtype = source.dtype
        W0 = random_sphere(source.replica_ids, self.width, d, self.seed, dtype, source.device)
        self.trace_ = Trace()
        self.hyper_ = {"exponent": s, "activation": act.name, "smoothing": lam,
                       "lr": schedule.lr, "descent_lr": schedule.descent_lr,
                       "signal": signal, "search_samples": schedule.search, "batch": self.batch}
        step = self._step(act, self.loss, lam, d, s)
        return run_online(source, W0, step, T, schedule, reference, self.trace_)

    # ------------------------------------------------------------------ engine = "chain"
    def fit(self, data, y=None, *, n: int | None = None, reference: torch.Tensor | None = None):
        self.validate()
        if self.engine == "chain":
            self._fit_chain(data, y, n)
            return self
        return super().fit(data, y, n=n, reference=reference)

    fit.__doc__ = SphericalLearner.fit.__doc__

    def _fit_chain(self, data, y, n) -> None:
        """``engine="chain"``: the same exponent, transform, activation, smoothing, step and
        :class:`Schedule` as :meth:`_fit_first_layer`, run by
        :func:`~indexlab.learners.chain.run_chain`. Sets ``trace_``, ``hyper_``,
        ``diverged_``, ``samples_`` (first-layer samples: no second stage),
        ``chain_state_`` (``(R, m+1, m+1)``), ``neuron_overlaps_`` (``⟨w_j, θ*⟩``, ``(R, m)``),
        ``chain_draws_`` (random numbers drawn); ``directions_ = network_ = None``."""
        name = type(self).__name__
        n = check_data(data, y, n, name)
        d, m = data.d, self.width
        link = data.link
        s = self._exponent(link)
        act = get_activation(self.activation or f"he{s}")
        loss = get_loss(self.loss)
        lam = self._smoothing(s, d)
        check_supported(act, loss, lam, d, m)
        replicas = tuple(data.replica_ids)
        stream = ChainData(link, data.seed, replicas)
        first = stream.draw(min(n, chunk_samples(self.batch, m + 1, lam > 0)), m + 1)
        T, signal = self._transform(s, link, first[1][:, :10_000])
        lr = self.lr if self.lr is not None else self.default_lr(s, d, lam, signal)
        schedule = self._schedule(n, lr, act, lam, d, link, T, s)
        self.trace_ = Trace()
        self.hyper_ = {"exponent": s, "activation": act.name, "smoothing": lam,
                       "lr": schedule.lr, "descent_lr": schedule.descent_lr,
                       "signal": signal, "search_samples": schedule.search,
                       "batch": self.batch, "engine": "chain"}
        L0 = initial_state(replicas, m, d, self.seed)
        L, diverged, used, draws = run_chain(
            stream, L0, d, n, T, schedule, act, loss, lam, self.trace_, first,
            log_checkpoints(n, per_decade=TRACE_PER_DECADE))
        self._mark_fitted(len(replicas), data.squeeze, torch.device("cpu"), d)
        self.directions_ = None
        self.network_ = None
        self.diverged_ = torch.from_numpy(diverged)
        self.samples_ = used
        self.chain_state_ = torch.from_numpy(L)
        self.neuron_overlaps_ = torch.from_numpy(L[:, 1:, 0].copy())
        self.chain_draws_ = draws

    def _no_chain(self, what: str) -> None:
        self.check_fitted()
        if self.directions_ is None:
            raise ValueError(f"{what} needs the d-dimensional weights; {CHAIN_NOTE}")

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        self._no_chain("transform")
        return super().transform(X)

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        self._no_chain("predict")
        return super().predict(X)

    transform.__doc__ = SphericalLearner.transform.__doc__
    predict.__doc__ = SphericalLearner.predict.__doc__

    def overlap(self, theta: torch.Tensor) -> torch.Tensor:
        """Best-neuron overlap ``max_j |cos(w_j, θ)|`` per replica, ``(R,)``. With
        ``engine="chain"``: the overlap with the target's ``θ*``, from the chain's state
        (``theta`` is only checked to have ``R·d`` entries)."""
        self.check_fitted()
        if self.directions_ is not None:
            return super().overlap(theta)
        state = self.chain_state_
        if torch.as_tensor(theta).numel() % state.shape[0]:
            raise ValueError(f"theta of shape {tuple(torch.as_tensor(theta).shape)} is not "
                             f"allowed: use (d,) or ({state.shape[0]}, d), the target's "
                             "direction")
        return state[:, 1:, 0].abs().max(dim=1).values
