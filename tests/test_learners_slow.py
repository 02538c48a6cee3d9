"""Statistical reproductions for the single-index learners (spec single-index.md §1, §2, §7).

Fixed seeds; each docstring states the statistic, the threshold from the issue and the value
measured when the test was written, so the margin is visible.
"""

import math

import pytest
import torch

from indexlab.learners import OnlineSGD, SparseUnified, Unified
from indexlab.targets import SingleIndex

pytestmark = pytest.mark.slow


def test_he3_unified_learns_with_40d_where_online_sgd_does_not():
    """He₃, d = 64, n = 40 d = 2560 samples.

    Unified with the s* = 1 transform T = E[z|y]/λ₁ (λ₁² = 0.668) has drift λ₁ per sample, so
    its averaging estimator reaches cos ≈ λ₁/√(λ₁² + d/n) = 0.98; threshold 0.9 on the mean
    over 8 replicas (measured 0.97). Vanilla online SGD (k* = 3) needs ~d² = 4096 samples and
    its escape time has a heavy tail (spec §7: "use ≥ 16 seeds and medians"), so we compare the
    median over 32 single-neuron replicas with 0.3 (measured 0.17; random start ≈ 0.1).
    """
    d, n = 64, 40 * 64
    unified = Unified(width=4, ridge_samples=0).fit(SingleIndex("he3", d, replicas=8, seed=0),
                                                    n=n)
    target = SingleIndex("he3", d, replicas=8, seed=0)
    assert float(unified.overlap(target.directions[:, 0]).mean()) >= 0.9
    t32 = SingleIndex("he3", d, replicas=32, seed=0)
    vanilla = OnlineSGD(width=1, ridge_samples=0).fit(t32, n=n)
    assert float(vanilla.overlap(t32.directions[:, 0]).median()) < 0.3


def test_he4_unified_reaches_09_within_100_d_log_d():
    """He₄ (s* = 2, λ₂² = 0.775), d = 64, budget 100 d log d = 26 616.

    Online Oja-type dynamics with T = ζ₂/λ₂ escape in ~d log d/(4 c λ₂) samples; the first
    trace point with mean overlap ≥ 0.9 must come before the budget (measured: 6 400, i.e.
    ≈ 24 d log d) and the final mean overlap is ≥ 0.9 (measured 0.99).
    """
    d = 64
    n = int(100 * d * math.log(d))
    target = SingleIndex("he4", d, replicas=8, seed=1)
    learner = Unified(width=4, ridge_samples=0).fit(target, n=n)
    final = learner.overlap(target.directions[:, 0])
    assert float(final.mean()) >= 0.9
    mean_trace = learner.trace_["overlap"].mean(axis=1)
    first = next(s for s, v in zip(learner.trace_.samples, mean_trace, strict=True) if v >= 0.9)
    assert first <= n


def test_genexp3_smoothed_unified_within_200_d_to_the_1_5():
    """genexp3 (binary, k* = s* = 3, c₃ = 0.451), d = 32, n = 200 d^{3/2} = 36 204.

    Exact smoothed gradient with λ = d^{1/4} in the search phase; threshold 0.8 on the mean over
    8 replicas (measured 0.998). Without smoothing the search phase would need ~d² samples.
    """
    d = 32
    n = int(200 * d**1.5)
    target = SingleIndex("genexp3", d, replicas=8, seed=2)
    learner = Unified(width=4, ridge_samples=0).fit(target, n=n)
    assert learner.hyper_["smoothing"] == pytest.approx(d**0.25)
    assert float(learner.overlap(target.directions[:, 0]).mean()) >= 0.8


def test_sparse_unified_beats_dense_on_a_4_sparse_genexp3():
    """genexp3 (s* = 3), k = 4, d = 1024, n = 200 k³ log d = 88 722 ≈ 2.7 d^{3/2}.

    Screening: E S_i = λ₃ (θ*_i)³ = 0.451/8 = 0.056 on the support against noise 1/√(n/2) =
    0.0047 per coordinate (max over 1020 nulls ≈ 3.3 × 0.0047 = 0.016), so the support is found
    (recall 1 asserted) and the restricted problem (d = 4) is easy: overlap ≥ 0.9 (measured
    0.9998). Dense Unified at the same n is far from its d^{3/2} regime constant: < 0.5
    (measured 0.03–0.10).
    """
    d, k = 1024, 4
    n = int(200 * k**3 * math.log(d))
    target = SingleIndex("genexp3", d, sparsity=k, replicas=4, seed=3)
    sparse = SparseUnified(width=4, ridge_samples=0).fit(target, n=n)
    theta = target.directions[:, 0]
    assert torch.equal(sparse.support_recall_, torch.ones(4, dtype=torch.float64))
    assert float(sparse.overlap(theta).mean()) >= 0.9
    dense = Unified(width=4, ridge_samples=0).fit(target.reset(), n=n)
    assert float(dense.overlap(theta).mean()) < 0.5
