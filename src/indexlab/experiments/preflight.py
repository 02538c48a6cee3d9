"""Checks made before any work, shared by ``indexlab fit``, the spec loader and the runner.

Each raises ``ValueError`` naming the field (a CLI flag or a spec path), the value and what
is allowed:

* :func:`check_device` — ``cpu``, ``cuda`` or ``cuda:k`` with such a device present;
* :func:`check_seed` — an integer in ``0 .. 2**63 − 1`` (what torch and NumPy seed with);
* :func:`check_hyper_value` — a hyperparameter value: finite numbers only (``inf`` is refused
  like ``nan``);
* :func:`check_compatible` — a learner on a target it can fit, by the learner class's own
  ``compatible`` (e.g. the optimal label transform of ``unified`` and ``spectral`` is
  defined for single-index links only; ``sparse_unified`` needs a sparsity; the online
  learners need the exponent they set their defaults from — the generative one for
  ``unified``, the information exponent for ``online_sgd`` and ``smoothed_sgd``).
"""

from __future__ import annotations

import math
import re
from typing import Any

SEED_MAX = 2**63 - 1
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")


def check_device(device: Any, where: str = "device") -> str:
    """``device`` when it is ``cpu``, or a CUDA device that exists here."""
    if not isinstance(device, str) or not _DEVICE.fullmatch(device):
        raise ValueError(f"{where}={device!r} is not allowed: use 'cpu', 'cuda' or 'cuda:k'")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(f"{where}={device!r} is not allowed: no CUDA device is available "
                             "here; use 'cpu'")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(f"{where}={device!r} is not allowed: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s), 'cuda:0'.."
                             f"'cuda:{torch.cuda.device_count() - 1}'")
    return device


def check_seed(seed: Any, where: str = "seed") -> int:
    """An integer seed in ``0 .. 2**63 − 1``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ValueError(f"{where}={seed!r} is not allowed: use an integer in 0..{SEED_MAX}")
    return seed


def check_hyper_value(where: str, value: Any) -> Any:
    """A hyperparameter value as given: numbers must be finite (``nan``, ``inf`` refused)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}={value!r} is not allowed: use a finite number")
    return value


def check_compatible(learner, hyper: dict[str, Any], link, sparsity: int | None,
                     where: str = "learner") -> None:
    """Refuse a learner (a registered name or a class) that cannot fit this target
    (``link``: an :class:`~indexlab.links.Link`), before any sample is drawn: the learner
    class's own :meth:`~indexlab.learners.base.Learner.compatible` says why."""
    from indexlab.learners.registry import learner_class

    why = learner_class(learner).compatible(hyper, link, sparsity)
    if why is not None:
        raise ValueError(f"{where}: {why}")


def preflight_fit(*, link: str, d: int, n: int, n1: int | None, n2: int | None, learner,
                  r: int | None, replicas: int, seed: int, device: str, noise: float,
                  sparsity: int | None, flags: dict[str, Any], settings: dict[str, Any],
                  float64: bool, memory_limit: str | None, n_test: int = 10_000,
                  time_limit: str | None = None) -> None:
    """Everything ``indexlab fit`` checks before it builds a target: the flags' ranges,
    the link (finite on a probe), the learner on this target, and the memory and time
    estimates (the learner's own cost for the engine it runs)."""
    from indexlab.experiments.guards import check_memory, check_time, estimate
    from indexlab.experiments.run import effective_budget
    from indexlab.links import get_link

    check_device(device, "--device")
    check_seed(seed, "--seed")
    for flag, value in (("--d", d), ("--n", n), ("--replicas", replicas), ("--n1", n1),
                        ("--n2", n2)):
        if value is not None and value < 1:
            raise ValueError(f"{flag}={value} is not allowed: use an integer >= 1")
    for name, value in flags.items():
        check_hyper_value(f"--{name}", value)
    for key, value in settings.items():
        check_hyper_value(f"--set {key}", value)
    resolved = get_link(link, noise=noise)
    hyper = {k: v for k, v in {**flags, **settings}.items() if v is not None}
    from indexlab.learners.registry import learner_class

    cls = learner_class(learner)
    width = cls.width_parameter
    if "width" in hyper and width not in (None, "width"):
        hyper[width] = hyper.pop("width")  # e.g. random features: m
    check_compatible(cls, hyper, resolved, sparsity, f"--learner {cls.label()}")
    total = effective_budget(cls, n, n1, n2)
    est = estimate(learner, hyper, d, total, replicas, r or resolved.r, n_test,
                   8 if float64 else 4, device)
    what = f"{cls.label()} on {resolved.name} (d={d}, n={total}, R={replicas})"
    check_memory(est, what, memory_limit, device, "--memory-limit")
    check_time(est.seconds, what, time_limit, "--time-limit")
