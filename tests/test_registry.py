"""The one registry and the capabilities declared on the learner classes.

* every registered learner declares a cost, known capabilities of the right types, a theory
  key that :mod:`indexlab.theory` predicts; a class that does not is refused at
  registration (at import), not in a user's run;
* no mechanism module outside ``learners/`` keeps a list of learner names or calls a private
  method of a learner (read from the source with ``ast``);
* the guard reads each learner's own cost for the engine it runs (the chain has no ``d``);
* the exponent check of ``preflight`` uses the exponent the learner itself uses.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import ClassVar

import pytest

from indexlab import theory
from indexlab.experiments.guards import estimate
from indexlab.experiments.preflight import check_compatible
from indexlab.learners import LEARNERS, Learner
from indexlab.learners.chain import CHUNK_NUMBERS
from indexlab.learners.costs import CHAIN_CHUNK_NUMBERS, Cost
from indexlab.learners.registry import (
    check_declarations,
    learner_class,
    make_learner,
    register_learner,
)
from indexlab.links import get_link

SRC = Path(__file__).resolve().parents[1] / "src" / "indexlab"
# the mechanism modules: they read learners through the registry and the capabilities only
MECHANISM = ["cli.py", *(f"experiments/{name}" for name in (
    "guards.py", "preflight.py", "spec.py", "runner.py", "compare.py", "cli.py",
    "single_run.py", "progress_bars.py", "analysis.py", "adaptive.py", "report.py",
    "measures.py", "judge.py", "reproduce.py", "provenance.py"))]
MECHANISM += [str(p.relative_to(SRC)) for p in (SRC / "experiments" / "store").glob("*.py")]
# one learner name may appear as a default value of a command-line option
ALLOWED_NAMES = {("cli.py", "unified")}


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_every_registered_learner_declares_its_capabilities(name):
    cls = LEARNERS[name]
    check_declarations(cls)
    assert cls.registry_name == name and cls.label() == name
    cost = cls.cost({}, 64, 1000, 2)
    assert isinstance(cost, Cost) and cost.flops > 0 and cost.draws > 0 and cost.parts
    assert cls.theory_key is None or cls.theory_key in theory.ALGORITHMS
    assert cls.exponent_kind in (None, "generative", "information")


def test_theory_keys_are_the_algorithms_the_theory_predicts():
    keys = {name: cls.theory_key for name, cls in LEARNERS.items() if cls.theory_key}
    assert keys == {"online_sgd": "online_sgd", "smoothed_sgd": "smoothed_sgd",
                    "unified": "unified", "sparse_unified": "sparse_unified",
                    "batch_reuse_sgd": "batch_reuse_sgd", "layerwise": "layerwise",
                    "one_step": "one_step", "gamp": "amp"}


def _learner(**extra):
    @dataclasses.dataclass
    class Mine(Learner):
        width: int = 3

    for key, value in extra.items():
        setattr(Mine, key, value)
    return Mine


def test_a_learner_without_a_cost_is_refused_at_registration():
    with pytest.raises(TypeError, match="declares no cost"):
        register_learner("mine_without_cost", _learner())
    assert "mine_without_cost" not in LEARNERS


def _cost(cls, hyper, d, n, replicas, r=1):
    return Cost({"x": float(d)}, float(n), float(n))


def test_a_misspelt_or_mistyped_capability_is_refused_at_registration():
    with pytest.raises(TypeError, match=r"'predict'.*not a capability.*did you mean"):
        register_learner("mine_typo", _learner(cost=classmethod(_cost), predict=True))
    with pytest.raises(TypeError, match=r"traced=.*must be bool"):
        register_learner("mine_type", _learner(cost=classmethod(_cost), traced="yes"))
    with pytest.raises(TypeError, match="theory_key='nonsense'"):
        register_learner("mine_key", _learner(cost=classmethod(_cost), theory_key="nonsense"))
    with pytest.raises(TypeError, match="no 'engine' hyperparameter"):
        register_learner("mine_engines", _learner(cost=classmethod(_cost),
                                                  engines=("full", "chain")))
    assert not {"mine_typo", "mine_type", "mine_key", "mine_engines"} & set(LEARNERS)


def test_a_declared_learner_registers_and_is_made_by_name():
    cls = _learner(cost=classmethod(_cost), traced=False)
    try:
        assert register_learner("mine_ok", cls) is cls
        assert learner_class("mine_ok") is cls and cls.label() == "mine_ok"
        assert make_learner("mine_ok", width=5).width == 5
        with pytest.raises(ValueError, match="taken by"):
            register_learner("unified", cls)
        with pytest.raises(ValueError, match=r"widht.*did you mean 'width'"):
            make_learner("mine_ok", widht=5)
    finally:
        LEARNERS.pop("mine_ok", None)


def test_an_unknown_learner_name_keeps_its_did_you_mean():
    with pytest.raises(ValueError, match=r"learner='unifed' is not allowed.*did you mean "
                                         r"'unified'"):
        learner_class("unifed")


def _strings(tree: ast.AST) -> list[str]:
    """String constants of a module, docstrings excluded."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                                                                     ast.Constant):
                docstrings.add(id(body[0].value))
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def _private_learner_methods() -> set[str]:
    """Names of the private methods and attributes the learner classes define."""
    names: set[str] = set()
    for cls in LEARNERS.values():
        for klass in cls.__mro__:
            if klass.__module__.startswith("indexlab.learners"):
                names |= {k for k in vars(klass) if k.startswith("_") and not k.startswith("__")}
    return names


@pytest.mark.parametrize("module", MECHANISM)
def test_mechanism_modules_keep_no_learner_names_and_call_no_private_method(module):
    path = SRC / module
    if not path.exists():
        pytest.skip(f"{module} is not in this version")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = [s for s in _strings(tree) if s in LEARNERS and (module, s) not in ALLOWED_NAMES]
    assert not names, f"{module} names learners {names}: read the registry's capabilities"
    private = _private_learner_methods()
    calls = [node.attr for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr in private
             and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))]
    assert not calls, f"{module} uses private learner members {sorted(set(calls))}"


def test_the_claims_call_no_private_learner_method():
    private = _private_learner_methods()
    root = SRC / "experiments"
    paths = [root / "claims.py"] if (root / "claims.py").exists() else sorted(
        (root / "claims").glob("*.py"))
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [node.attr for node in ast.walk(tree)
                 if isinstance(node, ast.Attribute) and node.attr in private
                 and not (isinstance(node.value, ast.Name) and node.value.id in ("self",
                                                                                  "cls"))]
        assert not calls, f"{path.name} uses private learner members {sorted(set(calls))}"


def test_the_guard_reads_the_engine_of_the_run():
    """The issue's case: d = 10⁵, n = 4·10⁶, R = 8, width 1. The full engine needs a test set
    and a second stage of tens of GB; the chain has neither, nor any d-dimensional term
    beyond the target's directions (R·d float64)."""
    big = dict(d=100_000, n=4_000_000, replicas=8, n_test=10_000)
    full = estimate("unified", {"width": 1}, **big)
    chain = estimate("unified", {"width": 1, "engine": "chain"}, **big)
    assert full.bytes > 50e9 and "test set R·n_test·d" in full.parts
    assert chain.bytes < 0.5e9 and "test set R·n_test·d" not in chain.parts
    assert chain.parts["directions R·r·d (float64)"] == 8 * 8 * 100_000
    small = estimate("unified", {"width": 1, "engine": "chain"}, **{**big, "d": 100})
    assert small.flops == chain.flops  # the chain's work does not depend on d
    assert CHAIN_CHUNK_NUMBERS == CHUNK_NUMBERS
    # the full engine's first-passage buffer (PassageWatch) is declared: 256 steps of R·m
    from indexlab.learners.costs import online_full_cost
    from indexlab.learners.online_engine import PassageWatch
    wide = online_full_cost({"width": 64}, d=256, n=4_000_000, R=8)
    assert wide.parts["passage buffer 256·R·m"] == PassageWatch.BUFFER_STEPS * 8 * 64


def test_the_test_set_is_counted_only_for_learners_that_predict():
    with_ridge = estimate("unified", {"width": 4}, d=512, n=1000, replicas=2, n_test=10_000)
    without = estimate("unified", {"width": 4, "ridge_samples": 0}, d=512, n=1000, replicas=2,
                       n_test=10_000)
    assert "test set R·n_test·d" in with_ridge.parts
    assert "test set R·n_test·d" not in without.parts
    assert "test set R·n_test·d" not in estimate("sir", {}, d=512, n=1000, replicas=2,
                                                 n_test=10_000).parts


EXPONENT_LEARNERS = sorted(name for name, cls in LEARNERS.items()
                           if cls.exponent_kind is not None)


@pytest.mark.parametrize("name", EXPONENT_LEARNERS)
def test_the_exponent_check_uses_the_learners_own_exponent(name):
    """h_9 has no information exponent up to degree 8 (k* = 9) but generative exponent 1:
    online and smoothed SGD (information exponent) are refused before any work, Unified and
    its sparse variant (generative exponent) are not, and an explicit exponent is accepted."""
    link = get_link("h(9, z)")
    assert theory.information_exponent(link) is None and theory.generative_exponent(link) == 1
    cls = LEARNERS[name]
    hyper = {"sparsity": 4} if name == "sparse_unified" else {}
    if cls.exponent_kind == "information":
        with pytest.raises(ValueError, match="needs the information exponent"):
            check_compatible(name, hyper, link, None, "--learner")
    else:
        check_compatible(name, hyper, link, None, "--learner")
    check_compatible(name, {**hyper, "exponent": 3}, link, None, "--learner")


def test_the_exponent_kinds_of_the_online_learners():
    assert {name: LEARNERS[name].exponent_kind for name in EXPONENT_LEARNERS} == {
        "online_sgd": "information", "smoothed_sgd": "information", "unified": "generative",
        "sparse_unified": "generative"}


class _NotALearner:
    cost: ClassVar[int] = 0


def test_registering_something_else_is_refused():
    with pytest.raises(TypeError, match="not a Learner subclass"):
        register_learner("thing", _NotALearner)  # type: ignore[arg-type]
