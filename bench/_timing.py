"""Timing helpers shared by the benchmark scripts (run as ``python bench/NAME.py``).

Every timing synchronises the CUDA device around the timed call, so GPU work is counted;
on the CPU ``sync`` is a no-op.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch


def sync(device: str | torch.device) -> None:
    """Wait for queued kernels on a CUDA ``device`` (no-op on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: str | torch.device = "cpu") -> tuple[float, Any]:
    """``(seconds, result)`` of one call of ``fn``, synchronised on ``device``."""
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


def best_of(fn: Callable[[], Any], repeats: int,
            device: str | torch.device = "cpu") -> tuple[float, Any]:
    """The fastest of ``repeats`` timed calls of ``fn`` and the result of the last one."""
    best, out = float("inf"), None
    for _ in range(repeats):
        seconds, out = timed(fn, device)
        best = min(best, seconds)
    return best, out


def bmm_seconds(replicas: int, rows: int, d: int, m: int, calls: int,
                device: str | torch.device = "cpu") -> float:
    """Seconds for ``calls`` plain ``torch.bmm`` of ``(R, rows, d) @ (R, d, m)`` (after one
    warm-up call): the reference the FLOP-rate benchmarks divide by."""
    A = torch.randn(replicas, rows, d, device=device)
    B = torch.randn(replicas, d, m, device=device)
    torch.bmm(A, B)

    def loop() -> None:
        for _ in range(calls):
            torch.bmm(A, B)

    return timed(loop, device)[0]
