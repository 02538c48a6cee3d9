"""`indexlab reproduce --seed S`: every claim replicated on other data. The default (no seed)
runs the registered specs unchanged (the README's table stays the same); a seed reaches every
run's seed, under sweep names of their own."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from indexlab.cli import app
from indexlab.experiments.claims import MODES, get_claims
from indexlab.experiments.reproduce import claim_specs
from indexlab.experiments.run import run_seed
from indexlab.experiments.store import Store

cli = CliRunner()


def test_no_seed_is_the_registered_specs_and_a_seed_replaces_every_spec_seed():
    for claim in get_claims():
        for mode in MODES:
            default = claim.specs(mode)
            assert claim_specs(claim, mode) == default
            seeded = claim_specs(claim, mode, 7)
            assert set(seeded) == set(default)
            for part, spec in seeded.items():
                assert spec["seed"] == 7 and default[part]["seed"] != 7
                assert spec["name"] != default[part]["name"] and "-s7-" in spec["name"]
                assert {k: v for k, v in spec.items() if k not in ("seed", "name")} == {
                    k: v for k, v in default[part].items() if k not in ("seed", "name")}


def test_a_negative_seed_is_refused():
    with pytest.raises(ValueError, match="seed=-1"):
        claim_specs(get_claims()[0], "tiny", -1)
    result = cli.invoke(app, ["reproduce", "--tiny", "--seed", "-1", "--db", "x.db", "--out",
                              "o"])
    assert result.exit_code == 2 and "--seed=-1" in result.output


def test_reproduce_with_a_seed_runs_every_run_on_that_seed(tmp_path):
    db, out = tmp_path / "c.db", tmp_path / "out"
    result = cli.invoke(app, ["reproduce", "--tiny", "--only", "exponents-he3", "--seed", "3",
                              "--db", str(db), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        sweeps = store.sweeps()
        assert sweeps and all("-tiny-s3-" in s["name"] for s in sweeps)
        runs = store.runs()
    assert runs
    for run in runs:
        target = run["config"]["target"]
        assert run["seed"] == run_seed(3, target) != run_seed(0, target)
        assert run["hyper"]["seed"] == run["seed"]  # the learner's initialisation too
