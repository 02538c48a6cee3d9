"""The numba kernel of the exact overlap chain (the math is in :mod:`indexlab.learners.chain`).

One call advances a range of replicas, each sequentially over its steps, through one chunk of
minibatch steps; the caller runs disjoint ranges on threads (the kernel releases the GIL; a
``parallel=True`` kernel compiled twice as slowly). The state of a replica is the lower-triangular
matrix ``L`` (``k × k``, ``k = m + 1``) of coordinates of ``(θ*, w_1, …, w_m)`` in an
orthonormal basis ``(e_0 = θ*, e_1, …, e_m)`` of a ``k``-dimensional space containing them:
row 0 is ``e_0`` and ``L[j, 0] = ⟨w_j, θ*⟩``. Everything is float64.

The caller draws the samples' Gaussian coordinates in the ``k``-dimensional span and the
orthogonal parts of the smoothed steps (numpy's ziggurat is several times faster than numba's
generator, and ``z`` is needed outside to evaluate the labels). The ``O(m²)`` Bartlett
numbers of the other steps come from numba's per-thread generator, seeded at the start of
each replica's chunk with a seed derived from ``(seed, replica, chunk)``: one replica runs on
one thread for a whole chunk, so results do not depend on the thread schedule.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

CORRELATION, SQUARE = 0, 1


@njit(cache=True, nogil=True)
def init_state(seeds, d, L):
    """Bartlett start of ``(θ*, w_1..w_m)``, ``w_j`` uniform on ``S^{d−1}``: row ``j`` of
    ``L (R, k, k)`` gets ``N(0, 1)`` in columns ``< j`` and ``√χ²_{d−j}`` in column ``j``,
    then unit norm; row 0 is ``e_0 = θ*``."""
    k = L.shape[1]
    for r in range(seeds.shape[0]):
        np.random.seed(seeds[r])
        L[r, :, :] = 0.0
        L[r, 0, 0] = 1.0
        for row in range(1, k):
            nrm = 0.0
            for c in range(row):
                L[r, row, c] = np.random.standard_normal()
                nrm += L[r, row, c] ** 2
            L[r, row, row] = math.sqrt(np.random.chisquare(d - row))
            nrm = math.sqrt(nrm + L[r, row, row] ** 2)
            for c in range(row + 1):
                L[r, row, c] /= nrm


@njit(cache=True, inline="always")
def _poly(c, u):
    """``Σ_i c[i] u^i`` by Horner's rule."""
    out = 0.0
    for i in range(c.shape[0] - 1, -1, -1):
        out = out * u + c[i]
    return out


@njit(cache=True)
def _lq_rows(M, k, ncols, v):
    """Householder LQ from the right: ``M[:k, :ncols] ← M Q`` with ``M[:, k:] = 0`` after.

    Row ``i``'s reflector zeroes ``M[i, i+1:]`` and acts on rows ``i..k−1`` (columns ``≥ i``),
    so row lengths and inner products (the Gram matrix) are preserved exactly up to rounding.
    A row whose tail is already zero (row 0 = ``e_0``) is left alone: basis vector 0 stays
    ``+θ*``. On ``Pᵀ`` it is the Householder QR from the left of ``P (ncols × k)``: ``M``'s
    top ``min(k, ncols)`` columns then hold ``Rᵀ`` with ``RᵀR = PᵀP`` (the unsmoothed steps'
    QR of ``Ψ``). Written along rows: a C-ordered array, not the strided ``M.T``, which numba
    compiles to slower indexing.
    """
    for i in range(k):
        tail = 0.0
        for c in range(i + 1, ncols):
            tail += M[i, c] * M[i, c]
        if tail == 0.0:
            continue
        x0 = M[i, i]
        norm = math.sqrt(x0 * x0 + tail)
        alpha = -norm if x0 > 0 else norm
        v[i] = x0 - alpha
        for c in range(i + 1, ncols):
            v[c] = M[i, c]
        vv = v[i] * v[i] + tail
        for row in range(i, k):
            dot = 0.0
            for c in range(i, ncols):
                dot += M[row, c] * v[c]
            f = 2.0 * dot / vv
            for c in range(i, ncols):
                M[row, c] -= f * v[c]
        for c in range(i + 1, ncols):
            M[i, c] = 0.0


@njit(cache=True)
def _scratch(bmax, k):
    """Work arrays of one replica's chunk: ``G (b, k)`` sample coordinates, ``A (b, m)``
    pre-activations, ``Psi (b, m)`` slopes, ``C (m, m+1)`` the smoothed steps' orthogonal
    sums, ``zeta (m+1)``, ``Qt (m, ·)`` (``Ψᵀ``, then the transposed ``R`` of its QR),
    ``RA`` (Bartlett ``R_A``), ``M (k, k + ·)`` the new rows before the LQ fold and ``v`` its
    reflector."""
    m = k - 1
    wide = k + max(bmax, m)
    return (np.zeros((bmax, k)), np.zeros((bmax, m)), np.zeros((bmax, m)),
            np.zeros((m, m + 1)), np.zeros(m + 1), np.zeros((m, max(bmax, m))),
            np.zeros((m, m)), np.zeros((k, wide)), np.zeros(wide))


@njit(cache=True, inline="always")
def _smoothed_slopes(r, off, b, eta, t, bn, bc, ibn, ibc, p, slope_terms, G, A, Psi, C, zeta,
                     apow, rpow, v):
    """``ψ_ij = b η_t t_i D_λσ(a_ij, ‖x_i‖² − a_ij²)`` and ``C = Σ_i ψ_ij x_⊥i`` in a running
    orthonormal basis of at most ``m`` directions of ``S^⊥``: ``x_⊥i`` has ``N(0, 1)``
    coordinates on the ``q`` basis vectors (from ``bn``) and a remainder of norm
    ``√χ²_{p−q}`` (from ``bc``) along a new direction; ``‖x_i‖²`` is known before ``ψ_ij`` is
    computed, and ``m + 1`` columns are folded back to ``m`` by an LQ step. Returns
    ``(q, ibn, ibc)``: the columns of ``C`` in use and the next unread ``bn``/``bc`` entries."""
    sp, sq, sc = slope_terms
    k = G.shape[1]
    m = k - 1
    q = 0
    for j in range(m):
        for col in range(m + 1):
            C[j, col] = 0.0
    for i in range(b):
        nx2 = 0.0
        for c in range(k):
            nx2 += G[i, c] * G[i, c]
        for col in range(q):
            zeta[col] = bn[r, ibn]
            ibn += 1
            nx2 += zeta[col] * zeta[col]
        rho = 0.0
        if p - q > 0:
            rho = math.sqrt(bc[r, ibc])
            ibc += 1
        nx2 += rho * rho
        for j in range(m):
            a = A[i, j]
            rr = nx2 - a * a
            apow[0] = 1.0
            rpow[0] = 1.0
            for e in range(1, apow.shape[0]):
                apow[e] = apow[e - 1] * a
            for e in range(1, rpow.shape[0]):
                rpow[e] = rpow[e - 1] * rr
            slope = 0.0
            for u in range(sc.shape[0]):
                slope += sc[u] * apow[sp[u]] * rpow[sq[u]]
            ps = eta * t[r, off + i] * slope
            Psi[i, j] = ps
            for col in range(q):
                C[j, col] += ps * zeta[col]
            C[j, q] += ps * rho
        if p - q > 0:
            q += 1
            if q > m:
                _lq_rows(C, m, q, v)
                q = m
    return q, ibn, ibc


@njit(cache=True, inline="always")
def _plain_slopes(r, off, b, eta, t, sig, dsig, loss_code, A, Psi):
    """``ψ_ij = b η_t t_i σ'(a_ij)`` (correlation) or ``b η_t (t_i − σ(a_ij)) σ'(a_ij)``
    (square loss)."""
    m = A.shape[1]
    for i in range(b):
        for j in range(m):
            a = A[i, j]
            if loss_code == CORRELATION:
                Psi[i, j] = eta * t[r, off + i] * _poly(dsig, a)
            else:
                Psi[i, j] = eta * (t[r, off + i] - _poly(sig, a)) * _poly(dsig, a)


@njit(cache=True, inline="always")
def _batch_loss(r, off, b, t, sig, loss_code, A):
    """The batch's mean loss over samples and neurons: ``−t σ(a)`` or ``½ (σ(a) − t)²``."""
    m = A.shape[1]
    total = 0.0
    for i in range(b):
        for j in range(m):
            f = _poly(sig, A[i, j])
            if loss_code == CORRELATION:
                total -= t[r, off + i] * f
            else:
                total += 0.5 * (f - t[r, off + i]) ** 2
    return total / (b * m)


@njit(cache=True, inline="always")
def _rows_in_span(b, inv_b, Lr, G, A, Psi, M):
    """Rows ``1..m`` of ``M``, columns ``< k``: the new ``w_j`` along ``e_0..e_m``,
    ``shrink_j L[j+1] + (1/b) Σ_i ψ_ij G[i]`` with ``shrink_j = 1 − (1/b) Σ_i ψ_ij a_ij``;
    row 0 is ``e_0`` and the rest of ``M`` zero."""
    k = Lr.shape[0]
    m = k - 1
    M[:, :] = 0.0
    M[0, 0] = 1.0
    for j in range(m):
        shrink = 0.0
        for i in range(b):
            shrink += Psi[i, j] * A[i, j]
        shrink = 1.0 - shrink * inv_b
        for c in range(k):
            acc = 0.0
            for i in range(b):
                acc += Psi[i, j] * G[i, c]
            M[j + 1, c] = shrink * Lr[j + 1, c] + acc * inv_b


@njit(cache=True, inline="always")
def _bartlett_columns(b, inv_b, p, Psi, Qt, RA, M, v):
    """Columns ``k..k+q−1`` of ``M`` for an unsmoothed step: ``X_⊥ᵀΨ = Q_A R_A R_Ψ`` with
    ``R_Ψ`` from the QR of ``Ψ`` (``b × m``) and ``R_A`` upper Bartlett (``q × min(b, m)``,
    ``q = min(p, min(b, m))``: ``√χ²_{p−row}`` on the diagonal, ``N(0, 1)`` above), from
    numba's generator. Returns ``(q, random numbers drawn)``."""
    k = M.shape[0]
    m = k - 1
    qs = min(b, m)
    for i in range(b):
        for j in range(m):
            Qt[j, i] = Psi[i, j]
    _lq_rows(Qt, m, b, v)  # Qt[j, c] = R_Ψ[c, j]
    q = min(p, qs)
    for row in range(q):
        for col in range(qs):
            val = 0.0
            if col > row:
                val = np.random.standard_normal()
            elif col == row:
                val = math.sqrt(np.random.chisquare(p - row))
            RA[row, col] = val
    for j in range(m):
        for row in range(q):
            acc = 0.0
            for col in range(row, qs):
                acc += RA[row, col] * Qt[j, col]
            M[j + 1, k + row] = acc * inv_b
    return q, q * qs - q * (q - 1) // 2


@njit(cache=True, inline="always")
def _fold(M, ncols, v, Lr):
    """Normalise rows ``1..m`` of ``M[:, :ncols]``, fold them back to ``k`` coordinates by the
    LQ step (Gram matrix kept, ``e_0 = θ*`` kept) into ``Lr``; ``False`` when a coordinate is
    not finite or an overlap exceeds 1."""
    k = Lr.shape[0]
    ok = True
    for j in range(1, k):
        nrm = 0.0
        for c in range(ncols):
            nrm += M[j, c] * M[j, c]
        nrm = math.sqrt(nrm)
        for c in range(ncols):
            M[j, c] /= nrm
    _lq_rows(M, k, ncols, v)
    for j in range(k):
        for c in range(k):
            val = M[j, c]
            if not math.isfinite(val):
                ok = False
            Lr[j, c] = val
        if abs(Lr[j, 0]) > 1.0 + 1e-9:
            ok = False
    return ok


@njit(cache=True, nogil=True)
def chain_chunk(r0, r1, state, samples, plan, slope, records):
    """Advance the live replicas ``r0 ≤ r < r1`` through the steps of one chunk (module doc);
    the GIL is released, so threads may run disjoint replica ranges at once.

    ``state = (L (R, k, k), alive (R,), draws (R,))``, in/out: ``draws`` counts the random
    numbers drawn here (the work, for the tests that cost does not grow with d).
    ``samples = (coords, t, bn, bc, seeds)``: ``coords (R, n_chunk, k)`` the samples'
    coordinates ``(z, g_1..g_m)`` along ``(e_0 = θ*, e_1..e_m)``, ``t (R, n_chunk)`` the
    transformed labels, ``bn``, ``bc (R, ·)`` the normals and χ² numbers of the orthogonal
    parts in the smoothed steps (in the order they are used), ``seeds (R,)`` numba's.
    ``plan = (bsz, etas, smooth, rec)`` per step: batch size ``b``, ``b·η_t``, whether it
    uses the smoothed slope, checkpoint slot or −1. ``slope = (p, sig, dsig, slope_terms,
    loss_code)``: ``p = d − k``, polynomial coefficients of ``σ``/``σ'``, the smoothed slope
    ``Σ sc a^sp R^sq`` as ``(sp, sq, sc)``, ``loss_code`` 0 correlation, 1 square.
    ``records = (best, mean, loss, passages, levels, base)``: ``best``, ``mean``, ``loss``
    each ``(R, n_cp)``, written at the checkpoint slots; ``passages (R, n_levels)`` int64, in/out,
    ``−1`` until replica ``r``'s best overlap ``max_j |⟨w_j, θ*⟩|`` first reaches
    ``levels[l]`` (sorted), then the sample count at the end of that step (``base`` = the
    samples seen before this chunk): first passages at the resolution of one step.
    """
    L, alive, draws = state
    coords, t, bn, bc, seeds = samples
    bsz, etas, smooth, rec = plan
    p, sig, dsig, slope_terms, loss_code = slope
    out_best, out_mean, out_loss, passages, levels, base = records
    n_levels = levels.shape[0]
    k = L.shape[1]
    m = k - 1
    S = bsz.shape[0]
    bmax = 1
    for s in range(S):
        bmax = max(bmax, bsz[s])
    apow = np.zeros(slope_terms[0].max() + 1)
    rpow = np.zeros(slope_terms[1].max() + 1)
    for r in range(r0, r1):
        if not alive[r]:
            continue
        np.random.seed(seeds[r])
        Lr = L[r].copy()
        G, A, Psi, C, zeta, Qt, RA, M, v = _scratch(bmax, k)
        off = 0
        ok = True
        drawn = 0
        ibn = 0
        ibc = 0
        nxt = 0  # the first level replica r has not reached yet
        while nxt < n_levels and passages[r, nxt] >= 0:
            nxt += 1
        for s in range(S):
            b = bsz[s]
            inv_b = 1.0 / b
            eta = etas[s]
            # the batch's coordinates G[i] = (z, g_1..g_m) and a_ij = Σ_c L[j+1, c] G[i, c]
            for i in range(b):
                for c in range(k):
                    G[i, c] = coords[r, off + i, c]
            for i in range(b):
                for j in range(m):
                    a = 0.0
                    for c in range(j + 2):
                        a += Lr[j + 1, c] * G[i, c]
                    A[i, j] = a
            q = 0
            if smooth[s]:
                q, ibn, ibc = _smoothed_slopes(r, off, b, eta, t, bn, bc, ibn, ibc, p,
                                               slope_terms, G, A, Psi, C, zeta, apow, rpow, v)
            else:
                _plain_slopes(r, off, b, eta, t, sig, dsig, loss_code, A, Psi)
            if rec[s] >= 0:
                out_loss[r, rec[s]] = _batch_loss(r, off, b, t, sig, loss_code, A)
            # new coordinates of w_j in span(e_0..e_m) ⊕ (new orthogonal directions)
            _rows_in_span(b, inv_b, Lr, G, A, Psi, M)
            if smooth[s]:
                for j in range(m):
                    for col in range(q):
                        M[j + 1, k + col] = C[j, col] * inv_b
            else:
                q, used = _bartlett_columns(b, inv_b, p, Psi, Qt, RA, M, v)
                drawn += used
            ok = _fold(M, k + q, v, Lr)
            if not ok:
                break
            if rec[s] >= 0 or nxt < n_levels:
                best = 0.0
                mean = 0.0
                for j in range(1, k):
                    ov = abs(Lr[j, 0])
                    best = max(best, ov)
                    mean += ov
                if rec[s] >= 0:
                    out_best[r, rec[s]] = best
                    out_mean[r, rec[s]] = mean / m
                while nxt < n_levels and best >= levels[nxt]:
                    passages[r, nxt] = base + off + b
                    nxt += 1
            off += b
        if not ok:
            alive[r] = False
            for j in range(k):
                for c in range(k):
                    Lr[j, c] = np.nan
        L[r] = Lr
        draws[r] += drawn
