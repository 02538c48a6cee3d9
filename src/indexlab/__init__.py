"""indexlab: learning Gaussian single- and multi-index models, and measuring how hard it is.

Public API of the foundation layer::

    from indexlab import SingleIndex, MultiIndex, get_link, theory, metrics
"""

from indexlab import hermite, metrics, theory
from indexlab.hardness import HardFamily
from indexlab.links import REGISTRY, Link, get_link, registry_names, with_noise
from indexlab.targets import MultiIndex, SingleIndex, Target

__version__ = "0.1.0"

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
    "registry_names",
    "theory",
    "with_noise",
]
