"""Classical baselines: spectral estimators, SIR / SAVE / PHD, random features, kernel ridge."""

import math

import numpy as np
import pytest
import torch

from indexlab import MultiIndex, SingleIndex, theory
from indexlab.learners.kernels import KernelRidge, RandomFeatures, kernel_matrix
from indexlab.learners.sdr import PHD, SAVE, SIR
from indexlab.learners.spectral import Spectral, spectral_preprocessing, top_eigenpairs
from indexlab.metrics import max_overlap, principal_angles


def overlap(directions: torch.Tensor, target) -> torch.Tensor:
    """|cos| between the first learned direction and θ*, per replica."""
    return max_overlap(directions[..., :1, :], target.directions[:, 0].to(directions.dtype))


def cosines(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Cosines of the principal angles between two row spaces (all of them, ascending)."""
    return torch.cos(principal_angles(A.double(), B.double()))


# ----------------------------------------------------------------------------------------------
# SIR / SAVE / PHD against statsmodels
# ----------------------------------------------------------------------------------------------

statsmodels_dimred = pytest.importorskip("statsmodels.regression.dimred")


@pytest.mark.parametrize(
    ("learner", "reference", "link"),
    [
        ("SIR", "SlicedInverseReg", "z1 + z2**3"),
        ("SAVE", "SlicedAverageVarianceEstimation", "z1 + z2**3"),
        ("PHD", "PrincipalHessianDirections", "z1**2 + z1*z2"),
    ],
)
def test_sdr_agrees_with_statsmodels(learner, reference, link):
    """Same data, same slicing (n = 6000 in H = 10 slices of 600), float64: the r = 2
    subspaces agree to rounding and so do the eigenvalues (statsmodels' SAVE eigenvalues are
    n/H times ours, see the module docstring). The issue asks for |cos| ≥ 0.999; both sides
    compute the same estimator in float64, so the principal-angle cosines are 1 up to
    ~1e-12 / eigengap and we assert 1 − 1e-9. X is shifted by 3 to exercise the centring."""
    n, d, H = 6000, 8, 10
    target = MultiIndex(link, d, replicas=2, seed=0, dtype=torch.float64)
    X, y = target.sample(n)
    X = X + 3.0
    ours = {"SIR": SIR(n_slices=H, r=2), "SAVE": SAVE(n_slices=H, r=2), "PHD": PHD(r=2)}[learner]
    ours.fit(X, y)
    model = getattr(statsmodels_dimred, reference)
    kwargs = {"slice_n": n // H} if learner != "PHD" else {}
    scale = n / H if learner == "SAVE" else 1.0
    for j in range(2):
        res = model(y[j].numpy(), X[j].numpy().copy()).fit(**kwargs)
        theirs = torch.as_tensor(np.real(res.params[:, :2]).T.copy())
        assert cosines(ours.directions_[j], theirs).min() > 1 - 1e-9
        assert np.allclose(ours.eigenvalues_[j, :4].numpy() * scale, np.real(res.eigs[:4]),
                           rtol=1e-8, atol=1e-12)
        # and the estimate is the hidden subspace (n = 750 d: sin θ = O(√(d/n)) ≈ 0.04)
        assert cosines(ours.directions_[j], target.directions[j]).min() > 0.95


def test_sdr_streams_a_target_in_chunks():
    """PHD from a streamed target equals PHD on the concatenated chunks (sums about the first
    chunk's mean are exact up to rounding); SIR/SAVE from a target whose first chunk holds all
    samples equal the dataset fits (same slices)."""
    target = MultiIndex("z1**2 + z1*z2", 12, replicas=2, seed=4, dtype=torch.float64)
    streamed = PHD(r=2, chunk=700).fit(target, n=3000)
    X, y = zip(*target.reset().stream(3000, chunk=700), strict=True)
    X, y = torch.cat(X, 1), torch.cat(y, 1)
    dataset = PHD(r=2).fit(X, y)
    assert torch.allclose(streamed.eigenvalues_, dataset.eigenvalues_, atol=1e-10)
    assert torch.allclose(streamed.directions_, dataset.directions_, atol=1e-8)
    target = MultiIndex("z1 + z2**3", 12, replicas=2, seed=4, dtype=torch.float64)
    for cls in (SIR, SAVE):
        a = cls(n_slices=8, r=2, chunk=3000).fit(target.reset(), n=3000)
        b = cls(n_slices=8, r=2).fit(*target.reset().sample(3000))
        assert torch.allclose(a.eigenvalues_, b.eigenvalues_, atol=1e-10)
        assert torch.allclose(a.directions_, b.directions_, atol=1e-8)
        # first-chunk quantiles (chunk = n/4) slice almost like the whole sample
        c = cls(n_slices=8, r=2, chunk=750).fit(target.reset(), n=3000)
        assert cosines(c.directions_, target.directions).min() > 0.9


def test_sir_fails_and_save_succeeds_on_an_even_link():
    """Phase retrieval (even link, E[z|y] = 0), d = 100, n = 50 d, 4 replicas.

    SIR: the slice means are pure noise, isotropic in expectation (the θ-variance of a slice
    mean, Σ_h p_h Var(z|h)/n_h = H/n, equals that of any other direction), so its top
    eigenvector is a random direction, |cos| ≈ |N(0, 1/d)|: 0.4 is 4 standard deviations
    (P < 1e-4 per replica). SAVE sees Var(z|y) = y ≠ 1; its error is sin²θ ≈ C d/n
    (measured ≈ 0.02 here), so cos ≥ 0.9 (sin² ≤ 0.19) has a ~10× margin.
    """
    target = SingleIndex("phase_retrieval", 100, replicas=4, seed=0)
    sir = SIR(n_slices=10).fit(target, n=5000)
    save = SAVE(n_slices=10).fit(target.reset(), n=5000)
    assert (overlap(sir.directions_, target) < 0.4).all()
    assert (overlap(save.directions_, target) > 0.9).all()
    assert (save.trace_["overlap"][0] > 0.9).all()


@pytest.mark.parametrize("link", ["he3", "he5"])
def test_sir_and_save_succeed_on_odd_links(link):
    """He3 / He5 (odd, s* = 1: E[z|y] ≠ 0, and Var(z|y) ≠ 1), d = 100, n = 50 d: both find θ*
    with cos ≥ 0.9 (measured 0.96–0.98, sin² ≤ 0.08 against the allowed 0.19)."""
    target = SingleIndex(link, 100, replicas=4, seed=0)
    for learner in (SIR(n_slices=10), SAVE(n_slices=10)):
        fitted = learner.fit(target.reset(), n=5000)
        assert (overlap(fitted.directions_, target) > 0.9).all(), type(learner).__name__


def test_estimate_dimension():
    """Central subspaces of dimension 2 (d = 10, n = 4000, 2 replicas): SIR on z1 + z2³ (a
    strong and a weaker direction, eigenvalues ≈ 0.87, 0.18, then ≤ 0.005), SAVE and PHD on
    z1² + z2² (two equal directions). The eigenvalue-ratio estimate is 2 (λ_1/λ_2, λ_2/λ_3 ≈
    5 and 40 for SIR, 1 and 25 for SAVE, 1 and 12 for PHD, against ≤ 1.5 inside the noise
    bulk). The permutation test (99 permutations, level 0.01) rejects
    m = 0 and m = 1 with the smallest attainable p-value 0.01 (the observed tail statistic is
    tens of times the permuted ones) and, under the true null m = 2, wrongly rejects with
    probability 0.01 per replica."""
    cases = [(SIR(n_slices=10, r=2), "z1 + z2**3"), (SAVE(n_slices=10, r=2), "z1**2 + z2**2"),
             (PHD(r=2), "z1**2 + z2**2")]
    for learner, link in cases:
        X, y = MultiIndex(link, 10, replicas=2, seed=1).sample(4000)
        learner.fit(X, y)
        assert learner.estimate_dimension().tolist() == [2, 2], type(learner).__name__
        dims = learner.estimate_dimension(X, y, method="permutation", max_dim=3,
                                          n_permutations=99, level=0.01)
        assert dims.tolist() == [2, 2], (type(learner).__name__, learner.pvalues_)
        assert (learner.pvalues_[:, :2] == 0.01).all()


# ----------------------------------------------------------------------------------------------
# spectral estimators
# ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_phase_retrieval_weak_recovery_threshold_d2000():
    """Phase retrieval, d = 2000, 2 replicas, optimal preprocessing T* (α_c = 1/2).

    α = 2: the Lu–Li asymptotic overlap of the clipped T* is 0.794 (spec §5.2: 0.799 unclipped,
    simulations at d = 1500 0.796 ± 0.013), so ≥ 0.5 is > 20 standard deviations away.
    α = 0.25 < α_c: no outlier eigenvalue; the top eigenvector is delocalised (overlap
    O(d^{-1/2}) up to edge effects, measured ≈ 0.06–0.11), so ≤ 0.25 holds with a 2× margin.
    Identity preprocessing T(y) = y: the largest label y_max ≈ 2 ln n ≈ 16 makes an outlier
    eigenvalue ≈ y_max d/n ≈ 8 above the signal's, so at α = 2 its top eigenvector is mostly
    the outlier sample (measured overlaps 0.11–0.20, below the 0.5 that T* clears on the same
    data); at α = 8 the outlier drops to ≈ 2.4 and the signal wins (measured 0.78): identity
    needs a ~4× larger α here, and n ≳ d log n asymptotically.
    """
    d = 2000
    target = SingleIndex("phase_retrieval", d, replicas=2, seed=0)
    X, y = target.sample(d // 4)
    below = Spectral(link="phase_retrieval").fit(X, y)
    assert (overlap(below.directions_, target) <= 0.25).all()
    X, y = target.sample(2 * d)
    optimal = Spectral(link="phase_retrieval").fit(X, y)
    identity = Spectral(preprocess="identity").fit(X, y)
    assert optimal.matrix_free is None and optimal.converged_.all()
    assert (overlap(optimal.directions_, target) >= 0.5).all()
    assert (overlap(identity.directions_, target) < 0.5).all()
    X, y = target.sample(8 * d)
    assert (overlap(Spectral(preprocess="identity").fit(X, y).directions_, target) >= 0.5).all()


def test_spectral_replicas_equal_separate_runs():
    """R = 4 replicas give the four R = 1 answers (replicas=[j] draws the same data when the
    chunk size is the same): each replica's Lanczos run is frozen at its own convergence
    check, so only rounding differs. Streamed target (D accumulated) and matrix-free dataset."""
    kw = {"d": 150, "seed": 3, "dtype": torch.float64}
    batch = SingleIndex("phase_retrieval", replicas=4, **kw)
    together = Spectral(r=2, chunk=256).fit(batch, n=600)
    X, y = batch.reset().sample(600)
    free = Spectral(r=2, link="phase_retrieval", matrix_free=True).fit(X, y)
    for j in range(4):
        single = SingleIndex("phase_retrieval", replicas=[j], **kw)
        alone = Spectral(r=2, chunk=256).fit(single, n=600)
        assert torch.allclose(together.directions_[j], alone.directions_[0], atol=1e-9)
        assert torch.allclose(together.eigenvalues_[j], alone.eigenvalues_[0], atol=1e-10)
        assert together.iterations_[j] == alone.iterations_[0]
        Xj, yj = single.reset().sample(600)
        alone_free = Spectral(r=2, link="phase_retrieval", matrix_free=True).fit(Xj, yj)
        assert torch.allclose(free.directions_[j], alone_free.directions_[0], atol=1e-9)
    assert torch.allclose(free.directions_, together.directions_, atol=1e-6)


@pytest.mark.parametrize("matrix_free", [False, True])
def test_spectral_matches_dense_eigh(matrix_free):
    """Top-3 eigenpairs of D = (1/n) Σ T(y) x xᵀ equal those of torch.linalg.eigh (float64)."""
    target = MultiIndex("z1**2 + z2**2", 60, replicas=3, seed=2, dtype=torch.float64)
    X, y = target.sample(500)
    T = spectral_preprocessing("truncation", threshold=4.0)
    D = (X * T(y)[..., None]).transpose(1, 2) @ X / 500
    values, vectors = torch.linalg.eigh(D)
    fit = Spectral(preprocess="truncation", threshold=4.0, r=3, matrix_free=matrix_free)
    fit.fit(X, y)
    assert fit.converged_.all()
    assert torch.allclose(fit.eigenvalues_, values[:, -3:].flip(1), atol=1e-10)
    cos = (fit.directions_ * vectors[..., -3:].flip(-1).transpose(1, 2)).sum(-1).abs()
    assert torch.allclose(cos, torch.ones_like(cos), atol=1e-8)


def test_lanczos_stops_at_an_invariant_subspace():
    """A rank-3 matrix: the Krylov space closes after 4 vectors; pairs are still exact."""
    g = torch.Generator().manual_seed(0)
    V = torch.linalg.qr(torch.randn(2, 40, 3, generator=g, dtype=torch.float64)).Q
    A = V @ torch.diag_embed(torch.tensor([[3.0, 2.0, 1.0]] * 2, dtype=torch.float64)) @ V.mT
    start = torch.randn(2, 1, 40, generator=g, dtype=torch.float64)
    pairs = top_eigenpairs(lambda Q: Q @ A, start, 1, 1e-10, 60)
    assert torch.allclose(pairs.values[:, 0], torch.tensor([3.0, 3.0], dtype=torch.float64))
    assert torch.allclose((pairs.vectors[:, 0] * V[..., 0]).sum(-1).abs(),
                          torch.ones(2, dtype=torch.float64), atol=1e-8)


def test_preprocessings():
    """T* = 1 − 1/y for y = z² (table within 1e-2 on [0.2, 6], clipped at the floor −10 for
    y < 1/11); truncation clamps at ±τ; label_transform is theory's ζ_2/λ_2; callables pass."""
    T = spectral_preprocessing("optimal", "phase_retrieval")
    y = torch.linspace(0.2, 6.0, 50, dtype=torch.float64)
    assert torch.allclose(T(y), 1 - 1 / y, atol=1e-2)
    assert torch.allclose(T(torch.tensor([1e-6, 0.05])), torch.tensor([-10.0, -10.0]))
    assert (spectral_preprocessing("truncation", threshold=3.0)(torch.tensor([-5.0, 1.0, 9.0]))
            == torch.tensor([-3.0, 1.0, 3.0])).all()
    lt = spectral_preprocessing("label_transform", "he4")
    ref = theory.label_transform("he4", 2)
    assert torch.allclose(lt(torch.tensor([0.3, 2.0])), ref(torch.tensor([0.3, 2.0])))
    assert spectral_preprocessing(torch.tanh) is torch.tanh


def test_shapes_dtypes_transform_and_trace():
    """No replica axis in → none out; float64 in → float64 out; transform projects."""
    target = SingleIndex("phase_retrieval", 40, seed=1)
    fit = Spectral(r=2).fit(target, n=400)
    assert fit.directions_.shape == (2, 40) and fit.eigenvalues_.shape == (2,)
    assert fit.directions_.dtype == torch.float32 and fit.samples_ == 400
    X, _ = target.sample(7)
    assert torch.allclose(fit.transform(X), X @ fit.directions_.T)
    assert set(fit.trace_.keys()) == {"top_eigenvalue", "subspace_distance", "overlap"}
    X, y = MultiIndex("z1 + z2**3", 9, replicas=3, seed=0, dtype=torch.float64).sample(300)
    for learner in (SIR(r=2), SAVE(r=2), PHD(r=2), Spectral(preprocess="identity", r=2)):
        fitted = learner.fit(X, y)
        assert fitted.directions_.shape == (3, 2, 9)
        assert fitted.directions_.dtype == torch.float64
        assert fitted.transform(X[:, :5]).shape == (3, 5, 2)
        assert not fitted.diverged_.any()
    sir = SIR(r=1).fit(X[0], y[0])
    assert sir.directions_.shape == (1, 9) and sir.eigenvalues_.shape == (9,)
    assert torch.allclose(sir.transform(X[0]), (X[0] - sir.mean_) @ sir.directions_.T)
    assert sir.estimate_dimension().ndim == 0


def test_a_bad_replica_is_flagged_and_does_not_spoil_the_others():
    """A NaN in replica 1 (in X, or in y) marks it diverged (NaN directions); replica 0 is
    untouched."""
    X, y = SingleIndex("phase_retrieval", 30, replicas=2, seed=0).sample(300)
    clean = [learner.fit(X, y).directions_[0].clone() for learner in
             (Spectral(link="phase_retrieval"), SIR(), SAVE(), PHD())]
    Xb, yb = X.clone(), y.clone()
    Xb[1, 3, 4] = math.nan
    yb[1, 7] = math.nan
    for data in ((Xb, y), (X, yb)):
        for learner, ref in zip((Spectral(link="phase_retrieval"), SIR(), SAVE(), PHD()),
                                clean, strict=True):
            fitted = learner.fit(*data)
            assert fitted.diverged_.tolist() == [False, True], type(learner).__name__
            assert torch.isnan(fitted.directions_[1]).all()
            assert torch.allclose(fitted.directions_[0], ref)


def test_validation_errors_name_the_argument():
    X, y = SingleIndex("he2", 6, seed=0).sample(50)
    target = SingleIndex("he2", 6, seed=0)
    cases = [
        (lambda: SIR(n_slices=1).fit(X, y), "n_slices=1"),
        (lambda: SAVE(n_slices=60).fit(X, y), "n_slices=60"),
        (lambda: SIR(r=0).fit(X, y), "r=0"),
        (lambda: PHD(r=7).fit(X, y), "r=7"),
        (lambda: Spectral(preprocess="square").fit(target, n=50), "preprocess='square'"),
        (lambda: Spectral(r=9).fit(target, n=50), "r=9"),
        (lambda: Spectral().fit(X, y), "needs the link"),
        (lambda: Spectral(matrix_free=True).fit(target, n=50), "matrix_free=True"),
        (lambda: Spectral(preprocess="truncation", threshold=-1.0).fit(X, y), "threshold=-1.0"),
        (lambda: Spectral(link="z1*z2").fit(X, y), "r=2"),
        (lambda: Spectral(link="sign").fit(X, y), "E[z²|y]"),
        (lambda: RandomFeatures(ridge=-1.0).fit(X, y), "ridge=-1.0"),
        (lambda: RandomFeatures(m=0).fit(X, y), "m=0"),
        (lambda: RandomFeatures(activation="gelu").fit(X, y), "activation='gelu'"),
        (lambda: KernelRidge(kernel="sinc").fit(X, y), "kernel='sinc'"),
        (lambda: KernelRidge(bandwidth=0.0).fit(X, y), "bandwidth=0.0"),
        (lambda: SIR().fit(X, y).estimate_dimension(method="scree"), "method='scree'"),
        (lambda: SIR().fit(X, y).estimate_dimension(X, y, method="permutation", level=2.0),
         "level=2.0"),
        (lambda: SIR().transform(X), "not fitted"),
    ]
    for call, text in cases:
        with pytest.raises(ValueError, match=None) as err:
            call()
        assert text in str(err.value), (text, str(err.value))


# ----------------------------------------------------------------------------------------------
# random features and kernel ridge
# ----------------------------------------------------------------------------------------------


def test_kernel_learners_have_no_directions():
    X, y = SingleIndex("he1", 5, seed=0).sample(100)
    for learner in (RandomFeatures(m=32), KernelRidge()):
        fitted = learner.fit(X, y)
        with pytest.raises(AttributeError, match="learns no features"):
            _ = fitted.directions_
        assert not hasattr(fitted, "directions_") and not hasattr(fitted, "transform")
        assert fitted.predict(X).shape == (100,) and fitted.samples_ == 100


def test_random_features_replicas_and_ridge_solution():
    """Replica j of an R = 3 fit equals a replicas=[j] fit, and the coefficients solve the
    normal equations (ΦᵀΦ + n·ridge I) a = Φᵀ(y − ȳ) on the streamed data."""
    kw = {"d": 12, "seed": 5, "dtype": torch.float64}
    batch = SingleIndex("relu", replicas=3, **kw)
    fit = RandomFeatures(m=64, ridge=1e-2, chunk=100).fit(batch, n=500)
    for j in range(3):
        alone = RandomFeatures(m=64, ridge=1e-2, chunk=100).fit(
            SingleIndex("relu", replicas=[j], **kw), n=500)
        assert torch.allclose(fit.coef_[j], alone.coef_[0], atol=1e-10)
    X, y = zip(*batch.reset().stream(500, chunk=100), strict=True)
    X, y = torch.cat(X, 1), torch.cat(y, 1)
    Phi = fit.features(X)
    lhs = Phi.mT @ Phi @ fit.coef_[..., None] + 500 * 1e-2 * fit.coef_[..., None]
    rhs = Phi.mT @ (y - y.mean(1, keepdim=True))[..., None]
    assert torch.allclose(lhs, rhs, atol=1e-8)
    assert torch.allclose(fit.predict(X), (Phi @ fit.coef_[..., None])[..., 0]
                          + y.mean(1, keepdim=True))


def test_kernel_ridge_interpolates_and_random_features_approximate_its_kernel():
    """ridge = 0 interpolates the training labels; ReLU random features without bias are a
    Monte Carlo estimate of the arccos kernel: ΦΦᵀ = (1/m) Σ_j relu(w_j·x) relu(w_j·x'). Its
    Frobenius-relative error follows the Monte Carlo law c/√m with c ≈ 2.6 on these points
    (0.118, 0.058, 0.034 at m = 512, 2048, 8192), so ≤ 0.1 at m = 2048 is 1.7× the expected
    value, while a wrong kernel formula (a factor, the bandwidth, the angle term) is off by
    O(1)."""
    X, y = SingleIndex("he2", 8, seed=2, dtype=torch.float64).sample(200)
    krr = KernelRidge(kernel="rbf", ridge=0.0).fit(X, y)
    assert torch.allclose(krr.predict(X), y, atol=1e-6)
    rf = RandomFeatures(m=2048, activation="relu", bias=0.0, ridge=1.0).fit(X[:50], y[:50])
    Phi = rf.features(X[None])[0]
    K = kernel_matrix("arccos", X[None], X[None], math.sqrt(8))[0]
    assert (Phi @ Phi.T - K).norm() < 0.1 * K.norm()


@pytest.mark.slow
def test_no_feature_learning_needs_n_of_order_d_to_the_degree():
    """d = 20: a degree-1 target (he1) is learned at n = 10 d (test error ≤ 0.05), a degree-2
    target (he2) is not (≥ 0.4: n = 200 is below the 210 dimensions of the degree-2
    harmonics, which must all be fitted) and is at n = 8 d² (KRR ≤ 0.1, RF with m = 2048
    ≤ 0.25; measured 0.05 and 0.15)."""
    d = 20
    for link, n, bound_krr, bound_rf, below in [("he1", 10 * d, 0.05, 0.05, True),
                                                 ("he2", 10 * d, 0.4, 0.4, False),
                                                 ("he2", 8 * d * d, 0.1, 0.25, True)]:
        target = SingleIndex(link, d, replicas=2, seed=0)
        krr = KernelRidge(ridge=1e-4).fit(target, n=n).test_error(target, 4000)
        rf = RandomFeatures(m=2048, ridge=1e-4).fit(target.reset(), n=n).test_error(target, 4000)
        if below:
            assert (krr <= bound_krr).all() and (rf <= bound_rf).all(), (link, n, krr, rf)
        else:
            assert (krr >= bound_krr).all() and (rf >= bound_rf).all(), (link, n, krr, rf)


def test_random_features_far_behind_unified_on_he2_at_n_10d():
    """he2, d = 64, n = 10 d = 640, R = 8. Random features cannot fit a degree-2 target from
    fewer samples than the d(d+1)/2 = 2080 degree-2 harmonics, so their normalised test error
    stays near 1 (measured 1.03 ± 0.02); Unified learns the direction from O(d) samples
    (overlap ρ ≈ 0.85) and its ridge second layer then explains about ρ⁴ of the variance
    (measured test error 0.40, worst replica 0.49). Bounds: RF ≥ 0.9 in every replica,
    Unified ≤ 0.7 in every replica (4 replica sd above its mean). Unified runs with
    lr_constant = 1: at a budget this small the default search step (0.1, calibrated for the
    d^{s*/2} log d regime of spec §7) spends the whole budget escaping mediocrity, and without
    the hold caps of issue 13 (learners/holding.py): at n = 10 d the quickest partial recovery
    is the large step that does not hold a direction (its 1 − m* ≈ 0.3); capped, the overlap
    is 0.39–0.66 and the test error 0.84–0.99 (measured), which says nothing about RF."""
    from indexlab.experiments.single_run import replica_metrics
    from indexlab.learners import Unified

    d = 64
    target = SingleIndex("he2", d, replicas=8, seed=0)
    unified = Unified(seed=0, lr_constant=1.0, hold_search=None,
                      hold_descent=None).fit(target, n=10 * d)
    mse_unified = replica_metrics(target, unified, 4000)["test_mse"]
    rf = RandomFeatures(m=1024, seed=0).fit(target.reset(), n=10 * d)
    mse_rf = rf.test_error(target, 4000)
    assert (mse_rf >= 0.9).all(), mse_rf
    assert (mse_unified <= 0.7).all(), mse_unified


@pytest.mark.cuda
def test_baselines_run_on_cuda_like_on_cpu():
    """Same data on the GPU: same directions (float64, up to rounding) and devices kept."""
    X, y = MultiIndex("z1 + z2**3", 16, replicas=2, seed=0, dtype=torch.float64).sample(2000)
    for learner in (SIR(r=2), SAVE(r=2), PHD(r=2), Spectral(preprocess="truncation", r=2)):
        cpu = learner.fit(X, y).directions_
        gpu = learner.fit(X.cuda(), y.cuda()).directions_
        assert gpu.is_cuda and torch.allclose(gpu.cpu(), cpu, atol=1e-8)
    target = SingleIndex("he2", 16, replicas=2, seed=0, device="cuda")
    rf = RandomFeatures(m=128).fit(target, n=1000)
    assert rf.predict(target.sample(10)[0]).is_cuda
    assert math.isfinite(float(rf.test_error(target, 500).max()))
