"""Batch-reuse SGD: each minibatch used twice (Lee, Oko, Suzuki, Wu 2024; Arnaboldi et al.
2024); docs/algorithms.md §5.1 (the implementable form is ours, [D]).

Per minibatch ``{(x_i, y_i)}_{i≤B}`` and neuron ``w`` (unit norm, output weight 1, squared loss
``ℓ = ½(y − σ(⟨w,x⟩))²``):

    g1 = (1/B) Σ_i (y_i − σ(a_i)) σ'(a_i) x_i            a_i = ⟨w, x_i⟩   (first gradient)
    w̃  = w + η_in P_w^⊥ g1                                (inner step, not normalised)
    g2 = (1/B) Σ_i (y_i − σ(ã_i)) σ'(ã_i) x_i            ã_i = ⟨w̃, x_i⟩  (same minibatch)
    w  ← normalise(w + η_out P_w^⊥ g2)

The inner step moves each pre-activation by ``≈ η_in ‖x_i‖² ψ_i / B ≈ (η_in d/B) ψ_i``; expanding
the second gradient creates the monomial label transforms ``y^j`` that take the dynamics out of the
CSQ class (needs ``η_in d/B = Θ(1)``). Defaults: ``η_in = c_in B/d`` with ``c_in = 0.5``,
``η_out = c_out/(d log d)`` per sample (the ``s* ≤ 2`` regime) with ``c_out = 2`` — our first choice
``c_out = 0.1`` [D] left He₃ at overlap ≈ 0.45 after ``100 d`` samples (d = 64, B = 32),
``c_out = 3`` reached 0.9, so we calibrated it there —, ``σ = relu`` (many non-zero Hermite
coefficients); search/descent schedule and second stage as in
:mod:`indexlab.learners.online_engine`. A dataset can be passed several times (``epochs``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from indexlab.learners.base import DataSource, Trace, as_replicated, data_source
from indexlab.learners.constraints import InstanceOf, Int, Options, Real
from indexlab.learners.online_engine import normalise_rows, random_sphere, run_online
from indexlab.learners.schedule import Schedule
from indexlab.learners.spherical import SphericalLearner
from indexlab.nn import ACTIVATIONS, Activation, get_activation


@dataclass
class BatchReuseSGD(SphericalLearner):
    """Two gradient steps per minibatch on the same samples (see the module docstring).

    Squared loss on the raw labels, no label transform, no smoothing: it needs no link.
    Hyperparameters (besides :class:`~indexlab.learners.spherical.SphericalLearner`'s):
    ``activation`` ``σ`` (default ``relu``), ``inner_constant`` ``c_in`` of the inner step
    ``η_in = c_in B/d``, ``lr_constant`` ``c_out`` (default 2) of ``η_out = c_out/(d log d)``,
    ``epochs``: passes over a dataset (a target is always read once, fresh samples).

    Full engine only (``engines``): the second gradient is taken at ``w̃ = w + η_in P_w^⊥ g1``,
    which needs the ``b × b`` Gram matrix of the minibatch (the overlap chain could carry it,
    ``docs/chain.md``), and the default ``σ = relu`` is not a polynomial; neither is
    implemented in the chain. Nor has it the conditional form of the full-batch learners
    (docs/conditional.md, section 5): its ``n/B`` minibatches would each add ``2m`` explored
    directions, more than ``d`` long before ``n = d``.
    """

    activation: str | Activation = "relu"
    inner_constant: float = 0.5
    lr_constant: float = 2.0
    epochs: int = 1

    hyperparameter_docs: ClassVar[dict[str, str]] = {
        "activation": "σ of the squared loss ½(y − σ(⟨w,x⟩))², a name of "
                      "indexlab.nn.ACTIVATIONS (relu: many Hermite coefficients)",
        "inner_constant": "c_in of the inner step η_in = c_in B/d (η_in d/B = Θ(1) creates "
                          "the y^j transforms; docs/algorithms.md §5.1)",
        "lr_constant": "c_out of the outer step η_out = c_out/(d log d) (calibrated: 2)",
        "epochs": "passes over a dataset (a target is read once, fresh samples)",
    }
    constraints: ClassVar[dict] = {
        **SphericalLearner.constraints,
        "activation": (Options(*ACTIVATIONS), InstanceOf(Activation)),
        "inner_constant": (Real(0),),
        "epochs": (Int(1),),
    }

    theory_key: ClassVar[str | None] = "batch_reuse_sgd"

    @classmethod
    def theory_step(cls, resolved, d):
        """``(c_out/(d log d), the run's outer step lr)``: the rate ``d^{(s*−1) ∨ 1}`` of
        Lee et al. (2024) is for the outer step ``η_out ∝ 1/(d log d)`` (module docstring);
        the inner step ``η_in = c_in B/d`` must stay ``Θ(B/d)`` for the rate at all, so it
        moves no exponent. ``None`` when the run does not store them."""
        lr, c = resolved.get("lr"), resolved.get("lr_constant", cls.lr_constant)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lr, c)):
            return None
        return float(c) / (d * math.log(max(d, 3))), float(lr)

    def _sources(self, data, y, n):
        if y is None or self.epochs == 1:
            return super()._sources(data, y, n)
        X, yy, squeeze = as_replicated(data, y)
        source, ridge = super()._sources(X, yy, n)
        Xs, ys = zip(*source.chunks, strict=True)
        X1, y1 = torch.cat(Xs, dim=1), torch.cat(ys, dim=1)
        repeated = data_source(X1.repeat(1, self.epochs, 1), y1.repeat(1, self.epochs))
        repeated.squeeze = squeeze
        return repeated, ridge

    def _fit_first_layer(self, source: DataSource, reference):
        d, B = source.d, self.batch
        act = get_activation(self.activation)
        lr = self.lr if self.lr is not None else self.lr_constant / (d * math.log(max(d, 3)))
        eta_in = self.inner_constant * B / d
        schedule = Schedule(lr=lr, search=int(self.search_fraction * source.n),
                            decay=self.decay, batch=B)
        W0 = random_sphere(source.replica_ids, self.width, d, self.seed, source.dtype,
                           source.device)
        self.trace_ = Trace()
        self.hyper_ = {"activation": act.name, "lr": lr, "inner_lr": eta_in, "batch": B,
                       "epochs": self.epochs}

        def residual_gradient(V, X, y):
            A = X @ V.transpose(1, 2)  # (R, B, m)
            e = y.unsqueeze(-1) - act(A)
            return (e * act.df(A)).transpose(1, 2) @ X / X.shape[1], e

        def project(W, G):
            return G - (G * W).sum(dim=-1, keepdim=True) * W

        def step(W, X, y, eta, searching, want_loss):
            g1, e = residual_gradient(W, X, y)
            W_tilde = W + eta_in * project(W, g1)
            g2, _ = residual_gradient(W_tilde, X, y)
            loss = 0.5 * e.pow(2).mean(dim=(1, 2)) if want_loss else None
            return normalise_rows(W + eta * project(W, g2)), loss

        return run_online(source, W0, step, lambda v: v, schedule, reference, self.trace_)
