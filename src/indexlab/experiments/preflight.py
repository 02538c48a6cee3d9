"""Checks made before any work, shared by ``indexlab fit``, the spec loader and the runner.

Each raises ``ValueError`` naming the field (a CLI flag or a spec path), the value and what
is allowed:

* :func:`check_device` — ``cpu``, ``cuda`` or ``cuda:k`` with such a device present;
* :func:`check_seed` — an integer in ``0 .. 2**63 − 1`` (what torch and NumPy seed with);
* :func:`check_hyper_value` — a hyperparameter value: finite numbers only (``inf`` is refused
  like ``nan``);
* :func:`check_compatible` — a learner on a target it can fit (e.g. the optimal label
  transform of ``unified`` and ``spectral`` is defined for single-index links only;
  ``sparse_unified`` needs a sparsity). The rules read the learner's hyperparameters and
  their dataclass defaults; when the learners gain a declarative constraints table, this
  function is the one place to switch over to it.
"""

from __future__ import annotations

import dataclasses
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


def _setting(learner: str, hyper: dict[str, Any], name: str) -> Any:
    from indexlab.learners import LEARNERS

    if name in hyper:
        return hyper[name]
    cls = LEARNERS.get(learner)
    if cls is None or not dataclasses.is_dataclass(cls):
        return None
    for f in dataclasses.fields(cls):
        if f.name == name and f.default is not dataclasses.MISSING:
            return f.default
    return None


def _has(learner: str, name: str) -> bool:
    from indexlab.learners import LEARNERS

    cls = LEARNERS.get(learner)
    return cls is not None and dataclasses.is_dataclass(cls) and any(
        f.name == name for f in dataclasses.fields(cls))


def check_compatible(learner: str, hyper: dict[str, Any], link, sparsity: int | None,
                     where: str = "learner") -> None:
    """Refuse a learner that cannot fit this target (``link``: an
    :class:`~indexlab.links.Link`), before any sample is drawn."""
    r = link.r
    if r > 1 and _has(learner, "label_transform"):
        transform = _setting(learner, hyper, "label_transform")
        if transform == "optimal":
            raise ValueError(
                f"{where}: {learner} with label_transform='optimal' needs a single-index "
                f"target, but link {link.name!r} has r={r}: use label_transform='agnostic' or "
                "'identity', a single-index link, or a multi-index learner (layerwise, "
                "power_iteration, one_step, sir, save, phd)")
    if r > 1 and _has(learner, "preprocess") and _has(learner, "link"):
        preprocess = _setting(learner, hyper, "preprocess")
        if preprocess in ("optimal", "label_transform"):
            raise ValueError(
                f"{where}: {learner} with preprocess={preprocess!r} needs a single-index "
                f"target, but link {link.name!r} has r={r}: use preprocess='truncation' or "
                "'identity'")
    if (_has(learner, "sparsity") and _has(learner, "screen_fraction")
            and _setting(learner, hyper, "sparsity") is None and sparsity is None):
        raise ValueError(
            f"{where}: {learner} needs a sparse target: give the target a sparsity k "
            "(targets[i].sparsity, --sparsity) or the learner hyper sparsity = k")
    if _has(learner, "exponent") and _setting(learner, hyper, "exponent") is None:
        _check_exponent(learner, link, where)


def _check_exponent(learner: str, link, where: str) -> None:
    """The online learners take their step size from the link's exponent: it must exist."""
    from indexlab import theory
    from indexlab.learners import LEARNERS

    kind = _setting(learner, {}, "exponent_kind") or "generative"
    known = link.generative_exponent if kind == "generative" else link.information_exponent
    if known is not None:
        return
    fn = theory.generative_exponent if kind == "generative" else theory.information_exponent
    try:
        value = fn(link)
    except ValueError as exc:
        value, why = None, f" ({exc})"
    else:
        why = ""
    if value is None:
        name = LEARNERS[learner].__name__
        raise ValueError(f"{where}: {name} needs the {kind} exponent of link {link.name!r}, "
                         f"which theory cannot give{why}: set the learner hyper exponent = k")


def preflight_fit(*, link: str, d: int, n: int, n1: int | None, n2: int | None, learner: str,
                  r: int | None, replicas: int, seed: int, device: str, noise: float,
                  sparsity: int | None, flags: dict[str, Any], settings: dict[str, Any],
                  float64: bool, memory_limit: str | None, n_test: int = 10_000) -> None:
    """Everything ``indexlab fit`` checks before it builds a target: the flags' ranges,
    the link (finite on a probe), the learner on this target, and the memory estimate."""
    from indexlab.experiments.guards import check_memory, estimate
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
    from indexlab.learners import LEARNERS

    if learner in LEARNERS:
        width = getattr(LEARNERS[learner], "width_parameter", "width")
        if "width" in hyper and width not in (None, "width"):
            hyper[width] = hyper.pop("width")  # e.g. random features: m
        check_compatible(learner, hyper, resolved, sparsity, f"--learner {learner}")
    total = n if n1 is None or n2 is None else n1 + n2
    est = estimate(learner, hyper, d, total, replicas, r or resolved.r, n_test,
                   8 if float64 else 4, device)
    check_memory(est, f"{learner} on {resolved.name} (d={d}, n={total}, R={replicas})",
                 memory_limit, device, "--memory-limit")
