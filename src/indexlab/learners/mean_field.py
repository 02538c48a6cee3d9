"""The deterministic (mean-field) overlap of spherical online SGD on a single-index model.

The update ``w ← normalise(w + η ψ(a, R, T(y)) (x − a w))`` with ``a = ⟨w, x⟩``,
``R = ‖x‖² − a²``, ``z = ⟨θ, x⟩`` moves the overlap ``m = ⟨w, θ⟩`` by
(:mod:`indexlab.learners.holding`)

    Δm = η ψ (z − a m) − (η²/2) m ψ² R + O(η³),

so ``q = m²`` has the mean increment per sample

    dq/dn = 2 η √q F(√q) + η² (H(√q) − q G(√q)),                                   (MF)

``F(m) = E[ψ (z − a m)]`` (the population drift, ``(1 − m²) φ'(m)`` for the correlation
loss with ``φ(m) = E[T(y) σ(a)]``), ``G(m) = E[ψ² R]`` (the normalisation drag) and
``H(m) = E[ψ² (z − a m)²]`` (the diffusion that keeps ``q`` at its random level ``≈ 1/d``),
expectations over ``z, g ~ N(0, 1)``, ``a = m z + √(1 − m²) g``, ``R = z² + g² + χ²_{d−2} − a²``
and the link's label. This is the effective dynamics of Ben Arous, Gheissari and Jagannath,
"Online stochastic gradient descent on non-convex losses from high-dimensional inference"
(JMLR 2021), with the second-order terms kept; a minibatch of ``B`` with the step ``B η``
(the linear-scaling rule) has the same (MF) per sample to leading order. It is the mean of
the overlap chain (docs/chain.md), not its law: the replicas' escape times spread around it.

:func:`overlap_ode` integrates (MF) with the learner's own slopes, label transform and step
schedule (:func:`~indexlab.learners.online_setup.online_setup`, the function the engines
read; a minibatch of ``B`` adds ``η²(B − 1)`` times the squared population drift to the
second-order terms, negligible next to ``G ∝ d`` when ``B ≪ d``). The overlap reported is the
best neuron's ``max_j |m_j|``, and each neuron moves on its own (the correlation and square
losses do not couple the first-layer neurons), so the best neuron's curve is one neuron's
from the best start. A neuron with ``m < 0`` follows (MF) with ``F₋(|m|) = −F(−|m|)``,
``G₋(|m|) = G(−|m|)``, ``H₋(|m|) = H(−|m|)``:

* when the two branches agree (a problem symmetric under ``θ → −θ``, e.g. an even link with
  an even activation) the start is ``q_0 = (E max_j |g_j|)² / d`` over the ``width``
  neurons;
* otherwise (e.g. an odd exponent: the drift ``∝ m^{s−1}`` pushes a neuron with ``m < 0``
  back to 0 when ``s`` is odd, and the neuron on the wrong side escapes only by noise) each
  branch starts from ``(E max |g|)² / d`` over ``⌈width/2⌉`` neurons (half of them start on
  each side) and the curve is the larger of the two; with ``width = 1`` that is the curve
  of the replicas that start on the side the drift favours.

It is a deterministic curve from a typical start (the median of the replicas' overlap in
the limit, not its mean), so it lies inside the measured band, not on its median at small
``d`` where the escape times spread (docs/chain.md).
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import torch

from indexlab.learners._util import check_int
from indexlab.learners.online_setup import online_setup, update_slopes
from indexlab.links import Link

Z_NODES, G_NODES, CHI_POINTS = 64, 16, 4
GRID_CHUNK = 16


def _grid() -> np.ndarray:
    """Overlaps where ``F, G, H`` are tabulated: dense near 0 (where the drift is
    ``∝ m^{k−1}``) and near 1."""
    return np.unique(np.concatenate([[0.0], np.geomspace(1e-5, 0.5, 140),
                                     1.0 - np.geomspace(0.5, 1e-5, 80), [1.0]]))


def slope_tables(psi, link: Link, transform, d: int, grid: np.ndarray,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(F, G, H)`` of (MF) at each overlap of ``grid`` for the slope ``psi(a, R, t)``:
    Gauss–Hermite in ``z`` and ``g``, ``CHI_POINTS`` equal-mass quantiles of ``χ²_{d−2}``,
    one label draw per point (seeded)."""
    from scipy.stats import chi2

    zq, wz = np.polynomial.hermite_e.hermegauss(Z_NODES)
    gq, wg = np.polynomial.hermite_e.hermegauss(G_NODES)
    rest = chi2.ppf((np.arange(CHI_POINTS) + 0.5) / CHI_POINTS, max(d - 2, 1))
    Z, Gq, C = np.meshgrid(zq, gq, rest, indexing="ij")
    W = np.einsum("i,j,k->ijk", wz / wz.sum(), wg / wg.sum(), np.full(CHI_POINTS,
                                                                       1 / CHI_POINTS))
    z, g, c = (torch.as_tensor(v.ravel()) for v in (Z, Gq, C))
    w = torch.as_tensor(W.ravel())
    y = link(z[:, None], torch.Generator().manual_seed(seed)).to(torch.float64)
    t = transform(y).to(torch.float64).reshape(z.shape)
    F, G, H = (np.empty(grid.size) for _ in range(3))
    for lo in range(0, grid.size, GRID_CHUNK):  # GRID_CHUNK overlaps per batched evaluation
        m = torch.as_tensor(grid[lo:lo + GRID_CHUNK], dtype=torch.float64)[:, None]
        a = m * z + torch.sqrt(torch.clamp(1.0 - m * m, min=0.0)) * g
        R = z * z + g * g + c - a * a
        p = psi(a, R, t.expand_as(a))
        along = z - a * m
        F[lo:lo + GRID_CHUNK] = (w * p * along).sum(dim=1).numpy()
        G[lo:lo + GRID_CHUNK] = (w * p * p * R).sum(dim=1).numpy()
        H[lo:lo + GRID_CHUNK] = (w * p * p * along * along).sum(dim=1).numpy()
    return F, G, H


def _branches(psi, link: Link, transform, d: int, grid: np.ndarray):
    """``(F, G, H)`` of the ``m > 0`` branch and of the ``m < 0`` branch (in ``|m|``: ``−F``,
    ``G``, ``H`` at ``−|m|``) on ``grid`` (module docstring)."""
    plus = slope_tables(psi, link, transform, d, grid)
    F, G, H = slope_tables(psi, link, transform, d, -grid)
    return plus, (-F, G, H)


def _agree(plus, minus, tolerance: float = 0.05) -> bool:
    """Whether the two branches' ``F, G, H`` agree within ``tolerance`` of each table's
    largest value (the label draws of a noisy link differ between the branches, so they
    never agree exactly)."""
    return all(np.max(np.abs(a - b)) <= tolerance * max(np.max(np.abs(a)), 1e-300)
               for a, b in zip(plus, minus, strict=True))


def initial_overlap(width: int, d: int) -> float:
    """``E max_j |g_j| / √d`` over ``width`` standard normals: ``∫_0^∞ 1 − erf(t/√2)^width dt``
    (trapezoid rule), over ``√d``; ``width, d >= 1`` (``ValueError`` otherwise)."""
    width, d = check_int("width", width, 1), check_int("d", d, 1)
    t = np.linspace(0.0, 12.0, 4001)
    tail = 1.0 - np.vectorize(math.erf)(t / math.sqrt(2)) ** width
    return float(np.sum((tail[1:] + tail[:-1]) / 2) * (t[1] - t[0])) / math.sqrt(d)


def overlap_ode(learner, link: Link, d: int, ns, budget: int | None = None) -> np.ndarray:
    """The mean-field best-neuron overlap ``√q(n)`` of (MF) at each ``n`` of ``ns``.

    ``budget``: the run's budget (one traced run: its schedule, fixed by ``budget``, read at
    every ``n``); ``None``: each ``n`` is its own run with the schedule of budget ``n``. Needs
    a single-index ``link`` and a transform known before the data (``"agnostic"`` is a
    ``ValueError``)."""
    from scipy.integrate import solve_ivp

    if link.r != 1:
        raise ValueError(f"the overlap ODE is for single-index links; {link.name!r} has "
                         f"r={link.r}")
    if learner.label_transform == "agnostic":
        raise ValueError("label_transform='agnostic' is built from the run's labels: no "
                         "prediction before the data")
    d = check_int("d", d, 1)
    ns = np.asarray(ns, dtype=float)
    if ns.size == 0 or not np.all(np.isfinite(ns) & (ns > 0)):
        raise ValueError(f"ns={ns.tolist()!r} is not allowed: use sample counts > 0")
    if budget is not None:
        budget = check_int("budget", budget, 1)
    first = online_setup(learner, link, d, n=int(budget or ns.max()))
    search_psi, descent_psi = update_slopes(first.activation, learner.loss,
                                            first.smoothing, d)
    grid = _grid()
    pairs = {"search": _branches(search_psi, link, first.transform, d, grid)}
    pairs["descent"] = (pairs["search"] if first.smoothing <= 0
                        else _branches(descent_psi, link, first.transform, d, grid))
    symmetric = all(_agree(*pair) for pair in pairs.values())
    tables = [{phase: pair[side] for phase, pair in pairs.items()}
              for side in ((0,) if symmetric else (0, 1))]
    q0 = initial_overlap(learner.width if symmetric else -(-learner.width // 2), d) ** 2

    def solve(schedule, until: np.ndarray) -> np.ndarray:
        return np.max([branch(schedule, until, side) for side in tables], axis=0)

    def branch(schedule, until: np.ndarray, side: dict) -> np.ndarray:
        def rhs(phase):
            F, G, H = (list(map(float, T)) for T in side[phase])
            nodes = list(map(float, grid))

            def f(n, q):
                m = math.sqrt(min(max(q[0], 0.0), 1.0))
                eta = schedule.step_at(n)  # the schedule at real n: smooth in each phase
                i = min(max(bisect.bisect_right(nodes, m) - 1, 0), len(nodes) - 2)
                u = (m - nodes[i]) / (nodes[i + 1] - nodes[i])  # linear interpolation
                Fm, Gm, Hm = (T[i] + u * (T[i + 1] - T[i]) for T in (F, G, H))
                return [2 * eta * m * Fm + eta * eta * (Hm - m * m * Gm)]
            return f

        out = np.full(until.size, q0)
        q, cut, last = q0, float(schedule.search), float(until.max())
        for phase, lo, hi in (("search", 0.0, min(cut, last)), ("descent", cut, last)):
            if hi <= lo:
                continue
            # LSODA: near alignment (MF) is stiff for RK45 (tens of thousands of steps);
            # the curves agree to 4 digits between RK45 at rtol 1e-6 and this
            sol = solve_ivp(rhs(phase), (lo, hi), [q], method="LSODA", rtol=1e-5,
                            atol=1e-10, dense_output=True, max_step=max(1.0, (hi - lo) / 50))
            inside = (until > lo) & (until <= hi)
            if inside.any():
                out[inside] = sol.sol(until[inside])[0]
            q = float(sol.y[0, -1])
        return np.sqrt(np.clip(out, 0.0, 1.0))

    if budget is not None:
        return solve(first.schedule, ns)
    return np.array([solve(online_setup(learner, link, d, n=int(n)).schedule,
                           np.array([n]))[0] for n in ns])
