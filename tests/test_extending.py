"""docs/extending.md: its worked example of a claim registered from outside the package runs
as written (in tiny mode, a few seconds), and the claim families keep their data beside them
in files the package ships."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "extending.md"
MARKER = "<!-- example: a claim registered from outside the package -->"


def _example() -> str:
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, "docs/extending.md lost its worked example"
    block = re.match(r"\s*```python\n(.*?)\n```", text.split(MARKER, 1)[1], re.S)
    assert block is not None, "the worked example is not a python block after its marker"
    return block.group(1)


def test_the_worked_claim_example_runs_in_tiny_mode(tmp_path, monkeypatch, capsys):
    """The doc's block, executed as it stands in a fresh folder: the claim joins the registry,
    its sweep is stored, it passes, and it prints what the doc says it prints."""
    from indexlab.experiments import claims
    from indexlab.experiments.store import Store

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(claims, "CLAIMS", dict(claims.CLAIMS))  # the registration is undone
    namespace: dict = {}
    exec(compile(_example(), str(DOC), "exec"), namespace)
    result = namespace["result"]
    assert result.verdict == "pass", [c.reason for c in result.checks]
    assert claims.get_claims(["spectral-above-threshold"]) == [namespace["claim"]]
    assert list(claims.CLAIMS)[-1] == "spectral-above-threshold"
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("pass | spectral overlap at α = 4 ")
    assert f"`{printed}`" in DOC.read_text(encoding="utf-8")
    with Store(tmp_path / "extending.db") as store:
        (sweep,) = store.sweeps()
        assert sweep["name"] == "spectral-above-threshold-tiny-main"
        assert {learner for _, learner in sweep["labels"].values()} == {
            "spectral (optimal T)"}
    with pytest.raises(ValueError, match="'spectral-above-threshold' is already registered"):
        claims.register(namespace["claim"])


def test_claim_families_keep_their_data_beside_them_and_it_ships():
    from indexlab.experiments.claims import MODES, load_data

    folder = ROOT / "src" / "indexlab" / "experiments" / "claims"
    files = sorted(folder.glob("*.toml"))
    assert [f.stem for f in files] == ["baselines", "exponents", "hardness", "layerwise",
                                       "sparse"]
    for path in files:
        assert (folder / f"{path.stem}.py").exists()
        data = load_data(path.stem)
        assert data == tomllib.loads(path.read_text(encoding="utf-8"))
        tables = [data] if path.stem != "layerwise" else [
            v for v in data.values() if isinstance(v, dict)]
        for table in tables:
            assert set(MODES) <= set(table), path.name
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = project["tool"]["setuptools"]["package-data"]["indexlab.experiments.claims"]
    assert "*.toml" in shipped


LEARNER_MARKER = "<!-- example: a learner registered from outside the package -->"


def test_the_worked_learner_example_registers_fits_and_sweeps(tmp_path, monkeypatch, capsys):
    """The doc's learner block, executed as it stands in a fresh folder: the class passes the
    registry's declaration checks, fits a target, runs through a sweep, and prints what the
    doc says it prints; the registration is undone afterwards."""
    from indexlab.learners import registry

    text = DOC.read_text(encoding="utf-8")
    block = re.match(r"\s*```python\n(.*?)\n```", text.split(LEARNER_MARKER, 1)[1], re.S)
    assert block is not None, "the learner example is not a python block after its marker"
    monkeypatch.chdir(tmp_path)
    try:
        namespace: dict = {}
        exec(compile(block.group(1), str(DOC), "exec"), namespace)
        assert registry.LEARNERS["first_moment"] is namespace["FirstMoment"]
        assert namespace["summary"]["done"] == 4
        printed = capsys.readouterr().out.strip()
        assert f"`{printed}`" in text
    finally:
        registry.LEARNERS.pop("first_moment", None)
