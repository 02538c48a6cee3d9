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
    ``+θ*``. It is :func:`_qr_r` of ``Mᵀ``, whose column reflectors are these row reflectors,
    with the same sums in the same order.
    """
    _qr_r(M.T, ncols, k, v)  # the same reflectors on the transpose (k ≤ ncols)


@njit(cache=True)
def _qr_r(P, nr, nc, v):
    """Householder QR from the left of ``P[:nr, :nc]`` in place; on return its top
    ``min(nr, nc)`` rows hold an upper-trapezoidal ``R`` with ``RᵀR = PᵀP``."""
    for c in range(min(nr, nc)):
        tail = 0.0
        for i in range(c + 1, nr):
            tail += P[i, c] * P[i, c]
        if tail == 0.0:
            continue
        x0 = P[c, c]
        norm = math.sqrt(x0 * x0 + tail)
        alpha = -norm if x0 > 0 else norm
        v[c] = x0 - alpha
        for i in range(c + 1, nr):
            v[i] = P[i, c]
        vv = v[c] * v[c] + tail
        for col in range(c, nc):
            dot = 0.0
            for i in range(c, nr):
                dot += P[i, col] * v[i]
            f = 2.0 * dot / vv
            for i in range(c, nr):
                P[i, col] -= f * v[i]
        for i in range(c + 1, nr):
            P[i, c] = 0.0


@njit(cache=True, nogil=True)
def chain_chunk(r0, r1, L, alive, coords, t, bn, bc, bsz, etas, smooth, rec, out_best,
                out_mean, out_loss, seeds, p, sig, dsig, sp, sq, sc, loss_code, draws):
    """Advance the live replicas ``r0 ≤ r < r1`` through the steps of one chunk (module doc);
    the GIL is released, so threads may run disjoint replica ranges at once.

    ``L (R, k, k)``, ``alive (R,)`` in/out; ``coords (R, n_chunk, k)`` the samples'
    coordinates ``(z, g_1..g_m)`` along ``(e_0 = θ*, e_1..e_m)``, ``t (R, n_chunk)`` the
    transformed labels; ``bn``, ``bc (R, ·)`` the normals and χ² numbers of the orthogonal
    parts in the smoothed steps, in the order they are used; per step ``bsz`` (batch size
    ``b``), ``etas`` (``b·η_t``), ``smooth`` (use the smoothed slope), ``rec`` (checkpoint
    slot or −1); outputs ``(R, n_cp)`` written at the checkpoint slots; ``p = d − k``;
    ``sig``/``dsig`` polynomial coefficients of ``σ``/``σ'``; smoothed slope
    ``Σ sc a^sp R^sq``; ``loss_code`` 0 correlation, 1 square; ``draws (R,)`` counts the
    random numbers drawn here (the work, for the tests that cost does not grow with d).
    """
    k = L.shape[1]
    m = k - 1
    S = bsz.shape[0]
    bmax = 1
    for s in range(S):
        bmax = max(bmax, bsz[s])
    apow = np.zeros(sp.max() + 1)
    rpow = np.zeros(sq.max() + 1)
    for r in range(r0, r1):
        if not alive[r]:
            continue
        np.random.seed(seeds[r])
        Lr = L[r].copy()
        G = np.zeros((bmax, k))
        A = np.zeros((bmax, m))
        Psi = np.zeros((bmax, m))
        C = np.zeros((m, m + 1))
        zeta = np.zeros(m + 1)
        Q = np.zeros((max(bmax, m), m))
        RA = np.zeros((m, m))
        M = np.zeros((k, k + max(bmax, m)))
        v = np.zeros(k + max(bmax, m))
        off = 0
        ok = True
        drawn = 0
        ibn = 0
        ibc = 0
        for s in range(S):
            b = bsz[s]
            inv_b = 1.0 / b
            eta = etas[s]
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
                # Σ_i ψ_ij x_⊥i built sample by sample in a running orthonormal basis of at
                # most m directions of S^⊥ (C: coordinates of the m partial sums): x_⊥i has
                # N(0, 1) coordinates on the q basis vectors (from bn) and a remainder of
                # norm √χ²_{p−q} (from bc) along a new direction; ‖x_⊥i‖² is known before
                # ψ_ij is computed, and the m + 1 columns are folded back to m by an LQ step
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
            else:
                for i in range(b):
                    for j in range(m):
                        a = A[i, j]
                        if loss_code == CORRELATION:
                            Psi[i, j] = eta * t[r, off + i] * _poly(dsig, a)
                        else:
                            Psi[i, j] = eta * (t[r, off + i] - _poly(sig, a)) * _poly(dsig, a)
            if rec[s] >= 0:
                total = 0.0
                for i in range(b):
                    for j in range(m):
                        f = _poly(sig, A[i, j])
                        if loss_code == CORRELATION:
                            total -= t[r, off + i] * f
                        else:
                            total += 0.5 * (f - t[r, off + i]) ** 2
                out_loss[r, rec[s]] = total / (b * m)
            # new coordinates of w_j in span(e_0..e_m) ⊕ (new orthogonal directions)
            ncols = k
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
            if smooth[s]:
                for j in range(m):
                    for col in range(q):
                        M[j + 1, k + col] = C[j, col] * inv_b
                ncols = k + q
            else:
                # X_⊥ᵀΨ = Q_A R_A R_Ψ: R_Ψ from QR of Ψ (b × m), R_A Bartlett (p × qs)
                qs = min(b, m)
                for i in range(b):
                    for j in range(m):
                        Q[i, j] = Psi[i, j]
                _qr_r(Q, b, m, v)
                q = min(p, qs)
                drawn += q * qs - q * (q - 1) // 2
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
                            acc += RA[row, col] * Q[col, j]
                        M[j + 1, k + row] = acc * inv_b
                ncols = k + q
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
            if not ok:
                break
            if rec[s] >= 0:
                best = 0.0
                mean = 0.0
                for j in range(1, k):
                    ov = abs(Lr[j, 0])
                    best = max(best, ov)
                    mean += ov
                out_best[r, rec[s]] = best
                out_mean[r, rec[s]] = mean / m
            off += b
        if not ok:
            alive[r] = False
            for j in range(k):
                for c in range(k):
                    Lr[j, c] = np.nan
        L[r] = Lr
        draws[r] += drawn
