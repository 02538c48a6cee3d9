"""What a result needs to be reproduced: versions, seed, device and resolved hyperparameters.

:func:`provenance` is what ``indexlab fit --json`` adds to its summary and what the sweep
runner stores with every run (``runs.provenance`` in the results store):
``version`` (indexlab), ``torch_version``, ``numpy_version``, ``python_version``, ``seed``,
``device``, ``dtype`` and ``hyperparameters`` — every constructor field of the learner with
its value (defaults included), overridden by what the fit resolved (``hyper_``: a step size
or a smoothing level computed from ``d``, the label exponent found from the link, ...).
"""

from __future__ import annotations

import dataclasses
import platform
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` if JSON has it (numbers, strings, booleans, None), else its text."""
    if isinstance(value, (bool, int, float, str, type(None))):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # NumPy / torch scalars
        return value.item()
    return str(value)


def resolved_hyperparameters(learner: Any) -> dict[str, Any]:
    """The learner's hyperparameters (``get_params()``, or its dataclass fields), then what
    the fit resolved (``hyper_``)."""
    if hasattr(learner, "get_params"):
        params = learner.get_params()
    elif dataclasses.is_dataclass(learner):
        params = {f.name: getattr(learner, f.name) for f in dataclasses.fields(learner) if f.init}
    else:
        params = {}
    out: dict[str, Any] = {key: jsonable(value) for key, value in params.items()}
    for key, value in (getattr(learner, "hyper_", None) or {}).items():
        out[key] = jsonable(value)
    return out


def versions() -> dict[str, str]:
    """indexlab, torch, NumPy and Python versions."""
    import numpy
    import torch

    from indexlab import __version__

    return {"version": __version__, "torch_version": str(torch.__version__),
            "numpy_version": numpy.__version__, "python_version": platform.python_version()}


def provenance(target: Any, learner: Any, seed: int | None = None) -> dict[str, Any]:
    """Versions, ``seed`` (default: the target's), device, dtype and the learner's resolved
    hyperparameters (see the module docstring)."""
    return {**versions(), "seed": target.seed if seed is None else seed,
            "device": str(target.device), "dtype": str(target.dtype).removeprefix("torch."),
            "hyperparameters": resolved_hyperparameters(learner)}
