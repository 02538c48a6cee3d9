"""Shared fixtures: CUDA detection for the device tests; a stored tiny sweep."""

from pathlib import Path

import pytest
import torch

TINY = Path(__file__).resolve().parents[1] / "examples" / "tiny.toml"


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory) -> Path:
    """A store holding ``examples/tiny.toml``, swept by the CLI once per test module."""
    from typer.testing import CliRunner

    from indexlab.cli import app

    db = tmp_path_factory.mktemp("sweep") / "results.db"
    result = CliRunner().invoke(app, ["sweep", str(TINY), "--db", str(db), "--no-progress"])
    assert result.exit_code == 0, result.output
    return db


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device on this machine")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
