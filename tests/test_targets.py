"""Targets: law of the samples, directions, replicas, streaming, validation."""

import math

import numpy as np
import pytest
import torch

from indexlab.targets import MultiIndex, SingleIndex


def test_samples_have_the_gaussian_law_and_default_dtype():
    """Sample mean and covariance of X: every entry within 5 CLT standard errors.

    Entry (i, j) of the sample covariance has s.d. 1/√n off the diagonal and √(2/n) on it;
    with 16² entries a 5σ bound fails with probability < 2e-4.
    """
    n, d = 200_000, 16
    X, y = SingleIndex("he2", d, seed=3).sample(n)
    assert X.dtype == torch.float32 and X.shape == (n, d) and y.shape == (n,)
    X = X.double()
    assert X.mean(0).abs().max() < 5 / math.sqrt(n)
    cov = X.T @ X / n
    sd = torch.full((d, d), 1 / math.sqrt(n)) + torch.eye(d) * (math.sqrt(2 / n) - 1 / math.sqrt(n))
    assert ((cov - torch.eye(d)).abs() < 5 * sd.double()).all()


def test_labels_follow_the_link_along_the_hidden_direction():
    """he2 target: E[y] = 0, E[y²] = 1 (Var h2² = 14) and E[y (zz - 1)]/√2 = 1 along θ."""
    n = 400_000
    t = SingleIndex("he2", 32, seed=5, dtype=torch.float64)
    X, y = t.sample(n)
    z = X @ t.directions_view[0]
    assert abs(float(y.mean())) < 5 / math.sqrt(n)
    assert abs(float((y**2).mean()) - 1) < 5 * math.sqrt(14 / n)
    assert torch.allclose(y, (z**2 - 1) / math.sqrt(2), atol=1e-10)


def test_relu_first_moment_points_along_theta():
    """E[y x] = c_1 θ = θ/2 for relu: projection within 5 SE, estimated from the sample."""
    n = 200_000
    t = SingleIndex("relu", 64, seed=2)
    X, y = t.sample(n)
    v = (y[:, None] * X).double()
    proj = v @ t.directions_view[0].double()
    assert abs(float(proj.mean()) - 0.5) < 5 * float(proj.std()) / math.sqrt(n)


def test_directions_are_haar():
    """d = 3: E[θ] = 0 and E[θθᵀ] = I/3 over 3000 replicas, 5 standard errors.

    For θ uniform on S², θ_i has variance 1/3 and θ_i² has variance 4/45.
    """
    R = 3000
    U = SingleIndex("he3", 3, replicas=R, seed=11).directions[:, 0]
    assert U.mean(0).abs().max() < 5 * math.sqrt(1 / 3 / R)
    second = torch.einsum("ri,rj->ij", U, U) / R
    assert (second.diagonal() - 1 / 3).abs().max() < 5 * math.sqrt(4 / 45 / R)


def test_multi_index_directions_are_orthonormal_and_replicas_differ():
    t = MultiIndex("he4+he4", 40, replicas=4, seed=0)
    U = t.directions
    assert U.shape == (4, 2, 40)
    assert torch.allclose(U @ U.transpose(1, 2), torch.eye(2, dtype=U.dtype).expand(4, 2, 2),
                          atol=1e-12)
    assert (U[0] - U[1]).abs().max() > 0.1
    X, _ = t.sample(10)
    assert X.shape == (4, 10, 40) and (X[0] - X[1]).abs().max() > 0.1


@pytest.mark.parametrize("k", [1, 4, 17])
def test_sparse_directions(k):
    U = SingleIndex("genexp3", 100, sparsity=k, replicas=5, seed=1).directions[:, 0]
    assert ((U != 0).sum(1) == k).all()
    assert torch.allclose(U.norm(dim=1), torch.ones(5, dtype=U.dtype))
    assert torch.allclose(U[U != 0].abs(), torch.full((5 * k,), 1 / math.sqrt(k), dtype=U.dtype))
    V = MultiIndex("z1*z2", 50, sparsity=6, seed=4).directions_view
    assert ((V != 0).any(0)).sum() == 6
    assert torch.allclose(V @ V.T, torch.eye(2, dtype=V.dtype), atol=1e-12)


def test_same_seed_reproduces_and_replica_slices_match():
    a = SingleIndex("genexp3", 20, replicas=8, seed=9)
    b = SingleIndex("genexp3", 20, replicas=8, seed=9)
    Xa, ya = a.sample(100)
    Xb, yb = b.sample(100)
    assert torch.equal(Xa, Xb) and torch.equal(ya, yb)
    one = SingleIndex("genexp3", 20, replicas=[5], seed=9)
    X1, y1 = one.sample(100)
    assert torch.equal(one.directions[0], a.directions[5])
    assert torch.equal(X1[0], Xa[5]) and torch.equal(y1[0], ya[5])
    c = SingleIndex("genexp3", 20, replicas=8, seed=10)
    assert not torch.equal(c.directions, a.directions)


def test_stream_yields_fresh_chunks_of_the_right_size():
    t = SingleIndex("he3", 8, replicas=2, seed=0)
    chunks = list(t.stream(25, chunk=10))
    assert [c[0].shape[1] for c in chunks] == [10, 10, 5]
    assert not torch.equal(chunks[0][0][:, :5], chunks[2][0])
    again = list(t.reset().stream(25, chunk=10))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(chunks, again, strict=True))


def test_test_set_is_fixed_and_independent_of_training():
    t = SingleIndex("he3", 8, seed=0)
    X1, _ = t.sample_test(50)
    t.sample(1000)
    X2, _ = t.sample_test(50)
    Xtrain, _ = t.reset().sample(50)
    assert torch.equal(X1, X2) and not torch.equal(X1, Xtrain)


def test_float64_on_request_and_given_directions():
    theta = torch.zeros(5, dtype=torch.float64)
    theta[2] = 1.0
    t = SingleIndex("he1", 5, directions=theta, dtype=torch.float64)
    X, y = t.sample(20)
    assert X.dtype == torch.float64
    assert torch.allclose(y, X[:, 2])


def test_explicit_generator_is_shared_by_replicas():
    t = SingleIndex("he3", 6, replicas=3)
    X, y = t.sample(40, generator=torch.Generator().manual_seed(0))
    assert X.shape == (3, 40, 6) and y.shape == (3, 40)
    assert not torch.equal(X[0], X[1])


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: SingleIndex("he3", 0), "d=0"),
        (lambda: SingleIndex("he3", -3), "d=-3"),
        (lambda: MultiIndex("z1*z2", 10, r=11), "r=11"),
        (lambda: MultiIndex("staircase", 2), "r=3"),
        (lambda: MultiIndex("z1*z2", 10, r=3), "r=3"),
        (lambda: SingleIndex("he3", 10, sparsity=0), "sparsity=0"),
        (lambda: SingleIndex("he3", 10, sparsity=11), "sparsity=11"),
        (lambda: SingleIndex("not_a_link", 10), "link 'not_a_link'"),
        (lambda: SingleIndex("he3", 10, noise=float("nan")), "noise=nan"),
        (lambda: SingleIndex("he3", 10, noise=-1.0), "noise=-1.0"),
        (lambda: SingleIndex("he3", 10).sample(0), "n=0"),
        (lambda: SingleIndex("he3", 10).sample(-5), "n=-5"),
        (lambda: SingleIndex("he3", 10, replicas=0), "replicas=0"),
        (lambda: SingleIndex("he3", 10, dtype=torch.int32), "dtype="),
        (lambda: SingleIndex("z1*z2", 10), "MultiIndex"),
        (lambda: SingleIndex("he3", 4, directions=np.ones(4)), "orthonormal"),
        (lambda: SingleIndex("he3", 4, directions=np.ones(3)), "directions of shape"),
    ],
)
def test_invalid_arguments_name_themselves(build, name):
    with pytest.raises(ValueError) as info:
        build()
    assert name in str(info.value)


@pytest.mark.cuda
def test_sampling_on_cuda_matches_shapes_and_law():
    t = SingleIndex("he3", 64, replicas=4, device="cuda")
    X, y = t.sample(50_000)
    assert X.is_cuda and y.is_cuda and X.shape == (4, 50_000, 64)
    assert abs(float(y.double().var()) - 1) < 5 * math.sqrt((15 - 1) / 200_000) + 0.05


def test_unavailable_device_is_a_clear_value_error():
    """The Python API gives the CLI's device message, not torch's raw generator error."""
    with pytest.raises(ValueError, match="device='tpu' is not allowed"):
        SingleIndex("he3", 8, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda' is not available"):
            SingleIndex("he3", 8, device="cuda")
