"""One check of a ``device`` argument for the Python API, the CLI and sweep specs.

:func:`check_device` turns ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a
``torch.device`` into a ``torch.device`` that exists on this machine, or raises a
``ValueError`` that names the value and what is allowed — instead of torch's own errors
("Cannot get CUDA generator without ATen_cuda library", "Invalid device string", ...), which
surface later and far from the argument.
"""

from __future__ import annotations

import torch


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``, validated against this machine's devices."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device={device!r} is not allowed: use 'cpu', 'cuda', 'cuda:N' or "
                         "'mps'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={str(device)!r} is not available: no CUDA device found "
                             "(torch.cuda.is_available() is False); use device='cpu'")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"device={str(device)!r} is not available: this machine has "
                             f"{count} CUDA device(s), cuda:0..cuda:{count - 1}")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device={str(device)!r} is not available: no Apple MPS device; "
                             "use device='cpu'")
    elif dev.type != "cpu":
        raise ValueError(f"device={str(device)!r} is not allowed: use 'cpu', 'cuda', 'cuda:N' "
                         "or 'mps'")
    return dev
