"""The second stage of the online learners: a ReLU output layer fitted by ridge on frozen neurons.

As in docs/algorithms.md §4.4: freeze the first layer ``W``, draw biases
``b_j ~ Unif[−2, 2]`` (:func:`indexlab.seeding.replica_generator`, purpose 1), flip every
other neuron (``w_j → −w_j``; the first stage leaves all neurons on the same side of ``θ*``
for odd transforms, and ReLU features of one orientation cannot follow the other tail) and fit
the output layer of ``f(x) = (1/m) Σ_j a_j ReLU(⟨w_j,x⟩ + b_j) + c`` by ridge regression on
fresh samples, the ridge chosen on a 20% validation split. Diverged replicas get NaN weights.
"""

from __future__ import annotations

import math

import torch

from indexlab.nn import ACTIVATIONS, Network, relu_features, ridge_fit
from indexlab.seeding import replica_generator

ONLINE_SECOND_STAGE_RIDGES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # chosen on a 20% split


def fit_second_layer(
    W: torch.Tensor,
    diverged: torch.Tensor,
    X: torch.Tensor,
    y: torch.Tensor,
    seed: int,
    replicas,
    ridges: tuple[float, ...] = ONLINE_SECOND_STAGE_RIDGES,
    bias_range: float = 2.0,
) -> Network:
    """Freeze ``W``, draw ``b ~ Unif[−2, 2]``, fit ``a`` and the intercept by ridge (see module)."""
    m = W.shape[1]
    b = torch.stack([torch.rand(m, generator=replica_generator(seed, j, 1), dtype=torch.float64)
                     for j in replicas])
    b = (b * 2 * bias_range - bias_range).to(W.device, W.dtype)
    # alternate orientations: neurons aligned with +θ only would leave ReLU(z + b) blind to
    # the z < −bias_range tail, so every other neuron is flipped (w_j → −w_j) for this stage
    signs = torch.ones(m, dtype=W.dtype, device=W.device)
    signs[1::2] = -1
    W = W * signs[None, :, None]
    safe_W = torch.where(diverged[:, None, None], torch.zeros_like(W), W)
    Phi = relu_features(safe_W, b, X.to(W.dtype))
    y = torch.where(diverged[:, None], torch.zeros_like(y), y)
    coef, offset, _ = ridge_fit(Phi, y, ridges)
    nan = torch.full_like(coef, math.nan)
    coef = torch.where(diverged[:, None], nan, coef)
    return Network(W=W, a=(coef * m).to(W.dtype), b=b, activation=ACTIVATIONS["relu"],
                   offset=torch.where(diverged, math.nan, offset).to(W.dtype))
