"""GAMP: iterations per second against the plain matrix products of the same shapes.

Phase retrieval with label noise 0.3 (``y = z² + 0.3ε``, r = 1) at d = 4096, n = 2d, R = 8
replicas. One GAMP iteration (:mod:`indexlab.learners.amp`) holds two batched products with
``F = X/√d``, ``F Ŵ`` and ``Fᵀ g`` (``(R, n, d)·(R, d, r)``), plus the channel on ``K`` grid
atoms per sample. Prints, measured in this run, the iterations per second and the fraction
``t(two bmm of the same shapes) / t(iteration)`` (target >= 0.5), with the channel's grid
size, since the channel, not the products, is what costs at r = 1.

    python bench/amp.py [--device cuda] [--nodes 800]
"""

from __future__ import annotations

import argparse

import torch

from _timing import timed
from indexlab.learners import GAMP
from indexlab.links import get_link
from indexlab.state_evolution import output_channel
from indexlab.targets import SingleIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--d", type=int, default=4096)
    parser.add_argument("--replicas", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=None)
    args = parser.parse_args()
    d, R, T, dev = args.d, args.replicas, args.iterations, args.device
    n = 2 * d
    link = get_link("phase_retrieval", noise=0.3)
    X, y = SingleIndex(link, d, replicas=R, seed=0, device=dev).sample(n)
    print(f"d={d} n={n} R={R} device={dev} threads={torch.get_num_threads()}")

    def run(iterations):
        return GAMP(link=link, max_iter=iterations, tol=1e-300, nodes=args.nodes).fit(X, y)

    run(1)  # warm-up
    t_one, _ = timed(lambda: run(1), dev)
    t_many, fit = timed(lambda: run(T + 1), dev)
    per_iter = (t_many - t_one) / T  # set-up (channel, data copy) cancels
    K = output_channel(link, fit.channel_noise, args.nodes).nodes.shape[0]  # grid atoms
    W = torch.randn(R, d, 1, device=dev, dtype=X.dtype)
    g = torch.randn(R, n, 1, device=dev, dtype=X.dtype)
    (X @ W, X.transpose(-1, -2) @ g)  # warm-up

    def products() -> None:
        for _ in range(T):
            X @ W
            X.transpose(-1, -2) @ g

    t_bmm = timed(products, dev)[0] / T
    print(f"GAMP: {1 / per_iter:.2f} iterations/s ({per_iter * 1e3:.1f} ms each, channel grid "
          f"K = {K} atoms); two bmm of the same shapes: {t_bmm * 1e3:.1f} ms; fraction = "
          f"{t_bmm / per_iter:.3f}  (target >= 0.5)")


if __name__ == "__main__":
    main()
