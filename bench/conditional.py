"""Stage 1 of layer-wise GD: full engine against the conditional engine (docs/conditional.md).

Run as ``python bench/conditional.py [d] [width] [t1]``. Both engines run the same number of
steps with the same step size at ``n1 = 8 d ln d`` (half of ``n = 16 d ln d``), one replica,
float32, in one process (the ratio is what to read: the machine may be loaded). Memory is the
bytes of the tensors each engine holds at the end (the dataset for the full engine; the
revealed products ``A`` and the basis ``B`` for the conditional one). No time is asserted.
"""

from __future__ import annotations

import math
import sys

import torch

from _timing import timed
from indexlab.learners.conditional import stage_one
from indexlab.learners.layerwise import _full_batch_gradients
from indexlab.nn import Network, get_activation, get_loss

FULL_MAX_D = 2048


def main(d: int = 1024, m: int = 32, t1: int = 4) -> None:
    n1 = int(8 * d * math.log(d))
    g = torch.Generator().manual_seed(0)
    full_engine = d <= FULL_MAX_D  # beyond, the dataset alone is many GB: conditional only
    X = torch.randn(1, n1, d if full_engine else 2, generator=g)
    y = X[:, :, 0] * X[:, :, 1]
    lr, decay = 3.0 * m, 1.0 / (3.0 * m)

    def full():
        v = torch.randn(1, m // 2, d, generator=g)
        v = v / v.norm(dim=-1, keepdim=True)
        a = torch.cat([torch.ones(1, m // 2), -torch.ones(1, m // 2)], 1)
        net = Network(W=1e-3 * torch.cat([v, v], 1), a=a, b=torch.zeros(1, m),
                      activation=get_activation("logcosh"), offset=torch.zeros(1))
        for _ in range(t1):
            net.W = net.W - lr * (_full_batch_gradients(net, X, y, get_loss("huber"))
                                  + decay * net.W)
        return net.W

    def cond():
        return stage_one(X[:, :, :2].contiguous(), y, d, width=m, t1=t1,
                         lr=torch.full((1,), lr), decay=torch.full((1,), decay),
                         offset=torch.zeros(1), generator=torch.Generator().manual_seed(1))

    t_full, _ = timed(full) if full_engine else (math.nan, None)
    t_cond, _ = timed(cond)
    k = m // 2 + m * t1
    print(f"d={d} n1={n1} m={m} t1={t1}: full {t_full:.2f} s, conditional {t_cond:.2f} s, "
          f"ratio {t_full / t_cond:.1f}x")
    print(f"held: full dataset {4 * n1 * d / 2**20:.0f} MiB; conditional A, B "
          f"{4 * n1 * (k + m * t1) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
