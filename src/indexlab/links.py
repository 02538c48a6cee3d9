"""Link functions ``y = g(z)``, ``z = U x ∈ R^r``: a named registry, expressions, label noise.

A :class:`Link` describes the conditional law of the label given the latent ``z``:

* deterministic: ``y = g(z) + σ ε`` with ``ε ~ N(0, 1)`` (``σ = noise``, default 0);
* binary (randomised): ``y ∈ {−1, +1}`` with ``P(y = 1 | z) = (1 + f(z))/2``, ``|f| ≤ 1``,
  then ``+ σ ε`` if ``noise > 0``.

In both cases ``mean(z) = E[y | z]`` (``g`` or ``f``), which is what the information exponent
sees; the theory module uses the full law for the generative exponent.

Registry (docs/algorithms.md §9): ``he1``..``he8`` (the normalised ``h_k``), ``relu``, ``abs``,
``sign``, ``tanh``, ``phase_retrieval`` (``z²``), ``z_exp`` (``z e^{−z²}``), ``z2_exp``
(``z² e^{−z²}``, ``s* = 4``), ``genexp3`` and ``genexp4`` (binary, generative exponent exactly 3 and
4), ``genexp_smooth1``..``genexp_smooth6`` (the smooth randomised construction of
docs/algorithms.md §9.2), and the multi-index ``he4+he4``, ``he2+he4``, ``he3*z2``, ``z1*z2``,
``staircase``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from indexlab._arrays import as_dtype, as_like, is_tensor, ops
from indexlab._suggest import did_you_mean
from indexlab.expressions import parse_expression
from indexlab.hermite import gauss_hermite, hermite_h, hermite_he

if TYPE_CHECKING:  # torch is imported where tensors are drawn, not to read a link's theory
    import torch

MeanFn = Callable[["torch.Tensor"], "torch.Tensor"]


@dataclass(frozen=True)
class Link:
    """The conditional law of ``y`` given the latent ``z ∈ R^r`` (see the module docstring).

    Attributes:
        name: registry name or expression text (plus ``+noise(σ)`` when noisy).
        mean: ``E[y | z]`` as a function of a tensor of shape ``(n, r)``, returning ``(n,)``.
        r: number of latent directions.
        binary: labels are ``±1`` with ``P(y = 1 | z) = (1 + mean(z))/2``.
        noise: standard deviation ``σ`` of additive Gaussian label noise.
        information_exponent, generative_exponent: values known from the literature (or
            ``None``); :mod:`indexlab.theory` computes both and tests check they agree.
        breakpoints: latent values where ``mean`` jumps or kinks (single-index), used as
            quadrature panel edges; found automatically when not given.
        description: one line for tables.
        any_backend: ``mean`` also takes float64 NumPy arrays (registry and expression links),
            so the theory of the link never imports torch; otherwise :meth:`mean_numpy`
            evaluates ``mean`` on a torch tensor.
    """

    name: str
    mean: MeanFn
    r: int = 1
    binary: bool = False
    noise: float = 0.0
    information_exponent: int | None = None
    generative_exponent: int | None = None
    breakpoints: tuple[float, ...] = ()
    description: str = ""
    any_backend: bool = False

    def __call__(self, z, generator: torch.Generator | None = None):
        """Draw labels ``y`` for latents ``z`` of shape ``(n, r)`` (NumPy or torch)."""
        import torch

        as_numpy = not is_tensor(z)
        zt = torch.as_tensor(np.asarray(z, dtype=np.float64)) if as_numpy else z
        if zt.ndim == 1 and self.r == 1:
            zt = zt[:, None]
        if zt.ndim != 2 or zt.shape[1] != self.r:
            raise ValueError(
                f"link {self.name!r} needs latents of shape (n, {self.r}); got {tuple(zt.shape)}"
            )
        y = self.mean(zt)
        if self.binary:
            u = torch.rand(y.shape, generator=generator, dtype=y.dtype, device=y.device)
            y = torch.where(u < (1.0 + y) / 2.0, 1.0, -1.0).to(y.dtype)
        if self.noise > 0:
            eps = torch.randn(y.shape, generator=generator, dtype=y.dtype, device=y.device)
            y = y + self.noise * eps
        return y.numpy() if as_numpy else y

    def mean_numpy(self, z: np.ndarray) -> np.ndarray:
        """``E[y | z]`` in float64 NumPy; ``z`` of shape ``(n,)`` (r = 1) or ``(n, r)``."""
        zn = np.asarray(z, dtype=np.float64)
        if zn.ndim == 1:
            zn = zn[:, None]
        if not self.any_backend:
            import torch

            return self.mean(torch.as_tensor(zn)).numpy()
        with np.errstate(all="ignore"):  # as torch: log(0) = -inf, sqrt(-1) = nan, silently
            return np.asarray(self.mean(zn), dtype=np.float64)

    @property
    def is_random(self) -> bool:
        return self.binary or self.noise > 0


def with_noise(link: Link, sigma: float) -> Link:
    """The same link with additive Gaussian label noise ``σ`` (replacing any previous noise).

    Gaussian noise leaves ``E[y|z]`` and hence ``k*`` unchanged, and (Gaussian convolution
    being injective) it also leaves ``s*`` unchanged, so known exponents are kept.
    """
    sigma = _check_noise(sigma)
    if sigma == link.noise:
        return link
    base = link.name.split("+noise(")[0]
    name = base if sigma == 0 else f"{base}+noise({sigma:g})"
    return replace(link, noise=sigma, name=name)


def _check_noise(sigma) -> float:
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise ValueError(f"noise={sigma!r} is not a number: use a finite float >= 0") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"noise={sigma!r} is not allowed: use a finite float >= 0")
    return value


def _single(fn: MeanFn) -> MeanFn:
    return lambda z: fn(z[:, 0])


# φ(c) = φ(0)/2 makes E[y z] = 0 (docs/algorithms.md §9.1)
_GENEXP3_CUT = math.sqrt(2.0 * math.log(2.0))
_GENEXP4_LOW = 0.5


@cache
def _genexp4_high() -> float:
    """``t₂ > 1`` with ``t₂ φ(t₂) = t₁ φ(t₁)``, so ``E[1{t₁<|z|<t₂} He₂(z)] = 0``
    (docs/algorithms.md §9.1)."""
    target = _GENEXP4_LOW * math.exp(-_GENEXP4_LOW**2 / 2)
    lo, hi = 1.0, 5.0  # t φ(t) decreases on t > 1: bisection to the last bit (no SciPy)
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            return lo
        if mid * math.exp(-mid * mid / 2) > target:
            lo = mid
        else:
            hi = mid


def _genexp3(z):
    sign = ops(z).sign
    return sign(z) * sign(abs(z) - _GENEXP3_CUT)


def _genexp4(z):
    inside = (abs(z) > _GENEXP4_LOW) & (abs(z) < _genexp4_high())
    return 2.0 * as_dtype(inside, z) - 1.0


@cache
def smooth_generative_coefficients(s: int) -> tuple[np.ndarray, float]:
    """Coefficients of the smooth randomised link with generative exponent ``s``
    (docs/algorithms.md §9.2).

    ``f_s(z) = c · e^{−z²/4} (He_s(z) + Σ_{i<s, i ≡ s mod 2} q_i He_i(z))``, where the ``q_i``
    solve ``E[f_s He_j] = 0`` for every ``j < s`` of the parity of ``s`` (other parities vanish
    by symmetry) and ``c = 1 / sup|e^{−z²/4}(…)|`` so that ``|f_s| ≤ 1``. Returns the full
    coefficient vector ``(q_0, …, q_{s−1}, 1)`` and ``c``.
    """
    rule = gauss_hermite(120)
    z, w = rule.nodes, rule.weights * np.exp(-(rule.nodes**2) / 4)
    He = hermite_he(z, s)
    low = [i for i in range(s) if (s - i) % 2 == 0]
    q = np.zeros(s + 1)
    q[s] = 1.0
    if low:
        A = np.array([[np.sum(w * He[:, i] * He[:, j]) for i in low] for j in low])
        b = -np.array([np.sum(w * He[:, s] * He[:, j]) for j in low])
        q[low] = np.linalg.solve(A, b)
    grid = np.linspace(-20, 20, 400_001)
    sup = np.max(np.abs(np.exp(-(grid**2) / 4) * (hermite_he(grid, s) @ q)))
    return q, 1.0 / sup


def _smooth_genexp(s: int) -> MeanFn:
    def mean(u):
        q, c = smooth_generative_coefficients(s)
        poly = hermite_he(u, s) @ as_like(q, u)
        return c * ops(u).exp(-(u**2) / 4) * poly

    return mean


def _registry() -> dict[str, Link]:
    links: dict[str, Link] = {}

    def add(name, mean, k, s, r=1, binary=False, breakpoints=(), description=""):
        links[name] = Link(
            name=name,
            mean=mean,
            r=r,
            binary=binary,
            information_exponent=k,
            generative_exponent=s,
            breakpoints=tuple(breakpoints),
            description=description,
            any_backend=True,
        )

    for k in range(1, 9):
        add(f"he{k}", _single(lambda u, k=k: hermite_h(u, k)), k, 1 if k % 2 else 2,
            description=f"h_{k}(z) = He_{k}(z)/sqrt({k}!)")
    add("relu", _single(lambda u: ops(u).relu(u)), 1, 1, breakpoints=(0.0,),
        description="max(z, 0)")
    add("abs", _single(abs), 2, 2, breakpoints=(0.0,), description="|z|")
    add("sign", _single(lambda u: ops(u).sign(u)), 1, 1, breakpoints=(0.0,), description="sign(z)")
    add("tanh", _single(lambda u: ops(u).tanh(u)), 1, 1, description="tanh(z)")
    add("phase_retrieval", _single(lambda u: u * u), 2, 2, description="z^2")
    add("z_exp", _single(lambda u: u * ops(u).exp(-u * u)), 1, 1, description="z exp(-z^2)")
    add("z2_exp", _single(lambda u: u * u * ops(u).exp(-u * u)), 4, 4,
        description="z^2 exp(-z^2) (k* = s* = 4, deterministic)")
    add("genexp3", _single(_genexp3), 3, 3, binary=True,
        breakpoints=(-_GENEXP3_CUT, 0.0, _GENEXP3_CUT),
        description="±1 label sign(z) sign(|z| - sqrt(2 ln 2)) (k* = s* = 3)")
    add("genexp4", _single(_genexp4), 4, 4, binary=True,
        breakpoints=(-_genexp4_high(), -_GENEXP4_LOW, _GENEXP4_LOW, _genexp4_high()),
        description="±1 label 2·1{0.5 < |z| < 1.6083} - 1 (k* = s* = 4)")
    for s in range(1, 7):
        add(f"genexp_smooth{s}", _single(_smooth_genexp(s)), s, s, binary=True,
            description=f"±1 label, P(y=1|z) = (1 + f_{s}(z))/2, smooth f_{s} (k* = s* = {s})")
    add("he4+he4", lambda z: hermite_h(z[:, 0], 4) + hermite_h(z[:, 1], 4), 4, 2, r=2,
        description="h_4(z1) + h_4(z2)")
    add("he2+he4", lambda z: hermite_h(z[:, 0], 2) + hermite_h(z[:, 1], 4), 2, 2, r=2,
        description="h_2(z1) + h_4(z2)")
    add("he3*z2", lambda z: hermite_h(z[:, 0], 3) * z[:, 1], 4, 2, r=2,
        description="h_3(z1) z2")
    add("z1*z2", lambda z: z[:, 0] * z[:, 1], 2, 2, r=2, description="z1 z2")
    add("staircase", lambda z: z[:, 0] + z[:, 0] * z[:, 1] + z[:, 0] * z[:, 1] * z[:, 2],
        1, 1, r=3, description="z1 + z1 z2 + z1 z2 z3 (merged staircase)")
    return links


REGISTRY: dict[str, Link] = _registry()


def registry_names() -> list[str]:
    """All registry names, in registry order."""
    return list(REGISTRY)


PROBE_GRID = 1201  # points of the probe on [-8, 8] per latent coordinate (0 included)
PROBE_RANDOM = 4096  # Gaussian probe points (fixed seed), for the joint latent law


def probe_latents(r: int) -> torch.Tensor:
    """Latents ``(N, r)`` (float64) on which :func:`check_finite` evaluates a link: the
    origin, a grid of ``[-8, 8]`` (with 0) along each coordinate axis, and
    :data:`PROBE_RANDOM` standard Gaussian draws of a fixed seed."""
    import torch

    grid = torch.linspace(-8.0, 8.0, PROBE_GRID, dtype=torch.float64)
    axes = torch.zeros(r * PROBE_GRID, r, dtype=torch.float64)
    for i in range(r):
        axes[i * PROBE_GRID:(i + 1) * PROBE_GRID, i] = grid
    gauss = torch.randn(PROBE_RANDOM, r, generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64)
    return torch.cat([torch.zeros(1, r, dtype=torch.float64), axes, gauss])


def check_finite(link: Link) -> Link:
    """Refuse (``ValueError``) a link whose mean ``E[y|z]`` is not finite somewhere on
    :func:`probe_latents` — e.g. ``log(z)`` and ``sqrt(z)`` (NaN for ``z < 0``), ``1/z``
    (infinite at 0), ``0/0`` — before any sample is drawn; returns ``link``. A finiteness
    probe for sampling only: whether theory covers a link is :mod:`indexlab.theory`'s
    question."""
    import torch  # the probe runs in the sampling library (expressions; registry links skip it)

    for dtype in (torch.float64, torch.float32):  # float32: the default sampling dtype
        z = probe_latents(link.r).to(dtype)
        try:
            with torch.no_grad():
                values = link.mean(z)
        except (RuntimeError, ValueError, TypeError, ArithmeticError) as exc:
            raise ValueError(f"link {link.name!r} cannot be evaluated on latents of shape "
                             f"(n, {link.r}): {exc}") from None
        values = torch.as_tensor(values)
        if values.shape != (z.shape[0],):
            raise ValueError(f"link {link.name!r} returns shape {tuple(values.shape)} for "
                             f"latents of shape {tuple(z.shape)}: it must return (n,)")
        bad = ~torch.isfinite(values)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            at = ", ".join(f"{float(v):.3g}" for v in z[i])
            raise ValueError(
                f"link {link.name!r} is not finite at z = ({at}) (value {float(values[i])} in "
                f"{str(dtype).removeprefix('torch.')}): labels would be NaN or infinite; use "
                "a link that is finite for every real z (e.g. log(abs(z) + 1), sqrt(abs(z)), "
                "z / (1 + z**2))")
    return link


# Named link *families* resolved by a function rather than listed in REGISTRY: prefix →
# resolver(name) -> Link. Modules above this one register theirs when imported
# (:mod:`indexlab.hardness` registers ``hard{k}_{activation}[_bool]``; ``import indexlab``
# imports it), so that links.py imports nothing above itself.
FAMILIES: dict[str, Callable[[str], Link]] = {}


def register_family(prefix: str, resolver: Callable[[str], Link]) -> None:
    """Resolve link names starting with ``prefix`` with ``resolver`` (see ``FAMILIES``)."""
    FAMILIES[prefix] = resolver


def link_from_expression(text: str) -> Link:
    """A deterministic link from a whitelisted expression (see :mod:`indexlab.expressions`),
    checked to be finite by :func:`check_finite`."""
    return check_finite(_expression_link(text))


def _expression_link(text: str) -> Link:
    expr = parse_expression(text)
    return Link(name=expr.text, mean=expr.fn, r=expr.r, description=expr.text,
                any_backend=True)


def get_link(link: str | Link, noise: float = 0.0) -> Link:
    """Resolve a registry name, an expression or a :class:`Link`, then apply ``noise``.

    Raises ``ValueError`` naming the bad value when it is neither a registry name nor a valid
    expression.
    """
    if isinstance(link, Link):
        resolved = link
    elif isinstance(link, str):
        key = link.strip()
        if key in REGISTRY:
            resolved = REGISTRY[key]
        elif any(key.startswith(prefix) for prefix in FAMILIES):
            prefix = next(p for p in FAMILIES if key.startswith(p))
            resolved = FAMILIES[prefix](key)
        else:
            try:
                resolved = _expression_link(key)
            except ValueError as exc:
                shown = link if len(link) <= 60 else link[:60] + "..."
                hint = did_you_mean(key, REGISTRY)
                if hint and key.isidentifier():  # a mistyped name: no wall of names and rules
                    raise ValueError(
                        f"unknown link {shown!r}{hint}; allowed: a registry name (list them "
                        "with `indexlab links` or indexlab.registry_names()) or an expression "
                        "in z (or z1..zr)") from None
                raise ValueError(
                    f"unknown link {shown!r}{hint}: not a registry name (one of "
                    f"{', '.join(REGISTRY)}) and not a valid expression: {exc}"
                ) from None
            check_finite(resolved)
    else:
        raise ValueError(f"link={link!r} is not allowed: use a registry name, an expression "
                         "in z (or z1..zr), or an indexlab.links.Link")
    return with_noise(resolved, noise) if noise else resolved
