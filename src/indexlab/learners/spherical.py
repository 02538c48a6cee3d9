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

import numpy as np
import torch

from indexlab.learners.base import DataSource, Trace, log_checkpoints
from indexlab.metrics import max_overlap, mean_overlap
from indexlab.nn import ACTIVATIONS, Network, relu_features, ridge_fit

# step(W, X, t_labels, eta_batch, searching, want_loss) -> (new W, per-replica loss or None)
StepFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float, bool, bool],
                  tuple[torch.Tensor, torch.Tensor | None]]

RIDGES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)


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
    checkpoints = log_checkpoints(source.n)
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
    ridges: tuple[float, ...] = RIDGES,
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


def collect(source_chunks, n: int | None = None):
    """Concatenate chunks ``(R, b, d)`` into one dataset (used for the small second stage)."""
    Xs, ys = zip(*source_chunks, strict=True)
    X, y = torch.cat(Xs, dim=1), torch.cat(ys, dim=1)
    return (X, y) if n is None else (X[:, :n], y[:, :n])
