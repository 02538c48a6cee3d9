"""docs/extending.md: its worked example of a claim registered from outside the package runs
as written (in tiny mode, a few seconds), and the claim families keep their data beside them
in files the package ships."""

from __future__ import annotations

import os
import re
import subprocess
import sys
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
    assert [f.stem for f in files] == ["amp", "baselines", "exponents", "hardness", "layerwise",
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


# ------------------------------------------------------------------------------ plugins
PLUGIN_MODULE = "<!-- example: a plugin module (first_moment_plugin.py) -->"
PLUGIN_TOML = "<!-- example: the plugin's pyproject.toml -->"
PLUGIN_USE = "<!-- example: using the installed plugin -->"
BROKEN = {"indexlab.learners": {"broken": "no_such_module_xyz:Thing",
                                "costless": "costless_plugin:Costless"},
          "indexlab.claims": {"broken-claims": "no_such_module_xyz:CLAIMS"}}
COSTLESS = '''
from dataclasses import dataclass

from indexlab.learners import Learner


@dataclass
class Costless(Learner):
    """A learner that declares no cost: the registry refuses it."""
'''


def _block(text: str, marker: str, lang: str = "python") -> str:
    assert marker in text, f"docs/extending.md lost its block {marker}"
    block = re.match(rf"\s*```{lang}\n(.*?)\n```", text.split(marker, 1)[1], re.S)
    assert block is not None, f"no {lang} block after {marker}"
    return block.group(1)


def _install(site: Path, name: str, version: str, groups: dict[str, dict[str, str]]) -> None:
    """What ``pip install`` leaves for importlib.metadata: a ``.dist-info`` folder with the
    distribution's metadata and its ``entry_points.txt``."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()) + "\n"
        for group, points in groups.items()), encoding="utf-8")


@pytest.fixture
def plugin_site(tmp_path):
    """The doc's plugin installed (its module and a .dist-info from its pyproject.toml) next
    to two broken ones, in a folder put on PYTHONPATH for a fresh process."""
    text = DOC.read_text(encoding="utf-8")
    site = tmp_path / "site"
    site.mkdir()
    (site / "first_moment_plugin.py").write_text(_block(text, PLUGIN_MODULE), encoding="utf-8")
    project = tomllib.loads(_block(text, PLUGIN_TOML, "toml"))["project"]
    _install(site, project["name"], project["version"], project["entry-points"])
    (site / "costless_plugin.py").write_text(COSTLESS, encoding="utf-8")
    _install(site, "broken-plugins", "0.1", BROKEN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    return text, env


def _python(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


@pytest.mark.slow  # a Dask cluster in a fresh process: 24 s on our loaded 2 cores
def test_the_plugin_example_runs_on_dask_with_its_theory_and_claim(plugin_site, tmp_path):
    """The doc's usage block, run as a script in a fresh process with the plugin installed:
    the sweep's runs go to Dask worker processes (which resolve the learner by name, so they
    import the plugin themselves), the budgets and the theory column come from the exponent
    the plugin declares, and reproduce runs its claim; the broken plugins are named in
    warnings and break nothing."""
    text, env = plugin_site
    script = tmp_path / "use_plugin.py"
    script.write_text(_block(text, PLUGIN_USE), encoding="utf-8")
    done = _python([str(script)], tmp_path, env)
    printed = done.stdout.strip().splitlines()[-1]
    assert f"`{printed}`" in text
    assert printed.startswith("24 of 24 runs done on Dask; p̂ ")
    assert "theory d^1;" in printed and printed.endswith("first-moment-linear: pass")
    for name, value in (("broken", "'no_such_module_xyz:Thing'"),
                        ("broken-claims", "'no_such_module_xyz:CLAIMS'")):
        assert (f"indexlab plugin {name!r} (indexlab.{'claims' if 'claims' in name else 'learners'}"
                f" entry point {value} of the distribution 'broken-plugins') was not loaded: "
                "ModuleNotFoundError") in done.stderr
    assert "indexlab plugin 'costless'" in done.stderr and "declares no cost" in done.stderr


CHECK_PLUGINS = '''
import warnings
from indexlab.learners.plugins import PluginWarning

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import indexlab
    from indexlab.learners import LEARNERS, Learner, load
    from indexlab.learners.registry import learner_class, make_learner
    from indexlab.experiments.claims import get_claims
    learners = list(LEARNERS)  # the first read of the registry loads the learner plugins
    claims = [c.name for c in get_claims()]
names = sorted(str(w.message).split("'")[1] for w in caught if w.category is PluginWarning)
assert names == ["broken", "broken-claims", "costless"], names
assert learners[-1] == "first_moment" and "unified" in learners and "sir" in learners
assert claims[-1] == "first-moment-linear" and "exponents-he3" in claims
try:
    learner_class("broken")
except ValueError as exc:
    assert "is an installed plugin that failed to load (ModuleNotFoundError" in str(exc), exc
else:
    raise AssertionError("a broken plugin resolved")
from indexlab import SingleIndex, get_link
cls = learner_class("first_moment")
assert cls.prediction(get_link("relu"), 64).exponent == 1.0
assert cls.prediction(get_link("he2"), 64) is None  # information exponent 2: no claim
target = SingleIndex("relu", d=32, replicas=2, seed=0)
model = make_learner("first_moment").fit(target, n=4000)
back = load(model.save("first_moment.npz"))
assert type(back) is cls and (back.directions_ == model.directions_).all()
print("plugins ok")
'''


def test_plugins_load_where_installed_and_a_broken_one_is_named(plugin_site, tmp_path):
    _, env = plugin_site
    assert _python(["-c", CHECK_PLUGINS], tmp_path, env).stdout.strip() == "plugins ok"
    listed = _python(["-c", "from indexlab.cli import app; app()", "reproduce", "--list"],
                     tmp_path, env).stdout
    assert "first-moment-linear" in listed and "exponents-he3" in listed
