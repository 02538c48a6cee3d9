"""Bayes-optimal GAMP for Gaussian single- and multi-index models (``r ≤ 3``).

Multi-index GAMP with a Gaussian prior ``w_j ~ N(0, I_r)`` on the rows of ``W = √d Uᵀ``
(Rangan 2011; Aubin, Maillard, Barbier, Krzakala, Macris, Zdeborová 2018, *The committee
machine*, NeurIPS, Algorithm 1; Troiani et al. 2025, AISTATS, for the weak-recovery
thresholds). With ``F = X/√d`` (``n × d``), ``Ŵ_t`` (``d × r``), ``V_t`` (``r × r``, shared by
all samples: the entries of ``F`` have variance ``1/d``) and ``g_{−1} = 0``:

    ω_t   = F Ŵ_t − g_{t−1} V_t                          (Onsager term)
    g_t   = g_out(y, ω_t, V_t),   ∂g_t = ∂_ω g_out(y, ω_t, V_t)   (per sample)
    A_t   = −(1/d) Σ_μ ∂g_{t,μ}
    B_t   = Fᵀ g_t + Ŵ_t A_t
    Ŵ_{t+1} = B_t (I + A_t)⁻¹,   V_{t+1} = (I + A_t)⁻¹   (Gaussian prior: f_w, C)

``g_out`` is the channel of :func:`indexlab.state_evolution.output_channel`, computed per
sample by the same grid quadrature (``g_out = V⁻¹(ẑ − ω)``, ``∂_ω g_out = V⁻¹(Σ − V)V⁻¹``),
so GAMP is tracked by :func:`indexlab.state_evolution.state_evolution`. Damping
``β``: ``Ŵ ← (1 − β)·new + β·old``; ``V`` is always damped, ``V ← 0.3 (I + A)⁻¹ + 0.7 V``:
near ``q = 0`` the undamped map ``V ↦ (I + A(V))⁻¹`` has slope ``≈ −α`` (``A`` is
``α E[(V − Σ)/V²]``, ``Σ ≈ I``), so for ``α > 1`` it oscillates with a growing amplitude (on
``z² + 0.3ε``, ``d = 300``, ``α = 3``: ``V = 1, 0.88, 1.37, 0.61, …`` until ``V`` is no longer
positive); with the damping the slope is ``0.7 − 0.3α``, stable for ``α < 5.6``. Damping does
not move the fixed points. **Start**: ``Ŵ_0 = √q₀ G`` with ``G`` i.i.d.
``N(0, 1)`` (seeded per replica), ``V_0 = (1 − q₀) I``: a random start of self-overlap
``q₀`` (default ``10⁻⁶``) and overlap ``O(√(q₀/d))`` with the truth, the uninformed
symmetry-breaking start (no spectral initialisation). The start must be tiny: from
``q₀ = 10⁻³`` on ``z² + 0.3ε`` (``d = 500``, ``α = 2``) the finite-``n`` fluctuation of
``A`` (``O(1/√n)`` around its mean, which is ``O(q)``) makes ``V`` oscillate about ``I`` and
the iteration wanders; from ``10⁻⁶`` (``d = 2000``, ``α = 1.2``, 4 replicas) every replica
reaches the state-evolution fixed point (overlaps 0.63, 0.55, 0.66, 0.63; SE 0.62). (With the
Nishimori form ``A = Σ g gᵀ/d`` instead, one replica in four stalled at a spurious
self-consistent state, so the exact ``−Σ ∂g/d`` is used.) In the linear phase the iteration
is a power iteration of the optimal spectral matrix (Mondelli & Montanari 2018), which takes
``O(log d)`` steps to align.
**Stop** at the first iteration with ``‖Ŵ_{t+1} − Ŵ_t‖_F² < tol ‖Ŵ_{t+1}‖_F²`` (default
``tol = 10⁻¹⁰``), or once ``tr(ŴᵀŴ)/(d r) < 10⁻¹⁴`` (the uninformative fixed point
``Ŵ = 0``), for every replica, or after ``max_iter``.

**PSD-preserving update.** The exact ``A = −(1/d)Σ_μ ∂g_μ`` fluctuates around its mean by
``O(√(α/d))`` (at ``q ≈ 0`` on ``he2`` it is ``(1/d)Σ_μ (1 − z_μ²)``, of standard deviation
``√(2α/d)``): at small ``d`` and large ``α`` (``d = 12``, ``α = 50``: ``A = −8`` in one replica
of three) ``I + A`` is not positive definite and the Gaussian-prior step has no proper
posterior. Wherever the smallest eigenvalue of ``I + A`` is below ``0.05``, that replica's
step uses the Nishimori form ``A = (1/d)Σ_μ g_μ g_μᵀ`` instead (positive semi-definite, the
same mean on the Bayes-optimal line: ``E[∂_ω g_out] = −E[g_out g_outᵀ]``, Aubin et al. 2018),
so ``C = (I + A)⁻¹`` and the damped ``V`` stay positive definite; the fixed points of the
state evolution are unchanged. A replica whose iterate becomes non-finite, or whose ``V`` or
``I + A`` still loses positive definiteness, is flagged in ``diverged_`` and frozen at its
last valid iterate; the others go on unchanged. Noiseless continuous links have no density
on the grid: GAMP assumes the noise ``channel_noise`` (default: the smallest the grid
resolves, recorded in ``channel_noise_``), which makes it the Bayes-optimal algorithm of the
slightly noisy link.
Cost per iteration: ``4 R n d r`` for the two products with ``F`` and ``≈ 2 R n K (r + 3)``
for the channel on ``K`` grid atoms (``K ≈ 500, 2·10⁴, 8·10³`` for ``r = 1, 2, 3``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from indexlab import metrics
from indexlab.learners._util import Projection, check_int, replica_ids
from indexlab.learners.base import Trace, data_source
from indexlab.learners.constraints import InstanceOf, Int, Real, Text
from indexlab.learners.costs import Cost, number, with_defaults
from indexlab.links import Link, get_link
from indexlab.seeding import replica_generator
from indexlab.state_evolution import MAX_R, Channel, output_channel

_CHUNK_NUMBERS = 1 << 23  # samples × grid atoms per chunk of the channel computation
COLLAPSED = 1e-14  # self-overlap below which the iterate has reached the fixed point Ŵ = 0
V_DAMPING = 0.7  # V ← 0.3 (I + A)⁻¹ + 0.7 V (module docstring)
PROPER = 0.05  # smallest eigenvalue of I + A kept in the exact form (module docstring)


def _channel_tensors(channel: Channel, dtype: torch.dtype, device: torch.device):
    nodes = torch.as_tensor(channel.nodes, dtype=dtype, device=device)
    log_prior_grid = torch.zeros(nodes.shape[0], dtype=dtype, device=device)  # uniform cells
    values = torch.as_tensor(channel.values, dtype=dtype, device=device)
    return nodes, log_prior_grid, values


def _log_likelihood(channel: Channel, y: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``log P(y_μ | z_k)`` up to a constant in ``k``: ``(…, b, K)`` for ``y (…, b)``."""
    if channel.kind == "gaussian":
        return -0.5 * ((y[..., None] - values) / channel.sigma) ** 2
    if channel.kind == "binary":
        p = (1 + y[..., None] * values) / 2
        return torch.log(p.clamp_min(0))
    match = y[..., None] == values
    return torch.where(match, 0.0, -math.inf).to(values.dtype)


def channel_moments(channel: Channel, y: torch.Tensor, omega: torch.Tensor, V: torch.Tensor,
                    tensors=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean ``ẑ (R, n, r)`` and covariance ``Σ (R, n, r, r)`` of ``z`` given
    ``y (R, n)``, ``ω (R, n, r)`` and ``V (R, r, r)``, by the grid sum of the module docstring
    (chunked over samples)."""
    nodes, _, values = tensors or _channel_tensors(channel, omega.dtype, omega.device)
    R, n, r = omega.shape
    Vinv = torch.linalg.inv(V)
    zAz = torch.einsum("ki,rij,kj->rk", nodes, Vinv, nodes)  # (R, K)
    outer = (nodes[:, :, None] * nodes[:, None, :]).reshape(-1, r * r)
    step = max(1, _CHUNK_NUMBERS // (R * nodes.shape[0]))
    means, seconds = [], []
    for s in range(0, n, step):
        om, yy = omega[:, s:s + step], y[:, s:s + step]
        cross = (om @ Vinv) @ nodes.T  # (R, b, K)
        logw = cross - 0.5 * zAz[:, None, :] + _log_likelihood(channel, yy, values)
        p = torch.softmax(logw, dim=-1)
        means.append(p @ nodes)
        seconds.append((p @ outer).reshape(R, -1, r, r))
    mean = torch.cat(means, dim=1)
    second = torch.cat(seconds, dim=1)
    cov = second - mean[..., :, None] * mean[..., None, :]
    return mean, cov


@dataclass
class GAMP(Projection):
    """Bayes-optimal generalised approximate message passing (see the module docstring).

    Hyperparameters:
        r: number of directions (must be the link's ``r``; ``≤ 3``).
        link: the link, needed when fitting a dataset (a target brings its own).
        channel_noise: label noise the channel assumes for a noiseless continuous link
            (``None``: the smallest the grid resolves).
        damping: ``β`` of ``Ŵ`` in ``[0, 1)`` (default 0: fixed points do not depend on it).
        start: self-overlap ``q₀`` of the random start (default ``1e-6``).
        max_iter: iterations (default 300); tol: stopping rule on ``‖ΔŴ‖_F²/‖Ŵ‖_F²``.
        nodes: channel grid nodes per axis (``None``: ``800, 200, 40`` for ``r = 1, 2, 3``).
        seed: the random start; replica ``j`` uses ``(seed, j)``.

    Fitted: ``directions_ (R, r, d)`` (orthonormalised columns of ``Ŵ``), ``weights_``
    ``(R, d, r)`` (``Ŵ``), ``V_ (R, r, r)``, ``q_ (R, r, r)`` (``ŴᵀŴ/d``), ``iterations_``,
    ``converged_``, ``diverged_``, ``n_iter_`` (the most iterations a replica ran),
    ``channel_kind_`` (the kind of :class:`~indexlab.state_evolution.Channel`; the channel
    itself holds the link's functions and is not kept, so a fitted GAMP pickles),
    ``channel_noise_``, ``samples_``, ``trace_`` (one record per iteration with ``samples =
    n``: ``iteration``, ``self_overlap = tr q/r`` and, on a target, ``overlap`` =
    ``‖Û Uᵀ‖_F²/r`` and ``subspace_distance``).
    """

    r: int = 1
    link: str | Link | None = None
    channel_noise: float | None = None
    damping: float = 0.0
    start: float = 1e-6
    max_iter: int = 300
    tol: float = 1e-10
    nodes: int | None = None
    seed: int = 0

    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "r": "number of directions: the link's r (r ≤ 3)",
        "link": "the link, for fitting a dataset (a target brings its own)",
        "channel_noise": "label noise assumed for a noiseless continuous link (None: the "
                         "smallest the channel grid resolves)",
        "damping": "β of Ŵ ← (1 − β) new + β old (V is always damped by 0.7)",
        "start": "self-overlap q₀ of the random start (uninformed symmetry breaking)",
        "max_iter": "GAMP iterations at most",
        "tol": "stop when ‖Ŵ_{t+1} − Ŵ_t‖_F² < tol ‖Ŵ_{t+1}‖_F² for every replica",
        "nodes": "channel grid nodes per axis (None: 800, 200, 40 for r = 1, 2, 3; fewer "
                 "is faster and needs more label noise)",
        "seed": "random start; replica j uses (seed, j)",
    }
    constraints: ClassVar[dict] = {
        "r": (Int(1, MAX_R),),
        "link": (Text("a link name or expression"), InstanceOf(Link), None),
        "channel_noise": (Real(0, closed="neither"), None),
        "damping": (Real(0, 1, closed="left"),),
        "start": (Real(0, 1, closed="neither"),),
        "max_iter": (Int(1),),
        "tol": (Real(0, closed="neither"),),
        "nodes": (Int(10), None),
        "seed": (Int(0),),
    }
    theory_key: ClassVar[str | None] = "amp"

    @classmethod
    def cost(cls, hyper, d, n, replicas, r=1):
        """The dataset ``R·n·d``, the iterates, and a chunk of the channel computation;
        work ``max_iter · R (4 n d r + 2 n K (r + 3))`` (module docstring)."""
        h = with_defaults(cls, hyper)
        K = {1: 500.0, 2: 2.0e4, 3: 8.0e3}.get(int(r), 8.0e3)
        iters = number(h.get("max_iter"), 300)
        parts = {"dataset R·n·d": replicas * n * d,
                 "iterates R·(d + n)·r (4 copies)": 4 * replicas * (d + n) * r,
                 "channel chunk": float(_CHUNK_NUMBERS) * 3}
        flops = iters * replicas * (4 * n * d * r + 2 * n * K * (r + 3))
        return Cost(parts, flops, replicas * n * d)

    @classmethod
    def compatible(cls, hyper, link, sparsity):
        """GAMP needs a link of ``r ≤ 3`` and the same ``r`` as its own."""
        if link.r > MAX_R:
            return (f"{cls.label()} covers links with r ≤ {MAX_R}; link {link.name!r} has "
                    f"r={link.r}")
        return None

    def fit(self, data, y=None, *, n: int | None = None) -> GAMP:
        """Fit on a target with a budget ``n`` (``α = n/d``), or on ``X (n, d)`` /
        ``(R, n, d)`` with labels ``y`` (and ``link=``)."""
        self.validate()
        source = data_source(data, y, n)
        link = source.target.link if source.target is not None else self.link
        if link is None:
            raise ValueError("GAMP.fit(X, y) needs the link: GAMP(link='...'), or fit a "
                             "target")
        link = get_link(link) if isinstance(link, str) else link
        channel = output_channel(link, self.channel_noise, self.nodes)  # r ≤ 3, no poles
        if link.r != self.r:
            raise ValueError(f"r={self.r} does not match link {link.name!r} (r={link.r}): "
                             f"use r={link.r}")
        r = link.r
        parts = list(data_source(data, y, n).chunks)
        X = torch.cat([p[0] for p in parts], dim=1)
        yy = torch.cat([p[1] for p in parts], dim=1)
        R, nn, d = X.shape
        check_int("d", d, r, None, f" (the link has r={r})")
        dtype, device = X.dtype, X.device
        tensors = _channel_tensors(channel, dtype, device)
        if channel.kind == "discrete":
            yy = _snap(yy, channel)
        F = X / math.sqrt(d)
        W = torch.stack([torch.randn(d, r, generator=replica_generator(self.seed, j, 24),
                                     dtype=torch.float64) for j in replica_ids(source)])
        W = (math.sqrt(self.start) * W).to(device=device, dtype=dtype)
        eye = torch.eye(r, dtype=dtype, device=device).expand(R, r, r)
        V = (1 - self.start) * eye.clone()
        g = torch.zeros(R, nn, r, dtype=dtype, device=device)
        diverged = ~(torch.isfinite(X).flatten(1).all(1) & torch.isfinite(yy).all(1))
        converged = torch.zeros(R, dtype=torch.bool, device=device)
        iterations = torch.zeros(R, dtype=torch.long, device=device)
        U = None if source.target is None else source.target.directions.to(device, dtype)
        self.trace_ = Trace()
        self._record(0, nn, W, U)
        beta = self.damping
        for it in range(1, self.max_iter + 1):
            active = ~(diverged | converged)
            if not bool(active.any()):
                break
            omega = F @ W - g @ V
            mean, cov = channel_moments(channel, yy, omega, V, tensors)
            Vinv = torch.linalg.inv(V)
            g_new = (mean - omega) @ Vinv
            dg = Vinv[:, None] @ (cov - V[:, None]) @ Vinv[:, None]  # ∂_ω g_out
            A = -dg.sum(dim=1) / d
            A = (A + A.transpose(-1, -2)) / 2
            # PSD-preserving fallback (module docstring): where I + A is not positive
            # definite, the Nishimori form Σ g gᵀ/d (PSD, same mean) replaces it
            nishimori = g_new.transpose(-1, -2) @ g_new / d
            proper = torch.linalg.eigvalsh(eye + A)[:, 0] > PROPER
            A = torch.where(proper[:, None, None], A, nishimori)
            B = F.transpose(-1, -2) @ g_new + W @ A
            prec = eye + A
            ok = torch.linalg.eigvalsh(prec)[:, 0] > 0
            C = torch.linalg.inv(torch.where(ok[:, None, None], prec, eye))
            W_new = (1 - beta) * (B @ C) + beta * W
            V_new = (1 - V_DAMPING) * C + V_DAMPING * V
            V_new = (V_new + V_new.transpose(-1, -2)) / 2
            ok &= torch.linalg.eigvalsh(V_new)[:, 0] > 0
            ok &= torch.isfinite(W_new).flatten(1).all(1) & torch.isfinite(g_new).flatten(1).all(1)
            newly_bad = active & ~ok
            diverged |= newly_bad
            take = active & ok
            size = (W_new**2).sum(dim=(1, 2))
            change = ((W_new - W) ** 2).sum(dim=(1, 2)) / size.clamp_min(1e-300)
            collapsed = size / (d * r) < COLLAPSED
            W = torch.where(take[:, None, None], W_new, W)
            V = torch.where(take[:, None, None], V_new, V)
            g = torch.where(take[:, None, None], g_new, g)
            iterations = torch.where(take, it, iterations)
            converged |= take & ((change < self.tol) | collapsed)
            self._record(it, nn, W, U)
        self.weights_ = W
        self.V_ = V
        self.q_ = W.transpose(-1, -2) @ W / d
        self.directions_ = _orthonormal_rows(W)
        self.iterations_ = iterations
        self.converged_ = converged
        self.diverged_ = diverged
        self.channel_kind_ = channel.kind
        self.n_iter_ = int(iterations.max()) if R else 0
        self.channel_noise_ = channel.sigma if channel.kind == "gaussian" else 0.0
        self.samples_ = nn
        self._mark_fitted(R, source.squeeze, device, d)
        if source.squeeze:
            self.directions_ = self.directions_[0]
        return self

    def _record(self, it: int, n: int, W: torch.Tensor, U: torch.Tensor | None) -> None:
        d, r = W.shape[1], W.shape[2]
        values = {"iteration": torch.full((W.shape[0],), float(it)),
                  "self_overlap": (W**2).sum(dim=(1, 2)) / (d * r)}
        if U is not None:
            D = _orthonormal_rows(W)
            values["overlap"] = ((D @ U.transpose(-1, -2)) ** 2).sum(dim=(1, 2)) / U.shape[1]
            values["subspace_distance"] = metrics.subspace_distance(D, U)
        self.trace_.record(n, **values)


def _orthonormal_rows(W: torch.Tensor) -> torch.Tensor:
    """``(R, r, d)``: an orthonormal basis (rows) of the column space of ``W (R, d, r)``."""
    Q = torch.linalg.qr(W.to(torch.float64)).Q
    return Q.transpose(-1, -2).to(W.dtype)


def _snap(y: torch.Tensor, channel: Channel) -> torch.Tensor:
    """Labels of a discrete channel, each replaced by the nearest label value (float32 data
    of an exact label set)."""
    labels = torch.as_tensor(np.asarray(channel.labels), dtype=y.dtype, device=y.device)
    return labels[(y[..., None] - labels).abs().argmin(dim=-1)]
