"""Exactness of the overlap chain against the full d-dimensional engine (slow tier).

1. One-step law: from a fixed state (``⟨w_1, θ*⟩ = 0.3``, a second neuron where the width is
   2), one minibatch step of the chain and of the full update (the learner's own step function)
   on 10⁵ independent draws each; the mean and the variance of ``⟨w_1', θ*⟩`` (and, at width 2,
   of ``⟨w_1', w_2'⟩`` and ``⟨w_2', θ*⟩``: the joint law) agree within 4 standard errors. The
   standard error of a difference of means is ``√(v₁/N + v₂/N)``, of variances
   ``√((μ₄ − v²)/N + …)`` with the sample fourth central moments.
2. Trajectories: at d = 64 and 128, 256 replicas per engine (256 makes the full engine's data
   chunks, 2²⁴/(d R) samples, multiples of the batch 32, so both engines cut the same
   minibatches), width 1, a constant step (``search_fraction = 1``), overlaps recorded on a
   fine grid (48 points per decade); the first recorded sample count with overlap ≥ 0.5
   (censored at the budget, chosen near the 60th percentile to bound the full engine's cost;
   both engines are censored alike, so the test compares the censored laws)
   has the same distribution under both engines: two-sample Kolmogorov–Smirnov p > 0.01.
   Width 1 keeps the full engine affordable on 2 cores; the joint law of several neurons is
   checked by the one-step test.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp

import indexlab.learners.online_engine as online_engine_module
from indexlab.learners import OnlineSGD, SmoothedSGD, Unified
from indexlab.learners.base import Trace
from indexlab.learners.chain import ChainData, run_chain
from indexlab.learners.online_setup import online_setup
from indexlab.learners.schedule import Schedule
from indexlab.links import get_link
from indexlab.nn import get_activation, get_loss
from indexlab.targets import SingleIndex

pytestmark = pytest.mark.slow

N_DRAWS = 100_000
SECOND = (0.2, 0.3, math.sqrt(1 - 0.13))  # the second neuron's coordinates, width 2


def _one_step_samples(learner, link_name, d, B, s, m, seed):
    """``(chain quantities, full quantities)``: lists of ``(N,)`` arrays."""
    link = get_link(link_name)
    act = get_activation(learner.activation or f"he{s}")
    loss = get_loss(learner.loss)
    setup = online_setup(dataclasses.replace(learner, exponent=s), link, d)
    lam, T = setup.smoothing, setup.transform
    mu, eta, k = 0.3, 0.05, m + 1
    L = np.zeros((N_DRAWS, k, k))
    L[:, 0, 0] = 1.0
    L[:, 1, :2] = mu, math.sqrt(1 - mu**2)
    W = torch.zeros(N_DRAWS, m, d, dtype=torch.float64)
    W[:, 0, :2] = torch.tensor([mu, math.sqrt(1 - mu**2)])
    if m == 2:
        L[:, 2, :3] = SECOND
        W[:, 1, :3] = torch.tensor(SECOND)
    schedule = Schedule(lr=eta, search=10**9, decay=0.0, batch=B)
    Lc = run_chain(ChainData(link, seed, tuple(range(N_DRAWS))), L, d, B, T, schedule, act, loss,
                   lam, Trace())[0]
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N_DRAWS, B, d, generator=g, dtype=torch.float64)  # θ* = e_0
    y = link(X[..., 0].reshape(-1, 1), generator=g).reshape(N_DRAWS, B)
    Wf, _ = learner._step(act, loss.name, lam, d, s)(W, X, T(y), eta * B, True, False)
    Wf = Wf.numpy()
    chain_q, full_q = [Lc[:, 1, 0]], [Wf[:, 0, 0]]
    if m == 2:
        chain_q += [(Lc[:, 1] * Lc[:, 2]).sum(-1), Lc[:, 2, 0]]
        full_q += [(Wf[:, 0] * Wf[:, 1]).sum(-1), Wf[:, 1, 0]]
    return chain_q, full_q


def _z_scores(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Differences of means and of variances in units of their standard errors."""
    n = len(a)
    va, vb = a.var(), b.var()
    z_mean = (a.mean() - b.mean()) / math.sqrt(va / n + vb / n)
    m4a, m4b = ((a - a.mean()) ** 4).mean(), ((b - b.mean()) ** 4).mean()
    z_var = (va - vb) / math.sqrt((m4a - va**2) / n + (m4b - vb**2) / n)
    return float(z_mean), float(z_var)


@pytest.mark.parametrize("learner, link, d, B, s, m", [
    (OnlineSGD(), "he3", 20, 4, 3, 2),                   # vanilla, joint law of 2 neurons
    (OnlineSGD(loss="square"), "he2", 20, 4, 2, 1),      # square loss
    (SmoothedSGD(smoothing=2.0), "he4", 6, 8, 4, 2),     # smoothed, p = d − 3 < b, folding
    (Unified(), "genexp3", 20, 4, 3, 1),                 # optimal transform + smoothing
], ids=["vanilla-he3-m2", "square-he2", "smoothed-he4-m2-small-d", "unified-genexp3"])
def test_one_step_law_matches_the_full_update(learner, link, d, B, s, m):
    """Measured at the time of writing: all |z| < 2.7 (e.g. vanilla He3 mean/var
    z = −0.3/1.4, smoothed He4 −0.9/−0.4, unified genexp3 0.1/0.3)."""
    chain_q, full_q = _one_step_samples(learner, link, d, B, s, m, seed=7)
    for a, b in zip(chain_q, full_q, strict=True):
        z_mean, z_var = _z_scores(a, b)
        assert abs(z_mean) < 4 and abs(z_var) < 4, (z_mean, z_var)


def _first_passage(trace: Trace, n: int) -> np.ndarray:
    ov, samples = trace["overlap"], np.asarray(trace.samples)
    hit = ov >= 0.5
    return np.where(hit.any(axis=0), samples[np.argmax(hit, axis=0)], n + 1)


@pytest.mark.parametrize("cls, link, budgets", [
    (OnlineSGD, "he3", {64: 5_000, 128: 15_000}),
    (SmoothedSGD, "he4", {64: 12_000, 128: 42_000}),
    (Unified, "genexp3", {64: 13_000, 128: 36_000}),
], ids=["vanilla-he3", "smoothed-he4", "unified-genexp3"])
def test_first_passage_distributions_match_the_full_engine(cls, link, budgets, monkeypatch):
    """The issue's criterion, p > 0.01 at each d. Measured with budgets 1.3-1.6× larger
    (docs/chain.md): p = 0.36 / 0.84 (He3, d = 64 / 128), 0.97 / 0.84 (He4 smoothed),
    1.00 / 0.77 (genexp3 unified); medians equal to the grid step."""
    monkeypatch.setattr(online_engine_module, "TRACE_PER_DECADE", 48)  # both engines read it
    for d, n in budgets.items():
        # hold_search=None: the uncapped default search step (issue 13's cap makes the
        # He3/He4 steps ~10-20x smaller and every replica would be censored at the budget)
        hyper = dict(width=1, search_fraction=1.0, ridge_samples=0, hold_search=None)
        chain = cls(engine="chain", **hyper).fit(SingleIndex(link, d, replicas=256, seed=1), n=n)
        full = cls(**hyper).fit(SingleIndex(link, d, replicas=256, seed=2), n=n)
        a, b = _first_passage(chain.trace_, n), _first_passage(full.trace_, n)
        assert ks_2samp(a, b).pvalue > 0.01, (d, np.median(a), np.median(b))
