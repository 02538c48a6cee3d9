"""indexlab: learning Gaussian single- and multi-index models, and measuring how hard it is.

Public API of the foundation layer::

    from indexlab import SingleIndex, MultiIndex, get_link, theory, metrics

The theory side (``hermite``, ``links``, ``theory``) needs NumPy only; the names that need
torch (``SingleIndex``, ``MultiIndex``, ``Target``, ``HardFamily``, ``metrics``) are imported on
first use (PEP 562 module ``__getattr__``), so ``indexlab --help`` and ``indexlab exponents``
start without importing torch.
"""

from importlib import import_module

from indexlab import hermite, theory
from indexlab.links import REGISTRY, Link, get_link, register_family, registry_names, with_noise

__version__ = "0.1.0"


def _hard_family(name: str) -> Link:
    """``hard{k}_{act}[_bool]`` names, resolved by :mod:`indexlab.hardness` (imported, with
    torch, only when such a name is asked for; importing it registers the family itself)."""
    from indexlab.hardness import link_from_name

    return link_from_name(name)


register_family("hard", _hard_family)

_LAZY = {
    "HardFamily": ("indexlab.hardness", "HardFamily"),
    "MultiIndex": ("indexlab.targets", "MultiIndex"),
    "SingleIndex": ("indexlab.targets", "SingleIndex"),
    "Target": ("indexlab.targets", "Target"),
    "metrics": ("indexlab.metrics", None),
    # plugins (docs/extending.md): a learner class or a claim registered from user code
    "register_learner": ("indexlab.learners.registry", "register_learner"),
    "register_claim": ("indexlab.experiments.claims", "register"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = import_module(module)
        value = value if attr is None else getattr(value, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'indexlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "REGISTRY",
    "HardFamily",
    "Link",
    "MultiIndex",
    "SingleIndex",
    "Target",
    "__version__",
    "get_link",
    "hermite",
    "metrics",
    "register_claim",
    "register_learner",
    "registry_names",
    "theory",
    "with_noise",
]
