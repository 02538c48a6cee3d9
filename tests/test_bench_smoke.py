"""Every benchmark script in ``bench/`` runs to its end at a tiny size (in this process, via
``runpy``, so the imports are paid once): a script broken by a change elsewhere fails here,
not in a user's hands. Nothing about speed is asserted (benchmarks print ratios; a timed test
would measure the machine, not the code)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"

TINY = {
    "amp.py": ["--d", "64", "--replicas", "2", "--iterations", "1"],
    "baselines.py": ["--n", "2000", "--d", "20", "--spectral-d", "40", "--repeats", "1"],
    "chain.py": ["--n", "4096", "--full-n", "2048", "--replicas", "2", "--d", "32"],
    "conditional.py": ["64", "8", "2"],
    "layerwise.py": ["--replicas", "2", "--width", "8", "--t1", "2", "--dims", "32"],
    "learners.py": ["--replicas", "2", "--d", "32", "--width", "4", "--n", "512"],
    "sampling.py": ["--d", "16", "--n", "2000"],
    "startup.py": ["--repeats", "1"],
    "sweep.py": ["--runs", "5", "--writes", "20", "--block", "5"],
}


def test_every_bench_script_has_a_tiny_size():
    scripts = {p.name for p in BENCH.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(TINY), "add the new script's tiny arguments to TINY"


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(TINY))
def test_bench_script_runs_at_a_tiny_size(script, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(BENCH / script), *TINY[script]])
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.chdir(BENCH)
    runpy.run_path(str(BENCH / script), run_name="__main__")
    assert capsys.readouterr().out.strip(), f"{script} printed nothing"
