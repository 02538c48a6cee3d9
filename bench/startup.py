"""Start-up cost of the ``indexlab`` command: CPU seconds (user + system) of
``indexlab --help``, ``indexlab links`` and ``indexlab exponents he3`` in fresh processes,
each as a ratio to ``python -c "import numpy"`` measured in the same run (best of 3 each).
Target: under 1 s of CPU for ``--help`` and ``exponents`` (torch, dask and matplotlib are
imported only by the commands that use them).

    python bench/startup.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
COMMANDS = {
    'python -c "import numpy"': ["-c", "import numpy"],
    "indexlab --help": ["-m", "indexlab.cli", "--help"],
    "indexlab links": ["-m", "indexlab.cli", "links"],
    "indexlab exponents he3": ["-m", "indexlab.cli", "exponents", "he3"],
}


def cpu_seconds(args: list[str]) -> float:
    """User + system CPU seconds of ``python ARGS`` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, *args], check=True, env=env, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    best = {name: min(cpu_seconds(cmd) for _ in range(args.repeats))
            for name, cmd in COMMANDS.items()}
    base = best['python -c "import numpy"']
    print(f"{'command':<28} {'CPU s':>7} {'× import numpy':>15}")
    for name, seconds in best.items():
        print(f"{name:<28} {seconds:7.3f} {seconds / base:15.1f}")


if __name__ == "__main__":
    main()
