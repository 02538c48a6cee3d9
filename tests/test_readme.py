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


@pytest.mark.slow
def test_readme_main_job_runs(tmp_path):
    """The README's main command (after its install step) runs from a fresh folder and writes
    the report with the fitted exponents of both learners."""
    import shutil
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(python -m pip install[^\n]*indexlab[^\n]*)\n```", text)
    assert block is not None, "no main command in the README"
    job = block.group(1).split(" && ", 1)[1]  # the part after the install
    assert job.startswith("indexlab sweep ")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    indexlab = str(Path(sys.executable).with_name("indexlab"))
    result = subprocess.run(job.replace("indexlab ", f"{indexlab} "), shell=True, cwd=tmp_path,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = (tmp_path / "he3-report" / "summary.md").read_text()
    assert "| he3 | unified |" in summary and "| he3 | online_sgd |" in summary
    assert (tmp_path / "he3-report" / "index.html").exists()
