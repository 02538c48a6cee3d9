"""Exact Gaussian conditioning for full-batch GD on a Gaussian dataset (docs/conditional.md).

Stage 1 of :class:`~indexlab.learners.layerwise.LayerwiseGD` touches the data only through
``H = X Wᵀ`` and ``dW = diag(a/m) Gᵀ X`` (``G (n, m)``: ``σ'(H) ⊙ ℓ'(f, y)/n``). Rotate the
input space so that ``U = [I_r, 0]``: ``X = [Z, X⊥]``, ``W = [W∥, W⊥]``, with ``X⊥ (n, p)``,
``p = d − r``, i.i.d. ``N(0, 1)`` and independent of ``(Z, y)``. The engine keeps

* an orthonormal frame ``V (p, k)`` of the explored directions of ``R^p`` (never formed: only
  its dimension ``k`` matters), the coefficients ``C (m, k)`` with ``W⊥ = C Vᵀ``, and the
  revealed products ``A = X⊥ V (n, k)``;
* an orthonormal basis ``B (n, K)`` of the span of the earlier left factors ``G_s``.

Conditional law (Bolthausen's lemma; every earlier ``G_sᵀ X⊥`` lies in ``span(V)`` by
construction): ``X⊥ = A Vᵀ + P_B^⊥ Ξ P_V^⊥`` with ``Ξ`` fresh i.i.d. Gaussian. One step:

1. ``Gᵀ X⊥ = Gᵀ A Vᵀ + G̃ᵀ Ξ P_V^⊥`` with ``G̃ = P_B^⊥ G``. Write ``G̃ = Q S`` (``Q (n, m)``
   orthonormal, in ``range(P_B^⊥)``: block Gram-Schmidt against ``B``, then QR; the free
   columns of a rank-deficient ``G̃``, as at the symmetric initialisation, are projected
   off ``B``). ``M = Qᵀ Ξ P_V^⊥`` is an
   ``m × q`` i.i.d. Gaussian matrix, ``q = p − k``; its LQ factorisation ``M = T Oᵀ`` has
   ``T`` lower triangular with ``T_ii ~ χ_{q−i+1}``, ``T_ij ~ N(0, 1)`` (i > j) (Bartlett)
   and ``O`` Haar on the ``q``-dimensional complement, independent of ``T``. So the new part
   is ``Sᵀ T V_newᵀ`` with ``V_new = O``: ``k → k + m``.
2. ``X⊥ V_new = P_B^⊥ Ξ O = Q T + P_{[B,Q]}^⊥ Ξ'`` with ``Ξ' (n, m)`` fresh: ``Ξ`` splits into
   ``Q M`` and its part orthogonal to ``Q``, which is independent of ``M`` and hence of ``O``.

Every quantity of the algorithm then has exactly the law of the full engine; nothing has a
``d``-dimensional axis (``q`` enters only through the χ degrees of freedom). Memory is
``O(n (k + K))`` with ``k, K ≤ m (T1 + 1)``: independent of ``d`` but not of ``m T1`` (at
``m = 512``, ``T1 = 8`` it is larger than the dataset below ``d ≈ 4096``).

The initial neurons ``w_j = ε0 g_j/‖g_j‖`` (``g_j ~ N(0, I_d)``, pairs ``j, j + m/2``
identical) are drawn the same way: ``g_j⊥ = T0 V0ᵀ`` with ``T0`` Bartlett of dimension ``p``,
``A0 = X⊥ V0`` fresh Gaussian, and ``‖g_j‖² = ‖g_j∥‖² + ‖(T0)_j‖²``. A Haar ``U`` and a sparse
``U`` give the same law: the law of ``X`` is invariant under every rotation.
"""

from __future__ import annotations

import torch

from indexlab.nn import get_activation, get_loss


def bartlett(R: int, m: int, q: int, generator: torch.Generator, dtype, device) -> torch.Tensor:
    """``(R, m, m)`` lower-triangular factor ``T`` of the LQ of an ``m × q`` i.i.d. Gaussian
    matrix: ``T_ii ~ χ_{q−i+1}`` (``i = 1..m``), ``T_ij ~ N(0, 1)`` below the diagonal."""
    if q < m:
        raise ValueError(f"the unexplored complement has dimension q={q} < m={m} new "
                         "directions: engine='conditional' needs d - r >= explored dimension")
    dof = torch.arange(q, q - m, -1, dtype=torch.float64)
    chi2 = torch._standard_gamma((dof / 2).expand(R, m).contiguous(), generator=generator) * 2
    T = torch.randn(R, m, m, generator=generator, dtype=torch.float64).tril(-1)
    T = T + torch.diag_embed(chi2.sqrt())
    return T.to(device, dtype)


def _fresh(shape, generator, dtype, device) -> torch.Tensor:
    return torch.randn(*shape, generator=generator, dtype=torch.float64).to(device, dtype)


def reveal(B: torch.Tensor | None, G: torch.Tensor, q: int, generator: torch.Generator):
    """One conditioning step (module docstring, 1–2) for ``G (R, n, m)`` and the unexplored
    dimension ``q``. Returns ``(known_basis_coeff Sᵀ T (R, m, m), A_new (R, n, m), B_new)``
    with ``B_new = [B, Q]``."""
    R, n, m = G.shape
    K = 0 if B is None else B.shape[2]
    if n < K + m:
        raise ValueError(f"n={n} samples are fewer than the explored dimension {K + m} of "
                         "the sample space: engine='conditional' needs n >= width·(t1 + 1)")
    if B is None:
        Q, S = torch.linalg.qr(G)
    else:  # block Gram-Schmidt against B (twice, for orthogonality in float32), O(n K m)
        Gt = G - B @ (B.transpose(1, 2) @ G)
        Gt = Gt - B @ (B.transpose(1, 2) @ Gt)
        Q, S = torch.linalg.qr(Gt)
        # a rank-deficient G̃ leaves columns of Q free; project them off B and re-orthonormalise
        # (range(Q2) ⊇ range(G̃), so G̃ = Q' (R' S) with Q' inside range(P_B^⊥))
        Q2 = Q - B @ (B.transpose(1, 2) @ Q)
        Q, R2 = torch.linalg.qr(Q2)
        S = R2 @ S
    T = bartlett(R, m, q, generator, G.dtype, G.device)
    B_new = Q if B is None else torch.cat([B, Q], dim=2)
    noise = _fresh((R, n, m), generator, G.dtype, G.device)
    noise = noise - B_new @ (B_new.transpose(1, 2) @ noise)
    return S.transpose(1, 2) @ T, Q @ T + noise, B_new


def initial_neurons(Z: torch.Tensor, m: int, d: int, scale: float,
                    generator: torch.Generator):
    """Symmetric init ``w_j = w_{j+m/2} = ε0 g_j/‖g_j‖`` in conditional form: returns
    ``(W∥ (R, m, r), C (R, m, m/2), A (R, n, m/2))`` (module docstring)."""
    R, n, r = Z.shape
    half = m // 2
    g_par = _fresh((R, half, r), generator, Z.dtype, Z.device)
    T0 = bartlett(R, half, d - r, generator, Z.dtype, Z.device)
    norm = (g_par.pow(2).sum(-1) + T0.pow(2).sum(-1)).sqrt().unsqueeze(-1)
    W_par, C = scale * g_par / norm, scale * T0 / norm
    A = _fresh((R, n, half), generator, Z.dtype, Z.device)
    return torch.cat([W_par, W_par], 1), torch.cat([C, C], 1), A


def left_product(G: torch.Tensor, A: torch.Tensor, B: torch.Tensor | None, p: int,
                 generator: torch.Generator):
    """``Gᵀ X⊥`` in the explored frame for ``G (R, n, m')``: returns ``(coeff (R, m', k + m'),
    A_new (R, n, k + m'), B_new)`` with ``Gᵀ X⊥ = coeff · [V, V_new]ᵀ`` (steps 1–2 of the
    module docstring: ``coeff = [Gᵀ A, Sᵀ T]``), ``A_new = [A, X⊥ V_new]`` and
    ``B_new = [B, Q]``. ``p = d − r``; refuses (``ValueError``, with the numbers) when
    ``p − k < m'``."""
    k, m = A.shape[2], G.shape[2]
    if p - k < m:
        raise ValueError(f"d - r = {p} is smaller than the explored dimension {k + m} after "
                         "this step: use a larger d or engine='full'")
    new, A_add, B = reveal(B, G, p - k, generator)
    coeff = torch.cat([G.transpose(1, 2) @ A, new], dim=2)
    return coeff, torch.cat([A, A_add], dim=2), B


def dls_labels(Z: torch.Tensor, y: torch.Tensor, C: torch.Tensor, A: torch.Tensor,
               B: torch.Tensor | None, p: int, generator: torch.Generator):
    """The DLS preprocessing ``ỹ = y − ȳ − X β̂``, ``β̂ = Xᵀ y/n`` (Damian, Lee,
    Soltanolkotabi 2022), in conditional form: ``β̂ = (Zᵀ y/n, X⊥ᵀ y/n)`` and ``X⊥ᵀ (y/n)`` is
    one left product (:func:`left_product` with ``m' = 1``), so ``X⊥ β̂⊥ = A_new cᵀ``
    (``c`` its coefficients). Returns ``(ỹ, C padded by one zero column, A_new, B_new)``."""
    n = y.shape[1]
    g = (y / n).unsqueeze(-1)
    coeff, A, B = left_product(g, A, B, p, generator)
    beta_par = Z.transpose(1, 2) @ g  # (R, r, 1)
    fitted = (Z @ beta_par + A @ coeff.transpose(1, 2)).squeeze(-1)
    labels = y - y.mean(dim=1, keepdim=True) - fitted
    return labels, torch.cat([C, torch.zeros_like(C[:, :, :1])], dim=2), A, B


def iterate(Z: torch.Tensor, W_par: torch.Tensor, C: torch.Tensor, A: torch.Tensor,
            B: torch.Tensor | None, d: int, t1: int, left, update,
            generator: torch.Generator):
    """``T1`` steps of ``W ← update(W, Gᵀ X)`` with ``G = left(X Wᵀ) (R, n, m)``, in
    conditional form (module docstring): ``X Wᵀ = Z W∥ᵀ + A Cᵀ`` and
    ``Gᵀ X = [Gᵀ Z, coeff]`` (:func:`left_product`). ``update`` must be linear in its two
    arguments (it is applied block by block: to ``W∥`` and ``Gᵀ Z``, to ``[C, 0]`` and
    ``coeff``). Layer-wise GD: ``left`` is the backpropagated ``σ'(H) ⊙ ℓ'(f, y)/n ⊙ a/m``,
    ``update(W, P) = W − η (P + β W)``; power iteration: ``left(H) = ρ ⊙ H/n``
    (``Gᵀ X = W Σ̂``). Returns ``(W∥, C, diverged (R,))``; a replica that turns non-finite
    is flagged and carried as zeros."""
    R, _, r = Z.shape
    diverged = torch.zeros(R, dtype=torch.bool, device=Z.device)
    for _ in range(t1):
        G = left(Z @ W_par.transpose(1, 2) + A @ C.transpose(1, 2))
        coeff, A, B = left_product(G, A, B, d - r, generator)
        W_par = update(W_par, G.transpose(1, 2) @ Z)
        C = update(torch.cat([C, torch.zeros_like(coeff[:, :, C.shape[2]:])], dim=2), coeff)
        bad = ~(torch.isfinite(W_par).all(2).all(1) & torch.isfinite(C).all(2).all(1))
        if bool(bad.any()):
            diverged |= bad
            W_par, C, A, B = (torch.where(diverged[:, None, None], 0.0, t)
                              for t in (W_par, C, A, B))
    return W_par, C, diverged


def gd_step(lr: torch.Tensor, decay: torch.Tensor):
    """``update`` of :func:`iterate` for ``W ← W − η (P + β W)`` (``lr, decay (R,)``)."""
    lr_, dec_ = lr[:, None, None], decay[:, None, None]
    return lambda W, P: W - lr_.to(W) * (P + dec_.to(W) * W)


def backprop(y: torch.Tensor, offset: torch.Tensor, act, loss, m: int,
             bias: torch.Tensor | None = None):
    """``left`` of :func:`iterate` for layer-wise GD: ``G = σ'(H + b) ⊙ ℓ'(f, y)/n ⊙ a/m``
    with ``f = σ(H + b) a/m + t0`` and ``a = (+1, −1)`` pairs."""
    n = y.shape[1]
    a = torch.cat([torch.ones(m // 2), -torch.ones(m // 2)]).to(y)

    def left(H):
        pre = H if bias is None else H + bias.unsqueeze(1).to(H)
        f = act(pre) @ a / m + offset.to(H)[:, None]
        return act.df(pre) * (loss.grad(f, y) / n).unsqueeze(-1) * (a / m)
    return left


def stage_one(Z: torch.Tensor, y: torch.Tensor, d: int, *, width: int, t1: int,
              lr: torch.Tensor, decay: torch.Tensor, offset: torch.Tensor,
              activation="logcosh", loss="huber", init_scale: float = 1e-3,
              bias: torch.Tensor | None = None, generator: torch.Generator):
    """``T1`` steps of ``W ← W − η (diag(a/m) Gᵀ X + β W)`` (LayerwiseGD stage 1, ``a = (+1,
    −1)`` pairs, biases ``bias (R, m)`` or zero) in conditional form: :func:`initial_neurons`
    then :func:`iterate`. ``Z (R, n, r)``: latents of the stage-1 data; ``lr, decay, offset
    (R,)``. Returns ``(W∥ (R, m, r), C (R, m, k), diverged (R,))``; ``[W∥, C]`` has the law
    of ``W`` in the basis ``[Uᵀ, V]``, so ``W Wᵀ = W∥W∥ᵀ + C Cᵀ`` and the principal angles
    to ``U`` are those of ``[W∥, C]`` to ``[I_r, 0]``."""
    act, lossf = get_activation(activation), get_loss(loss)
    W_par, C, A = initial_neurons(Z, width, d, init_scale, generator)
    return iterate(Z, W_par, C, A, None, d, t1, backprop(y, offset, act, lossf, width, bias),
                   gd_step(lr, decay), generator)


def subspace_metrics(W_par: torch.Tensor, C: torch.Tensor, r: int):
    """``(subspace_distance (R,), principal cosines (R, r), descending)`` of the top-``r``
    right singular space of ``W = [W∥, C]`` (basis ``[Uᵀ, V]``) to ``U = [I_r, 0]``: the same
    values as :func:`indexlab.metrics.subspace_distance` on the full ``W``."""
    from indexlab.metrics import subspace_distance, top_subspace

    Wc = torch.cat([W_par, C], dim=2).to(torch.float64)
    top = top_subspace(Wc, r)
    U = torch.zeros(Wc.shape[0], r, Wc.shape[2], dtype=torch.float64, device=Wc.device)
    U[:, :, :r] = torch.eye(r, dtype=torch.float64)
    cosines = torch.linalg.svdvals(top[:, :, :r])
    return subspace_distance(top, U), cosines


def gram_factor(C: torch.Tensor) -> torch.Tensor:
    """``R_c (R, m', m)``, ``m' = min(k, m)``, with ``R_cᵀ R_c = C Cᵀ`` (the reduced QR
    ``Cᵀ = Q_c R_c``; exact also for a rank-deficient ``C``, as after the first step, where
    the pair rows are opposite)."""
    return torch.linalg.qr(C.transpose(1, 2), mode="r")[1]


def fresh_preactivations(Z: torch.Tensor, W_par: torch.Tensor, Rc: torch.Tensor,
                         generator: torch.Generator) -> torch.Tensor:
    """``X Wᵀ (R, n, m)`` on ``n`` fresh samples with latents ``Z (R, n, r)``, in law:
    ``X Wᵀ = Z W∥ᵀ + X⊥ V Cᵀ`` and ``X⊥ V (n, k)`` is fresh i.i.d. ``N(0, 1)`` (``V``
    orthonormal, independent of the new samples), so ``X⊥ V Cᵀ = (X⊥ V Q_c) R_c`` with
    ``X⊥ V Q_c`` an ``n × m'`` fresh Gaussian matrix (:func:`gram_factor`): cost
    ``O(n m m')``, no ``d`` and no ``k``."""
    R, n, _ = Z.shape
    Xi = _fresh((R, n, Rc.shape[1]), generator, Z.dtype, Z.device)
    return Z @ W_par.transpose(1, 2) + Xi @ Rc


def spectrum_equivalent(Z: torch.Tensor, rho: torch.Tensor, d: int) -> torch.Tensor:
    """Deterministic equivalent of the top ``r + 1`` |eigenvalues| of
    ``Σ̂ = (1/n) Σ_i ρ_i x_i x_iᵀ`` from the latents alone, ``(R, r + 1)`` descending.

    The bulk ``(1/n) X⊥ᵀ diag(ρ) X⊥`` is, for ``p/n → 0``, a semicircle of radius ``2s``
    around ``c = mean ρ``, ``s² = mean ρ² · p/n`` (the edge of :func:`default_t1`); an
    eigenvalue ``θ`` of the exact ``r × r`` block ``Zᵀ diag(ρ) Z/n`` with ``|θ − c| > s``
    gives the outlier ``c + (θ − c) + s²/(θ − c)`` (the BBP map of a rank-``r`` spike of a
    Wigner matrix; Benaych-Georges and Nadakuditi 2011), else it sticks to the edge
    ``c ± 2s``. Returns the ``r`` spike values and the larger |edge|."""
    _, n, r = Z.shape
    rho64, Z64 = rho.to(torch.float64), Z.to(torch.float64)
    S = Z64.transpose(1, 2) @ (rho64.unsqueeze(-1) * Z64) / n
    theta = torch.linalg.eigvalsh((S + S.transpose(1, 2)) / 2)  # (R, r)
    c = rho64.mean(dim=1, keepdim=True)
    s = torch.sqrt(rho64.pow(2).mean(dim=1, keepdim=True) * (d - r) / n)
    dev = theta - c
    out = torch.where(dev.abs() > s, c + dev + s.pow(2) / torch.where(dev == 0, 1.0, dev),
                      c + torch.sign(dev) * 2 * s)
    edge = torch.maximum((c + 2 * s).abs(), (c - 2 * s).abs())
    values = torch.cat([out.abs(), edge], dim=1)
    return values.sort(dim=1, descending=True).values.to(Z.dtype)
