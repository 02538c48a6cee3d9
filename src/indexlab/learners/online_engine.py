"""The online engine of the spherical learners: ``R`` replicas × ``m`` neurons on the sphere.

Every online first-layer learner is an instance of the per-sample update
``w ← normalise(w + η ψ(⟨w,x⟩, y) P_w^⊥ x)`` ("the unified per-sample update",
docs/algorithms.md §1.2). The engine
runs it for ``R`` replicas × ``m`` neurons at once on minibatches of ``B`` fresh samples, with
the linear-scaling rule: one minibatch step uses the averaged direction
``(1/B) Σ_i ψ_i P_w^⊥ x_i`` and step ``B·η_t`` (drift and normalisation drag then match ``B``
single steps to first order); ``η_t`` follows the learner's
:class:`~indexlab.learners.schedule.Schedule`.

A replica whose weights or loss become NaN/inf is marked diverged and frozen (its weights are
kept as NaN); the others run on. A non-finite training label counts as such: its transformed
label is NaN, even when the transform ``T`` maps it to a finite number (the optimal and
agnostic transforms do), so the step that uses it turns the replica's weights NaN.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from indexlab.learners.base import DataSource, Trace, log_checkpoints
from indexlab.learners.costs import PASSAGE_BUFFER_STEPS
from indexlab.learners.label_transforms import transform_labels
from indexlab.learners.schedule import Schedule
from indexlab.learners.trace import PASSAGE_LEVELS
from indexlab.metrics import max_overlap, mean_overlap
from indexlab.seeding import replica_generator

# step(W, X, t_labels, eta_batch, searching, want_loss) -> (new W, per-replica loss or None)
StepFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float, bool, bool],
                  tuple[torch.Tensor, torch.Tensor | None]]

# trace checkpoints per decade of n (a factor 10^(1/24) ≈ 1.1 between them), read by both
# engines at fit time; first passages at the trace's levels are watched after every step
# (PassageWatch), so the grid bounds n* only for criteria off PASSAGE_LEVELS
TRACE_PER_DECADE = 24


def normalise_rows(W: torch.Tensor) -> torch.Tensor:
    return W / W.norm(dim=-1, keepdim=True)


def random_sphere(replicas, m: int, d: int, seed: int, dtype, device) -> torch.Tensor:
    """``W (R, m, d)`` with rows uniform on ``S^{d−1}``; replica ``j`` depends on ``(seed, j)``."""
    rows = []
    for j in replicas:
        g = replica_generator(seed, j, 0)
        rows.append(torch.randn(m, d, generator=g, dtype=torch.float64))
    return normalise_rows(torch.stack(rows)).to(device=device, dtype=dtype)


def spherical_step(W, X, psi, A=None):
    """``W ← normalise(W + G)`` with ``G_j = (1/B) Σ_i ψ_ij (x_i − a_ij w_j)`` pre-scaled by η
    (the Riemannian gradient step on the sphere, docs/algorithms.md §1.2).

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

    ``labels`` maps raw labels to the transformed ``T(y)`` once per chunk (a non-finite label
    gives NaN: :func:`~indexlab.learners.label_transforms.transform_labels`). ``reference``
    (``(R, d)`` true directions, when known) adds overlaps to the trace, and each replica's
    first passage of its best overlap at every level of
    :data:`~indexlab.learners.trace.PASSAGE_LEVELS`, watched after every step.
    """
    diverged = torch.zeros(W.shape[0], dtype=torch.bool, device=W.device)
    checkpoints = log_checkpoints(source.n, per_decade=TRACE_PER_DECADE)
    next_cp = 0
    seen = 0
    loss = torch.zeros(W.shape[0], dtype=W.dtype, device=W.device)
    any_diverged = False
    B = schedule.batch
    watch = None if reference is None else PassageWatch(W, reference)
    for Xc, yc in source.chunks:
        Xc = Xc.to(W.dtype)
        Tc = transform_labels(labels, yc).to(W.dtype)
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
            if watch is not None:
                watch.after_step(W, seen)
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
    if watch is not None:
        trace.record_passages("overlap", PASSAGE_LEVELS, watch.result())
    return W, diverged, seen


class PassageWatch:
    """First passages of the best overlap ``max_j |⟨w_j, θ⟩|`` at every level of
    :data:`~indexlab.learners.trace.PASSAGE_LEVELS`, watched after every step.

    Every step function returns unit rows, so ``|W θ̂|`` holds the cosines. One step costs a
    single batched product, written into a buffer of :data:`BUFFER_STEPS` steps; each full
    buffer is then scanned at once: ``N_j(τ)`` is the sample count of the first buffered step
    with best overlap ``≥ τ``, for the levels replica ``j`` had not reached before. A NaN
    (diverged) overlap compares false: never a passage."""

    BUFFER_STEPS = PASSAGE_BUFFER_STEPS

    def __init__(self, W: torch.Tensor, reference: torch.Tensor):
        R, m = W.shape[0], W.shape[1]
        self.theta = (reference / torch.linalg.vector_norm(reference, dim=-1, keepdim=True)
                      ).to(W.dtype).unsqueeze(-1)
        self.levels = torch.as_tensor(PASSAGE_LEVELS, dtype=W.dtype, device=W.device)
        self.passages = torch.full((R, self.levels.numel()), -1, dtype=torch.int64,
                                   device=W.device)
        self.buffer = torch.empty((self.BUFFER_STEPS, R, m, 1), dtype=W.dtype, device=W.device)
        self.samples: list[int] = []

    def after_step(self, W: torch.Tensor, seen: int) -> None:
        torch.bmm(W, self.theta, out=self.buffer[len(self.samples)])
        self.samples.append(seen)
        if len(self.samples) == self.BUFFER_STEPS:
            self._scan()

    def _scan(self) -> None:
        k = len(self.samples)
        if not k:
            return
        best = self.buffer[:k].abs().amax(dim=(2, 3))  # (k, R)
        hit = best[:, :, None] >= self.levels  # (k, R, L)
        first = hit.to(torch.int8).argmax(dim=0)  # the first buffered step reaching each level
        at = torch.as_tensor(self.samples, dtype=torch.int64, device=best.device)[first]
        new = hit.any(dim=0) & (self.passages < 0)
        self.passages = torch.where(new, at, self.passages)
        self.samples = []

    def result(self) -> torch.Tensor:
        """``(L, R)`` int64 first passages (``−1``: never reached)."""
        self._scan()
        return self.passages.T.cpu()
