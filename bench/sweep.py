"""Overhead of the experiment engine, and the store's write throughput.

1. Engine overhead: 200 tiny runs (online SGD on He3, d = 8, R = 2 replicas, m = 4 neurons,
   n = 64..263, no second stage, no test set) through ``runner.sweep`` with the local executor
   (spec expansion, hashing, the progress bar, one ``running`` mark and one result
   transaction per run in a fresh SQLite store) vs a plain loop that builds the same targets
   and learners, fits them and measures the same per-replica metrics. Prints the ratio
   (target <= 1.2). The machine may be shared, so the comparison is paired in time: the 200
   runs are cut into blocks of 20 budgets, and each block is run both ways back to back
   (alternating which goes first); the ratio is of the summed times.
2. Store throughput: ``Store.write_result`` of synthetic results (R = 8 replicas, a 30-point
   trace of 3 metrics) into a fresh store; prints rows (run + replica + trace rows) per second.

    python bench/sweep.py [--runs 200] [--writes 2000] [--block 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from indexlab.experiments.runner import expand, run_key, sweep
from indexlab.experiments.single_run import make_target, replica_metrics
from indexlab.experiments.spec import parse_spec
from indexlab.experiments.store import Store
from indexlab.learners.registry import make_learner


def tiny_spec(runs: int, first: int = 64, name: str = "bench"):
    return parse_spec({
        "name": name, "seed": 0, "replicas": 2, "n_test": 0,
        "budget": {"n": list(range(first, first + runs))},
        "targets": [{"link": "he3", "d": [8]}],
        "learners": [{"name": "online_sgd",
                      "hyper": {"width": 4, "ridge_samples": 0, "batch": 8}}],
    })


def direct_loop(configs) -> float:
    """The same work without the engine: build, fit, measure, keep the metrics in a list."""
    start = time.perf_counter()
    kept = []
    for c in configs:
        t = c["target"]
        target = make_target(t["link"], t["d"], r=t["r"], sparsity=t["sparsity"],
                             noise=t["noise"], replicas=c["replicas"], seed=c["seed"],
                             dtype=torch.float32)
        learner = make_learner(c["learner"]["name"], seed=c["seed"], **c["learner"]["hyper"])
        learner.fit(target, n=c["n"])
        kept.append(replica_metrics(target, learner, c["n_test"]))
    return time.perf_counter() - start


def engine(spec, store: Store) -> float:
    start = time.perf_counter()
    summary = sweep(spec, store, progress=True)
    seconds = time.perf_counter() - start
    assert summary["ran"] == summary["done"] == summary["total"]
    return seconds


def paired(runs: int, block: int, folder: Path) -> tuple[float, float]:
    """Summed seconds (direct loop, engine) over blocks of ``block`` runs, run back to back."""
    store = Store(folder / "engine.db")
    direct = through_engine = 0.0
    for i, first in enumerate(range(64, 64 + runs, block)):
        spec = tiny_spec(min(block, 64 + runs - first), first, name=f"bench-{i}")
        configs = expand(spec)
        if i % 2 == 0:
            direct += direct_loop(configs)
            through_engine += engine(spec, store)
        else:
            through_engine += engine(spec, store)
            direct += direct_loop(configs)
    store.close()
    return direct, through_engine


def synthetic_result(key: str, rng: np.random.Generator, R: int = 8, T: int = 30) -> dict:
    return {"key": key, "status": "done", "error": None, "seconds": 0.1, "samples": 1000,
            "metrics": {m: rng.random(R).tolist() for m in ("overlap", "overlap_neuron",
                                                          "test_mse")},
            "diverged": [False] * R, "hyper": {"lr": 0.1},
            "trace": {"samples": list(range(1, T + 1)),
                      "metrics": {m: rng.random((T, R)).tolist()
                                  for m in ("loss", "overlap", "overlap_mean")}}}


def store_throughput(folder: Path, writes: int) -> tuple[float, float]:
    """Rows and runs written per second by ``write_result`` (one transaction per run)."""
    store = Store(folder / "throughput.db")
    spec = tiny_spec(1)
    config = expand(spec)[0]
    rng = np.random.default_rng(0)
    results = []
    for i in range(writes):
        c = {**config, "n": 10_000 + i}
        store.mark_started(run_key(c), c, "bench")
        results.append(synthetic_result(run_key(c), rng))
    start = time.perf_counter()
    rows = sum(store.write_result(r) for r in results)
    seconds = time.perf_counter() - start
    store.close()
    return rows / seconds, writes / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--block", type=int, default=20)
    args = parser.parse_args()
    direct_loop(expand(tiny_spec(10)))  # warm-up (first-call costs of torch and the registry)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        direct, through_engine = paired(args.runs, args.block, folder)
        rows_per_s, runs_per_s = store_throughput(folder, args.writes)
    print(f"{args.runs} tiny runs in blocks of {args.block}: direct loop {direct:.2f} s, "
          f"engine (local executor + store) {through_engine:.2f} s")
    print(f"engine / direct = {through_engine / direct:.3f}  (target <= 1.2); "
          f"overhead {1000 * (through_engine - direct) / args.runs:.2f} ms per run")
    print(f"store: {rows_per_s:,.0f} rows/s ({runs_per_s:,.0f} finished runs/s, 1 run row + "
          f"8 replica rows + 3 trace rows each, one transaction per run)")


if __name__ == "__main__":
    main()
