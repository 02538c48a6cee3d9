"""Spectral estimators with label preprocessing (docs/algorithms.md §6.1): the top-``r``
eigenvectors of

    D = (1/n) Σ_i T(y_i) x_i x_iᵀ                                              (R replicas)

for a preprocessing ``T`` of the labels. Population: by Stein's lemma
``E[T(y) x xᵀ] = E[T(y)] I + Uᵀ E[T(y)(zzᵀ − I)] U``, so when ``E[T(y)(zzᵀ − I)]`` has positive
eigenvalues the top eigenvectors of ``D`` align with the hidden subspace once ``α = n/d`` is
above the spectral threshold of ``T`` (BBP transition; Lu & Li 2020 for ``r = 1``,
Kovačević, Zhang & Mondelli 2025 for ``r ≥ 1``).

Preprocessings (:func:`spectral_preprocessing`):

* ``"identity"``: ``T(y) = y``; unbounded labels create rank-one outliers
  ``T(y_i) ‖x_i‖²/n ≈ T_max d/n`` that mask the signal until ``n ≳ d log n`` for ``y = z²``;
* ``"truncation"``: ``T(y) = clip(y, −τ, τ)`` (e.g. ``min(y, 3)`` for ``y ≥ 0``,
  docs/algorithms.md §6.4);
* ``"label_transform"``: ``T(y) = ζ_2(y)/λ_2 = E[h_2(z) | y]/λ_2``, the degree-2 optimal transform
  of :func:`indexlab.theory.label_transform` (docs/algorithms.md §3.2);
* ``"optimal"`` (default): the weak-recovery-optimal preprocessing for single-index models

      T*(y) = 1 − 1/E[z² | y]        (noiseless phase retrieval y = z²: T*(y) = 1 − 1/y)

  of Luo, Alghamdi & Lu, *Optimal spectral initialization for signal recovery with applications
  to phase retrieval*, IEEE TSP 2019 (arXiv 1811.04420); it reaches weak recovery exactly at
  the information-theoretic threshold ``α_c = 1/E_y[(E[z²|y] − 1)²]`` of Mondelli & Montanari,
  *Fundamental limits of weak recovery with applications to phase retrieval*, COLT 2018
  (arXiv 1708.05932), whose own optimal family is ``(m − 1)/(m + √α − 1)``,
  ``m = E[z²|y]``, in their normalisation. (We confirmed the formula with the Lu–Li equations,
  docs/algorithms.md §6.3–§6.4: overlap 0.799 at ``α = 2`` for ``y = z²``.)
  ``T*`` is unbounded below (``T* → −∞`` as ``E[z²|y] → 0``); we clip it at ``floor = −10``.
  Negative outliers do not move the top eigenvector, but they widen the spectrum and slow any
  Krylov method down (the iteration count grows like ``√(spread/gap)``); the Lu–Li equations
  give the clipped transform an asymptotic overlap of 0.794 instead of 0.799 at ``α = 2`` and
  0.143 instead of 0.144 at ``α = 0.55`` for ``y = z²``, i.e. the same threshold.
  ``E[z²|y]`` is tabulated by :func:`indexlab.theory.label_transform` (``E[z²|y] = 1 +
  √2 ζ_2(y)``) and interpolated piecewise linearly.

The two transforms that use the law of ``y`` need the link: it is taken from the target when
fitting on one, and from ``Spectral(link=...)`` when fitting on a dataset; a callable ``T`` is
accepted as well.

Eigenvectors: batched block Lanczos (block size ``r``) with full re-orthogonalisation
(classical Gram–Schmidt, twice) and Rayleigh–Ritz on the stored products ``D Q``
(:func:`top_eigenpairs`). Memory ``O(d k)`` per replica for a Krylov basis of ``k ≤ d``
vectors, never an ``n × n`` matrix. ``D`` itself is either

* accumulated chunk by chunk as a ``(R, d, d)`` matrix (``O(d²)`` per replica; always so for a
  target, whose samples are streamed), or
* never formed (``matrix_free``, the default for a stored dataset): each product is
  ``D V = Xᵀ (w ⊙ (X V))`` with ``w_i = T(y_i)/n``, ``O(n d r)`` per product and no memory
  beyond the data. With ``k`` products this costs ``2knd`` against ``nd²`` to form ``D``;
  Lanczos needs ``k ≈ 10–50`` above the threshold and ≤ 300 below it, and a thin product runs
  at a lower rate than the dense ``XᵀX``, so it wins or ties from ``d = 250`` up in our
  measurements (phase retrieval, ``d = 250, 500, 1000, 2000``), and loses at most ~2× at
  ``max_iter`` on small ``d``. ``bench/baselines.py`` compares it with a dense ``eigh``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np
import torch

from indexlab import theory
from indexlab.learners._util import (
    Projection,
    check_choice,
    check_float,
    check_int,
    chunked_source,
    final_trace,
    fix_signs,
    replica_ids,
)
from indexlab.learners.base import data_source
from indexlab.learners.constraints import Bool, InstanceOf, Int, IsCallable, Options, Real, Text
from indexlab.learners.costs import moment_cost, with_defaults
from indexlab.learners.persist import register_safe
from indexlab.links import Link, get_link
from indexlab.seeding import replica_generator

PREPROCESSINGS = ("optimal", "label_transform", "truncation", "identity")

Preprocess = Callable[[torch.Tensor], torch.Tensor]


@lru_cache(maxsize=32)
def _label_transform(link: Link) -> theory.LabelTransform:
    return theory.label_transform(link, 2)


@lru_cache(maxsize=32)
def _optimal_table(link: Link, floor: float) -> theory.LabelTransform:
    try:
        zeta = theory.label_transform(link, 2, normalise=False)
    except ValueError as err:
        raise ValueError(
            f"preprocess='optimal' needs E[z²|y] to depend on y, but for link {link.name!r} "
            f"it does not ({err}); no spectral method recovers this direction at α = Θ(1)"
        ) from None
    second = np.maximum(1.0 + math.sqrt(2.0) * zeta.values, np.finfo(np.float64).tiny)
    values = np.maximum(1.0 - 1.0 / second, floor)
    return theory.LabelTransform(k=2, knots=zeta.knots, values=values, lam=zeta.lam)


@register_safe
def _identity(y: torch.Tensor) -> torch.Tensor:
    """``T(y) = y``."""
    return y


@register_safe
@dataclass(frozen=True)
class Truncation:
    """``T(y) = clip(y, −τ, τ)`` (a named, picklable preprocessing)."""

    tau: float

    def __call__(self, y: torch.Tensor) -> torch.Tensor:
        return y.clamp(-self.tau, self.tau)


def spectral_preprocessing(
    preprocess: str | Preprocess = "optimal",
    link: str | Link | None = None,
    threshold: float = 3.0,
    floor: float = -10.0,
) -> Preprocess:
    """The label preprocessing ``T`` named by ``preprocess`` (see the module docstring).

    ``threshold`` is ``τ`` of ``"truncation"``; ``floor`` the lower clip of ``"optimal"``.
    ``"optimal"`` and ``"label_transform"`` need ``link`` (single-index). Raises
    ``ValueError`` for an unknown name, a missing or multi-index link, or bad numbers.
    """
    if callable(preprocess):
        return preprocess
    name = check_choice("preprocess", preprocess, PREPROCESSINGS)
    if name == "identity":
        return _identity
    if name == "truncation":
        return Truncation(check_float("threshold", threshold, 0.0, strict=True))
    if link is None:
        raise ValueError(
            f"preprocess={name!r} needs the link to tabulate E[·|y]: fit on a target, or "
            "give Spectral(link=...) when fitting on a dataset"
        )
    link = get_link(link) if isinstance(link, str) else link
    if link.r != 1:
        raise ValueError(
            f"preprocess={name!r} is defined for single-index links; {link.name!r} has "
            f"r={link.r}: use 'truncation', 'identity' or a callable"
        )
    if name == "label_transform":
        return _label_transform(link)
    floor = check_float("floor", floor, -math.inf)
    if floor >= 0:
        raise ValueError(f"floor={floor!r} is not allowed: use a negative number (default −10)")
    return _optimal_table(link, floor)


# ----------------------------------------------------------------------------------------------
# batched block Lanczos
# ----------------------------------------------------------------------------------------------


@dataclass
class Eigenpairs:
    """Top Ritz pairs per replica: ``values (R, r)`` descending, ``vectors (R, r, d)`` (rows)."""

    values: torch.Tensor
    vectors: torch.Tensor
    converged: torch.Tensor
    iterations: torch.Tensor


def _orthonormalise(W: torch.Tensor, Q: torch.Tensor | None) -> torch.Tensor:
    """Orthonormal rows spanning the rows of ``W`` minus their projection on the rows of ``Q``
    (classical Gram–Schmidt, twice)."""
    for _ in range(2):
        if Q is not None and Q.shape[-2] > 0:
            W = W - (W @ Q.transpose(-1, -2)) @ Q
        W = torch.linalg.qr(W.transpose(-1, -2)).Q.transpose(-1, -2)
    return W


def top_eigenpairs(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    start: torch.Tensor,
    r: int,
    tol: float,
    max_iter: int,
    check_every: int = 5,
) -> Eigenpairs:
    """Largest-``r`` eigenpairs of a symmetric ``A``, batched over replicas.

    Vectors are rows: ``matvec(V) = V A`` for ``V (R, p, d)`` (row blocks keep every product a
    "thin times wide" matrix product, several times faster on CPU than the transposed form).
    Block Lanczos from ``start (R, p, d)`` (``p ≥ r``): block ``j + 1`` is ``Q_j A``
    orthogonalised against all previous blocks, so the rows of ``Q`` span the block Krylov
    space ``K_k(A, start)``. Every ``check_every`` blocks, Rayleigh–Ritz on ``H = Q A Qᵀ``
    (``Q A`` is stored, so ``H`` is exact even where the three-term structure is lost to
    rounding) gives Ritz pairs ``(θ_i, u_i)``; replica ``j`` is done, and its pairs frozen,
    at the first check where ``‖u_i A − θ_i u_i‖ ≤ tol · max|θ|`` for ``i ≤ r``, so each
    replica gets the answer of a run on its own. Stops when all replicas are done, after
    ``max_iter`` blocks, or when the basis reaches ``d`` vectors (the pairs are then exact).
    """
    R, p, d = start.shape
    kmax = min(d, p * (max_iter + 1))
    Q = torch.zeros(R, kmax, d, dtype=start.dtype, device=start.device)
    QA = torch.zeros_like(Q)
    H = torch.zeros(R, kmax, kmax, dtype=start.dtype, device=start.device)
    values = torch.zeros(R, r, dtype=start.dtype, device=start.device)
    vectors = torch.zeros(R, r, d, dtype=start.dtype, device=start.device)
    done = torch.zeros(R, dtype=torch.bool, device=start.device)
    iterations = torch.full((R,), max_iter, dtype=torch.long, device=start.device)
    block = _orthonormalise(start, None)
    k = 0
    for it in range(max_iter):
        block = block[:, : min(p, kmax - k)]
        b = block.shape[1]
        product = matvec(block)
        Q[:, k:k + b], QA[:, k:k + b] = block, product
        row = product @ Q[:, : k + b].transpose(-1, -2)
        H[:, k:k + b, : k + b] = row
        H[:, : k + b, k:k + b] = row.transpose(-1, -2)
        k += b
        last = it == max_iter - 1 or k >= kmax
        if last or (it + 1) % check_every == 0:
            Hk = H[:, :k, :k]
            theta, S = torch.linalg.eigh((Hk + Hk.transpose(-1, -2)) / 2)
            top = theta[:, -r:].flip(-1)
            S_top = S[..., -r:].flip(-1).transpose(-1, -2)  # (R, r, k)
            U = S_top @ Q[:, :k]
            residual = (S_top @ QA[:, :k] - top[..., None] * U).norm(dim=-1)
            scale = theta.abs().amax(dim=-1, keepdim=True)
            now = ~done & ((residual <= tol * scale).all(dim=-1) | (k >= kmax))
            take = now | (~done & last)
            values = torch.where(take[:, None], top, values)
            vectors = torch.where(take[:, None, None], U, vectors)
            iterations = torch.where(take, it + 1, iterations)
            done |= now
            if last or bool(done.all()):
                break
        block = _orthonormalise(product, Q[:, :k])
    return Eigenpairs(values, vectors, done, iterations)


# ----------------------------------------------------------------------------------------------
# the learner
# ----------------------------------------------------------------------------------------------


@dataclass
class Spectral(Projection):
    """Top-``r`` eigenvectors of ``D = (1/n) Σ T(y_i) x_i x_iᵀ`` (see the module docstring).

    Hyperparameters:
        preprocess: ``"optimal"`` (default), ``"label_transform"``, ``"truncation"``,
            ``"identity"`` or a callable ``T`` on label tensors.
        r: number of directions (``1 ≤ r ≤ d``).
        link: the link, for ``"optimal"``/``"label_transform"`` on a dataset.
        threshold: ``τ`` of ``"truncation"`` (default 3, docs/algorithms.md §6.4).
        floor: lower clip of ``"optimal"`` (default −10, see the module docstring).
        matrix_free: never form ``D`` (``None``: yes for a dataset; a target is streamed, so
            ``D`` is accumulated).
        tol: Ritz residual tolerance relative to ``max|θ|`` (default ``1e-4`` in float32,
            ``1e-9`` in float64).
        max_iter: Lanczos blocks (default 300, independent of ``d``: the iteration count is
            set by the relative gap of the top of the spectrum, not by ``d``).
        seed: random start of the Lanczos iteration (replica ``j`` uses ``(seed, j)``).
        chunk: samples per replica per chunk when streaming (default: 16M numbers).

    Fitted: ``directions_ (R, r, d)`` (unit eigenvectors, largest eigenvalue first, sign
    fixed so the largest entry is positive), ``eigenvalues_ (R, r)``, ``converged_``,
    ``iterations_`` (= ``n_iter_``), ``diverged_`` (non-finite ``D``), ``samples_``,
    ``preprocess_`` (the ``T`` used), ``trace_`` (one record at ``n``: the top eigenvalue,
    and the overlap / subspace distance to the target's directions when fitted on a target).
    ``transform(X) = X Ûᵀ``.
    """

    preprocess: str | Preprocess = "optimal"
    r: int = 1
    link: str | Link | None = None
    threshold: float = 3.0
    floor: float = -10.0
    matrix_free: bool | None = None
    tol: float | None = None
    max_iter: int = 300
    seed: int = 0
    chunk: int | None = None

    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "preprocess": "label preprocessing T: 'optimal' 1 − 1/E[z²|y] (Luo, Alghamdi & Lu "
                      "2019), 'label_transform' ζ_2/λ_2, 'truncation', 'identity' or a "
                      "callable (docs/algorithms.md §6.1)",
        "r": "number of directions (1 ≤ r ≤ d)",
        "link": "the link, for 'optimal'/'label_transform' when fitting a dataset",
        "threshold": "τ of 'truncation' (docs/algorithms.md §6.4)",
        "floor": "lower clip of 'optimal' (T* is unbounded below)",
        "matrix_free": "never form D (None: yes for a dataset; a target is streamed)",
        "tol": "Ritz residual tolerance relative to max|θ| (None: 1e-4 float32, 1e-9 "
               "float64)",
        "max_iter": "block Lanczos iterations (independent of d)",
        "seed": "random Lanczos start; replica j uses (seed, j)",
        "chunk": "samples per replica per chunk when streaming (None: 16M numbers)",
    }
    @classmethod
    def cost(cls, hyper, d, n, replicas, r=1):
        """One streamed pass forming (or applying) the ``d×d`` matrix ``D``
        (:mod:`indexlab.learners.costs`)."""
        return moment_cost(d, n, replicas, 1, 1, with_defaults(cls, hyper))

    @classmethod
    def compatible(cls, hyper, link, sparsity):
        """The link-based preprocessings need a single-index link."""
        preprocess = with_defaults(cls, hyper).get("preprocess")
        if link.r > 1 and preprocess in ("optimal", "label_transform"):
            return (f"{cls.label()} with preprocess={preprocess!r} needs a single-index "
                    f"target, but link {link.name!r} has r={link.r}: use "
                    "preprocess='truncation' or 'identity'")
        return None

    constraints: ClassVar[dict] = {
        "preprocess": (Options(*PREPROCESSINGS), IsCallable("a callable T on label tensors")),
        "r": (Int(1),),
        "link": (Text("a link name or expression"), InstanceOf(Link), None),
        "threshold": (Real(0, closed="neither"),),
        "floor": (Real(high=0, closed="neither"),),
        "matrix_free": (Bool(), None),
        "tol": (Real(0, closed="neither"), None),
        "max_iter": (Int(1),),
        "seed": (Int(0),),
        "chunk": (Int(1), None),
    }

    def fit(self, data, y=None, *, n: int | None = None) -> Spectral:
        """Fit on a target with a sample budget ``n`` or on a dataset ``X (n, d)`` /
        ``(R, n, d)``, ``y (n,)`` / ``(R, n)`` (torch or numpy)."""
        self.validate()
        source = chunked_source(data, y, n, self.chunk)
        check_int("r", self.r, 1, source.d, f" (d={source.d})")
        link = source.target.link if source.target is not None else self.link
        T = spectral_preprocessing(self.preprocess, link, self.threshold, self.floor)
        R, d, dtype, device = source.replicas, source.d, source.dtype, source.device
        free = self.matrix_free
        if free is None:
            free = source.target is None
        if free and source.target is not None:
            raise ValueError("matrix_free=True needs a stored dataset: fit(X, y); a target is "
                             "streamed, so D is accumulated (O(d²) memory per replica)")
        if free:
            X, yy = next(data_source(data, y, n).chunks)
            w = T(yy).to(dtype) / X.shape[1]
            finite = torch.isfinite(w).all(dim=1) & torch.isfinite(X).all(dim=2).all(dim=1)
            if not bool(finite.all()):  # zero out bad replicas (copies X only then)
                X = torch.where(finite[:, None, None], X, torch.zeros_like(X))
                w = torch.where(finite[:, None], w, torch.zeros_like(w))

            def matvec(V):
                return ((V @ X.transpose(-1, -2)) * w[:, None, :]) @ X
        else:
            D = torch.zeros(R, d, d, dtype=dtype, device=device)
            for Xc, yc in source.chunks:
                D += (Xc * T(yc).to(dtype)[..., None]).transpose(-1, -2) @ Xc
            D = (D + D.transpose(-1, -2)) / (2 * source.n)
            finite = torch.isfinite(D).all(dim=2).all(dim=1)
            D = torch.where(finite[:, None, None], D, torch.zeros_like(D))

            def matvec(V):
                return V @ D
        start = torch.stack([
            torch.randn(self.r, d, generator=replica_generator(self.seed, j, 10),
                        dtype=torch.float64) for j in replica_ids(source)
        ]).to(device=device, dtype=dtype)
        tol = self.tol if self.tol is not None else (1e-9 if dtype == torch.float64 else 1e-4)
        pairs = top_eigenpairs(matvec, start, self.r, tol, self.max_iter)
        nan = torch.full_like(pairs.values, math.nan)
        self.directions_ = fix_signs(pairs.vectors)
        self.directions_ = torch.where(finite[:, None, None], self.directions_, math.nan)
        self.eigenvalues_ = torch.where(finite[:, None], pairs.values, nan)
        self.converged_ = pairs.converged & finite
        self.iterations_ = pairs.iterations
        self.n_iter_ = pairs.iterations  # scikit-learn's name for it
        self.diverged_ = ~finite
        self.samples_ = source.n
        self.preprocess_ = T
        self._mark_fitted(R, source.squeeze, device, source.d)
        self.trace_ = final_trace(source, self.directions_, top_eigenvalue=self.eigenvalues_[:, 0])
        if source.squeeze:
            self.directions_, self.eigenvalues_ = self.directions_[0], self.eigenvalues_[0]
        return self
