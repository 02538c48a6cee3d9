"""Learners: one module per algorithm family, each a config dataclass with ``fit``.

See :mod:`indexlab.learners.base` for the contract every learner follows.

* :mod:`~indexlab.learners.online_sgd`: ``OnlineSGD``, ``SmoothedSGD`` (baselines);
* :mod:`~indexlab.learners.unified`: ``Unified``, ``SparseUnified`` (Chen et al.);
* :mod:`~indexlab.learners.batch_reuse`: ``BatchReuseSGD``;
* :mod:`~indexlab.learners.layerwise`: ``LayerwiseGD``, ``PowerIteration``, ``OneStepGD``
  (multi-index);
* :mod:`~indexlab.learners.spherical`: the shared online engine and the second stage.
"""

from indexlab.learners.base import DataSource, Trace, as_replicated, data_source
from indexlab.learners.batch_reuse import BatchReuseSGD
from indexlab.learners.layerwise import LayerwiseGD, OneStepGD, PowerIteration
from indexlab.learners.online_sgd import OnlineSGD, SmoothedSGD
from indexlab.learners.unified import SparseUnified, Unified

LEARNERS = {
    "online_sgd": OnlineSGD,
    "smoothed_sgd": SmoothedSGD,
    "unified": Unified,
    "sparse_unified": SparseUnified,
    "batch_reuse_sgd": BatchReuseSGD,
    "layerwise": LayerwiseGD,
    "power_iteration": PowerIteration,
    "one_step": OneStepGD,
}

__all__ = [
    "LEARNERS",
    "BatchReuseSGD",
    "DataSource",
    "LayerwiseGD",
    "OneStepGD",
    "OnlineSGD",
    "PowerIteration",
    "SmoothedSGD",
    "SparseUnified",
    "Trace",
    "Unified",
    "as_replicated",
    "data_source",
]
