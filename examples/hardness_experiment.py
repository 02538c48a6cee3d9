"""Gradient descent on the orthogonal hard family: the experiment of issue 7.

Runs online SGD and layer-wise GD (square and Huber losses) on Boolean members with k = 3, 4
for d ∈ {16, 24, 32} and n ∈ {d², 4d², 16d²} (largest n: 16 384 at d = 32), with learnable
controls (k = 1 for online SGD, k = 2 for layer-wise GD) and the real-valued caveat (layer-wise
GD on y² at n = 400 d). Writes docs/hardness.png, docs/hardness.md and docs/hardness.json.

    python examples/hardness_experiment.py            # a few minutes on 2 cores
"""

import json
from pathlib import Path

from indexlab.experiments.claims import hardness as hardness_demo

if __name__ == "__main__":
    out = Path(__file__).resolve().parents[1] / "docs"
    out.mkdir(exist_ok=True)
    rows = hardness_demo.run()
    (out / "hardness.json").write_text(json.dumps(rows, indent=1))
    (out / "hardness.md").write_text(hardness_demo.summary_table(rows))
    hardness_demo.plot(rows, str(out / "hardness.png"))
    print(hardness_demo.summary_table(rows))
