"""The one learner contract (``indexlab.learners.base.Learner``) checked on every learner:
scikit-learn's ``get_params``/``set_params``/``clone``, validation by ``fit`` and by the spec
loader, numpy in → numpy out, the not-fitted error, hyperparameters never mutated by ``fit``,
capability flags that say what the fitted learner has."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from sklearn.base import clone

from _small_hyper import SMALL
from indexlab.experiments.spec import SpecError, parse_spec
from indexlab.learners import LEARNERS, BatchReuseSGD, LayerwiseGD, Learner, NotFittedError, Trace
from indexlab.learners.registry import make_learner
from indexlab.targets import SingleIndex


def test_every_registered_learner_is_covered():
    assert set(SMALL) == set(LEARNERS)
    assert all(issubclass(cls, Learner) for cls in LEARNERS.values())


@pytest.fixture(scope="module")
def data():
    X, y = SingleIndex("he1", 8, seed=0, dtype=torch.float64).sample(600)
    return X, y


@pytest.mark.parametrize("name", sorted(SMALL))
def test_get_params_set_params_and_sklearn_clone(name):
    learner = make_learner(name, **SMALL[name])
    params = learner.get_params()
    assert list(params) == list(type(learner).hyperparameter_names())
    twin = clone(learner)
    assert twin is not learner and type(twin) is type(learner)
    assert twin.get_params() == params
    key = next(iter(SMALL[name]), None) or next(iter(params))
    twin.set_params(**{key: params[key]})
    assert twin.get_params() == params
    with pytest.raises(ValueError, match="not_a_parameter"):
        learner.set_params(not_a_parameter=1)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_numpy_in_numpy_out_and_torch_in_torch_out(name, data):
    X, y = data
    on_torch = make_learner(name, **SMALL[name]).fit(X, y)
    on_numpy = make_learner(name, **SMALL[name]).fit(X.numpy(), y.numpy())
    methods = [m for m, flag in (("predict", on_torch.predicts),
                                 ("transform", on_torch.learns_directions)) if flag]
    assert methods, f"{name} offers neither predict nor transform"
    for method in methods:
        t_out = getattr(on_torch, method)(X[:20])
        n_out = getattr(on_numpy, method)(X[:20].numpy())
        assert isinstance(t_out, torch.Tensor) and isinstance(n_out, np.ndarray)
        assert n_out.shape == tuple(t_out.shape)
        np.testing.assert_allclose(n_out, t_out.numpy(), rtol=1e-6, atol=1e-8)
        mixed = getattr(on_torch, method)(X[:20].numpy())  # numpy into a torch-fitted one
        assert isinstance(mixed, np.ndarray)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_predict_and_transform_before_fit_raise_not_fitted(name):
    learner = make_learner(name, **SMALL[name])
    fitted_state = [k for k in vars(learner) if k.endswith("_")]
    assert fitted_state == [], f"{name} sets {fitted_state} before fit"  # sklearn's rule
    X = torch.randn(5, 8)
    for method in ("predict", "transform"):
        if not callable(getattr(type(learner), method, None)):
            continue
        with pytest.raises(NotFittedError, match="not fitted yet"):
            getattr(learner, method)(X)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_fit_keeps_hyperparameters_and_flags_match_the_fitted_state(name):
    target = SingleIndex("he1", 8, replicas=2, seed=1, dtype=torch.float64)
    learner = make_learner(name, **SMALL[name])
    before = dict(learner.get_params())
    learner.fit(target, n=600)
    assert learner.get_params() == before
    assert isinstance(learner.trace_, Trace) and learner.trace_.samples
    assert learner.diverged_.shape == (2,) and learner.replicas_ == 2
    if learner.learns_directions:
        assert learner.directions_.shape[-1] == 8
        assert learner.overlap(target.directions[:, 0]).shape == (2,)
    else:
        with pytest.raises(AttributeError, match="learns no features"):
            learner.directions_  # noqa: B018
    if learner.estimates_subspace:
        assert learner.subspace_.shape[-1] == 8
    if learner.predicts:
        assert learner.predict(target.sample_test(7)[0]).shape == (2, 7)
    if learner.traced:
        assert len(learner.trace_.samples) > 1 and "overlap" in learner.trace_


def test_layerwise_r_is_derived_not_written_back():
    from indexlab.targets import MultiIndex

    target = MultiIndex("he2+he4", 8, replicas=1, seed=0)
    learner = LayerwiseGD(width=8, t1=2).fit(target, n=800)
    assert learner.r is None and learner.r_ == 2 and learner.subspace_.shape == (1, 2, 8)


@pytest.mark.parametrize("ignored", ["loss", "label_transform", "smoothing", "exponent", "link"])
def test_batch_reuse_offers_no_hyperparameter_it_ignores(ignored):
    assert ignored not in BatchReuseSGD.hyperparameter_names()
    with pytest.raises(TypeError):
        BatchReuseSGD(**{ignored: None})
    with pytest.raises(ValueError, match=f"{ignored} not known to 'batch_reuse_sgd'"):
        make_learner("batch_reuse_sgd", **{ignored: 1})


@pytest.mark.parametrize("name, hyper, field", [
    ("sir", {"n_slices": 1}, "n_slices=1"),
    ("kernel_ridge", {"ridge": -1}, "ridge=-1"),
    ("spectral", {"preprocess": "nonsense"}, "preprocess='nonsense'"),
    ("layerwise", {"width": 7}, "width=7"),
    ("unified", {"label_transform": "magic"}, "label_transform='magic'"),
    ("batch_reuse_sgd", {"epochs": 0}, "epochs=0"),
])
def test_bad_hyperparameters_are_refused_by_fit_and_by_the_spec_loader(name, hyper, field, data):
    with pytest.raises(ValueError, match=f"{field} is not allowed: use "):
        make_learner(name, **hyper).fit(*data)
    spec = {"targets": [{"link": "he2", "d": [8]}], "budget": {"n": [100]},
            "learners": [{"name": name, "hyper": hyper}]}
    with pytest.raises(SpecError, match=rf"learners\[0\]\.hyper at d=8: {field} is not"):
        parse_spec(spec)


def test_constraint_messages_name_every_alternative():
    with pytest.raises(ValueError, match=r"lr=-1 is not allowed: use a number > 0 or None"):
        make_learner("unified", lr=-1).validate()
    with pytest.raises(ValueError, match=r"width=True is not allowed: use an integer >= 1"):
        make_learner("unified", width=True).validate()


def test_capability_flags_are_declared_on_the_classes():
    flags = {name: (cls.learns_directions, cls.estimates_subspace, cls.traced,
                    cls.stage_budgets, cls.width_parameter) for name, cls in LEARNERS.items()}
    assert flags["random_features"] == (False, False, False, False, "m")
    assert flags["kernel_ridge"] == (False, False, False, False, None)
    assert flags["layerwise"] == (True, True, False, True, "width")
    assert flags["unified"] == (True, False, True, False, "width")
    assert flags["sir"] == (True, True, False, False, None)
    assert all("full" in cls.engines for cls in LEARNERS.values())


def test_spec_trace_needs_a_traced_learner():
    spec = {"targets": [{"link": "he2", "d": [8]}], "budget": {"n": [100]},
            "learners": [{"name": "spectral", "trace": True}]}
    with pytest.raises(SpecError, match=r"learners\[0\]\.trace=true .* spectral fits in one"):
        parse_spec(spec)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_help_lists_every_hyperparameter_with_default_and_meaning(name):
    cls = LEARNERS[name]
    doc = cls.__doc__
    for f in cls.hyperparameter_fields():
        line = next((ln for ln in doc.splitlines() if ln.strip().startswith(f"{f.name} = ")),
                    None)
        assert line is not None, f"help({cls.__name__}) does not list {f.name}"
        assert "allowed: " in line and "declared in " in line
        meaning = doc.splitlines()[doc.splitlines().index(line) + 1].strip()
        assert meaning and not re.match(r"\w+ = ", meaning), f"{f.name} has no meaning"


def test_instance_flags_read_as_booleans_on_the_class_and_follow_the_instance():
    from indexlab.learners import Unified

    assert Unified.predicts is True
    assert Unified(ridge_samples=0).predicts is False and Unified().predicts is True
    assert all(isinstance(cls.predicts, bool) for cls in LEARNERS.values())
