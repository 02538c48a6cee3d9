"""Sampling throughput: ``Target.stream`` vs plain ``torch.randn`` of the same total size.

Prints samples per second of ``SingleIndex(link, d=256).stream(n)`` (X, z = X θ and the labels)
and the ratio of its throughput to generating the same numbers with ``torch.randn`` in the
same chunks, measured in one run (best of 3 repeats each). Target: ratio ≥ 0.8.

    python bench/sampling.py [--device cuda] [--replicas 8] [--link he3]
"""

from __future__ import annotations

import argparse

import torch

from _timing import best_of
from indexlab.targets import SingleIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--n", type=int, default=400_000, help="samples per replica")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--link", default="he3")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    target = SingleIndex(args.link, args.d, replicas=args.replicas, device=args.device)
    chunk = target.default_chunk()
    gen = torch.Generator(device=args.device).manual_seed(0)

    def ours() -> None:
        for _chunk in target.stream(args.n, chunk=chunk):
            pass

    def reference() -> None:
        done = 0
        while done < args.n:
            size = min(chunk, args.n - done)
            torch.randn(args.replicas, size, args.d, generator=gen, device=args.device)
            done += size

    ours()  # warm-up (allocator, kernels)
    reference()
    t_ours, t_ref = best_of(ours, 3, args.device)[0], best_of(reference, 3, args.device)[0]
    total = args.n * args.replicas
    print(f"link={args.link} d={args.d} R={args.replicas} n={args.n} chunk={chunk} "
          f"device={args.device} threads={torch.get_num_threads()}")
    print(f"stream:      {total / t_ours:,.0f} samples/s ({t_ours:.3f} s)")
    print(f"torch.randn: {total / t_ref:,.0f} samples/s ({t_ref:.3f} s)")
    print(f"ratio (stream throughput / randn throughput) = {t_ref / t_ours:.3f}  (target >= 0.8)")


if __name__ == "__main__":
    main()
