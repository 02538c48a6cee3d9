"""Unified (R replicas batched) vs a per-seed PyTorch loop doing the same updates.

Workload: the s* = 2 instance of Unified (σ = h₂, correlation loss, transform T), R = 32
replicas, d = 256, m = 64 neurons, minibatch B = 32, n samples per replica, constant step,
on pre-generated data (data generation excluded from both timings).

* reference: for each seed in turn, a ``torch.nn.Module`` holding W (m, d), the loss
  ``−mean_i Σ_j T(y_i) σ(⟨w_j, x_i⟩)``, ``backward()``, the gradient projected on the tangent
  space, ``torch.optim.SGD.step()``, then row normalisation — the same update as ours;
* ours: ``Unified(...).fit(X, y)`` on the (R, n, d) dataset.

Prints the speed ratio (target ≥ 5×) and the achieved FLOP/s of our training loop (4·R·B·d·m
multiply-adds ×2 per step) as a fraction of a plain ``torch.bmm`` loop of the same shapes
(target ≥ 0.3), all measured in this run.

    python bench/learners.py [--device cuda] [--n 20000]
"""

from __future__ import annotations

import argparse
import math

import torch

from _timing import bmm_seconds, timed
from indexlab.learners import Unified
from indexlab.targets import SingleIndex


class _Neurons(torch.nn.Module):
    def __init__(self, W0: torch.Tensor):
        super().__init__()
        self.W = torch.nn.Parameter(W0.clone())

    def forward(self, X: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        a = X @ self.W.T
        return -(T[:, None] * (a * a - 1) / math.sqrt(2)).sum(dim=1).mean()


def reference_loop(X, T, W0, lr: float, batch: int) -> torch.Tensor:
    """One seed after another: nn.Module + optim.SGD, spherical projection and normalisation."""
    out = []
    for r in range(X.shape[0]):
        model = _Neurons(W0[r])
        opt = torch.optim.SGD(model.parameters(), lr=lr * batch)
        for start in range(0, X.shape[1], batch):
            opt.zero_grad()
            model(X[r, start:start + batch], T[r, start:start + batch]).backward()
            with torch.no_grad():
                W, g = model.W, model.W.grad
                g -= (g * W).sum(dim=1, keepdim=True) * W
            opt.step()
            with torch.no_grad():
                model.W /= model.W.norm(dim=1, keepdim=True)
        out.append(model.W.detach())
    return torch.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=32)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    R, d, m, B, n, dev = args.replicas, args.d, args.width, args.batch, args.n, args.device

    target = SingleIndex("he2", d, replicas=R, seed=0, device=dev)
    X, y = target.sample(n)
    T = (y - y.mean()) / y.std()
    lr = 0.1 / (d * math.log(d))
    learner = Unified(exponent=2, label_transform=lambda v: (v - y.mean()) / y.std(),
                      width=m, batch=B, lr=lr, search_fraction=1.0, decay=0.0,
                      ridge_samples=0, ridge_fraction=0.0)

    def ours():
        return learner.fit(X, y).directions_

    learner.fit(X[:, : 4 * B], y[:, : 4 * B])  # warm-up
    t_ours, W_ours = timed(ours, dev)

    W0 = W_ours.new_tensor(torch.randn(R, m, d).numpy())
    W0 /= W0.norm(dim=-1, keepdim=True)
    reps = max(1, R // 8)  # time a subset of seeds and scale: the loop is linear in R
    t_ref, _ = timed(lambda: reference_loop(X[:reps], T[:reps], W0[:reps], lr, B), dev)
    t_ref *= R / reps

    steps = n // B
    flops = steps * 2 * (2 * R * B * d * m)  # X Wᵀ and ψᵀ X per step
    t_bmm = bmm_seconds(R, B, d, m, 2 * steps, dev)

    print(f"R={R} d={d} m={m} B={B} n={n} device={dev} threads={torch.get_num_threads()}")
    print(f"ours (batched over replicas): {t_ours:.3f} s")
    print(f"per-seed nn.Module + optim.SGD: {t_ref:.3f} s (timed on {reps} seeds, scaled)")
    print(f"speed ratio = {t_ref / t_ours:.2f}x  (target >= 5x)")
    print(f"achieved {flops / t_ours / 1e9:.2f} GFLOP/s vs plain bmm {flops / t_bmm / 1e9:.2f} "
          f"GFLOP/s: fraction = {t_bmm / t_ours:.3f}  (target >= 0.3)")


if __name__ == "__main__":
    main()
