"""NumPy-or-torch element-wise operations, without importing torch.

Links, Hermite polynomials and expressions are evaluated on torch tensors when sampling data
and on float64 NumPy arrays when :mod:`indexlab.theory` integrates them. :func:`ops` returns
the operations of ``x``'s library — the ``torch`` module itself for a tensor (torch is then
already imported), else :data:`NUMPY`, a namespace with torch's names and NumPy semantics —
so that ``indexlab exponents`` and ``indexlab --help`` never pay for ``import torch``.
"""

from __future__ import annotations

import math
import sys
from types import SimpleNamespace

import numpy as np


def is_tensor(x) -> bool:
    """``isinstance(x, torch.Tensor)``, answered without importing torch (a tensor cannot
    exist unless torch is imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


_erf = np.frompyfunc(math.erf, 1, 1)


def _np_erf(x):
    return _erf(x).astype(np.result_type(x, np.float64))


def _np_sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


NUMPY = SimpleNamespace(
    abs=np.abs, sign=np.sign, exp=np.exp, log=np.log, sqrt=np.sqrt, sin=np.sin, cos=np.cos,
    tan=np.tan, tanh=np.tanh, sinh=np.sinh, cosh=np.cosh, atan=np.arctan, erf=_np_erf,
    sigmoid=_np_sigmoid, relu=lambda x: np.maximum(x, 0.0), minimum=np.minimum,
    maximum=np.maximum, lt=np.less, le=np.less_equal, gt=np.greater, ge=np.greater_equal,
    clamp=lambda x, min, max: np.clip(x, min, max), stack=lambda xs, dim: np.stack(xs, dim),
)


def ops(x):
    """The element-wise operations for ``x``: the torch module for a tensor, else
    :data:`NUMPY`."""
    return sys.modules["torch"] if is_tensor(x) else NUMPY


def as_dtype(x, like):
    """``x`` (e.g. a boolean mask) cast to the dtype of ``like``."""
    return x.to(like.dtype) if is_tensor(x) else np.asarray(x).astype(like.dtype)


def full_like(z, value: float):
    """A new array/tensor like ``z`` filled with ``value``."""
    if is_tensor(z):
        return sys.modules["torch"].full_like(z, float(value))
    return np.full_like(z, float(value))


def as_like(values, like):
    """The NumPy array ``values`` as an array/tensor of ``like``'s kind, dtype and device."""
    if is_tensor(like):
        return sys.modules["torch"].as_tensor(values, dtype=like.dtype, device=like.device)
    return np.asarray(values, dtype=like.dtype)
