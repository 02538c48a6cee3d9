"""What an online spherical learner runs with on a link at dimension ``d``: one pure function.

:func:`online_setup` resolves, from a :class:`~indexlab.learners.spherical.SphericalSGD`'s
hyperparameters (``None``/``"auto"`` = the documented defaults) and the link:

* the exponent ``s`` behind the defaults (:func:`learner_exponent`): the learner's
  ``exponent``, else the link's generative exponent ``s*`` or information exponent ``k*``,
  as the learner's ``exponent_kind`` says (docs/algorithms.md §4.3, §2.1–§2.2);
* the label transform ``T`` and its signal ``λ_s = E[T(y) h_s(z)]``: ``"optimal"``
  ``T = ζ_s/λ_s`` of the link (:func:`indexlab.theory.label_transform`), ``"agnostic"``
  (:func:`~indexlab.learners.label_transforms.agnostic_transform`, from held-out labels),
  ``"identity"`` ``T(y) = sign(c_s) y`` (``c_s = E[y h_s(z)]``, so that the population
  correlation ``E[T(y) h_s(⟨w,x⟩)] = |c_s| m^s`` grows with the overlap ``m``), or the user's
  callable (``λ_s`` its ``lam`` attribute, else 1);
* the activation ``σ`` (default ``h_s``, :func:`learner_activation`) and the smoothing
  ``λ`` (:func:`learner_smoothing`): ``"auto"`` is ``d^{1/4}`` when ``s ≥`` the learner's
  ``auto_smoothing_from`` (3 for Unified, 2 for SmoothedSGD), else 0;
* the search step ``η_1``: the learner's ``lr``, else its ``default_lr(s, d, λ, λ_s)``;
* with a budget ``n``, the :class:`~indexlab.learners.schedule.Schedule` with the hold caps of
  :mod:`indexlab.learners.holding`: ``η_1 ≤ 4 ε_s D/V`` for the search slope (``ε_s = hold_search``;
  only for the default step — a user's ``lr`` is kept) and ``η_2 = min(η_1, 4 ε_d D/V)`` for the
  descent slope (``ε_d = hold_descent``), ``V, D`` the slope's second moment and drift at alignment
  (docs/algorithms.md §2.5). The uncapped steps do not hold a found direction at ``d ≤ 128``, and
  the search step kept after ``λ → 0`` threw aligned neurons off (the measurements are in
  :mod:`indexlab.learners.online_sgd`).

The slopes ``ψ`` of the update ``w ← normalise(w + η ψ P_w^⊥ x)`` are :func:`update_slopes`.
The full engine (:mod:`indexlab.learners.online_engine`), the exact overlap chain
(:mod:`indexlab.learners.chain`) and the claims' step formulas all read this one function, so
they cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from indexlab import theory
from indexlab.learners.holding import PsiFn, alignment_statistics, hold_step
from indexlab.learners.label_transforms import Transform, agnostic_transform, coefficient_sign
from indexlab.learners.schedule import Schedule
from indexlab.links import Link
from indexlab.nn import Activation, get_activation, get_loss
from indexlab.smoothing import smoothed_hermite

AGNOSTIC_SAMPLES = 10_000  # held-out labels per replica behind the agnostic transform's CDF
_ALIGNMENT_CACHE: dict[tuple, tuple[float, float]] = {}


@dataclass(frozen=True)
class OnlineSetup:
    """The resolved configuration of an online spherical learner on one link and ``d``."""

    exponent: int  # s used for the defaults (generative or information, per exponent_kind)
    transform: Callable  # T(y)
    signal: float  # λ_s = E[T(y) h_s(z)] (1 if unknown)
    activation: Activation
    smoothing: float  # λ (0 = none)
    lr: float  # search step before the hold caps (learner.lr or the default)
    schedule: Schedule | None  # with the hold caps; None when n is None


def learner_exponent(learner, link: Link | None) -> int:
    """The exponent ``s`` behind ``learner``'s defaults: its ``exponent`` hyperparameter, else
    the ``exponent_kind`` (``"generative"`` or ``"information"``) exponent of ``link`` — the
    registry's value when known, else :mod:`indexlab.theory`'s (up to degree 8)."""
    if learner.exponent is not None:
        return learner.exponent
    kind = learner.exponent_kind
    if link is None:
        raise ValueError(f"{type(learner).__name__} on a dataset needs exponent=... (the "
                         f"{kind} exponent) or link=...")
    known = (link.generative_exponent if kind == "generative"
             else link.information_exponent)  # registry values, checked by tests
    fn = theory.generative_exponent if kind == "generative" else theory.information_exponent
    value = known if known is not None else fn(link)
    if value is None:
        raise ValueError(f"link {link.name!r} has no finite {kind} exponent "
                         "up to degree 8: give exponent=...")
    return value


def label_sd(link: Link, transform: Callable, nodes: int = 96, draws: int = 64,
             seed: int = 0) -> float:
    """The standard deviation ``σ_T = √Var(T(y))`` of the transformed label on ``link`` (by
    theory: ``z`` over ``nodes`` Gauss–Hermite nodes, the label's noise given ``z`` drawn
    ``draws`` times per node, seeded; deterministic).

    The search slopes are linear in ``T(y)``, so a step ``η`` on the labels ``a·y`` with the
    identity transform is the step ``a·η`` on ``y``: the spec's step formulas
    (docs/algorithms.md §2.1–§2.2) are not invariant to the scale of the labels. A step
    ``η/σ_T`` is: ``T(a·y)/σ_{T(a·y)} = T(y)/σ_{T(y)}`` for a transform linear in ``y``
    (identity), and the optimal transform ``ζ_s/λ_s`` is scale-free already.
    (The hold cap ``4εD/V`` of :mod:`indexlab.learners.holding` scales as ``1/a`` too, since
    ``D ∝ T`` and ``V ∝ T²``: the *capped* default step is invariant where the cap binds.)"""
    zq, wq = np.polynomial.hermite_e.hermegauss(nodes)
    w = torch.as_tensor(np.repeat(wq / wq.sum() / draws, draws))
    z = torch.as_tensor(np.repeat(zq, draws))
    y = link(z[:, None], torch.Generator().manual_seed(seed)).to(torch.float64)
    t = transform(y).to(torch.float64).reshape(-1)
    mean = math.fsum((w * t).tolist())
    var = math.fsum((w * (t - mean) ** 2).tolist())
    if not (math.isfinite(var) and var > 0):
        raise ValueError(f"link {link.name!r}: the transformed label has variance {var!r}; "
                         "a step cannot be normalised by it")
    return math.sqrt(var)


def update_slopes(act: Activation, loss_name, lam: float, d: int) -> tuple[PsiFn, PsiFn]:
    """``(ψ_search, ψ_descent)``, each ``ψ(a, R, T)`` with ``R = ‖x‖² − a²``: the smoothed
    slope ``T D_λσ(a, R)`` (:mod:`indexlab.smoothing`) while searching when ``λ > 0``, else
    ``−ℓ'(σ(a), T) σ'(a)`` (``T σ'(a)`` for the correlation loss)."""
    loss = get_loss(loss_name)
    descent: PsiFn
    if loss.name == "correlation":
        def descent(a, R, t):
            return t * act.df(a)  # −ℓ'(f, T) = T
    else:
        def descent(a, R, t):
            return -loss.grad(act(a), t) * act.df(a)
    if lam <= 0:
        return descent, descent
    if act.hermite_degree is None or loss.name != "correlation":
        raise ValueError("smoothing needs a Hermite activation (he1..he8) and the "
                         f"correlation loss; got activation={act.name!r}, "
                         f"loss={loss.name!r}")
    smooth = smoothed_hermite(act.hermite_degree, lam, d)

    def search(a, R, t):
        return t * smooth.slope(a, R)

    return search, descent


def _label_transform(learner, s: int, link: Link | None,
                     sample_y: torch.Tensor | None) -> tuple[Transform, float]:
    """``(T, λ_s)`` of the module docstring."""
    chosen = learner.label_transform
    if callable(chosen):
        return chosen, float(getattr(chosen, "lam", 1.0))
    if chosen == "identity":
        if link is not None and link.r == 1 and coefficient_sign(link, s) < 0:
            return (lambda v: -v), 1.0
        return (lambda v: v), 1.0
    if chosen == "agnostic":
        if sample_y is None:
            raise ValueError("label_transform='agnostic' needs sample_y: held-out labels "
                             "(R, n0) for its empirical CDF")
        return agnostic_transform(sample_y[:, :AGNOSTIC_SAMPLES], seed=learner.seed), 1.0
    if link is None:
        raise ValueError("label_transform='optimal' on a dataset needs link=...; or use "
                         "label_transform='agnostic' or a callable")
    T = theory.label_transform(link, s)
    return T, T.lam


def learner_smoothing(learner, s: int, d: int) -> float:
    """``λ`` at exponent ``s`` and dimension ``d``: ``"auto"`` is ``d^{1/4}`` when
    ``s ≥ learner.auto_smoothing_from``, else 0; ``None`` is 0."""
    if learner.smoothing == "auto":
        return d**0.25 if s >= learner.auto_smoothing_from else 0.0
    return float(learner.smoothing or 0.0)


def learner_activation(learner, s: int) -> Activation:
    """``σ``: the learner's ``activation``, else ``h_s``."""
    return get_activation(learner.activation or f"he{s}")


def _schedule(learner, n: int, lr: float, act: Activation, lam: float, d: int,
              link: Link | None, T: Transform, s: int) -> Schedule:
    """The step schedule with the hold caps of the module docstring."""
    search_psi, descent_psi = update_slopes(act, learner.loss, lam, d)
    caps: dict[str, float | None] = {"search": None, "descent": None}
    if link is not None and link.r == 1:
        for phase, psi, eps in (("search", search_psi, learner.hold_search),
                                ("descent", descent_psi, learner.hold_descent)):
            if eps is not None and not (phase == "search" and learner.lr is not None):
                # the statistics depend on the configuration only (fixed Monte Carlo
                # seed): cached, except for a data-dependent (agnostic/callable) transform
                key = ((phase, act.name, str(learner.loss), lam, d, link.name, link.noise,
                        learner.label_transform, s)
                       if learner.label_transform in ("optimal", "identity") else None)
                stats = _ALIGNMENT_CACHE.get(key) if key is not None else None
                if stats is None and hasattr(T, "replica"):
                    # a per-replica (agnostic) transform: the schedule is shared, so it
                    # takes the smallest of the replicas' caps
                    per_replica = [
                        hold_step(*alignment_statistics(psi, link, T.replica(i), d), eps)
                        for i in range(T.replicas)]
                    capped = [cap for cap in per_replica if cap is not None]
                    caps[phase] = min(capped) if capped else None
                    continue
                if stats is None:
                    stats = alignment_statistics(psi, link, T, d)
                    if key is not None:
                        _ALIGNMENT_CACHE[key] = stats
                caps[phase] = hold_step(*stats, eps)
    eta1 = lr if caps["search"] is None else min(lr, caps["search"])
    eta2 = eta1 if caps["descent"] is None else min(eta1, caps["descent"])
    return Schedule(lr=eta1, search=int(learner.search_fraction * n), decay=learner.decay,
                    batch=learner.batch, descent_lr=eta2)


def online_setup(learner, link: Link | None, d: int, *, n: int | None = None,
                 sample_y: torch.Tensor | None = None) -> OnlineSetup:
    """The :class:`OnlineSetup` of ``learner`` (a validated
    :class:`~indexlab.learners.spherical.SphericalSGD`) on ``link`` at dimension ``d`` (see
    the module docstring); the learner is not modified.

    ``n``: the per-replica budget, for the schedule (``None``: no schedule). ``sample_y``:
    labels ``(R, n0)`` held out for the agnostic transform's empirical CDF (its first
    ``AGNOSTIC_SAMPLES`` per replica are used); needed only for
    ``label_transform="agnostic"``.
    """
    s = learner_exponent(learner, link)
    T, signal = _label_transform(learner, s, link, sample_y)
    act = learner_activation(learner, s)
    lam = learner_smoothing(learner, s, d)
    lr = learner.lr if learner.lr is not None else learner.default_lr(s, d, lam, signal)
    schedule = None if n is None else _schedule(learner, n, lr, act, lam, d, link, T, s)
    return OnlineSetup(exponent=s, transform=T, signal=signal, activation=act, smoothing=lam,
                       lr=lr, schedule=schedule)
