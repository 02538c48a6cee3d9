"""Learners: one module per algorithm family, each a dataclass of hyperparameters with ``fit``.

Every learner is a :class:`~indexlab.learners.base.Learner` (the contract: constraints,
``validate``, ``get_params``/``set_params``, capability flags, ``trace_``; see
``help(Learner)``).

* :mod:`~indexlab.learners.online_sgd`: ``OnlineSGD``, ``SmoothedSGD`` (baselines);
* :mod:`~indexlab.learners.unified`: ``Unified``, ``SparseUnified`` (Chen et al.);
* :mod:`~indexlab.learners.batch_reuse`: ``BatchReuseSGD``;
* :mod:`~indexlab.learners.layerwise`: ``LayerwiseGD``, ``PowerIteration``, ``OneStepGD``
  (multi-index);
* :mod:`~indexlab.learners.spectral`: ``Spectral`` (spectral estimator with label
  preprocessing, baseline);
* :mod:`~indexlab.learners.sdr`: ``SIR``, ``SAVE``, ``PHD`` (sufficient dimension reduction);
* :mod:`~indexlab.learners.amp`: ``GAMP`` (Bayes-optimal message passing, ``r ≤ 3``);
* :mod:`~indexlab.learners.kernels`: ``RandomFeatures``, ``KernelRidge`` (no feature
  learning);
* :mod:`~indexlab.learners.registry`: ``LEARNERS``, :func:`learner_class`,
  :func:`make_learner`, :func:`register_learner` (the one registry; ``docs/extending.md``);
* :mod:`~indexlab.learners.costs`: what a run costs (each class's ``cost``);
* :mod:`~indexlab.learners.persist`: ``Learner.save(path)`` / :func:`load` (safe npz +
  JSON format; fitted learners also pickle);
* :mod:`~indexlab.learners.spherical`: the classes ``SphericalLearner``, ``SphericalSGD``
  the online learners derive from; their engine is :mod:`~indexlab.learners.online_engine`
  (steps: :mod:`~indexlab.learners.schedule`), their configuration
  :func:`~indexlab.learners.online_setup.online_setup`, their second stage
  :mod:`~indexlab.learners.second_stage`.
"""

from indexlab.learners.amp import GAMP
from indexlab.learners.base import (
    DataSource,
    Learner,
    NotFittedError,
    Trace,
    as_replicated,
    data_source,
    document_hyperparameters,
)
from indexlab.learners.batch_reuse import BatchReuseSGD
from indexlab.learners.kernels import KernelRidge, RandomFeatures
from indexlab.learners.layerwise import LayerwiseGD, OneStepGD, PowerIteration
from indexlab.learners.online_sgd import OnlineSGD, SmoothedSGD
from indexlab.learners.registry import (
    LEARNERS,
    learner_class,
    make_learner,
    register_learner,
)
from indexlab.learners.sdr import PHD, SAVE, SIR
from indexlab.learners.spectral import Spectral
from indexlab.learners.spherical import SphericalLearner, SphericalSGD
from indexlab.learners.unified import SparseUnified, Unified


def _learner_classes(cls: type[Learner] = Learner) -> list[type[Learner]]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_learner_classes(sub)]
    return out


def load(path, device="cpu") -> Learner:
    """The fitted learner saved at ``path`` by ``Learner.save`` (:meth:`Learner.load`: the
    safe npz + JSON format of :mod:`~indexlab.learners.persist`, never unpickled)."""
    return Learner.load(path, device)


for _cls in _learner_classes():  # help(Unified) lists every hyperparameter (base.py)
    document_hyperparameters(_cls)

__all__ = [
    "GAMP",
    "LEARNERS",
    "PHD",
    "SAVE",
    "SIR",
    "BatchReuseSGD",
    "DataSource",
    "KernelRidge",
    "LayerwiseGD",
    "Learner",
    "NotFittedError",
    "OneStepGD",
    "OnlineSGD",
    "PowerIteration",
    "RandomFeatures",
    "SmoothedSGD",
    "SparseUnified",
    "Spectral",
    "SphericalLearner",
    "SphericalSGD",
    "Trace",
    "Unified",
    "as_replicated",
    "data_source",
    "learner_class",
    "load",
    "make_learner",
    "register_learner",
]
