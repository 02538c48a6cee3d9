"""Every learner that fits on data is a scikit-learn estimator: scikit-learn's own
``check_estimator`` suite runs on each (small sizes set through the constructor), and the
checks that cannot apply are listed below with their reasons (``EXPECTED_FAILURES``, strict:
a listed check that starts passing fails this test, so the list stays true).

Configured, not skipped: the neural-network learners (the spherical online learners and the
layer-wise family) declare scikit-learn's ``poor_score`` tag, so ``check_regressors_train``
runs all its checks (shapes, lists, inconsistent lengths) except R² > 0.5 on 200 samples of a
linear link, which these single-index feature learners do not promise (their
``__sklearn_tags__`` docstrings say why).

The whole module takes about 10 s on one loaded core (measured with ``--durations``), so it
stays in the fast tier.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_regressor
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from _small_hyper import SMALL
from indexlab.learners import LEARNERS, NotFittedError
from indexlab.learners.registry import make_learner

# small sizes for the checks' datasets (n ≈ 20–200, d ≈ 1–10); datasets come without a link,
# so the link-driven defaults are set here (an exponent, the identity transform)
CHECK_HYPER = {
    **SMALL,
    "sparse_unified": {**SMALL["sparse_unified"], "sparsity": 1},  # d may be 1 in the checks
    "sir": dict(n_slices=3),  # n may be ≈ 20 in the checks
    "save": dict(n_slices=3),
    # a dataset brings no link: GAMP is told one (the linear link, which the checks' data
    # follow), at its default iterations and nodes
    "gamp": dict(link="he1", r=1),
}

# the checks that cannot pass, with the reason; the same for every learner
EXPECTED_FAILURES = {
    "check_estimators_nan_inf": (
        "NaN or inf in X is accepted on purpose: the library's rule is that a replica whose "
        "data or run is not finite is flagged in diverged_ (its outputs NaN) while the other "
        "replicas of the same batched fit go on, not an error for the whole fit "
        "(tests/test_adversarial.py checks the flags)"),
}


def test_every_learner_that_fits_on_data_is_checked():
    assert set(CHECK_HYPER) == set(LEARNERS)


def _expected(estimator) -> dict[str, str]:
    return dict(EXPECTED_FAILURES)


@parametrize_with_checks([make_learner(name, **hyper) for name, hyper in CHECK_HYPER.items()],
                         expected_failed_checks=_expected, xfail_strict=True)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _regression(n=300, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, X[:, 0] + 0.1 * rng.standard_normal(n)


def test_pandas_frames_ints_and_lists_fit_and_keep_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = _regression()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    model = make_learner("sir", n_slices=5).fit(frame, pd.Series(y))
    assert list(model.feature_names_in_) == list(frame.columns) and model.n_features_in_ == 6
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        np.testing.assert_allclose(model.transform(frame), model.transform(X))
    with pytest.raises(ValueError, match="feature names should match"):
        model.transform(frame.rename(columns={"x0": "other"}))
    assert not hasattr(make_learner("sir", n_slices=5).fit(X, y), "feature_names_in_")
    ints = np.round(3 * X).astype(np.int64)
    from_ints = make_learner("sir", n_slices=5).fit(ints, y)
    from_lists = make_learner("sir", n_slices=5).fit(ints.tolist(), y.tolist())
    np.testing.assert_array_equal(from_ints.directions_, from_lists.directions_)
    assert from_ints.directions_.dtype == torch.float64  # ints validated to float64


def test_replicated_data_and_targets_keep_working_beside_sklearn_validation():
    from indexlab.targets import SingleIndex

    target = SingleIndex("he1", 8, replicas=3, seed=0, dtype=torch.float64)
    X, y = target.sample(400)  # (3, 400, 8), (3, 400)
    on_numpy = make_learner("sir").fit(X.numpy(), y.numpy())
    on_torch = make_learner("sir").fit(X, y)
    assert on_numpy.directions_.shape == (3, 1, 8) and on_numpy.n_features_in_ == 8
    np.testing.assert_array_equal(on_numpy.directions_, on_torch.directions_)
    assert on_numpy.transform(X.numpy()).shape == (3, 400, 1)
    streamed = make_learner("sir").fit(target, n=400)
    assert streamed.replicas_ == 3 and streamed.n_features_in_ == 8


@pytest.mark.parametrize("name", sorted(CHECK_HYPER))
def test_fitted_state_is_set_by_fit_only(name):
    learner = make_learner(name, **CHECK_HYPER[name])
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(learner)
    with pytest.raises(SklearnNotFittedError):  # ours is scikit-learn's
        learner.check_fitted()
    assert issubclass(NotFittedError, SklearnNotFittedError)
    X, y = _regression(n=200, d=5)
    learner.fit(X, y)
    check_is_fitted(learner)
    assert learner.n_features_in_ == 5 and learner.trace_ is not None
    assert is_regressor(learner) == bool(type(learner).predicts)


def test_sir_in_a_pipeline_with_grid_search():
    X, y = _regression(n=400, d=6)
    X = X * np.arange(1, 7)  # scales the pipeline's scaler undoes
    pipe = make_pipeline(StandardScaler(), make_learner("sir"), make_learner("kernel_ridge"))
    search = GridSearchCV(pipe, {"sir__n_slices": [5, 10], "kernelridge__ridge": [1e-3, 1e-1]},
                          cv=3).fit(X, y)
    assert search.best_score_ > 0.8  # y = x_0 + noise 0.1: R² ≈ 0.99 when SIR finds x_0
    assert clone(search.best_estimator_).get_params()["sir__n_slices"] in (5, 10)
