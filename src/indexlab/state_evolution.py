"""State evolution of Bayes-optimal GAMP for Gaussian multi-index models, by quadrature.

Model (``docs/theory.md``; the normalisation of Aubin et al. 2018): ``x ~ N(0, I_d)``, hidden
``W ∈ R^{d×r}`` with rows ``w_j ~ N(0, I_r)`` (``W = √d Uᵀ`` for the library's orthonormal
``U``), latent ``z = Wᵀx/√d ∈ R^r``, label ``y ~ P(y | z)``, ``n = α d``.

**Output channel** (:func:`output_channel`). For ``ω ∈ R^r`` and ``V ⪰ 0`` the channel's
partition function and its derivatives are

    Z(y, ω, V) = ∫ N(z; ω, V) P(y | z) dz,      ẑ = E[z | y, ω, V],   Σ = Cov[z | y, ω, V],
    g_out = V⁻¹(ẑ − ω),                          ∂_ω g_out = V⁻¹(Σ − V)V⁻¹

(Rangan 2011; Aubin et al. 2018, *The committee machine*, NeurIPS, eq. (9)). The integral is
a sum over a fixed uniform grid ``z_k`` of ``[−8, 8]^r`` (``800, 200, 40`` nodes per axis for
``r = 1, 2, 3``, nodes with ``‖z‖ > 7`` dropped), i.e. the trapezoid rule, with the likelihood
``P(y | z_k)``:

* noisy labels ``y = g(z) + σε``: ``φ_σ(y − g(z_k))``;
* binary labels: ``(1 + y f(z_k))/2``;
* deterministic discrete labels (e.g. ``sign(z1 z2)``): exact grouping ``1{g(z_k) = y}``;
* noiseless continuous labels have no density on the grid: the channel then assumes noise
  ``channel_noise`` (by default the smallest ``σ`` the grid resolves, see below), i.e. it is
  the Bayes-optimal channel of the noisy link, a mismatch for the noiseless one.

The grid resolves ``φ_σ(y − g(z))`` when its width ``σ/|∇g|`` is at least ``0.6 h`` (``h``
the grid step; the trapezoid error of a Gaussian of width ``s`` is ``≈ 2 e^{−2π² s²/h²}``,
below ``1e-3`` from ``s/h = 0.6``), with ``|∇g|`` the 90% quantile over ``z ~ N(0, I)``; a
smaller ``σ`` is refused (:class:`ChannelError`), as are ``r > 3`` and every link the theory
refuses (poles, heavy tails: :func:`indexlab.support.check_supported`).

**State evolution** (:func:`se_step`, :func:`state_evolution`). With ``q_t`` the ``r × r``
overlap ``E[ŵ wᵀ]`` (``= E[ŵ ŵᵀ]`` on the Bayes-optimal (Nishimori) line), ``V_t = I − q_t``:

    q̂_t = α E_{ω, y}[g_out g_outᵀ] = α V⁻¹(E[ẑ ẑᵀ] − q_t)V⁻¹,    ω ~ N(0, q_t),
    q_{t+1} = q̂_t (I + q̂_t)⁻¹                                      (Gaussian prior N(0, I_r))

(Aubin et al. 2018, eqs. (11)–(12); Troiani, Dandi, Defilippis, Zdeborová, Loureiro,
Krzakala 2025, *Fundamental computational limits of weak learnability in high-dimensional
multi-index models*, AISTATS, eq. (8)). ``E_ω`` is a product Gauss–Hermite rule
(``40, 16, 8`` nodes per axis), ``E_y`` is exact for discrete labels and, for noisy labels, a
deposit of the grid atoms on a ``σ/8`` grid of ``y`` convolved with ``φ_σ``.

**Weak-recovery threshold.** Near ``q = 0``, ``q_{t+1} ≈ α F(q_t)`` with
``F(M) = E_y[G(y) M G(y)]``, ``G(y) = E[zzᵀ − I | y]`` (when ``E[z | y] = 0``), so the
uninformative fixed point loses stability at ``α_c = 1/ρ``, ``ρ`` the top eigenvalue of
``F`` on the PSD cone (Troiani et al. 2025, Lemma; Mondelli & Montanari 2018,
*Fundamental limits of weak recovery with applications to phase retrieval*, COLT, for
``r = 1``: ``α_c = 1/E_y[(E[z²|y] − 1)²]``, ``1/2`` for ``y = z²``). :func:`channel_threshold`
computes it for the (possibly regularised) channel on two grids; the threshold of the
*noiseless* link is :func:`indexlab.theory.weak_recovery_estimate`. This is the linear-
stability threshold: where the transition is first order (another, informative fixed point
exists below ``α_c`` but is not reached from ``q ≈ 0``), it is still the algorithmic threshold
of GAMP from an uninformed start, and :func:`state_evolution` from ``q_0 = ε I`` shows which
fixed point is reached; :func:`transition` searches for such an informative fixed point from
an informed start (the spinodal ``α_sp``) and classifies the transition as continuous or first
order (docs/theory.md); the information-theoretic threshold is not computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from indexlab.hermite import gauss_hermite, product_rule
from indexlab.links import Link, get_link
from indexlab.support import check_supported

MAX_R = 3
CHANNEL_NODES = {1: 800, 2: 200, 3: 40}  # even: no node on an axis
CHANNEL_BOUND = 8.0
CHANNEL_RADIUS = 7.0
OMEGA_NODES = {1: 40, 2: 16, 3: 8}
RESOLUTION = 0.6  # σ/|∇g| ≥ RESOLUTION · h (module docstring)
_DISCRETE_MAX = 32
_CELLS_PER_SIGMA = 8


class ChannelError(ValueError):
    """The quadrature of the output channel cannot handle this link (module docstring)."""


@dataclass(frozen=True)
class Channel:
    """The output channel of a link on a quadrature grid (module docstring).

    ``nodes (K, r)``, ``prior (K,)`` (``φ(z_k) h^r``, normalised), ``values (K,)`` (``E[y|z_k]``),
    ``kind`` (``"gaussian"``, ``"binary"``, ``"discrete"``), ``sigma`` (the noise the channel
    assumes, ``"gaussian"`` only), ``regularised`` (``sigma`` is assumed, the link is
    noiseless), ``labels`` (the label values of a ``"discrete"`` channel), ``spacing`` ``h``.
    """

    link: Link
    kind: str
    sigma: float
    nodes: np.ndarray = field(repr=False)
    prior: np.ndarray = field(repr=False)
    values: np.ndarray = field(repr=False)
    spacing: float
    regularised: bool = False
    labels: np.ndarray | None = field(default=None, repr=False)

    @property
    def r(self) -> int:
        return self.link.r


def _grid(r: int, n: int) -> tuple[np.ndarray, np.ndarray, float]:
    x = np.linspace(-CHANNEL_BOUND, CHANNEL_BOUND, n)
    h = float(x[1] - x[0])
    z = np.stack([g.ravel() for g in np.meshgrid(*([x] * r), indexing="ij")], axis=1)
    z = z[np.sum(z * z, axis=1) <= CHANNEL_RADIUS**2]
    w = np.exp(-0.5 * np.sum(z * z, axis=1))
    return z, w / w.sum(), h


def gradient_scale(link: Link) -> float:
    """The 90% quantile of ``|∇ E[y|z]|`` over ``z ~ N(0, I_r)`` (central differences on
    4096 points of a fixed seed)."""
    z = np.random.default_rng(2024).standard_normal((4096, link.r))
    eps = 1e-5
    grad = np.zeros(len(z))
    for i in range(link.r):
        e = np.zeros(link.r)
        e[i] = eps
        grad += ((link.mean_numpy(z + e) - link.mean_numpy(z - e)) / (2 * eps)) ** 2
    return float(np.quantile(np.sqrt(grad), 0.9))


def minimum_noise(link: Link, nodes: int | None = None) -> float:
    """The smallest channel noise ``σ`` the grid resolves: ``RESOLUTION · h · |∇g|₉₀``."""
    n = CHANNEL_NODES[link.r] if nodes is None else nodes
    h = 2 * CHANNEL_BOUND / (n - 1)
    return RESOLUTION * h * gradient_scale(link)


def _discrete_labels(link: Link, values: np.ndarray) -> np.ndarray | None:
    probe = link.mean_numpy(np.random.default_rng(7).standard_normal((4096, link.r)))
    if np.unique(probe).size > _DISCRETE_MAX // 2:
        return None
    labels = np.unique(values)
    return labels if labels.size <= _DISCRETE_MAX else None


def output_channel(link: str | Link, channel_noise: float | None = None,
                   nodes: int | None = None) -> Channel:
    """The :class:`Channel` of ``link`` (a registry name, expression or
    :class:`~indexlab.links.Link`); ``channel_noise`` is the noise assumed for a noiseless
    continuous link (``None``: :func:`minimum_noise`); ``nodes`` per axis overrides
    ``CHANNEL_NODES``. Raises :class:`ChannelError` naming the link and the limit."""
    link = get_link(link) if isinstance(link, str) else link
    if not isinstance(link, Link):
        raise ChannelError(f"link={link!r} is not allowed: give a registry name, an "
                           "expression or an indexlab.links.Link")
    if link.r > MAX_R:
        raise ChannelError(f"link {link.name!r} has r={link.r}: the GAMP/state-evolution "
                           f"quadrature covers r ≤ {MAX_R} (its grid grows like n^r)")
    try:
        check_supported(link)
    except ValueError as exc:
        raise ChannelError(f"{exc} The GAMP channel quadrature needs the same.") from None
    n = CHANNEL_NODES[link.r] if nodes is None else int(nodes)
    if n < 9:
        raise ChannelError(f"nodes={nodes!r} is not allowed: use at least 9 per axis")
    z, prior, h = _grid(link.r, n)
    values = link.mean_numpy(z)
    if link.binary:
        if link.noise > 0:
            raise ChannelError(f"link {link.name!r} is binary with added noise: the channel "
                               "quadrature covers binary or noisy labels, not both")
        return Channel(link, "binary", 0.0, z, prior, np.clip(values, -1, 1), h)
    if link.noise == 0:
        labels = _discrete_labels(link, values)
        if labels is not None:
            return Channel(link, "discrete", 0.0, z, prior, values, h, labels=labels)
    floor = minimum_noise(link, n)
    sigma = link.noise if link.noise > 0 else channel_noise
    regularised = link.noise == 0
    if sigma is None:
        sigma = floor
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ChannelError(f"channel_noise={channel_noise!r} is not allowed: use a finite "
                           "number > 0 (or None)")
    if sigma < floor * (1 - 1e-9):
        raise ChannelError(
            f"link {link.name!r} with label noise σ = {sigma:.3g} is below what the channel "
            f"grid resolves (σ ≥ {RESOLUTION}·h·|∇g|₉₀ = {floor:.3g}, h = {h:.3g}): use a "
            "larger channel_noise, or more nodes per axis")
    return Channel(link, "gaussian", float(sigma), z, prior, values, h, regularised)


# ----------------------------------------------------------------------------------------------
# the label side: E_y[·] of the grid atoms, exactly or by deposit and convolution
# ----------------------------------------------------------------------------------------------


def _label_groups(channel: Channel):
    """``(L, K)`` likelihood matrix ``P(y_l | z_k)`` times the label-cell mass: the label
    law on a finite set of labels ``y_l``, so that ``E_y[f] = Σ_l Σ_k w_k P_{lk} f``."""
    if channel.kind == "binary":
        f = channel.values
        return np.stack([(1 + f) / 2, (1 - f) / 2])
    if channel.kind == "discrete":
        return (channel.values[None, :] == channel.labels[:, None]).astype(np.float64)
    raise AssertionError(channel.kind)


def _deposit(channel: Channel):
    """``(index, frac, kernel, cells)``: linear deposit of the atoms' labels ``g(z_k)`` on a
    grid of step ``σ/8`` and the normalised ``N(0, σ²)`` kernel (6σ half-width)."""
    s = channel.sigma
    delta = s / _CELLS_PER_SIGMA
    lo = channel.values.min() - 6 * s
    cells = (math.ceil((channel.values.max() + 6 * s - lo) / delta)) + 2
    pos = (channel.values - lo) / delta
    index = np.floor(pos).astype(np.int64)
    frac = pos - index
    half = (math.ceil(6 * s / delta))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * delta / s) ** 2)
    return index, frac, kernel / kernel.sum(), cells


def _label_moments(channel: Channel, weights: np.ndarray, features: np.ndarray):
    """``(Z (P, L), N (P, L, J))``: label masses and feature sums ``Σ_k w_pk P(y_l|z_k) φ_kj``
    for atom weights ``weights (P, K)`` and features ``(K, J)``."""
    if channel.kind != "gaussian":
        P_lk = _label_groups(channel)
        Z = weights @ P_lk.T
        N = np.einsum("pk,lk,kj->plj", weights, P_lk, features)
        return Z, N
    index, frac, kernel, cells = _deposit(channel)
    J = features.shape[1]
    stacked = np.concatenate([weights[:, :, None], weights[:, :, None] * features[None]],
                             axis=2)  # (P, K, 1 + J)
    order = np.argsort(index, kind="stable")
    grid = np.zeros((weights.shape[0], cells, 1 + J))
    for shift, part in ((0, 1 - frac), (1, frac)):
        at = index[order] + shift
        cell, start = np.unique(at, return_index=True)
        grid[:, cell] += np.add.reduceat(stacked[:, order] * part[order][None, :, None],
                                         start, axis=1)
    size = cells + kernel.size - 1
    fft = np.fft.rfft(grid, n=size, axis=1) * np.fft.rfft(kernel, n=size)[None, :, None]
    conv = np.fft.irfft(fft, n=size, axis=1)[:, kernel.size // 2: kernel.size // 2 + cells]
    return conv[..., 0], conv[..., 1:]


# ----------------------------------------------------------------------------------------------
# state evolution
# ----------------------------------------------------------------------------------------------


def _sqrt_psd(M: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((M + M.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def posterior_weights(channel: Channel, omega: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``(P, K)`` normalised weights ``∝ N(z_k; ω_p, V) h^r`` of the grid atoms."""
    Vinv = np.linalg.inv(V)
    diff = channel.nodes[None, :, :] - omega[:, None, :]
    logw = -0.5 * np.einsum("pki,ij,pkj->pk", diff, Vinv, diff)
    logw -= logw.max(axis=1, keepdims=True)
    w = np.exp(logw)
    return w / w.sum(axis=1, keepdims=True)


def se_step(channel: Channel, q: np.ndarray, alpha: float) -> np.ndarray:
    """One step ``q_t ↦ q_{t+1}`` of the module docstring's recursion."""
    r = channel.r
    q = (q + q.T) / 2
    V = np.eye(r) - q
    vals = np.linalg.eigvalsh(V)
    if vals.min() <= 1e-12:
        return np.eye(r)  # already perfect recovery
    rule = product_rule(gauss_hermite(OMEGA_NODES[r]), r)
    omega = rule.nodes.reshape(-1, r) @ _sqrt_psd(q)
    w = posterior_weights(channel, omega, V)
    Z, N = _label_moments(channel, w, channel.nodes)
    ok = Z > 1e-300
    zhat = np.where(ok[..., None], N / np.where(ok, Z, 1.0)[..., None], 0.0)
    Ezz = np.einsum("p,pl,pli,plj->ij", rule.weights, Z, zhat, zhat)
    Vinv = np.linalg.inv(V)
    qhat = alpha * Vinv @ (Ezz - q) @ Vinv
    qhat = (qhat + qhat.T) / 2
    q_new = qhat @ np.linalg.inv(np.eye(r) + qhat)
    return (q_new + q_new.T) / 2


@dataclass(frozen=True)
class StateEvolution:
    """A run of state evolution: ``q`` (the last ``r × r`` overlap), ``overlaps`` (``tr q_t/r``
    per iteration, ``q_0`` first), ``iterations``, ``converged``."""

    alpha: float
    q: np.ndarray
    overlaps: np.ndarray
    iterations: int
    converged: bool

    @property
    def overlap(self) -> float:
        """``tr q / r``: the predicted ``‖Û Uᵀ‖_F²/r`` (mean squared principal cosine)."""
        return float(np.trace(self.q) / self.q.shape[0])


def check_alpha(alpha) -> float:
    """``α`` as a finite float ``> 0``, else ``ValueError`` (before any work)."""
    ok = isinstance(alpha, (int, float, np.integer, np.floating)) and not isinstance(alpha, bool)
    if not ok or not math.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha={alpha!r} is not allowed: use a finite number > 0 (α = n/d)")
    return float(alpha)


def state_evolution(link: str | Link | Channel, alpha: float, q0: float = 1e-3,
                    max_iter: int = 2000, tol: float = 1e-9,
                    channel_noise: float | None = None) -> StateEvolution:
    """Iterate :func:`se_step` from ``q_0 = q0 · I`` (the standard symmetry-breaking start at a
    tiny overlap) until ``‖q_{t+1} − q_t‖_F < tol`` or ``max_iter`` steps."""
    alpha = check_alpha(alpha)
    if not (isinstance(q0, (int, float)) and 0 < q0 < 1):
        raise ValueError(f"q0={q0!r} is not allowed: use a number in (0, 1)")
    channel = link if isinstance(link, Channel) else output_channel(link, channel_noise)
    r = channel.r
    q = q0 * np.eye(r)
    overlaps = [float(np.trace(q) / r)]
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        q_new = se_step(channel, q, alpha)
        step = float(np.linalg.norm(q_new - q))
        q = q_new
        overlaps.append(float(np.trace(q) / r))
        if step < tol:
            converged = True
            break
    return StateEvolution(alpha, q, np.array(overlaps), it, converged)


@dataclass(frozen=True)
class ChannelThreshold:
    """``α_c`` of a channel's uninformative fixed point with its error estimate (the change
    between two grids), ``inverse = ρ``; ``first`` is ``Σ_i E_y[E[z_i|y]²]`` (``α_c = 0`` when
    it is non-zero)."""

    value: float
    error: float
    inverse: float
    inverse_error: float
    first: float


def _stability(channel: Channel) -> tuple[float, float]:
    r = channel.r
    z = channel.nodes
    feats = np.concatenate([z, (z[:, :, None] * z[:, None, :] - np.eye(r)).reshape(-1, r * r)],
                           axis=1)
    Z, N = _label_moments(channel, channel.prior[None], feats)
    Z, N = Z[0], N[0]
    ok = Z > 1e-300
    m = N[ok] / Z[ok, None]
    p = Z[ok]
    first = float(p @ np.sum(m[:, :r] ** 2, axis=1))
    G = m[:, r:].reshape(-1, r, r)
    F = np.einsum("b,bij,bkl->ikjl", p, G, G).reshape(r * r, r * r)
    return first, float(np.linalg.eigvalsh((F + F.T) / 2)[-1])


def channel_threshold(link: str | Link, channel_noise: float | None = None) -> ChannelThreshold:
    """Linear-stability ``α_c = 1/ρ`` of the channel of :func:`output_channel` (module
    docstring), on the default grid and on one with ``3/4`` of the nodes per axis; the error
    is ``2|fine − coarse|`` plus round-off. For the regularised channel of a noiseless link
    this is the threshold of the link *with* the assumed noise."""
    fine = output_channel(link, channel_noise)
    n = 2 * ((3 * CHANNEL_NODES[fine.r]) // 8)
    z, prior, h = _grid(fine.r, n)
    values = fine.link.mean_numpy(z)
    if fine.kind == "binary":
        values = np.clip(values, -1, 1)
    coarse = Channel(fine.link, fine.kind, fine.sigma, z, prior, values, h, fine.regularised,
                     fine.labels)
    (f1, r1), (f0, r0) = _stability(fine), _stability(coarse)
    err = 2 * abs(r1 - r0) + 1e-12
    if f1 > 10 * (2 * abs(f1 - f0) + 1e-12):
        return ChannelThreshold(0.0, 0.0, math.inf, err, f1)
    if r1 <= 10 * err:
        return ChannelThreshold(math.inf, 0.0, r1, err, f1)
    return ChannelThreshold(1.0 / r1, err / r1**2, r1, err, f1)


# ----------------------------------------------------------------------------------------------
# the kind of the transition: an informative fixed point below α_c (first order) or not
# ----------------------------------------------------------------------------------------------

TRANSITION_KINDS = ("continuous", "first order", "none")


@dataclass(frozen=True)
class Transition:
    """The weak-recovery transition of a channel (:func:`transition`).

    ``alpha_c`` (± ``alpha_c_error``): the linear-stability threshold of :func:`channel_threshold`,
    the algorithmic one from an uninformed start (what GAMP reaches, what the library returns);
    ``alpha_sp``: the spinodal, the smallest ``α`` (to ``resolution``) at which state evolution
    from the informed start ``q_0 = q_informed · I`` stays at an overlap ``> level`` (``None``
    when there is none below ``α_c``, or up to ``alpha_max`` when ``α_c = ∞``); ``kind``:
    ``"continuous"``, ``"first order"`` or ``"none"`` (``α_c = 0``: ``E[z|y] ≠ 0``, any
    ``α > 0`` recovers, nothing searched; or ``α_c = ∞`` and no informative fixed point up to
    ``alpha_max``); ``informed``/``uninformed``: the ``(α, overlap)`` pairs state evolution
    reached from each start, ``steps`` the :func:`se_step` calls, ``seconds`` the wall time.
    """

    link: str
    alpha_c: float
    alpha_c_error: float
    alpha_sp: float | None
    kind: str
    level: float
    delta: float
    q_informed: float
    informed: tuple[tuple[float, float], ...]
    uninformed: tuple[tuple[float, float], ...]
    steps: int
    seconds: float

    @property
    def algorithmic(self) -> float:
        """The threshold the library returns: ``α_c`` (GAMP from an uninformed start)."""
        return self.alpha_c


def _monotone_run(channel: Channel, alpha: float, q0: float, stop_below: float,
                  stop_above: float, max_iter: int, tol: float) -> tuple[float, int]:
    """State evolution from ``q0 · I`` until convergence, ``max_iter`` steps, or the overlap
    leaves ``[stop_below, stop_above]``: on the Nishimori line the SE map is monotone (Aubin
    et al. 2018), so a run from above (below) every fixed point decreases (increases) towards
    the largest (smallest) one and never comes back across a level it has crossed."""
    r = channel.r
    q = q0 * np.eye(r)
    for it in range(1, max_iter + 1):
        q_new = se_step(channel, q, alpha)
        step = float(np.linalg.norm(q_new - q))
        q = q_new
        m = float(np.trace(q) / r)
        if step < tol or m < stop_below or m > stop_above:
            return m, it
    return m, max_iter


def transition(link: str | Link, channel_noise: float | None = None, nodes: int | None = None,
               level: float = 0.05, delta: float = 0.05, jump: float = 0.3,
               resolution: float = 0.02, alpha_max: float = 64.0, max_iter: int = 200,
               tol: float = 1e-6, q_informed: float | None = None) -> Transition:
    """Classify the weak-recovery transition of the channel of :func:`output_channel`.

    ``α_c`` is :func:`channel_threshold` (the uninformative fixed point ``q = 0`` is stable
    for ``α < α_c``). State evolution is monotone on the Nishimori line (Aubin et al. 2018), so
    from the informed start ``q_0 = q_informed · I`` (default ``1 − max(10⁻³, (0.6 h)²)``:
    near-perfect overlap, with the posterior width ``√V`` still resolved by the grid step
    ``h``) it converges to the *largest* fixed point. Then

    * **first order**: that run stays above ``level`` at ``α = (1 − delta) α_c`` (an
      informative fixed point coexists with the stable ``q = 0``), or the run from the
      uninformed start at ``(1 + delta) α_c`` jumps above ``jump``; the
      spinodal ``α_sp`` is then bisected on ``[0, (1 − delta) α_c]`` to the relative width
      ``resolution`` (the returned value is the informative end of the last bracket).
      GAMP from an informed start stays informed for ``α > α_sp``; from the uninformed start
      it needs ``α > α_c``; the information-theoretic threshold lies in ``[α_sp, α_c]`` and is
      not computed (Barbier, Krzakala, Macris, Miolane, Zdeborová 2019, *Optimal errors and
      phase transitions in high-dimensional generalized linear models*, PNAS).
    * **continuous**: neither: the overlap grows from 0 at ``α_c`` (phase retrieval,
      ``α_c = 1/2``: Mondelli & Montanari 2018).
    * ``α_c = ∞`` (``E[zzᵀ − I | y] = 0``, generative exponent ``≥ 3``): ``q = 0`` is stable
      at every ``α``, the only transition is first order; ``α_sp`` is searched by doubling
      ``α = 1/8, 1/4, …, alpha_max`` and bisection; ``"none"`` when none is found.
    * ``α_c = 0`` (``E[z | y] ≠ 0``): ``"none"``, nothing searched.

    The uninformed run starts at ``q_0 = level · I``, not at ``10⁻³ I``: above ``α_c`` the
    map exceeds the identity near ``0``, so a first step below ``level`` proves a fixed point
    in ``(0, level)``, the one the run from ``10⁻³ I`` stops at (no jump), and a run that
    crosses ``jump`` proves there is none in ``[level, jump]``; this skips the slow escape
    from ``10⁻³`` at the rate ``1 + delta`` per step.

    Each run stops at convergence (``‖q_{t+1} − q_t‖_F < tol``), after ``max_iter`` steps, or
    once it crosses ``level`` (informed start) or ``jump`` (uninformed): by monotonicity it
    cannot cross back. A run still above ``level`` after ``max_iter`` steps counts as
    informative, so near ``α_sp`` (critical slowing down) ``α_sp`` may come out low by
    about the bisection resolution. Cost: ``2`` runs plus ``≈ log₂(α_c/(resolution·α_sp))``
    bisection runs when first order, each up to ``max_iter`` :func:`se_step` calls — a step
    takes about 2 ms on a binary ``r = 1`` channel, 0.2 s on noiseless phase retrieval's
    regularised channel, 0.1–3 s for ``r = 2`` and more for ``r = 3`` (docs/theory.md has the
    measured times); ``nodes`` per axis (coarser grids) trade accuracy for time.
    """
    import time

    start = time.perf_counter()
    for name, value, lo, hi in (("level", level, 0.0, 1.0), ("delta", delta, 0.0, 1.0),
                                ("jump", jump, 0.0, 1.0), ("resolution", resolution, 0.0, 1.0)):
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                and lo < value < hi):
            raise ValueError(f"{name}={value!r} is not allowed: use a number in ({lo:g}, {hi:g})")
    if jump <= level:
        raise ValueError(f"jump={jump!r} is not allowed: use a number above level={level!r} "
                         "(a jump is a crossing from below level to above jump)")
    if not (isinstance(max_iter, int) and not isinstance(max_iter, bool) and max_iter >= 1):
        raise ValueError(f"max_iter={max_iter!r} is not allowed: use an integer ≥ 1")
    if not (isinstance(tol, (int, float)) and not isinstance(tol, bool)
            and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol={tol!r} is not allowed: use a finite number > 0")
    alpha_max = check_alpha(alpha_max)
    channel = output_channel(link, channel_noise, nodes)
    threshold = channel_threshold(channel.link, channel.sigma if channel.regularised else None)
    if q_informed is None:
        q_informed = 1.0 - max(1e-3, (RESOLUTION * channel.spacing) ** 2)
    if not (isinstance(q_informed, (int, float)) and level < q_informed < 1):
        raise ValueError(f"q_informed={q_informed!r} is not allowed: use a number in "
                         f"(level = {level:g}, 1)")
    informed: list[tuple[float, float]] = []
    uninformed: list[tuple[float, float]] = []
    steps = 0

    def informative(alpha: float) -> bool:
        nonlocal steps
        m, it = _monotone_run(channel, alpha, q_informed, level, math.inf, max_iter, tol)
        steps += it
        informed.append((alpha, m))
        return m > level

    def bisect(lo: float, hi: float) -> float:
        while hi - lo > resolution * hi:
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if informative(mid) else (mid, hi)
        return hi

    alpha_c = threshold.value
    alpha_sp: float | None = None
    if alpha_c == 0.0:
        kind = "none"
    elif math.isinf(alpha_c):
        kind, lo, alpha = "none", 0.0, 0.125
        while alpha <= alpha_max:
            if informative(alpha):
                alpha_sp, kind = bisect(lo, alpha), "first order"
                break
            lo, alpha = alpha, 2 * alpha
    else:
        below = (1 - delta) * alpha_c
        coexist = informative(below)
        m, it = _monotone_run(channel, (1 + delta) * alpha_c, level, level, jump, max_iter,
                              tol)
        steps += it
        uninformed.append(((1 + delta) * alpha_c, m))
        if coexist:
            alpha_sp, kind = bisect(0.0, below), "first order"
        elif m > jump:
            alpha_sp, kind = below, "first order"  # jump within (1 ± delta) α_c
        else:
            kind = "continuous"
    return Transition(channel.link.name, alpha_c, threshold.error, alpha_sp, kind, level, delta,
                      float(q_informed), tuple(informed), tuple(uninformed), steps,
                      time.perf_counter() - start)
