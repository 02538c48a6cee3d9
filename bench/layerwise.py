"""LayerwiseGD stage 1: achieved FLOP/s vs a plain batched matrix product, and time vs d.

For d ∈ {128, 256, 512}, n1 = 10 d log d, R = 8 replicas, m = 512 neurons, T1 = 6 steps of
full-batch GD on he4+he4 data (generated beforehand, excluded from the timing). Each step
costs two (n1 × d)·(d × m) products per replica: 4 R n1 d m FLOPs. Prints, measured in this
run, the achieved FLOP/s as a fraction of ``torch.bmm`` on the same shapes (target ≥ 0.3), and
the fitted slope of log(time) against log(d) (the paper's Õ(d²) time: target ≤ 2.3).

    python bench/layerwise.py [--device cuda]
"""

from __future__ import annotations

import argparse
import math
from functools import partial

import numpy as np
import torch

from _timing import bmm_seconds, timed
from indexlab.learners import LayerwiseGD
from indexlab.targets import MultiIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--replicas", type=int, default=8)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--t1", type=int, default=6)
    parser.add_argument("--dims", default="128,256,512")
    args = parser.parse_args()
    R, m, T1, dev = args.replicas, args.width, args.t1, args.device
    dims = [int(v) for v in args.dims.split(",")]
    times = []
    print(f"R={R} m={m} T1={T1} device={dev} threads={torch.get_num_threads()}")
    for d in dims:
        n1 = int(10 * d * math.log(d))
        X, y = MultiIndex("he4+he4", d, replicas=R, seed=0, device=dev).sample(n1)
        learner = LayerwiseGD(width=m, t1=T1, r=2)
        learner.stage_one(X[:, :256], y[:, :256])  # warm-up
        elapsed, _ = timed(partial(learner.stage_one, X, y), dev)
        t_bmm = bmm_seconds(R, n1, d, m, 2 * T1, dev)
        flops = 4 * R * n1 * d * m * T1
        times.append(elapsed)
        print(f"d={d:4d} n1={n1:6d}: stage 1 {elapsed:.3f} s, {flops / elapsed / 1e9:.1f} GFLOP/s;"
              f" bmm {flops / t_bmm / 1e9:.1f} GFLOP/s; fraction = {t_bmm / elapsed:.3f}"
              "  (target >= 0.3)")
    slope = np.polyfit(np.log(dims), np.log(times), 1)[0]
    print(f"slope of log(time) vs log(d) = {slope:.2f}  (target <= 2.3; n1 d m ∝ d² log d)")


if __name__ == "__main__":
    main()
