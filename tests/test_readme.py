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
