"""The online spherical learners' shared face: :class:`SphericalLearner` and :class:`SphericalSGD`.

Every online first-layer learner (docs/algorithms.md §2, §4, §5) trains ``m`` neurons on the sphere
by the per-sample update ``w ← normalise(w + η ψ(⟨w,x⟩, y) P_w^⊥ x)`` (docs/algorithms.md §1.2), run
in minibatches by the engine of :mod:`indexlab.learners.online_engine` on the step
:class:`~indexlab.learners.schedule.Schedule`; a second stage
(:mod:`indexlab.learners.second_stage`) then fits a ReLU output layer on the frozen neurons.
:class:`SphericalSGD` is the label-transformed, smoothed online SGD of Unified, OnlineSGD and
SmoothedSGD: ``ψ = T(y) D_λσ(⟨w,x⟩, ‖x‖² − ⟨w,x⟩²)`` while searching, ``T(y) σ'(⟨w,x⟩)`` after; its
exponent, transform, activation, smoothing, step and schedule are resolved by
:func:`~indexlab.learners.online_setup.online_setup`, for the full engine and for the exact overlap
chain (:mod:`indexlab.learners.chain`) alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from sklearn.base import RegressorMixin, TransformerMixin

import indexlab.learners.online_engine as online_engine
from indexlab.learners.base import (
    DataSource,
    InstanceFlag,
    Learner,
    Trace,
    as_replicated,
    data_source,
    log_checkpoints,
)
from indexlab.learners.chain import NOTE as CHAIN_NOTE
from indexlab.learners.chain import (
    ChainData,
    check_config,
    check_data,
    check_supported,
    chunk_samples,
    initial_state,
    run_chain,
)
from indexlab.learners.constraints import InstanceOf, Int, IsCallable, Options, Real, Text
from indexlab.learners.costs import online_chain_cost, online_full_cost, with_defaults
from indexlab.learners.label_transforms import Transform
from indexlab.learners.online_engine import random_sphere, run_online, spherical_step
from indexlab.learners.online_setup import (
    learner_activation,
    learner_exponent,
    learner_smoothing,
    online_setup,
    update_slopes,
)
from indexlab.learners.second_stage import fit_second_layer
from indexlab.links import Link, get_link
from indexlab.nn import ACTIVATIONS, LOSSES, Activation, Loss, get_loss


@dataclass
class SphericalLearner(TransformerMixin, RegressorMixin, Learner):
    """What every online spherical learner shares: ``m`` neurons on the sphere trained by the
    online engine (:func:`~indexlab.learners.online_engine.run_online`), the second stage
    (:func:`~indexlab.learners.second_stage.fit_second_layer`) and the
    data handling. Subclasses supply ``_fit_first_layer(source, reference)``.

    Hyperparameters:
        width: number of neurons ``m``.
        lr: search-phase per-sample step ``η_1`` (``None``: the subclass's default in ``d``);
            lr_constant: its constant ``c_η``.
        search_fraction: share of the budget in the search phase; decay: ``κ`` of the
            descent step ``1/(1/η_1 + κ t')``.
        batch: minibatch size ``B``.
        ridge_samples: fresh second-stage samples drawn from a target (0: no second stage,
            no ``predict``); ridge_fraction: the last fraction of a dataset used for it.
        seed: initialisation (replica ``j`` uses ``(seed, j)``).

    Fitted: ``directions_ (R, m, d)`` (unit rows, the replica axis always kept),
    ``diverged_ (R,)``, ``samples_``, ``trace_`` (loss, and overlaps when the true direction
    is known, at log-spaced sample counts), ``hyper_`` (resolved defaults), ``network_``
    (the second stage, or ``None``).
    """

    width: int = 64
    lr: float | None = None
    lr_constant: float = 0.1
    search_fraction: float = 0.5
    decay: float = 0.5
    batch: int = 32
    ridge_samples: int = 10_000
    ridge_fraction: float = 0.2
    seed: int = 0

    constraints: ClassVar[dict] = {
        "width": (Int(1),),
        "lr": (Real(0, closed="neither"), None),
        "lr_constant": (Real(0, closed="neither"),),
        "search_fraction": (Real(0, 1),),
        "decay": (Real(0),),
        "batch": (Int(1),),
        "ridge_samples": (Int(0),),
        "ridge_fraction": (Real(0, 1, closed="left"),),
        "seed": (Int(0),),
    }
    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "width": "number of neurons m, each run independently on the sphere "
                 "(docs/algorithms.md §4.3: m = 64)",
        "lr": "search-phase per-sample step η_1; None: the learner's default in d "
              "(docs/algorithms.md §2.1, §2.2, §4.3)",
        "lr_constant": "constant c_η of the default step",
        "search_fraction": "share of the budget spent at the constant search step "
                           "(docs/algorithms.md §2.4)",
        "decay": "κ of the descent step η_t = 1/(1/η_1 + κ (t − L_1)) (Robbins–Monro)",
        "batch": "minibatch size B (linear scaling: one step of B·η on the averaged "
                 "direction)",
        "ridge_samples": "fresh samples for the second stage when fitting a target; 0: no "
                         "second stage, no predict (docs/algorithms.md §4.4)",
        "ridge_fraction": "last fraction of a dataset kept for the second stage",
        "seed": "initialisation and second-stage biases; replica j uses (seed, j)",
    }
    traced: ClassVar[bool] = True
    width_parameter: ClassVar[str | None] = "width"

    @classmethod
    def cost(cls, hyper, d, n, replicas, r=1):
        """The full engine's chunk, weights and second stage; with ``engine="chain"`` the
        chain's ``(m+1)²`` state, with no term in ``d`` (:mod:`indexlab.learners.costs`)."""
        h = with_defaults(cls, hyper)
        if h.get("engine") == "chain":
            return online_chain_cost(h, n, replicas)
        return online_full_cost(h, d, n, replicas)

    def _has_second_layer(self) -> bool:
        """Before ``fit``: whether a second layer will be fitted (``ridge_samples > 0``, and
        not ``engine="chain"``); after: whether one was."""
        if hasattr(self, "network_"):
            return self.network_ is not None
        return self.ridge_samples > 0 and getattr(self, "engine", "full") != "chain"

    predicts = InstanceFlag(True, _has_second_layer)

    def __sklearn_tags__(self):
        """scikit-learn's tags, with ``poor_score``: these are feature learners for Gaussian
        single-index models, not general regressors: at their theory steps (``η ∝ 1/d`` or
        smaller, held, :mod:`~indexlab.learners.holding`) a few hundred samples of arbitrary
        data give no R² guarantee (scikit-learn's check asks R² > 0.5 at ``n = 200``)."""
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, data, y=None, *, n: int | None = None, reference: torch.Tensor | None = None):
        """Fit on a target with budget ``n`` (per replica) or on a dataset ``X (n, d)`` /
        ``(R, n, d)``, ``y (n,)`` / ``(R, n)`` (torch or numpy; the last ``ridge_fraction``
        of it for the second stage).

        ``reference``: true directions ``(R, d)`` for the trace's overlaps when fitting a
        dataset (taken from the target otherwise). Returns ``self``.
        """
        self.validate()
        source, ridge_data = self._sources(data, y, n)
        if reference is None and source.target is not None and source.target.r == 1:
            reference = source.target.directions[:, 0]
        if reference is not None:
            reference = torch.as_tensor(reference).reshape(source.replicas, -1)
        W, diverged, used = self._fit_first_layer(source, reference)
        self._finish(W, diverged, used, source, ridge_data)
        return self

    def _fit_first_layer(self, source: DataSource, reference):
        raise NotImplementedError

    def _sources(self, data, y, n):
        if y is None:
            source = data_source(data, None, n)
            return source, None
        X, yy, squeeze = as_replicated(data, y)
        total = X.shape[1] if n is None else min(int(n), X.shape[1])
        n_ridge = int(total * self.ridge_fraction) if self.ridge_samples > 0 else 0
        n1 = total - n_ridge
        if n1 < 1:
            raise ValueError(f"the dataset of {total} samples leaves none for the first layer")
        source = data_source(X[:, :n1], yy[:, :n1])
        source.squeeze = squeeze
        ridge = (X[:, n1:total], yy[:, n1:total]) if n_ridge > 0 else None
        return source, ridge

    def _first_chunk(self, source: DataSource):
        first = next(source.chunks)
        rest = source.chunks

        def chained():
            yield first
            yield from rest

        source.chunks = chained()
        return first

    def _finish(self, W, diverged, used, source: DataSource, ridge_data) -> None:
        self._mark_fitted(source.replicas, source.squeeze, source.device, source.d)
        self.directions_ = W
        self.diverged_ = diverged
        self.samples_ = used
        self.ridge_samples_ = 0  # second-stage (ridge) samples, included in samples_
        self.network_ = None
        if ridge_data is None and source.target is not None and self.ridge_samples > 0:
            Xr, yr = source.target.sample(self.ridge_samples)
            ridge_data = (Xr[None], yr[None]) if source.target.squeeze else (Xr, yr)
        if ridge_data is not None:
            self.network_ = fit_second_layer(W, diverged, ridge_data[0], ridge_data[1],
                                             self.seed, source.replica_ids)
            self.ridge_samples_ = int(ridge_data[0].shape[1])
            self.samples_ += self.ridge_samples_

    # ------------------------------------------------------------------ use
    def _replicated(self, X: torch.Tensor) -> torch.Tensor:
        return X[None] if X.ndim == 2 else X

    def _unreplicated(self, out: torch.Tensor) -> torch.Tensor:
        return out[0] if self.squeeze_ else out

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """``⟨w_j, x⟩`` for every neuron: ``(R, n, m)`` for ``X (R, n, d)``, ``(n, m)`` for
        ``X (n, d)`` when fitted on data without a replica axis."""
        return self._unreplicated(self._replicated(X).to(self.directions_.dtype)
                                  @ self.directions_.transpose(1, 2))

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        """The fitted network ``f(X)``: ``(R, n)`` (or ``(n,)``); needs a second stage
        (``ridge_samples > 0``)."""
        if getattr(self, "network_", None) is None:
            raise ValueError("this learner has no second layer: fit it with ridge_samples > 0")
        return self._unreplicated(self.network_(self._replicated(X).to(self.directions_.dtype)))


@dataclass
class SphericalSGD(SphericalLearner):
    """The label-transformed, smoothed online SGD shared by :class:`~indexlab.learners.
    unified.Unified`, :class:`~indexlab.learners.online_sgd.OnlineSGD` and
    :class:`~indexlab.learners.online_sgd.SmoothedSGD` (they differ only in defaults): per
    minibatch ``w ← normalise(w + η ψ P_w^⊥ x)`` with ``ψ = T(y) · D_λσ(⟨w,x⟩, ‖x‖² − ⟨w,x⟩²)``
    (the spherical gradient of the smoothed correlation loss, :mod:`indexlab.smoothing`),
    or ``ψ = −ℓ'(σ(⟨w,x⟩), T(y)) σ'(⟨w,x⟩)`` for another loss (unsmoothed).

    Hyperparameters (besides :class:`SphericalLearner`'s; ``None`` = the documented default,
    resolved at ``fit``):
        exponent: ``s*`` (Unified) or ``k*`` (online SGD) used for the defaults; taken from the
            target's link by :mod:`indexlab.theory` when fitting a target.
        label_transform: ``"optimal"`` (``ζ_s/λ_s`` of the link), ``"agnostic"`` (CDF + random
            Legendre), ``"identity"``, or a callable on label tensors.
        activation, loss: names from :mod:`indexlab.nn` (default ``h_s``, correlation loss).
        smoothing: ``λ`` (``"auto"``: ``d^{1/4}`` if ``s ≥ 3``; needs a Hermite activation and
            the correlation loss when ``λ > 0``).
        link: the link, for the optimal transform when fitting a plain dataset.
        engine: ``"full"`` (the d-dimensional network) or ``"chain"``: the exact overlap
            chain of :mod:`indexlab.learners.chain` (``docs/chain.md``), the same law of the
            overlaps at a cost independent of ``d``; targets only, no ``directions_``, no
            second layer, ``overlap(θ)`` and the trace from the chain's state.

    Class attributes a subclass sets (read by
    :func:`~indexlab.learners.online_setup.online_setup`):
        exponent_kind: which exponent of the link sets the defaults when ``exponent`` is
            ``None``: ``"generative"`` (``s*``, Unified) or ``"information"`` (``k*``, the
            online SGD baselines).
        auto_smoothing_from: ``smoothing="auto"`` is ``λ = d^{1/4}`` when the exponent is at
            least this (3; SmoothedSGD: 2), else 0.
    A subclass may also override :meth:`default_lr`, the search step before the hold caps.
    """

    exponent: int | None = None
    label_transform: str | Transform = "optimal"
    activation: str | None = None
    loss: str = "correlation"
    smoothing: float | str | None = "auto"
    link: str | Link | None = None
    engine: str = "full"

    engines: ClassVar[tuple[str, ...]] = ("full", "chain")
    hold_search: float | None = 0.05
    hold_descent: float | None = 0.02

    exponent_kind: ClassVar[str] = "generative"  # which exponent sets the defaults
    auto_smoothing_from: ClassVar[int] = 3  # "auto" smoothing is on from this exponent

    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "exponent": "s* (Unified) or k* (online SGD) behind the defaults; None: from the "
                    "target's link (indexlab.theory)",
        "label_transform": "T(y): 'optimal' ζ_s/λ_s of the link (docs/algorithms.md §3.2), "
                           "'agnostic' (CDF + random Legendre, docs/algorithms.md §4.2), "
                           "'identity', or a callable",
        "activation": "σ, a name of indexlab.nn.ACTIVATIONS; None: h_s (Hermite of the "
                      "exponent)",
        "loss": "loss ℓ of indexlab.nn.LOSSES; 'correlation' is −T(y)σ (the only one that "
                "smooths)",
        "smoothing": "λ of the smoothed loss L_λ (Damian et al. 2023); 'auto': d^{1/4} if "
                     "s ≥ 3 else 0",
        "link": "the link, for label_transform='optimal' or the exponent when fitting a "
                "dataset",
        "engine": "'full' (d-dimensional network) or 'chain' (exact overlap chain, cost "
                  "independent of d; docs/chain.md)",
        "hold_search": "stationary misalignment 1 − m* that caps the default search step "
                       "(indexlab.learners.holding, docs/algorithms.md §2.5); None: no cap",
        "hold_descent": "stationary misalignment 1 − m* of the first descent step for the "
                        "descent gradient (after λ → 0); None: the search step",
    }

    constraints: ClassVar[dict] = {
        **SphericalLearner.constraints,
        "exponent": (Int(1, 8), None),
        "label_transform": (Options("optimal", "agnostic", "identity"),
                            IsCallable("a callable on label tensors")),
        "activation": (Options(*ACTIVATIONS), InstanceOf(Activation), None),
        "loss": (Options(*LOSSES), InstanceOf(Loss)),
        "smoothing": (Real(0), Options("auto"), None),
        "link": (Text("a link name or expression"), InstanceOf(Link), None),
        "engine": (Text("'full' or 'chain'"),),
        "hold_search": (Real(0, 1, closed="neither"), None),
        "hold_descent": (Real(0, 1, closed="neither"), None),
    }

    @classmethod
    def compatible(cls, hyper, link, sparsity):
        """The optimal label transform needs a single-index link; the exponent behind the
        defaults must exist (:meth:`Learner.compatible`)."""
        if link.r > 1 and with_defaults(cls, hyper).get("label_transform") == "optimal":
            return (f"{cls.label()} with label_transform='optimal' needs a single-index "
                    f"target, but link {link.name!r} has r={link.r}: use "
                    "label_transform='agnostic' or 'identity', a single-index link, or a "
                    "multi-index learner (layerwise, power_iteration, one_step, sir, save, "
                    "phd)")
        return super().compatible(hyper, link, sparsity)

    overlap_theory_name: ClassVar[str | None] = "mean-field overlap ODE"

    @classmethod
    def overlap_theory(cls, hyper, link, d, ns, budget=None, sparsity=None):
        """The mean-field overlap of :func:`indexlab.learners.mean_field.overlap_ode` (the
        same for both engines: the chain has the full engine's law; the law of the overlap
        does not depend on ``θ*``, so neither on its sparsity); ``None`` for a
        multi-index link, the agnostic transform (built from the data) or a subclass that
        sets ``overlap_theory_name = None``."""
        from indexlab.learners.mean_field import overlap_ode

        learner = cls(**hyper)
        if (cls.overlap_theory_name is None or link.r != 1
                or learner.label_transform == "agnostic"):
            return None
        learner.validate()
        return cls.overlap_theory_name, overlap_ode(learner, link, d, ns, budget)

    @classmethod
    def theory_step(cls, resolved, d):
        """``(default_lr at the run's exponent, smoothing and signal, the run's search
        step lr)``: the rates of docs/algorithms.md §2.1–§2.2, §4.3 are for the default
        search step before the hold caps (:meth:`default_lr`); ``None`` when the run does
        not store them."""
        keys = ("lr", "lr_constant", "exponent", "smoothing", "signal")
        if not all(isinstance(resolved.get(k), (int, float)) and not isinstance(
                resolved.get(k), bool) for k in keys):
            return None
        try:
            theory = cls(lr_constant=resolved["lr_constant"]).default_lr(
                int(resolved["exponent"]), d, float(resolved["smoothing"]),
                float(resolved["signal"]))
        except (TypeError, ValueError):
            return None
        return float(theory), float(resolved["lr"])

    def _learns_directions(self) -> bool:
        """``directions_`` exists unless ``engine="chain"`` (the chain has no d-vectors)."""
        return self.engine != "chain"

    learns_directions = InstanceFlag(True, _learns_directions)

    def _validate_combination(self) -> None:
        if self.engine not in self.engines:
            raise ValueError(f"engine={self.engine!r} is not available for "
                             f"{type(self).__name__}: it has engine "
                             f"{' or '.join(repr(e) for e in self.engines)}")
        if self.engine == "chain":
            check_config(self.loss, self.activation, type(self).__name__)

    # ------------------------------------------------------------------ configuration
    def _resolve_link(self, source: DataSource) -> Link | None:
        if source.target is not None:
            return source.target.link
        return get_link(self.link) if isinstance(self.link, str) else self.link

    def default_lr(self, s: int, d: int, lam: float, signal: float) -> float:
        """Search-phase step (docs/algorithms.md §4.3, §2.1): ``c_η λ_s λ^{2s−2} d^{−s/2}`` when
        smoothed, else ``c_η λ_s/d`` (``s = 1``), ``c_η λ_s/(d log d)`` (``s = 2``),
        ``c_η λ_s d^{−s/2}``."""
        c = self.lr_constant * signal
        if lam > 0:
            return c * lam ** (2 * s - 2) * d ** (-s / 2)
        if s == 1:
            return c / d
        if s == 2:
            return c / (d * math.log(d))
        return c * d ** (-s / 2)

    # ------------------------------------------------------------------ the update
    def _step(self, act: Activation, loss_name: str, lam: float, d: int, s: int):
        """The full engine's minibatch step (:data:`~indexlab.learners.online_engine.StepFn`)
        with the slopes of :func:`~indexlab.learners.online_setup.update_slopes`: the
        smoothed one in float64 while searching when ``λ > 0``."""
        loss = get_loss(loss_name)
        search_psi, descent_psi = update_slopes(act, loss_name, lam, d)
        smoothed = lam > 0
        correlation = loss.name == "correlation"

        def step(W, X, T, eta, searching, want_loss):
            A = X @ W.transpose(1, 2)  # (R, B, m)
            Tm = T.unsqueeze(-1)
            out = act(A) if want_loss or not correlation else None
            if smoothed and searching:
                A64 = A.to(torch.float64)
                Rn = (X.to(torch.float64) ** 2).sum(-1, keepdim=True) - A64**2
                psi = search_psi(A64, Rn, Tm.to(torch.float64)).to(W.dtype)
            else:
                psi = descent_psi(A, None, Tm)
            value = loss.value(out, Tm).mean(dim=(1, 2)) if want_loss else None
            return spherical_step(W, X, eta * psi, A), value

        return step

    def _fit_first_layer(self, source: DataSource, reference):
        d = source.d
        link = self._resolve_link(source)
        _, first_y = self._first_chunk(source)
        setup = online_setup(self, link, d, n=source.n, sample_y=first_y)
        schedule = setup.schedule
        W0 = random_sphere(source.replica_ids, self.width, d, self.seed, source.dtype,
                           source.device)
        self.trace_ = Trace()
        self.hyper_ = {"exponent": setup.exponent, "activation": setup.activation.name,
                       "smoothing": setup.smoothing, "lr": schedule.lr,
                       "descent_lr": schedule.descent_lr, "signal": setup.signal,
                       "search_samples": schedule.search, "batch": self.batch}
        step = self._step(setup.activation, self.loss, setup.smoothing, d, setup.exponent)
        return run_online(source, W0, step, setup.transform, schedule, reference, self.trace_)

    # ------------------------------------------------------------------ engine = "chain"
    def fit(self, data, y=None, *, n: int | None = None, reference: torch.Tensor | None = None):
        self.validate()
        if self.engine == "chain":
            self._fit_chain(data, y, n)
            return self
        return super().fit(data, y, n=n, reference=reference)

    fit.__doc__ = SphericalLearner.fit.__doc__

    def _fit_chain(self, data, y, n) -> None:
        """``engine="chain"``: the same :func:`~indexlab.learners.online_setup.online_setup`
        as :meth:`_fit_first_layer`, run by
        :func:`~indexlab.learners.chain.run_chain`. Sets ``trace_``, ``hyper_``,
        ``diverged_``, ``samples_`` (first-layer samples: no second stage),
        ``chain_state_`` (``(R, m+1, m+1)``), ``neuron_overlaps_`` (``⟨w_j, θ*⟩``, ``(R, m)``),
        ``chain_draws_`` (random numbers drawn); ``directions_ = network_ = None``."""
        name = type(self).__name__
        n = check_data(data, y, n, name)
        d, m = data.d, self.width
        link = data.link
        s = learner_exponent(self, link)
        lam = learner_smoothing(self, s, d)
        check_supported(learner_activation(self, s), get_loss(self.loss), lam, d, m)
        replicas = tuple(data.replica_ids)
        stream = ChainData(link, data.seed, replicas)
        first = stream.draw(min(n, chunk_samples(self.batch, m + 1, lam > 0)), m + 1)
        setup = online_setup(self, link, d, n=n, sample_y=first[1])
        schedule = setup.schedule
        self.trace_ = Trace()
        self.hyper_ = {"exponent": s, "activation": setup.activation.name, "smoothing": lam,
                       "lr": schedule.lr, "descent_lr": schedule.descent_lr,
                       "signal": setup.signal, "search_samples": schedule.search,
                       "batch": self.batch, "engine": "chain"}
        L0 = initial_state(replicas, m, d, self.seed)
        L, diverged, used, draws = run_chain(
            stream, L0, d, n, setup.transform, schedule, setup.activation, get_loss(self.loss),
            lam, self.trace_, first,
            log_checkpoints(n, per_decade=online_engine.TRACE_PER_DECADE))
        self._mark_fitted(len(replicas), data.squeeze, torch.device("cpu"), d)
        self.directions_ = None
        self.network_ = None
        self.diverged_ = torch.from_numpy(diverged)
        self.samples_ = used
        self.chain_state_ = torch.from_numpy(L)
        self.neuron_overlaps_ = torch.from_numpy(L[:, 1:, 0].copy())
        self.chain_draws_ = draws

    def fit_note(self) -> str | None:
        """With ``engine="chain"``: the chain has overlaps but no weights, no second layer."""
        return CHAIN_NOTE if self.engine == "chain" else None

    def _no_chain(self, what: str) -> None:
        self.check_fitted()
        if self.directions_ is None:
            raise ValueError(f"{what} needs the d-dimensional weights; {CHAIN_NOTE}")

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        self._no_chain("transform")
        return super().transform(X)

    def predict(self, X: torch.Tensor) -> torch.Tensor:
        self._no_chain("predict")
        return super().predict(X)

    transform.__doc__ = SphericalLearner.transform.__doc__
    predict.__doc__ = SphericalLearner.predict.__doc__

    def overlap(self, theta: torch.Tensor) -> torch.Tensor:
        """Best-neuron overlap ``max_j |cos(w_j, θ)|`` per replica, ``(R,)``. With
        ``engine="chain"``: the overlap with the target's ``θ*``, from the chain's state
        (``theta`` is only checked to have ``R·d`` entries)."""
        self.check_fitted()
        if self.directions_ is not None:
            return super().overlap(theta)
        state = self.chain_state_
        if torch.as_tensor(theta).numel() % state.shape[0]:
            raise ValueError(f"theta of shape {tuple(torch.as_tensor(theta).shape)} is not "
                             f"allowed: use (d,) or ({state.shape[0]}, d), the target's "
                             "direction")
        return state[:, 1:, 0].abs().max(dim=1).values
