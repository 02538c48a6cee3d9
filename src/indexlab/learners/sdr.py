"""Sufficient dimension reduction: SIR, SAVE and PHD, batched over replicas and streamed.

All three estimate the central subspace ``span(Uᵀ)`` of ``y | x`` from second-order
statistics, after *whitening*: with ``x̄`` the sample mean, ``Σ̂ = L Lᵀ`` the Cholesky factor
of the sample covariance and ``ẑ = L⁻¹(x − x̄)``, each method forms a symmetric ``d × d``
kernel ``M`` in the ``ẑ`` coordinates, takes its eigenvectors ``b_k`` (eigenvalues in
decreasing order; PHD: decreasing ``|λ|``) and returns the directions ``β_k = L⁻ᵀ b_k`` in the
original coordinates (the generalised eigenproblem ``M_x β = λ Σ̂ β``; the subspace does not
depend on which square root of ``Σ̂`` whitens). Slices ``h = 1..H`` of the sorted labels hold
``n_h`` samples, ``p_h = n_h/n``:

* **SIR** (Li, *Sliced inverse regression for dimension reduction*, JASA 86, 1991):
  ``M = Σ_h p_h m_h m_hᵀ``, ``m_h`` the mean of ``ẑ`` in slice ``h`` (an estimate of
  ``Cov(E[z | y])``). Sees the directions with ``E[z | y] ≠ 0``: blind to even links.
* **SAVE** (Cook & Weisberg, *Discussion of Li (1991)*, JASA 86, 1991):
  ``M = Σ_h p_h (I − V_h)²``, ``V_h`` the covariance of ``ẑ`` in slice ``h`` (an estimate of
  ``E[(I − Cov(z | y))²]``). Sees even links too (``Var(z | y) ≠ 1``).
* **PHD** (Li, *On principal Hessian directions for data visualization and dimension
  reduction: another application of Stein's lemma*, JASA 87, 1992), the y-based version:
  ``M = L⁻¹ Σ̂_{yxx} L⁻ᵀ`` with ``Σ̂_{yxx} = (1/n) Σ_i (y_i − ȳ)(x_i − x̄)(x_i − x̄)ᵀ``
  (by Stein's lemma ``E[(y − Ey) x xᵀ] = E[∇²E[y|x]]`` for ``x ~ N(0, I)``). Sees the
  directions with a non-zero average Hessian: blind to odd links.

Conventions follow statsmodels (``SlicedInverseReg``, ``SlicedAverageVarianceEstimation``,
``PrincipalHessianDirections``) so that the estimators agree on the same data: labels sorted
and cut into ``H`` slices of sizes differing by at most one, the first ``n mod H`` slices one
larger (``numpy.array_split``); whitening by ``Σ̂ = (1/n) Σ (x − x̄)(x − x̄)ᵀ`` for SIR and
SAVE, ``1/(n − 1)`` for PHD; ``V_h`` with ``1/(n_h − 1)``. Two differences: tied labels are
never split between slices (Li's rule for discrete ``y``; statsmodels splits ties in sort
order), and our SAVE eigenvalues are ``Σ_h p_h (·)`` where statsmodels reports
``Σ_h n_h (·)/H``, i.e. ``n/H`` times ours.

Streaming: one pass, ``O(H d²)`` memory per replica (``O(H d)`` for SIR, ``O(d²)`` for PHD).
The slice boundaries are the label quantiles of the whole dataset when fitting on a dataset,
and of the first chunk when fitting on a target (Li's slicing by fixed label ranges; the
first chunk is 16M numbers by default, so the slices hold equal counts up to a few percent).
Sums are taken about the first chunk's means, so centring loses no precision in float32.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import ClassVar

import torch

from indexlab.learners._util import (
    Projection,
    check_choice,
    check_float,
    check_int,
    chunked_source,
    final_trace,
    fix_signs,
    unit_rows,
)
from indexlab.learners.base import DataSource, as_replicated
from indexlab.learners.constraints import Int
from indexlab.learners.costs import moment_cost, number, with_defaults
from indexlab.seeding import replica_generator


@dataclass
class _Decomposition:
    values: torch.Tensor  # (R, d) in the method's order
    vectors: torch.Tensor  # (R, d, d) whitened eigenvectors as columns, same order
    chol: torch.Tensor  # (R, d, d) lower Cholesky factor of the covariance
    mean: torch.Tensor  # (R, d)
    finite: torch.Tensor  # (R,)


def _slice_thresholds(y: torch.Tensor, H: int) -> torch.Tensor:
    """``(R, H − 1)`` label thresholds cutting the sorted ``y (R, m)`` like ``array_split``."""
    m = y.shape[1]
    base, extra = divmod(m, H)
    sizes = torch.full((H,), base, dtype=torch.long)
    sizes[:extra] += 1
    starts = torch.cumsum(sizes, 0)[:-1].clamp_max(m - 1).to(y.device)
    return torch.sort(y, dim=1).values[:, starts].contiguous()


def _by_slice(Xc: torch.Tensor, sid: torch.Tensor, H: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Group the rows of ``Xc (R, b, d)`` by slice: ``(padded (R, H, c_max, d), counts (R, H))``.

    Row ``i`` of replica ``ρ`` goes to ``padded[ρ, sid, rank of i within its slice]``; unused
    places are zero, so sums and Gram matrices over the third axis are the per-slice ones.
    """
    R, b, d = Xc.shape
    counts = torch.zeros(R, H, dtype=torch.long, device=Xc.device)
    counts.scatter_add_(1, sid, torch.ones_like(sid))
    order = torch.argsort(sid, dim=1, stable=True)
    starts = torch.cumsum(counts, 1) - counts
    sorted_sid = sid.gather(1, order)
    rank_sorted = torch.arange(b, device=Xc.device)[None] - starts.gather(1, sorted_sid)
    rank = torch.empty_like(rank_sorted).scatter_(1, order, rank_sorted)
    padded = Xc.new_zeros(R, H, int(counts.max()), d)
    rows = torch.arange(R, device=Xc.device)[:, None].expand(R, b)
    padded[rows, sid, rank] = Xc
    return padded, counts


def _cholesky(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    L, info = torch.linalg.cholesky_ex(cov)
    ok = info == 0
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    return torch.where(ok[:, None, None], L, eye), ok


def _whiten(L: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """``L⁻¹ A L⁻ᵀ`` for ``A (R, ..., d, d)``."""
    Lb = L.reshape(L.shape[0], *([1] * (A.ndim - 3)), *L.shape[1:])
    left = torch.linalg.solve_triangular(Lb, A, upper=False)
    return torch.linalg.solve_triangular(Lb, left.transpose(-1, -2), upper=False).transpose(-1, -2)


def _warn_constant_labels(name: str, labels: torch.Tensor) -> None:
    """Warn when a replica's labels are all equal: every kernel ``M`` (SIR, SAVE, PHD) is then
    zero and its eigenvectors arbitrary, so the returned directions mean nothing."""
    constant = (labels.amax(dim=1) == labels.amin(dim=1)).tolist()
    if any(constant):
        which = [i for i, c in enumerate(constant) if c]
        where = "" if labels.shape[0] == 1 else f" (replica(s) {', '.join(map(str, which))})"
        warnings.warn(f"{name}: the labels y are constant{where}, so no direction is "
                      "identifiable: the fitted directions are arbitrary", UserWarning,
                      stacklevel=3)


@dataclass
class _SDR(Projection):
    """Shared fit / transform / dimension estimation of SIR, SAVE and PHD (the subclasses
    declare the hyperparameters ``r`` and ``chunk``, after ``n_slices`` for SIR and SAVE)."""

    _by_magnitude: ClassVar[bool] = False
    constraints: ClassVar[dict] = {"r": (Int(1),), "chunk": (Int(1), None)}
    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "r": "number of directions returned (1 ≤ r ≤ d)",
        "chunk": "samples per replica per chunk (None: 16M numbers over all replicas)",
        "n_slices": "number of slices H ≥ 2 of y (Li 1991; SIR's kernel has rank ≤ H − 1)",
    }

    # -- the kernel M in whitened coordinates, from one pass over the data -------------------

    def _decompose(self, source: DataSource, labels: torch.Tensor | None) -> _Decomposition:
        raise NotImplementedError

    def _source(self, data, y, n) -> tuple[DataSource, torch.Tensor | None]:
        self.validate()
        source = chunked_source(data, y, n, self.chunk)
        labels = None
        if source.target is None:
            labels = as_replicated(data, y)[1][:, : source.n]
        return source, labels

    def _finish(self, L, M, mean, finite) -> _Decomposition:
        M = (M + M.transpose(-1, -2)) / 2
        finite = finite & torch.isfinite(M).all(dim=2).all(dim=1)
        M = torch.where(finite[:, None, None], M, torch.zeros_like(M))
        values, vectors = torch.linalg.eigh(M)
        key = values.abs() if self._by_magnitude else values
        order = torch.argsort(key, dim=1, descending=True)
        values = values.gather(1, order)
        vectors = vectors.gather(2, order[:, None, :].expand_as(vectors))
        return _Decomposition(values, vectors, L, mean, finite)

    def fit(self, data, y=None, *, n: int | None = None) -> _SDR:
        """Fit on a target with a sample budget ``n`` or on a dataset ``X (n, d)`` /
        ``(R, n, d)``, ``y (n,)`` / ``(R, n)`` (torch or numpy).

        Fitted: ``directions_ (R, r, d)`` (unit rows ``β_k/‖β_k‖`` in the original
        coordinates, in eigenvalue order, sign fixed so the largest entry is positive),
        ``eigenvalues_ (R, d)`` (all of them, same order), ``mean_ (R, d)``, ``diverged_``
        (non-finite statistics or a singular covariance, e.g. ``n ≤ d``), ``samples_``,
        ``trace_``. ``transform(X) = (X − x̄) Ûᵀ``.
        """
        source, labels = self._source(data, y, n)
        check_int("r", self.r, 1, source.d, f" (d={source.d})")
        if labels is not None:
            _warn_constant_labels(type(self).__name__, labels)
        dec = self._decompose(source, labels)
        beta = torch.linalg.solve_triangular(dec.chol.transpose(-1, -2),
                                             dec.vectors[..., : self.r], upper=True)
        directions = fix_signs(unit_rows(beta.transpose(-1, -2)))
        nan = torch.tensor(math.nan, dtype=directions.dtype, device=directions.device)
        self.directions_ = torch.where(dec.finite[:, None, None], directions, nan)
        self.eigenvalues_ = torch.where(dec.finite[:, None], dec.values, nan)
        self.mean_ = dec.mean
        self.diverged_ = ~dec.finite
        self.samples_ = source.n
        self._mark_fitted(source.replicas, source.squeeze, source.device, source.d)
        self._offset = dec.mean
        self.trace_ = final_trace(source, self.directions_, top_eigenvalue=dec.values[:, 0])
        if source.squeeze:
            self.directions_, self.eigenvalues_ = self.directions_[0], self.eigenvalues_[0]
            self.mean_ = self.mean_[0]
        return self

    # -- dimension of the central subspace ----------------------------------------------------

    def _max_dim(self, d: int) -> int:
        return d - 1

    def estimate_dimension(
        self,
        X: torch.Tensor | None = None,
        y: torch.Tensor | None = None,
        *,
        method: str = "eigengap",
        max_dim: int | None = None,
        n_permutations: int = 199,
        level: float = 0.05,
        seed: int = 0,
    ) -> torch.Tensor:
        """Estimated dimension of the central subspace, per replica (``(R,)`` long tensor).

        * ``method="eigengap"``: the largest gap on a log scale,
          ``argmax_{1 ≤ k ≤ K} log(|λ_k| / |λ_{k+1}|)`` (the eigenvalue-ratio estimator of
          Lam & Yao, *Factor modeling for high-dimensional time series*, Ann. Statist. 2012),
          so a weak signal direction is not lost behind a strong one as it would be with the
          raw gap ``λ_k − λ_{k+1}``; uses the fitted eigenvalues, or refits on ``(X, y)``
          when given. It cannot answer 0 and it is unreliable when signal eigenvalues differ
          by more than the signal-to-noise ratio; the permutation test is the calibrated
          answer.
        * ``method="permutation"``: the sequential permutation test of Cook & Yin (*Theory &
          methods: special invited paper: dimension reduction and visualization in
          discriminant analysis*, Aust. N. Z. J. Stat. 43, 2001). For ``m = 0, 1, …, K``,
          ``Λ_m = Σ_{j>m} |λ_j|``; the rows of the whitened, rotated coordinates
          ``W = ẑ B`` beyond the first ``m`` columns are permuted jointly against
          ``(y, W_{≤m})``, the estimator is refitted on ``n_permutations`` such data sets
          (batched like replicas), and ``p_m = (1 + #{Λ*_m ≥ Λ_m})/(1 + n_permutations)``.
          The estimate is the first ``m`` with ``p_m > level`` (``K`` if all are rejected);
          the p-values are kept in ``pvalues_ (R, K + 1)``. Needs a dataset ``(X, y)`` (draw
          one with ``target.sample(n)``); cost ``(K + 1) · n_permutations`` refits.

        ``K = max_dim`` defaults to ``min(10, ⌊d/2⌋)``, so that ``λ_{K+1}`` lies in the bulk
        and not among the near-zero ``|λ|`` of PHD's symmetric noise; at most ``d − 1`` (SIR:
        ``H − 2``, its kernel has rank ``≤ H − 1``).
        """
        check_choice("method", method, ("eigengap", "permutation"))
        X = torch.as_tensor(X) if X is not None else None  # numpy accepted
        y = torch.as_tensor(y) if y is not None else None
        if method == "eigengap":
            if X is None:
                self.check_fitted()
                values = self.eigenvalues_[None] if self.squeeze_ else self.eigenvalues_
                squeeze = self.squeeze_
            else:
                fitted = replace(self).fit(X, y)
                values = fitted.eigenvalues_[None] if fitted.squeeze_ else fitted.eigenvalues_
                squeeze = fitted.squeeze_
            K = self._check_max_dim(max_dim, values.shape[1])
            lam = values.abs().clamp_min(torch.finfo(values.dtype).tiny).log()
            dims = (lam[:, :K] - lam[:, 1:K + 1]).argmax(dim=1) + 1
            return dims[0] if squeeze else dims
        if X is None:
            raise ValueError("method='permutation' needs the data: estimate_dimension(X, y, "
                             "method='permutation')")
        check_int("n_permutations", n_permutations, 1)
        check_float("level", level, 0.0, strict=True)
        if level >= 1:
            raise ValueError(f"level={level!r} is not allowed: use a number in (0, 1)")
        return self._permutation_test(X, y, max_dim, n_permutations, level, seed)

    def _check_max_dim(self, max_dim, d: int) -> int:
        limit = min(self._max_dim(d), d - 1)
        if limit < 1:
            raise ValueError(f"dimension estimation needs d >= 2 (and H >= 3 for SIR); d={d}")
        if max_dim is None:
            return max(1, min(10, d // 2, limit))
        return check_int("max_dim", max_dim, 1, limit)

    def _permutation_test(self, X, y, max_dim, B, level, seed) -> torch.Tensor:
        if y is None or not isinstance(X, torch.Tensor):
            raise ValueError("method='permutation' needs a dataset: estimate_dimension(X, y, "
                             "method='permutation'), e.g. with X, y = target.sample(n)")
        source, labels = self._source(X, y, None)
        Xr, yr, squeeze = as_replicated(X, y)
        R, n, d = Xr.shape
        K = self._check_max_dim(max_dim, d)
        dec = self._decompose(source, labels)
        # whitened coordinates rotated into the eigenbasis: W = L⁻¹(x − x̄) then B
        Z = torch.linalg.solve_triangular(dec.chol, (Xr - dec.mean[:, None]).transpose(1, 2),
                                          upper=False)
        W = (Z.transpose(1, 2) @ dec.vectors).contiguous()  # (R, n, d)
        observed = dec.values.abs().flip(1).cumsum(1).flip(1)  # Λ_m = Σ_{j>m}|λ_j| at [m]
        generator = replica_generator(seed, 0, 13)
        group = max(1, (1 << 24) // (n * d * R))
        exceed = torch.zeros(R, K + 1, dtype=torch.long, device=Xr.device)
        for m in range(K + 1):
            done = 0
            while done < B:
                g = min(group, B - done)
                perm = torch.rand(g * R, n, generator=generator).argsort(dim=1).to(Xr.device)
                Wb = W.repeat(g, 1, 1)
                tail = Wb[:, :, m:].gather(1, perm[:, :, None].expand(-1, -1, d - m))
                Wp = torch.cat([Wb[:, :, :m], tail], dim=2)
                refit = self._decompose(*self._source(Wp, yr.repeat(g, 1), None))
                stat = refit.values.abs()[:, m:].sum(1).reshape(g, R)
                exceed[:, m] += (stat >= observed[None, :, m]).sum(0)
                done += g
        pvalues = (1 + exceed).to(torch.float64) / (1 + B)
        accept = pvalues > level
        first = torch.where(accept.any(1), accept.to(torch.long).argmax(1),
                            torch.full((R,), K, device=Xr.device))
        self.pvalues_ = pvalues[0] if squeeze else pvalues
        return first[0] if squeeze else first


@dataclass
class _Sliced(_SDR):
    n_slices: int = 10
    r: int = 1
    chunk: int | None = None

    _second_moments: ClassVar[bool] = False
    constraints: ClassVar[dict] = {"n_slices": (Int(2),), **_SDR.constraints}

    def _decompose(self, source: DataSource, labels: torch.Tensor | None) -> _Decomposition:
        H, R, d = self.n_slices, source.replicas, source.d
        if source.n < H:
            raise ValueError(f"n_slices={H} is not allowed with n={source.n} samples: use "
                             f"2 <= n_slices <= n")
        thresholds = None if labels is None else _slice_thresholds(labels, H)
        counts = torch.zeros(R, H, dtype=torch.long, device=source.device)
        sums = torch.zeros(R, H, d, dtype=source.dtype, device=source.device)
        second = torch.zeros(R, H if self._second_moments else 1, d, d, dtype=source.dtype,
                             device=source.device)
        shift = None
        labels_ok = torch.ones(R, dtype=torch.bool, device=source.device)
        for Xc, yc in source.chunks:
            if shift is None:
                shift = Xc.mean(dim=1, keepdim=True)
                if thresholds is None:
                    thresholds = _slice_thresholds(yc, H)
            labels_ok &= torch.isfinite(yc).all(dim=1)
            Xs = Xc - shift
            sid = torch.searchsorted(thresholds, yc.contiguous(), right=True)
            padded, c = _by_slice(Xs, sid, H)
            counts += c
            sums += padded.sum(dim=2)
            if self._second_moments:
                second += padded.transpose(-1, -2) @ padded
            else:
                second[:, 0] += Xs.transpose(-1, -2) @ Xs
        n = counts.sum(dim=1)
        total = sums.sum(dim=1)
        centre = total / n[:, None]
        cov = second.sum(dim=1) / n[:, None, None] - centre[:, :, None] * centre[:, None, :]
        L, ok = _cholesky(cov)
        finite = ok & labels_ok & torch.isfinite(cov).all(dim=2).all(dim=1)
        weights = counts.to(source.dtype) / n[:, None]
        M = self._kernel(L, counts, sums, second, centre, weights)
        return self._finish(L, M, shift[:, 0] + centre, finite)

    def _kernel(self, L, counts, sums, second, centre, weights) -> torch.Tensor:
        raise NotImplementedError


@dataclass
class SIR(_Sliced):
    """Sliced inverse regression (Li 1991): ``M = Σ_h p_h m_h m_hᵀ`` (module docstring).

    Hyperparameters: ``n_slices`` ``H ≥ 2`` (default 10; the kernel has rank ``≤ H − 1``),
    ``r`` directions returned (``1 ≤ r ≤ d``), ``chunk`` samples per replica per chunk.
    """

    @classmethod
    def cost(cls, hyper, d, n, replicas, r=1):
        """One pass: the slice means and one d×d kernel
        (:mod:`indexlab.learners.costs`)."""
        return moment_cost(d, n, replicas, 1, 1, with_defaults(cls, hyper))

    def _max_dim(self, d: int) -> int:
        return min(d - 1, self.n_slices - 2)

    def _kernel(self, L, counts, sums, second, centre, weights) -> torch.Tensor:
        means = sums / counts.clamp_min(1)[..., None].to(sums.dtype) - centre[:, None, :]
        A = means * weights.sqrt()[..., None]  # (R, H, d): M_x = Aᵀ A
        Aw = torch.linalg.solve_triangular(L, A.transpose(1, 2), upper=False)  # L⁻¹ Aᵀ
        return Aw @ Aw.transpose(1, 2)


@dataclass
class SAVE(_Sliced):
    """Sliced average variance estimation (Cook & Weisberg 1991):
    ``M = Σ_h p_h (I − V_h)²`` (module docstring).

    Hyperparameters: ``n_slices`` ``H ≥ 2`` (default 10; each slice needs ``n_h ≥ 2``
    samples, slices with fewer get weight 0), ``r``, ``chunk``.
    """

    _second_moments: ClassVar[bool] = True

    @classmethod
    def cost(cls, hyper, d, n, replicas, r=1):
        """One ``d×d`` second moment per slice (``H`` matrices), two products per sample
        (:mod:`indexlab.learners.costs`)."""
        h = with_defaults(cls, hyper)
        return moment_cost(d, n, replicas, number(h.get("n_slices"), 10), 2, h)

    def _kernel(self, L, counts, sums, second, centre, weights) -> torch.Tensor:
        c = counts.to(sums.dtype)[..., None, None]
        slice_mean = sums / counts.clamp_min(1)[..., None].to(sums.dtype)
        scatter = second - c * slice_mean[..., :, None] * slice_mean[..., None, :]
        V = _whiten(L, scatter / (c - 1).clamp_min(1))
        eye = torch.eye(V.shape[-1], dtype=V.dtype, device=V.device)
        G = eye - V
        w = torch.where(counts >= 2, weights, torch.zeros_like(weights))
        return ((G @ G) * w[..., None, None]).sum(dim=1)


@dataclass
class PHD(_SDR):
    """Principal Hessian directions, y-based (Li 1992):
    ``M = L⁻¹ [(1/n) Σ (y − ȳ)(x − x̄)(x − x̄)ᵀ] L⁻ᵀ``, eigenvalues ordered by ``|λ|``
    (module docstring). Hyperparameters: ``r``, ``chunk``.
    """

    r: int = 1
    chunk: int | None = None

    _by_magnitude: ClassVar[bool] = True

    @classmethod
    def cost(cls, hyper, d, n, replicas, r=1):
        """The label-weighted second moment and the covariance
        (:mod:`indexlab.learners.costs`)."""
        return moment_cost(d, n, replicas, 2, 2, with_defaults(cls, hyper))

    def _decompose(self, source: DataSource, labels: torch.Tensor | None) -> _Decomposition:
        R, d = source.replicas, source.d
        opts = {"dtype": source.dtype, "device": source.device}
        n = 0
        Sx, Sy, Syx = torch.zeros(R, d, **opts), torch.zeros(R, **opts), torch.zeros(R, d, **opts)
        Sxx, Syxx = torch.zeros(R, d, d, **opts), torch.zeros(R, d, d, **opts)
        shift = yshift = None
        for Xc, yc in source.chunks:
            if shift is None:
                shift, yshift = Xc.mean(dim=1, keepdim=True), yc.mean(dim=1, keepdim=True)
            Xs, ys = Xc - shift, yc - yshift
            n += Xc.shape[1]
            Sx += Xs.sum(dim=1)
            Sy += ys.sum(dim=1)
            Syx += (ys[..., None] * Xs).sum(dim=1)
            Sxx += Xs.transpose(1, 2) @ Xs
            Syxx += (Xs * ys[..., None]).transpose(1, 2) @ Xs
        xbar, ybar = Sx / n, Sy / n
        cov = (Sxx - n * xbar[:, :, None] * xbar[:, None, :]) / (n - 1)
        # Σ ỹ (x − x̄)(x − x̄)ᵀ with ỹ = y − ȳ (Σ ỹ = 0): Σỹxxᵀ − (Σỹx) x̄ᵀ − x̄ (Σỹx)ᵀ
        yx = Syx - ybar[:, None] * Sx
        yxx = Syxx - ybar[:, None, None] * Sxx
        yxx = yxx - yx[:, :, None] * xbar[:, None, :] - xbar[:, :, None] * yx[:, None, :]
        L, ok = _cholesky(cov)
        finite = ok & torch.isfinite(cov).all(dim=2).all(dim=1)
        return self._finish(L, _whiten(L, yxx / n), shift[:, 0] + xbar, finite)
