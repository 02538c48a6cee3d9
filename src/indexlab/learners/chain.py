"""The exact overlap chain: spherical online SGD simulated in ``O(m²)`` per sample, not ``O(m d)``.

``engine = "chain"`` of :class:`~indexlab.learners.online_sgd.OnlineSGD`,
:class:`~indexlab.learners.online_sgd.SmoothedSGD` and :class:`~indexlab.learners.unified.Unified`
(derivation in ``docs/chain.md``). The full engine (:mod:`indexlab.learners.spherical`) runs,
per minibatch of ``b`` fresh samples ``x_i ~ N(0, I_d)`` with ``z_i = ⟨θ*, x_i⟩``,
``y_i ~ P(·|z_i)``, ``t_i = T(y_i)``, for every neuron ``j``

    a_ij = ⟨w_j, x_i⟩,   ψ_ij = b η_t · t_i · s(a_ij, ‖x_i‖² − a_ij²),
    w_j ← normalise( (1 − (1/b) Σ_i ψ_ij a_ij) w_j + (1/b) Σ_i ψ_ij x_i ),

with ``s = σ'`` (correlation loss), ``s = D_λσ`` (the exact smoothed slope of
:mod:`indexlab.smoothing`, search phase only) or, for the square loss, ``t_i s`` replaced by
``(t_i − σ(a_ij)) σ'(a_ij)``. ``η_t`` is the per-sample step of the run's
:class:`~indexlab.learners.spherical.Schedule` at the samples seen before the batch.

**Sufficient statistic.** The law of a fresh ``x`` is rotation invariant, so the joint law of
everything the update uses is a function of the Gram matrix of ``(θ*, w_1, …, w_m)``. Keep
an orthonormal basis ``e_0 = θ*, e_1, …, e_m`` of a ``k = m + 1``-dimensional space ``S`` holding
``θ*`` and the neurons, and the coordinates ``L`` (``k × k``, lower triangular, row 0 = ``e_0``,
``L[j, 0] = ⟨w_j, θ*⟩``). A sample is ``x = Σ_c g_c e_c + x_⊥`` with ``g_0 = z``,
``g_1..g_m ~ N(0, 1)`` and ``x_⊥ ~ N(0, I)`` on ``S^⊥`` (dimension ``p = d − k``), all
independent. Then ``a_ij = Σ_c L[j, c] g_ic`` and the new neuron is

    w_j' ∝ Σ_c (shrink_j L[j, c] + (1/b) Σ_i ψ_ij g_ic) e_c + (1/b) Σ_i ψ_ij x_⊥i.

The orthogonal parts enter only through the ``b`` vectors ``x_⊥i``. Their Gram matrix is
Wishart ``W_b(I, p)``; by the Bartlett decomposition there is an orthonormal basis
``u_1, …, u_q`` (``q = min(b, p)``) of their span with ``x_⊥i = Σ_{l ≤ i} T_il u_l``,
``T_ii = √χ²_{p−i}``, ``T_il ~ N(0, 1)`` (``l < i``), all independent (rows ``i ≥ p`` are all
``N(0, 1)``). The new rows live in ``span(e, u)`` (``k + q`` coordinates); one Householder LQ
step maps them back to ``k`` coordinates in a new orthonormal basis with ``e_0 = θ*`` kept,
and preserves the Gram matrix. The next samples are fresh and independent of the basis, so
the chain of ``L`` has exactly the law of the Gram matrix under the full update.

* **Smoothed slope** (``λ > 0``, search phase): ``s`` depends on ``‖x_i‖² = Σ_c g_ic² +
  Σ_l T_il²``, so the Bartlett rows are drawn in full: ``b(b+1)/2`` numbers per step.
* **Otherwise** ``Ψ`` does not depend on ``x_⊥`` and only ``V = X_⊥ᵀΨ`` (``p × m``) enters:
  with ``Ψ = Q_Ψ R_Ψ`` (QR, ``R_Ψ`` of size ``min(b, m) × m``), ``X_⊥ᵀ Q_Ψ`` is a ``p × min(b, m)``
  standard Gaussian matrix ``A = Q_A R_A`` with ``R_A`` upper Bartlett, so ``V = Q_A (R_A R_Ψ)``:
  ``min(b, m)(min(b, m)+1)/2`` numbers per step. For ``m = 1`` this is one
  ``√χ²_{d−2}`` per minibatch: ``w' ∝ (shrink μ + Σψ z/b, shrink ν + Σψ g/b, ‖ψ‖ √χ²_{d−2}/b)``
  with ``L[1] = (μ, ν)``, which for ``b = 1`` is the overlap recursion
  ``m' = (m + ηψ b√(1−m²))/√(1 + η²ψ²(b² + ‖x_⊥‖²))`` (docs/chain.md).
* **Initialisation**: ``w_j = g_j/‖g_j‖``, ``g_j ~ N(0, I_d)``; Bartlett with ``θ*`` first gives
  row ``j``: ``N(0, 1)`` in columns ``< j``, ``√χ²_{d−j}`` in column ``j`` (then normalised).
* **Labels** depend on ``z`` only: the chain draws the coordinates ``(z, g_1..g_m)`` for a
  whole chunk, evaluates ``y = g(z)`` (+ noise, or binary draws) with the link and ``T(y)`` in
  torch, vectorised, and then runs the sequential numba loop
  (:mod:`~indexlab.learners.chain_kernel`) over the chunk.
  Any link and any label transform is therefore supported.

The cost per sample is ``O(m²)`` plus ``O(m³/b)`` per step for the LQ, independent of ``d``.
Minibatches are the consecutive ``b = B`` samples of the run (the last one shorter); the full
engine also cuts a short batch at the end of each data chunk, a difference of a few steps.

Supported: activations ``he1..he8`` and ``quadratic`` (polynomials), losses ``correlation``
and ``square``, smoothing with ``he_k`` and the correlation loss (as the full engine), any
link with ``r = 1`` (dense or sparse ``θ*``: the law of the overlaps does not depend on
``θ*``), any label transform. Not: datasets (the chain draws its own samples), multi-index
targets, other activations or losses.
"""

from __future__ import annotations

import functools
import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import torch

from indexlab.learners.base import Trace, _check_budget, log_checkpoints
from indexlab.learners.chain_kernel import (
    CORRELATION,
    SQUARE,
    chain_chunk,
    init_state,
)
from indexlab.learners.label_transforms import transform_labels
from indexlab.learners.trace import PASSAGE_LEVELS
from indexlab.links import Link
from indexlab.nn import Activation, Loss, get_activation, get_loss
from indexlab.seeding import replica_seeds
from indexlab.smoothing import smoothed_hermite
from indexlab.targets import Target

CHAIN_LOSSES = {"correlation": CORRELATION, "square": SQUARE}
CHUNK_NUMBERS = 1 << 16  # sample coordinates per replica and chunk (0.5 MiB in float64)
NOTE = ("engine='chain' simulates the exact law of the overlaps (the Gram matrix of "
        "(w_1..w_m, θ*)) without d-dimensional weights: directions_ is None, and there is no "
        "second layer (no predictor, test error null)")


def activation_polynomials(act: Activation) -> tuple[np.ndarray, np.ndarray]:
    """Ascending coefficients of ``σ`` and ``σ'`` for the polynomial activations, else
    ``ValueError`` naming the ones the chain has."""
    if act.hermite_degree is not None:
        k = act.hermite_degree
        # h_k(u) = Σ_m c_{k,m} u^{k−2m}, c_{k,m} = √(k!) (−1)^m / (m! (k−2m)! 2^m)
        coef = np.zeros(k + 1)
        for mm in range(k // 2 + 1):
            coef[k - 2 * mm] = math.sqrt(math.factorial(k)) * (-1) ** mm / (
                math.factorial(mm) * math.factorial(k - 2 * mm) * 2**mm)
    elif act.name == "quadratic":
        coef = np.array([0.0, 0.0, 0.5])
    else:
        raise ValueError(f"activation={act.name!r} is not supported by engine='chain': use "
                         "he1..he8 or quadratic (polynomial activations), or engine='full'")
    dcoef = np.polynomial.polynomial.polyder(coef) if len(coef) > 1 else np.zeros(1)
    return coef, np.asarray(dcoef, dtype=np.float64)


def slope_terms(k: int, lam: float, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``D_λσ(a, R) = Σ sc a^sp R^sq`` for ``σ = h_k`` (:mod:`indexlab.smoothing`)."""
    table: dict[tuple[int, int], float] = {}
    for p, q, c in smoothed_hermite(k, lam, d).coefficients:
        if p:
            table[(p - 1, q)] = table.get((p - 1, q), 0.0) + c * p
        if q:
            table[(p + 1, q - 1)] = table.get((p + 1, q - 1), 0.0) - 2 * c * q
    keys = sorted(table) or [(0, 0)]
    return (np.array([k_[0] for k_ in keys], dtype=np.int64),
            np.array([k_[1] for k_ in keys], dtype=np.int64),
            np.array([table.get(k_, 0.0) for k_ in keys], dtype=np.float64))


def check_supported(act: Activation, loss: Loss, lam: float, d: int, m: int) -> None:
    """``ValueError`` before any work when the chain cannot run this configuration."""
    if loss.name not in CHAIN_LOSSES:
        raise ValueError(f"loss={loss.name!r} is not supported by engine='chain': use "
                         f"{' or '.join(CHAIN_LOSSES)}, or engine='full'")
    activation_polynomials(act)
    if lam > 0 and (act.hermite_degree is None or loss.name != "correlation"):
        raise ValueError("smoothing needs a Hermite activation (he1..he8) and the correlation "
                         f"loss; got activation={act.name!r}, loss={loss.name!r}")
    if d < m + 2:
        raise ValueError(f"engine='chain' needs d >= width + 2 (the orthogonal complement of "
                         f"span(θ*, w_1..w_m) must be non-empty): got d={d}, width={m}")


def initial_state(replicas, m: int, d: int, seed: int) -> np.ndarray:
    """``L (R, m+1, m+1)`` for ``θ*`` and ``m`` neurons uniform on ``S^{d−1}`` (module doc);
    replica ``j`` depends only on ``(seed, j)``."""
    L = np.empty((len(replicas), m + 1, m + 1))
    init_state(replica_seeds(seed, replicas, 0), d, L)
    return L


@dataclass
class ChainData:
    """The samples' coordinates in the span and their labels: ``(z, g_1..g_m)`` i.i.d.
    ``N(0, 1)`` from one numpy generator per replica (seeded by ``(seed, replica)``), ``y``
    from the link applied to ``z`` (for noisy or binary links with one torch generator per
    replica, made on first use)."""

    link: Link
    seed: int
    replicas: tuple[int, ...]

    def __post_init__(self) -> None:
        seeds = replica_seeds(self.seed, self.replicas, 1)
        self._g = [np.random.Generator(np.random.PCG64(int(v))) for v in seeds]
        self._y: list[torch.Generator] = []

    def subset(self, a: int, b: int) -> ChainData:
        """The replicas ``a ≤ r < b`` of this stream, sharing their generators (so drawing
        from the subset advances this stream's replicas ``a..b−1``)."""
        sub = ChainData.__new__(ChainData)
        sub.link, sub.seed, sub.replicas = self.link, self.seed, self.replicas[a:b]
        sub._g, sub._y = self._g[a:b], self._y[a:b]
        return sub

    def draw(self, n: int, k: int) -> tuple[np.ndarray, torch.Tensor]:
        """The next ``n`` samples: coordinates ``(R, n, k)`` (float64, column 0 is ``z``) and
        labels ``y (R, n)`` (torch float64)."""
        coords = np.empty((len(self.replicas), n, k))
        for r, g in enumerate(self._g):
            g.standard_normal(out=coords[r])
        zt = torch.from_numpy(coords[:, :, 0].copy())
        if not self.link.is_random:
            y = self.link(zt.reshape(-1, 1)).reshape(zt.shape)
        else:
            if not self._y:
                seeds = replica_seeds(self.seed, self.replicas, 2)
                self._y = [torch.Generator().manual_seed(int(v)) for v in seeds]
            y = torch.stack([self.link(zt[i][:, None], generator=g)
                             for i, g in enumerate(self._y)])
        return coords, y.to(torch.float64)

    def orthogonal(self, normals: int, dfs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``normals`` standard normals and one ``χ²_ν`` per entry of ``dfs``, per replica
        (the orthogonal parts of the smoothed steps)."""
        bn = np.empty((len(self.replicas), normals))
        bc = np.empty((len(self.replicas), len(dfs)))
        for r, g in enumerate(self._g):
            g.standard_normal(out=bn[r])
            bc[r] = g.chisquare(dfs) if len(dfs) else bc[r]
        return bn, bc


@functools.lru_cache(maxsize=64)
def _smoothed_draws(b: int, m: int, p: int) -> tuple[int, tuple[int, ...]]:
    """Random numbers of one smoothed step (kernel): sample ``i`` has ``q_i = min(i, m, p)``
    normal coordinates on the running basis and, if ``p > q_i``, one ``χ²_{p−q_i}``."""
    q, normals, dfs = 0, 0, []
    for _ in range(b):
        normals += q
        if p - q > 0:
            dfs.append(p - q)
            q = min(q + 1, m)
    return normals, tuple(dfs)


def _orthogonal_plan(smoothed_sizes: np.ndarray, m: int, p: int) -> tuple[int, np.ndarray]:
    """Normals and ``χ²`` degrees of freedom of the smoothed steps of sizes
    ``smoothed_sizes`` (:func:`_smoothed_draws` per step, in step order), by runs of equal
    sizes (all steps but a chunk's last have the run's batch size)."""
    normals, dfs = 0, [np.zeros(0)]
    if len(smoothed_sizes):
        cuts = np.flatnonzero(np.diff(smoothed_sizes)) + 1
        for run in np.split(smoothed_sizes, cuts):
            count, step_dfs = _smoothed_draws(int(run[0]), m, p)
            normals += count * len(run)
            dfs.append(np.tile(np.asarray(step_dfs, dtype=np.float64), len(run)))
    return normals, np.concatenate(dfs)


def chunk_samples(batch: int, k: int, smoothed: bool) -> int:
    """Samples per replica in one chunk: a multiple of the batch with about
    ``CHUNK_NUMBERS`` random numbers (``k`` coordinates per sample, up to ``k`` more for the
    orthogonal part when smoothing), the same for any number of replicas (so ``replicas=[j]``
    reproduces replica ``j``)."""
    per_sample = k + 1 + (k if smoothed else 0)
    return max(batch, CHUNK_NUMBERS // per_sample // batch * batch)


def step_plan(seen: int, size: int, schedule, lam: float, checkpoints: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The steps of the chunk of samples ``[seen, seen + size)``, vectorised: per step its
    batch size ``b`` (the consecutive ``B`` samples, the last one shorter), ``b·η_t`` at its
    first sample, whether it uses the smoothed slope (``λ > 0`` in the search phase), and its
    checkpoint slot (or −1); plus the sample counts recorded at the slots.

    A step records when a checkpoint ``c`` falls in ``(start, end]`` of its samples (a
    checkpoint ``≤ 0`` at the run's first step), at ``end`` — once per step however many
    checkpoints it passes, as the full engine."""
    starts = np.arange(seen, seen + size, schedule.batch, dtype=np.int64)
    ends = np.minimum(starts + schedule.batch, seen + size)
    sizes = ends - starts
    etas = schedule.steps_at(starts) * sizes
    smooth = (starts < schedule.search) & (lam > 0)
    before = np.searchsorted(checkpoints, starts, side="right")
    before[starts == 0] = 0
    hit = np.searchsorted(checkpoints, ends, side="right") > before
    rec = np.where(hit, np.cumsum(hit) - 1, -1).astype(np.int64)
    return sizes, etas, smooth, rec, ends[hit]


@dataclass
class ChunkRecords:
    """The trace of one replica range: sample counts and ``(R_part,)`` metric rows."""

    samples: list[int]
    best: list[np.ndarray]
    mean: list[np.ndarray]
    loss: list[np.ndarray]
    passages: np.ndarray  # (R_part, len(PASSAGE_LEVELS)) int64, −1: not reached


def run_chain(data: ChainData, L: np.ndarray, d: int, n: int, transform, schedule,
              act: Activation, loss: Loss, lam: float, trace: Trace,
              first: tuple[np.ndarray, torch.Tensor] | None = None,
              checkpoints: list[int] | None = None,
              ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Run the chain for ``n`` samples per replica from state ``L``; returns
    ``(L, diverged (R,), samples, random numbers drawn)`` and records ``loss``, ``overlap`` (best
    neuron) and ``overlap_mean`` in ``trace`` at the checkpoints of the full engine
    (:func:`~indexlab.learners.spherical.run_online`), and each replica's first passage of the best
    overlap at every level of :data:`~indexlab.learners.trace.PASSAGE_LEVELS`, at the resolution of
    one step (:meth:`~indexlab.learners.trace.Trace.record_passages`). ``first`` is an already drawn
    first chunk (its labels may have built an agnostic ``transform``); ``checkpoints``: the sample
    counts to record at (default :func:`log_checkpoints` of ``n``; the learner passes the full
    engine's).

    The replicas are split into ``numba.get_num_threads()`` ranges (``NUMBA_NUM_THREADS``),
    each run start to end — drawing, labels, ``T(y)`` and the kernel — by its own thread
    (numpy's generators, torch and the kernel release the GIL). Every replica has its own
    generators, so the result does not depend on the number of threads."""
    R = L.shape[0]
    L = np.ascontiguousarray(L, dtype=np.float64).copy()
    cps = np.asarray(log_checkpoints(n) if checkpoints is None else checkpoints, np.int64)
    threads = max(1, min(R, numba.get_num_threads()))
    edges = [int(e) for e in np.linspace(0, R, threads + 1).astype(int)]
    ranges = list(itertools.pairwise(edges))

    def part(a: int, b: int) -> tuple[np.ndarray, int, int, ChunkRecords]:
        sub_first = None if first is None else (first[0][a:b], first[1][a:b])
        return _run_range(data.subset(a, b), L[a:b], d, n, transform, schedule, act, loss,
                          lam, cps, sub_first)

    if threads == 1:
        results = [part(0, R)]
    else:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(lambda ab: part(*ab), ranges))
    alive = np.concatenate([res[0] for res in results])
    records = [res[3] for res in results]
    for slot, at in enumerate(records[0].samples):
        trace.record(at, loss=np.concatenate([r.loss[slot] for r in records]),
                     overlap=np.concatenate([r.best[slot] for r in records]),
                     overlap_mean=np.concatenate([r.mean[slot] for r in records]))
    trace.record_passages("overlap", PASSAGE_LEVELS,
                          np.concatenate([r.passages for r in records]).T)
    seen = results[0][1]
    return L, ~alive, seen, sum(res[2] for res in results)


def _run_range(data: ChainData, L: np.ndarray, d: int, n: int, transform, schedule,
               act: Activation, loss: Loss, lam: float, checkpoints: np.ndarray,
               first: tuple[np.ndarray, torch.Tensor] | None,
               ) -> tuple[np.ndarray, int, int, ChunkRecords]:
    """:func:`run_chain` on one replica range, on the calling thread, advancing ``L`` (a
    contiguous view of the range's states) in place: returns ``(alive, samples, random
    numbers drawn, records)``."""
    R, k = L.shape[0], L.shape[1]
    p = d - k
    sig, dsig = activation_polynomials(act)
    loss_code = CHAIN_LOSSES[loss.name]
    sp, sq, sc = (slope_terms(act.hermite_degree, lam, d) if lam > 0
                  else (np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1)))
    alive = np.ones(R, dtype=np.bool_)
    draws = np.zeros(R, dtype=np.int64)
    records = ChunkRecords([], [], [], [],
                           np.full((R, len(PASSAGE_LEVELS)), -1, dtype=np.int64))
    seen, chunk_index, orthogonal_draws = 0, 0, 0
    per_chunk = chunk_samples(schedule.batch, k, lam > 0)
    while seen < n:
        size = min(per_chunk, n - seen)
        if first is not None and chunk_index == 0:
            coords, y = first[0][:, :size], first[1][:, :size]
        else:
            coords, y = data.draw(size, k)
        t = np.ascontiguousarray(transform_labels(transform, y).to(torch.float64).numpy())
        coords = np.ascontiguousarray(coords)
        sizes, etas, smooth, rec, rec_seen = step_plan(seen, size, schedule, lam, checkpoints)
        n_normals, dfs = _orthogonal_plan(sizes[smooth], k - 1, p)
        bn, bc = data.orthogonal(n_normals, dfs)
        n_cp = max(len(rec_seen), 1)
        out = [np.full((R, n_cp), np.nan) for _ in range(3)]
        seeds = replica_seeds(data.seed, data.replicas, 3, chunk_index)
        chain_chunk(0, R, (L, alive, draws), (coords, t, bn, bc, seeds),
                    (sizes, etas, smooth, rec), (p, sig, dsig, (sp, sq, sc), loss_code),
                    (out[0], out[1], out[2], records.passages, PASSAGE_LEVELS, seen))
        for slot, at in enumerate(rec_seen):
            records.samples.append(int(at))
            records.best.append(out[0][:, slot])
            records.mean.append(out[1][:, slot])
            records.loss.append(out[2][:, slot])
        seen += size
        chunk_index += 1
        orthogonal_draws += R * (n_normals + len(dfs))
    # numba's draws, the samples' coordinates and the smoothed steps' orthogonal parts
    return alive, seen, int(draws.sum()) + R * seen * k + orthogonal_draws, records


def best_overlap(L: np.ndarray) -> torch.Tensor:
    """``max_j |⟨w_j, θ*⟩|`` per replica from the chain state ``L (R, k, k)``."""
    return torch.from_numpy(np.abs(L[:, 1:, 0]).max(axis=1))




def check_config(loss: str | Loss, activation: str | Activation | None, owner: str) -> None:
    """The checks of ``engine='chain'`` that need no data (run by the learner's
    validation, hence by the spec loader, before any work); ``owner`` names the learner."""
    given = loss if isinstance(loss, str) else get_loss(loss).name
    if get_loss(loss).name not in CHAIN_LOSSES:
        raise ValueError(f"loss={given!r} is not supported by {owner}(engine='chain'): "
                         f"use {' or '.join(CHAIN_LOSSES)}, or engine='full'")
    if activation is not None:
        activation_polynomials(get_activation(activation))


def check_data(data, y, n, owner: str) -> int:
    """The budget ``n`` of a chain fit; ``ValueError`` unless ``data`` is a single-index
    target fitted with a budget (the chain draws its own samples)."""
    if not isinstance(data, Target) or y is not None:
        raise ValueError(f"{owner}(engine='chain') draws its own samples: fit a target with a "
                         "budget, fit(target, n=...); for a dataset use engine='full'")
    if n is None:
        raise ValueError("fit(target) needs a sample budget: fit(target, n=...)")
    if data.r != 1:
        raise ValueError(f"{owner}(engine='chain') needs a single-index target; this one has "
                         f"r={data.r}")
    return _check_budget(n)
