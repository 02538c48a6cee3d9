"""Learners: one module per algorithm family, each a config dataclass with ``fit``.

See :mod:`indexlab.learners.base` for the contract every learner follows.
"""

from indexlab.learners.base import DataSource, Trace, as_replicated, data_source

__all__ = ["DataSource", "Trace", "as_replicated", "data_source"]
