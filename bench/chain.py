"""The exact overlap chain (``engine="chain"``) against the full d-dimensional engine.

Prints, measured in this run, on one thread (numba and torch both limited to 1):

* chain samples/s per core at width m = 1 (target ≥ 10⁷), for vanilla online SGD on He₃
  with the default minibatch B = 32 and with B = 1, and for smoothed SGD on He₄ (B = 32,
  smoothing on: one more normal and one χ² per sample); everything included (labels,
  random numbers, the chain, the trace), after one warm-up call that compiles the kernel;
* the rate with two threads (the replicas split in two ranges, each run start to end by
  its own thread), when the machine has two cores;
* the ratio of full-engine to chain time for the same learner, n and replicas at d = 1024
  (target ≥ 100×).

    python bench/chain.py [--n 262144] [--replicas 8]
"""

from __future__ import annotations

import argparse

import numba
import torch

from _timing import best_of
from indexlab.learners import OnlineSGD, SmoothedSGD
from indexlab.targets import SingleIndex


def rate(learner, link: str, d: int, replicas: int, n: int) -> float:
    """Samples per second (over all replicas) of ``learner.fit``, best of 2 after warm-up."""
    learner.fit(SingleIndex(link, d, replicas=replicas, seed=0), n=min(n, 4096))
    seconds, _ = best_of(lambda: learner.fit(SingleIndex(link, d, replicas=replicas, seed=0),
                                             n=n), 2)
    return replicas * n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=262_144, help="samples per replica (chain)")
    parser.add_argument("--full-n", type=int, default=131_072,
                        help="samples per replica for the chain/full ratio (large enough that "
                        "the chain's fixed cost per fit, ~10 ms, does not set the ratio)")
    parser.add_argument("--replicas", type=int, default=8)
    parser.add_argument("--d", type=int, default=1024)
    args = parser.parse_args()
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    R, d = args.replicas, args.d
    common = dict(width=1, ridge_samples=0, exponent=3)
    cases = [
        ("vanilla He3, B = 32", OnlineSGD(engine="chain", **common), "he3", args.n),
        ("vanilla He3, B = 1", OnlineSGD(engine="chain", batch=1, **common), "he3",
         args.n // 8),
        ("smoothed He4, B = 32", SmoothedSGD(engine="chain", width=1, ridge_samples=0,
                                             exponent=4, search_fraction=1.0), "he4", args.n),
    ]
    print(f"chain, one thread, width m = 1, d = {d}, R = {R}")
    for label, learner, link, n in cases:
        print(f"  {label:22s} {rate(learner, link, d, R, n):.3g} samples/s per core "
              "(target >= 1e7)")
    if numba.config.NUMBA_NUM_THREADS >= 2:  # replica ranges on their own threads
        numba.set_num_threads(2)
        both = rate(OnlineSGD(engine="chain", **common), "he3", d, 2 * R, args.n)
        numba.set_num_threads(1)
        print(f"  vanilla He3, B = 32, two threads: {both:.3g} samples/s "
              f"({both / 2:.3g} per core)")
    n = args.full_n
    chain = rate(OnlineSGD(engine="chain", **common), "he3", d, R, n)
    full = rate(OnlineSGD(**common), "he3", d, R, n)
    print(f"full engine at d = {d}: {full:.3g} samples/s; chain/full speed ratio "
          f"{chain / full:.0f}x (same learner, n = {n}, R = {R}; target >= 100x)")


if __name__ == "__main__":
    main()
