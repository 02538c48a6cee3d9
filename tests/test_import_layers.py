"""The house has no import circles: every ``indexlab`` module imports only modules of a lower
layer (or, inside ``learners``/``experiments``, of its own package), read from the source with
``ast`` (function-level imports included, so a lazy import does not hide a circle).

Layers (``shared/DESIGN.md``): the leaf helpers _arrays, _suggest, progress, devices, seeding <
hermite < expressions, smoothing, nn < links < generative, support < targets, theory,
anchors < metrics, hardness < learners < experiments < cli. ``hardness`` sits above targets
and theory and nothing below it imports it; the package ``indexlab/__init__.py`` is the
facade on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "indexlab"

LAYERS = {
    "indexlab._arrays": -1,  # NumPy-or-torch element-wise ops (imports neither torch nor us)
    "indexlab._suggest": -1,  # did-you-mean (difflib)
    "indexlab.progress": -1,  # the progress hook (contextvars)
    "indexlab.devices": -1,  # check_device (torch only)
    "indexlab.seeding": -1,  # seed derivations of targets, learners and the chain (numpy, torch)
    "indexlab._cli_style": 6,  # help-screen polish for the command line (typer only)
    "indexlab.hermite": 0,
    "indexlab.expressions": 1,
    "indexlab.smoothing": 1,
    "indexlab.nn": 1,
    "indexlab.links": 2,
    "indexlab.generative": 2.5,  # single-index λ_k² (theory's numerics)
    "indexlab.support": 2.5,  # which links theory covers, the cost guard
    "indexlab.targets": 3,
    "indexlab.theory": 3,
    "indexlab.state_evolution": 3,  # GAMP channel quadrature and state evolution (numpy)
    "indexlab.anchors": 3,  # population anchors of the claims (Lu–Li curve, S_ψ)
    "indexlab.metrics": 4,
    "indexlab.hardness": 4,
    "indexlab.learners": 5,
    "indexlab.experiments": 6,
    "indexlab.cli": 7,
}
PACKAGES = ("indexlab.learners", "indexlab.experiments")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _layer(module: str) -> int:
    for prefix, level in sorted(LAYERS.items(), key=lambda kv: -len(kv[0])):
        if module == prefix or module.startswith(prefix + "."):
            return level
    raise AssertionError(f"module {module} has no layer: add it to LAYERS in this test")


def _imports(module: str) -> set[str]:
    """Every indexlab module that ``module`` imports, anywhere in its source."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "indexlab":  # from indexlab import theory
                names = [f"indexlab.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name not in MODULES and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in MODULES and name != "indexlab" and name != module:
                out.add(name)
    return out


GRAPH = {m: _imports(m) for m in MODULES if m != "indexlab"}


def _package(module: str) -> str | None:
    return next((p for p in PACKAGES if module == p or module.startswith(p + ".")), None)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_down_the_layers(module):
    bad = []
    for target in sorted(GRAPH[module]):
        same_package = _package(module) is not None and _package(module) == _package(target)
        if not (same_package or _layer(target) < _layer(module)):
            bad.append(f"{target} (layer {_layer(target)})")
    assert not bad, f"{module} (layer {_layer(module)}) imports {', '.join(bad)}"


def test_nothing_below_hardness_imports_it():
    below = [m for m in GRAPH if _layer(m) <= LAYERS["indexlab.theory"]]
    assert below and not [m for m in below if "indexlab.hardness" in GRAPH[m]]


def test_no_import_circles():
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt):], nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
