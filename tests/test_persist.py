"""Fitted learners pickle (Dask ships them to workers) and save/load in the safe format of
:mod:`indexlab.learners.persist` (npz arrays + JSON metadata, never unpickled): a round trip
gives identical outputs; foreign files, other format versions and unknown learners are
refused with the reason."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from indexlab import __version__
from indexlab.learners import LEARNERS, SIR, Learner, NotFittedError, load, persist
from indexlab.learners.registry import make_learner
from indexlab.targets import SingleIndex

# small sizes, as in the scikit-learn checks (datasets need the link-driven defaults set)
from test_sklearn import CHECK_HYPER


def _outputs(learner, X):
    out = {}
    if learner.learns_directions:
        out["directions_"] = learner.directions_
        out["transform"] = learner.transform(X)
    if learner.predicts:
        out["predict"] = learner.predict(X)
    out["trace"] = {k: learner.trace_[k] for k in learner.trace_.keys()}  # noqa: SIM118
    out["trace samples"] = list(learner.trace_.samples)
    return out


def _same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            _same(a[key], b[key])
        elif isinstance(a[key], (torch.Tensor, np.ndarray)):
            torch.testing.assert_close(torch.as_tensor(a[key]), torch.as_tensor(b[key]),
                                       rtol=0, atol=0, equal_nan=True, msg=key)
        else:
            assert a[key] == b[key], key


@pytest.fixture(scope="module")
def fitted():
    target = SingleIndex("he1", 8, replicas=2, seed=1)
    X = target.sample_test(9)[0]
    return {name: make_learner(name, **hyper).fit(target, n=600)
            for name, hyper in CHECK_HYPER.items()}, X


@pytest.mark.parametrize("name", sorted(CHECK_HYPER))
def test_save_load_round_trip_gives_identical_outputs(name, fitted, tmp_path):
    learners, X = fitted
    learner = learners[name]
    path = learner.save(tmp_path / name)
    assert path.suffix == ".npz"
    back = Learner.load(path)
    assert type(back) is type(learner) and back.get_params() == learner.get_params()
    assert back.replicas_ == 2 and back.n_features_in_ == 8 and back.device_.type == "cpu"
    _same(_outputs(learner, X), _outputs(back, X))
    assert type(learner).load(path).get_params() == learner.get_params()


@pytest.mark.parametrize("name", sorted(CHECK_HYPER))
def test_fitted_learners_pickle(name, fitted):
    learners, X = fitted
    learner = learners[name]
    _same(_outputs(learner, X), _outputs(pickle.loads(pickle.dumps(learner)), X))


def test_a_pickled_network_learner_loads_in_a_fresh_process(fitted, tmp_path):
    """What a Dask worker does: unpickle a fitted learner in another interpreter (nothing of
    this process's closures available) and predict."""
    learners, X = fitted
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(learners["layerwise"]))
    torch.save(X, tmp_path / "X.pt")
    code = textwrap.dedent(f"""
        import pickle, torch
        model = pickle.loads(open({str(tmp_path / 'model.pkl')!r}, 'rb').read())
        X = torch.load({str(tmp_path / 'X.pt')!r})
        torch.save(model.predict(X), {str(tmp_path / 'out.pt')!r})
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    torch.testing.assert_close(torch.load(tmp_path / "out.pt"),
                               learners["layerwise"].predict(X), rtol=0, atol=0)


def test_a_dataframe_fit_keeps_its_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.standard_normal((200, 4)), columns=list("abcd"))
    model = SIR(n_slices=5).fit(frame, frame["a"] ** 3)
    back = load(model.save(tmp_path / "sir.npz"))
    assert list(back.feature_names_in_) == list("abcd")
    np.testing.assert_array_equal(back.transform(frame), model.transform(frame))


def _meta(path):
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    return json.loads(arrays.pop(persist.META).tobytes()), arrays


def _rewrite(path, meta, arrays):
    np.savez(path, **{persist.META: np.frombuffer(json.dumps(meta).encode(), np.uint8)},
             **arrays)


class _Trap:
    """Unpickling this writes a file: the proof that load never unpickles."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_foreign_files_are_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    trap = tmp_path / "trap.npz"
    trap.write_bytes(pickle.dumps(_Trap(str(marker))))
    with pytest.raises(ValueError, match="is not an indexlab learner file"):
        Learner.load(trap)
    np.save(tmp_path / "objects.npy", np.array([_Trap(str(marker))], dtype=object))
    with pytest.raises(ValueError, match="is not an indexlab learner file"):
        Learner.load(tmp_path / "objects.npy")
    assert not marker.exists()
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="is not an indexlab learner file"):
        Learner.load(tmp_path / "text.npz")
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match=r"not one written by Learner.save"):
        Learner.load(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        Learner.load(tmp_path / "missing.npz")


def test_other_format_versions_tags_and_learners_are_refused(fitted, tmp_path):
    learners, _ = fitted
    path = learners["sir"].save(tmp_path / "sir.npz")
    meta, arrays = _meta(path)
    _rewrite(tmp_path / "v2.npz", {**meta, "format_version": 2}, arrays)
    with pytest.raises(ValueError, match=r"format version 2 .* reads format version 1"):
        Learner.load(tmp_path / "v2.npz")
    _rewrite(tmp_path / "tag.npz", {**meta, "format": "somebody-else"}, arrays)
    with pytest.raises(ValueError, match="format 'somebody-else', expected 'indexlab-learner'"):
        Learner.load(tmp_path / "tag.npz")
    _rewrite(tmp_path / "who.npz", {**meta, "learner": "nobody"}, arrays)
    with pytest.raises(ValueError, match="'nobody', which is not registered in this process"):
        Learner.load(tmp_path / "who.npz")
    evil = {**meta, "state": {**meta["state"], "x_": {"__object__": "os.system",
                                                      "fields": {}}}}
    _rewrite(tmp_path / "evil.npz", evil, arrays)
    with pytest.raises(ValueError, match=r"'os.system', which is not a safe type"):
        Learner.load(tmp_path / "evil.npz")
    _rewrite(tmp_path / "old.npz", {**meta, "indexlab": "0.0.1"}, arrays)
    with pytest.warns(UserWarning, match=rf"saved by indexlab 0\.0\.1 \(this is {__version__}\)"):
        Learner.load(tmp_path / "old.npz")
    with pytest.raises(ValueError, match=r"holds a SIR .*not a SAVE: use Learner.load"):
        LEARNERS["save"].load(path)


def test_what_the_format_cannot_hold_is_refused_at_save(tmp_path):
    X = torch.randn(300, 5, generator=torch.Generator().manual_seed(0))
    y = X[:, 0] ** 2
    with pytest.raises(NotFittedError):
        SIR().save(tmp_path / "unfitted")
    model = make_learner("spectral", preprocess=lambda v: v.clamp(-2, 2)).fit(X, y)
    with pytest.raises(TypeError, match=r"hyperparameter preprocess = <function .* cannot be "
                                        "saved in the safe format"):
        model.save(tmp_path / "lambda")
    assert not (tmp_path / "lambda.npz").exists()
    truncated = make_learner("spectral", preprocess="truncation").fit(X, y)
    back = load(truncated.save(tmp_path / "truncation"))
    assert back.preprocess_ == truncated.preprocess_  # a named, safe preprocessing
