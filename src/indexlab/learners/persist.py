"""Saving and loading fitted learners in a safe format: ``.npz`` arrays + JSON metadata.

``Learner.save(path)`` writes one ``.npz`` file (:func:`numpy.savez`): every array of the
fitted learner (torch tensors and numpy arrays, by position ``a0, a1, …``) and one entry
``__indexlab__`` holding JSON metadata::

    {"format": "indexlab-learner", "format_version": 1, "indexlab": "0.1.0",
     "learner": "sir", "class": "indexlab.learners.sdr.SIR",
     "hyper": {...}, "state": {...}}

``hyper`` are the hyperparameters, ``state`` the fitted attributes (``directions_``,
``trace_``, ``network_``, …), both as a JSON tree whose leaves are numbers, strings, array
references and a closed set of tagged objects: torch devices and dtypes, the activations and
losses of :mod:`indexlab.nn` by name, and the dataclasses and functions of :data:`SAFE`
(the network, the trace, the label transforms; a module adds its own with
:func:`register_safe`). Anything else (a user's lambda as ``label_transform``) is refused at
``save`` with its attribute named; such a learner still pickles.

``Learner.load(path)`` never unpickles: the file is read with ``allow_pickle=False``, the
class is the registered learner of ``learner`` (its class path checked), objects are rebuilt
only from :data:`SAFE`. A file that is not ours, or of another ``format_version``, is a
``ValueError`` saying so; a file written by another indexlab version of the same format
loads with a warning naming both versions.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from indexlab.learners.trace import Trace
from indexlab.nn import ACTIVATIONS, LOSSES, Activation, Loss, Network
from indexlab.theory import LabelTransform

FORMAT = "indexlab-learner"
FORMAT_VERSION = 1
META = "__indexlab__"

# the classes and functions a file may name (by this key): nothing else is ever built
SAFE: dict[str, Any] = {"Trace": Trace, "Network": Network, "LabelTransform": LabelTransform}


def register_safe(obj: Any, name: str | None = None) -> Any:
    """Allow the dataclass or function ``obj`` in saved files (under ``name``, default its
    qualified name); returns ``obj``. A dataclass is saved as its fields (each saved by the
    same rules), a function by name."""
    key = name or f"{obj.__module__}.{obj.__qualname__}"
    if SAFE.get(key, obj) is not obj:
        raise ValueError(f"{key!r} is already a safe type of the save format")
    SAFE[key] = obj
    return obj


def _safe_key(obj: Any) -> str | None:
    for key, value in SAFE.items():
        if value is obj:
            return key
    return None


class _Writer:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, value: np.ndarray | torch.Tensor) -> dict[str, Any]:
        name = f"a{len(self.arrays)}"
        order: list[int] | None = None
        if isinstance(value, torch.Tensor):
            data = value.detach().cpu()
            kind, dtype = "torch", str(data.dtype).removeprefix("torch.")
            if data.dtype == torch.bfloat16:
                data = data.to(torch.float32)
            # the memory order of the axes (a transposed view stays one when loaded), so
            # that products on the loaded tensor run the same kernels: identical results
            order = sorted(range(data.ndim), key=lambda i: -data.stride(i))
            data = data.permute(order).contiguous().numpy()
        else:
            if value.dtype == object:
                if not all(isinstance(v, str) for v in value.ravel()):
                    raise TypeError("an object array other than strings")
                return {"__strings__": value.tolist()}
            data, kind, dtype = value, "numpy", str(value.dtype)
        self.arrays[name] = np.ascontiguousarray(data)
        out = {"__array__": name, "kind": kind, "dtype": dtype}
        if order is not None and order != sorted(order):
            out["order"] = order
        return out

    def encode(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
            return value.item() if isinstance(value, np.generic) else value
        if isinstance(value, (torch.Tensor, np.ndarray)):
            try:
                return self.array(value)
            except TypeError as exc:
                raise TypeError(f"{where}: {exc} cannot be saved") from None
        if isinstance(value, torch.device):
            return {"__device__": str(value)}
        if isinstance(value, torch.dtype):
            return {"__dtype__": str(value).removeprefix("torch.")}
        if isinstance(value, Activation) and ACTIVATIONS.get(value.name) == value:
            return {"__activation__": value.name}
        if isinstance(value, Loss) and LOSSES.get(value.name) == value:
            return {"__loss__": value.name}
        if isinstance(value, (list, tuple)):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return items if isinstance(value, list) else {"__tuple__": items}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                raise TypeError(f"{where}: a dict with non-string keys cannot be saved")
            return {"__dict__": {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}}
        key = _safe_key(type(value)) if dataclasses.is_dataclass(value) else _safe_key(value)
        if key is not None and dataclasses.is_dataclass(value):
            fields = {f.name: self.encode(getattr(value, f.name), f"{where}.{f.name}")
                      for f in dataclasses.fields(value)}
            return {"__object__": key, "fields": fields}
        if key is not None:
            return {"__function__": key}
        raise TypeError(f"{where} = {value!r} (a {type(value).__name__}) cannot be saved in the "
                        "safe format: give it by name (a registered activation, loss or "
                        "preprocessing), or pickle the learner instead")


class _Reader:
    def __init__(self, arrays: Any, device: torch.device) -> None:
        self.arrays, self.device = arrays, device

    def decode(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "__array__" in value:
            data = self.arrays[value["__array__"]]
            if value["kind"] == "numpy":
                return data
            tensor = torch.from_numpy(np.array(data)).to(getattr(torch, value["dtype"]))
            if "order" in value:  # back to the saved axes, keeping the saved memory order
                tensor = tensor.permute(np.argsort(value["order"]).tolist())
            return tensor.to(self.device)
        if "__strings__" in value:
            return np.array(value["__strings__"], dtype=object)
        if "__device__" in value:
            return self.device
        if "__dtype__" in value:
            return getattr(torch, value["__dtype__"])
        if "__activation__" in value:
            return ACTIVATIONS[value["__activation__"]]
        if "__loss__" in value:
            return LOSSES[value["__loss__"]]
        if "__tuple__" in value:
            return tuple(self.decode(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: self.decode(v) for k, v in value["__dict__"].items()}
        if "__object__" in value or "__function__" in value:
            key = value.get("__object__", value.get("__function__"))
            if key not in SAFE:
                raise ValueError(f"the file names {key!r}, which is not a safe type of this "
                                 "indexlab's save format")
            if "__function__" in value:
                return SAFE[key]
            return SAFE[key](**{k: self.decode(v) for k, v in value["fields"].items()})
        raise ValueError(f"the file holds an entry this indexlab cannot read: {value!r:.80}")


def save(learner: Any, path: str | os.PathLike, version: str) -> Path:
    """Write fitted ``learner`` to ``path`` (``.npz`` appended when missing); the module
    docstring gives the format. Returns the path written."""
    learner.check_fitted()
    cls = type(learner)
    name = cls.registry_name
    if name is None:
        raise ValueError(f"{cls.__name__} is not a registered learner: register it "
                         "(indexlab.register_learner) so that load can find its class")
    writer = _Writer()
    hyper = learner.get_params()
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "indexlab": version,
        "learner": name, "class": f"{cls.__module__}.{cls.__qualname__}",
        "hyper": {k: writer.encode(v, f"hyperparameter {k}") for k, v in hyper.items()},
        "state": {k: writer.encode(v, f"fitted attribute {k}")
                  for k, v in vars(learner).items() if k not in hyper},
    }
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    text = json.dumps(meta).encode("utf-8")
    np.savez(path, **{META: np.frombuffer(text, dtype=np.uint8)}, **writer.arrays)
    return path


def read(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and arrays of a saved learner, after the format checks (no unpickling:
    ``numpy.load(allow_pickle=False)``)."""
    where = str(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("it is a single .npy array")
            files = {k: archive[k] for k in archive.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{where} is not an indexlab learner file (Learner.save writes an "
                         f".npz with JSON metadata): {exc}") from None
    if META not in files:
        raise ValueError(f"{where} is an .npz file but not one written by Learner.save (it "
                         f"has no {META} entry)")
    try:
        meta = json.loads(files.pop(META).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: its {META} entry is not JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{where} is not an indexlab learner file (format "
                         f"{meta.get('format') if isinstance(meta, dict) else None!r}, "
                         f"expected {FORMAT!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{where} was written in format version {meta.get('format_version')!r}"
                         f" (by indexlab {meta.get('indexlab')}); this indexlab reads format "
                         f"version {FORMAT_VERSION}: load it with that indexlab, or refit")
    return meta, files


def restore(cls: type, meta: dict[str, Any], arrays: dict[str, np.ndarray],
            version: str, device: str | torch.device = "cpu",
            where: str = "the file") -> Any:
    """The learner of class ``cls`` described by ``meta``/``arrays`` (from :func:`read`),
    its tensors on ``device``."""
    expected = f"{cls.__module__}.{cls.__qualname__}"
    if meta["class"] != expected:
        raise ValueError(f"{where} holds a {meta['class']} saved as {meta['learner']!r}, but "
                         f"that name is now {expected}")
    if meta.get("indexlab") != version:
        warnings.warn(f"{where} was saved by indexlab {meta.get('indexlab')} (this is "
                      f"{version}); the format is the same, but the learner's code may "
                      "differ", UserWarning, stacklevel=3)
    reader = _Reader(arrays, torch.device(device))
    learner = cls(**{k: reader.decode(v) for k, v in meta["hyper"].items()})
    for key, value in meta["state"].items():
        setattr(learner, key, reader.decode(value))
    return learner
