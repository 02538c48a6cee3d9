"""Resource guards: the memory and time a run will need, estimated before any work.

:func:`estimate` is the memory and time of one run (one learner, one target at ``d``,
budget ``n``, ``R`` replicas) before any work: the learner's own declared
:meth:`~indexlab.learners.base.Learner.cost` for the engine the run selects
(:mod:`indexlab.learners.costs` holds the model of each family; the exact overlap chain has
no ``d``-dimensional term), plus what the run adds around the learner: the test set
``R·n_test·d`` when the learner predicts (a learner without a predictor is never scored on
one) and the target's directions ``R·r·d`` (float64). Time is the floating-point work divided
by a nominal rate (:data:`FLOPS` per device kind) plus the Gaussian draws, a fixed
:data:`STEP_SECONDS` per Python-driven step and a fixed :data:`OVERHEAD_SECONDS`: an order
of magnitude, for ``--dry-run`` and the error messages, not a promise. The estimate counts
numbers of the run's dtype; it is meant to be within a small factor of the true peak, which
is what a guard against 100× mistakes needs.

:func:`memory_limit` is the budget runs must fit in: ``INDEXLAB_MEMORY_LIMIT`` (bytes, or
with a ``K``/``M``/``G``/``T`` suffix, or a percentage of the available memory such as
``"50%"``), else 80% of the memory available now (``MemAvailable`` of ``/proc/meminfo``; the
free memory of the CUDA device for ``cuda`` runs). :func:`check_memory` raises
:class:`ResourceError` naming the estimate, the limit and how to lower the need.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass

DEFAULT_FRACTION = 0.8
FLOPS = {"cpu": 2e10, "cuda": 2e12}  # nominal sustained rates (flop/s) for the time estimate
DRAWS = {"cpu": 3e8, "cuda": 3e10}  # Gaussian numbers drawn per second
OVERHEAD_SECONDS = 0.2  # fixed cost of a run (setup, metrics, store), measured on tiny runs
# fixed cost of one Python-driven step (kernel dispatch of a minibatch step): 86 s for the
# 3.1·10⁵ steps of online SGD at d = 8, n = 10⁷, B = 32 on our 2-core machine
STEP_SECONDS = {"cpu": 2.8e-4, "cuda": 1e-4}
ENV = "INDEXLAB_MEMORY_LIMIT"
TIME_ENV = "INDEXLAB_TIME_LIMIT"
DEFAULT_TIME_LIMIT = 24 * 3600.0  # seconds: an interactive command refuses a day or more
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class ResourceError(ValueError):
    """A run would need more memory or time than the limit allows (the message says how to
    lower it)."""


@dataclass(frozen=True)
class Estimate:
    """Peak ``bytes``, floating-point work ``flops``, ``seconds`` and the largest parts."""

    bytes: float
    flops: float
    seconds: float
    parts: dict[str, float]

    def largest(self) -> str:
        name, size = max(self.parts.items(), key=lambda kv: kv[1])
        return f"{name}: {human_bytes(size)}"


def human_bytes(size: float) -> str:
    """``1.5 GB`` style (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(size) < 1024 or unit == "PB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size:.0f} B"
        size /= 1024
    return f"{size:.1f} PB"  # pragma: no cover


def human_seconds(seconds: float) -> str:
    """A duration for messages: seconds, minutes, hours or days, one decimal."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400 * 3:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.3g} days"


def estimate(learner, hyper: dict, d: int, n: int, replicas: int, r: int = 1,
             n_test: int = 0, dtype_bytes: int = 4, device: str = "cpu") -> Estimate:
    """Memory and time of one run of ``learner`` (a registered name or a learner class) with
    ``hyper`` (see the module docstring for the model)."""
    from indexlab.learners.registry import learner_class

    cls = learner_class(learner)
    hyper = dict(hyper or {})
    cost = cls.cost(hyper, d, n, replicas, r)
    R, d = float(replicas), float(d)
    draws = cost.draws
    if n_test and cls.predicts_with(hyper):
        cost = dataclasses.replace(cost, parts={**cost.parts,
                                                "test set R·n_test·d": 2 * R * float(n_test) * d})
        draws += R * float(n_test) * d
    parts = cost.part_bytes(dtype_bytes)
    parts["directions R·r·d (float64)"] = 8 * R * r * d
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    seconds = (OVERHEAD_SECONDS + cost.flops / FLOPS[kind] + draws / DRAWS[kind]
               + cost.steps * STEP_SECONDS[kind])
    return Estimate(sum(parts.values()), cost.flops, seconds, parts)


def available_memory(device: str = "cpu") -> float:
    """Bytes available now: the CUDA device's free memory, else ``MemAvailable``."""
    if str(device).startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            index = torch.device(device).index or 0
            return float(torch.cuda.mem_get_info(index)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return math.inf


def parse_limit(text: str, where: str, device: str = "cpu") -> float:
    """A memory limit: bytes (``"8000000000"``), with a unit (``"8G"``, ``"512M"``) or a
    percentage of the available memory (``"50%"``); ``ResourceError`` naming ``where``."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMGTB%]?)B?\s*",
                         str(text), flags=re.IGNORECASE)
    value = float(match.group(1)) if match else math.nan
    if not match or not math.isfinite(value) or value <= 0:
        raise ResourceError(f"{where}={text!r} is not allowed: use a positive size such as "
                            "8G, 512M, 2000000000 (bytes) or a percentage such as 50%")
    unit = match.group(2).upper()
    if unit == "%":
        return available_memory(device) * value / 100
    return value * _UNITS[unit]


def memory_limit(limit: str | float | None = None, device: str = "cpu",
                 where: str = "--memory-limit") -> tuple[float, str]:
    """``(bytes, how it was set)``: ``limit`` (a flag), else ``$INDEXLAB_MEMORY_LIMIT``,
    else 80% of the available memory."""
    if limit is not None:
        value = float(limit) if isinstance(limit, (int, float)) else parse_limit(limit, where,
                                                                                  device)
        return value, f"{where}={limit}"
    env = os.environ.get(ENV)
    if env:
        return parse_limit(env, ENV, device), f"{ENV}={env}"
    return available_memory(device) * DEFAULT_FRACTION, "80% of the memory available now"


def check_memory(est: Estimate, what: str, limit: str | float | None = None,
                 device: str = "cpu", where: str = "--memory-limit") -> None:
    """Raise :class:`ResourceError` when ``est`` exceeds the memory limit."""
    budget, source = memory_limit(limit, device, where)
    if est.bytes > budget:
        raise ResourceError(
            f"{what} needs about {human_bytes(est.bytes)} of memory (largest part: "
            f"{est.largest()}), more than the limit {human_bytes(budget)} ({source}): lower "
            f"d, n, the replicas or the width (or give a smaller chunk), or raise the limit "
            f"with {where} / {ENV} if the machine really has the memory")


def parse_duration(text: str | float, where: str) -> float:
    """A time limit in seconds: a number of seconds (``"3600"``), or with a unit ``s``,
    ``m``/``min``, ``h``, ``d`` (``"90m"``, ``"2h"``, ``"1.5d"``); ``"none"`` or ``"inf"``
    is no limit (``math.inf``). ``ResourceError`` naming ``where`` otherwise."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        lowered = str(text).strip().lower()
        if lowered in ("none", "inf", "off"):
            return math.inf
        match = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(s|min|m|h|d)?", lowered)
        value = float(match.group(1)) if match else math.nan
        unit = (match.group(2) or "") if match else ""
    if not math.isfinite(value) or value <= 0:
        raise ResourceError(f"{where}={text!r} is not allowed: use a positive duration such "
                            "as 600 (seconds), 30m, 2h, 1.5d, or none for no limit")
    return value * _DURATION_UNITS[unit]


def time_limit(limit: str | float | None = None,
               where: str = "--time-limit") -> tuple[float, str]:
    """``(seconds, how it was set)``: ``limit`` (a flag), else ``$INDEXLAB_TIME_LIMIT``, else
    :data:`DEFAULT_TIME_LIMIT` (one day: a command estimated to take longer is refused
    before it starts)."""
    if limit is not None:
        return parse_duration(limit, where), f"{where}={limit}"
    env = os.environ.get(TIME_ENV)
    if env:
        return parse_duration(env, TIME_ENV), f"{TIME_ENV}={env}"
    return DEFAULT_TIME_LIMIT, f"the default {human_seconds(DEFAULT_TIME_LIMIT)}"


def check_time(seconds: float, what: str, limit: str | float | None = None,
               where: str = "--time-limit") -> None:
    """Raise :class:`ResourceError` when the estimated ``seconds`` of ``what`` exceed the
    time limit (:func:`time_limit`), with the estimate and how to lower it."""
    budget, source = time_limit(limit, where)
    if seconds > budget:
        raise ResourceError(
            f"{what} is estimated to take about {human_seconds(seconds)} (an order of "
            f"magnitude), more than the time limit "
            f"{human_seconds(budget)} ({source}): lower n, d, the replicas or the width, or "
            f"raise the limit with {where} / {TIME_ENV} (none: no limit) if you mean it")
