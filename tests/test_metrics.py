"""Overlaps, principal angles, subspace distance and test error."""

import math

import pytest
import torch

from indexlab.metrics import (
    max_overlap,
    mean_overlap,
    neuron_overlaps,
    prediction_mse,
    principal_angles,
    random_overlap_baseline,
    subspace_distance,
    top_subspace,
)
from indexlab.targets import MultiIndex, SingleIndex


def test_overlaps_batched_over_replicas():
    theta = torch.eye(4)[:2]  # two replicas, θ = e1 and e2
    W = torch.stack([torch.tensor([[2.0, 0, 0, 0], [1, 1, 0, 0]]),
                     torch.tensor([[0.0, -3, 0, 0], [0, 0, 1, 0]])])
    assert torch.allclose(neuron_overlaps(W, theta), torch.tensor([[1, 2**-0.5], [1, 0]]))
    assert torch.allclose(neuron_overlaps(W, theta, signed=True)[1, 0], torch.tensor(-1.0))
    assert torch.allclose(max_overlap(W, theta), torch.ones(2))
    assert torch.allclose(mean_overlap(W, theta), torch.tensor([(1 + 2**-0.5) / 2, 0.5]))


def test_random_overlap_baseline():
    """E|⟨w, θ⟩| for 4000 random unit w in d = 100, 5 standard errors."""
    d, m = 100, 4000
    W = torch.randn(m, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ov = neuron_overlaps(W, torch.eye(d, dtype=torch.float64)[0])
    assert abs(float(ov.mean()) - random_overlap_baseline(d)) < 5 * float(ov.std()) / math.sqrt(m)


def test_principal_angles_of_a_known_rotation():
    a = 0.3
    A = torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 0]], dtype=torch.float64)
    B = torch.tensor([[1.0, 0, 0, 0], [0, math.cos(a), math.sin(a), 0]], dtype=torch.float64)
    assert torch.allclose(principal_angles(A, 5 * B), torch.tensor([0.0, a], dtype=torch.float64),
                          atol=1e-7)
    expected = math.sqrt(2 * math.sin(a) ** 2 / 4)  # ‖P_A − P_B‖_F² = 2 sin² a, r = 2
    assert float(subspace_distance(A, B)) == pytest.approx(expected, abs=1e-12)


def test_subspace_distance_extremes_and_random():
    d, r = 60, 3
    A = torch.eye(d, dtype=torch.float64)[:r]
    assert float(subspace_distance(A, A)) == pytest.approx(0.0, abs=1e-12)
    assert float(subspace_distance(A, torch.eye(d, dtype=torch.float64)[r:2 * r])) == 1.0
    U = MultiIndex("staircase", d, replicas=400, seed=1).directions
    dist2 = subspace_distance(U, A.expand(400, r, d)).pow(2)
    # E dist² = 1 − r/d for a Haar subspace; 5 standard errors of the replica mean
    assert abs(float(dist2.mean()) - (1 - r / d)) < 5 * float(dist2.std()) / math.sqrt(400)


def test_top_subspace_recovers_the_row_space():
    U = MultiIndex("z1*z2", 30, replicas=2, seed=0).directions.float()
    W = torch.randn(2, 50, 2) @ U  # 50 neurons inside span(U)
    assert subspace_distance(top_subspace(W, 2), U).max() < 1e-5
    with pytest.raises(ValueError, match="r=3"):
        top_subspace(torch.randn(2, 4), 3)


def test_prediction_mse_of_the_truth_and_of_zero():
    t = SingleIndex("he2", 16, replicas=3, seed=0)

    def truth(X):
        z = t.latents(X)[..., 0]
        return (z**2 - 1) / math.sqrt(2)

    assert prediction_mse(truth, t, 5000).max() < 1e-10
    zero = prediction_mse(lambda X: torch.zeros(X.shape[:-1]), t, 20_000)
    # E y² / Var y = 1 for a centred target; the ratio of sample moments has sd ≈ √(14/n)
    assert (zero - 1).abs().max() < 5 * math.sqrt(14 / 20_000) * 2
    nan = prediction_mse(lambda X: torch.full(X.shape[:-1], float("nan")), t, 100)
    assert torch.isinf(nan).all()


@pytest.mark.cuda
def test_metrics_on_cuda():
    W = torch.randn(4, 8, 32, device="cuda")
    theta = torch.randn(4, 32, device="cuda")
    assert max_overlap(W, theta).is_cuda
    assert subspace_distance(W[:, :2], W[:, :2]).max() < 1e-6
