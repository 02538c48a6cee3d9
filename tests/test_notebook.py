"""examples/quickstart.ipynb runs top to bottom and shows its figures inline (slow tier)."""

import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
def test_quickstart_notebook_executes_with_inline_figures():
    """Executes every cell in a fresh kernel (nbclient), from examples/ like a reader would;
    ≤ 60 s on 2 cores was the budget (measured: see docs in the issue-16 note)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("pandas")
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    start = time.perf_counter()
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(EXAMPLES)}}).execute()
    seconds = time.perf_counter() - start
    outputs = [o for cell in notebook.cells if cell.cell_type == "code"
               for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # theory card, comparison, n*(d) figure
    text = "".join(o.get("text", "") for o in outputs)
    assert "4 2" in text and "0.5" in text  # he4 exponents, phase-retrieval α_c
    assert seconds < 300
