"""The README's test command is exactly what CI runs."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    marker = "# --- the README's test command, verbatim"
    command = ci.split(marker, 1)[1].splitlines()[1].strip()
    assert command.startswith("python -m pip install") and "pytest" in command
    assert f"\n{command}\n" in (ROOT / "README.md").read_text()


@pytest.mark.slow
def test_readme_python_tour_runs():
    """Every ```python block of the README executes (slow: the tour fits real learners)."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        code = block.replace("    ...\n", "    pass\n")
        try:
            exec(compile(code, "README.md", "exec"), namespace)  # our own file, not user input
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"README block failed: {exc!r}\n{code}")


def _main_job() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(python -m pip install[^\n]*indexlab[^\n]*)\n```", text)
    assert block is not None, "no main command in the README"
    return block.group(1).split(" && ", 1)[1]  # the part after the install


def test_readme_main_command_is_the_quick_reproduction_and_its_table_covers_the_registry():
    """The main command is ``indexlab reproduce --quick``; the README carries the claims table
    of a run of it (between markers), one row per registered claim with a verdict, and says
    when, where and with which version it was made."""
    from indexlab.experiments.claims import CLAIMS
    from indexlab.experiments.judge import VERDICTS

    assert _main_job().startswith("indexlab reproduce --quick ")
    text = (ROOT / "README.md").read_text()
    table = text.split("<!-- claims:start -->", 1)[1].split("<!-- claims:end -->", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]  # no header
    names = [row.split("|")[1].strip() for row in rows]
    assert sorted(names) == sorted(CLAIMS), names
    for row in rows:
        verdict = row.split("|")[-2].strip().strip("*").split(" ")[0]
        assert verdict in VERDICTS, row
    assert re.search(r"indexlab \d+\.\d+\.\d+.*mode quick, \d{4}-\d\d-\d\d", table)
    assert "cores" in table


@pytest.mark.slow
def test_readme_main_job_runs(tmp_path):
    """The README's main command (after its install step) runs from a fresh folder and writes
    the claims report: every claim judged, in summary.md and index.html (about 15 min on 2
    cores: the whole quick registry)."""
    import shutil
    import subprocess
    import sys

    from indexlab.experiments.claims import CLAIMS

    job = _main_job()
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    indexlab = str(Path(sys.executable).with_name("indexlab"))
    result = subprocess.run(job.replace("indexlab ", f"{indexlab} "), shell=True, cwd=tmp_path,
                            capture_output=True, text=True, timeout=2700)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    out = re.search(r"--out (\S+)", job).group(1)
    summary = (tmp_path / out / "summary.md").read_text()
    for name in CLAIMS:
        assert re.search(rf"\| {re.escape(name)} \|.*\| (pass|fail|inconclusive)", summary), name
    assert (tmp_path / out / "index.html").exists()
