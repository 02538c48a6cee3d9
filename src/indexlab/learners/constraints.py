"""Declarative hyperparameter constraints (in the spirit of scikit-learn's
``_parameter_constraints``).

A learner declares, per hyperparameter, a tuple of *alternatives*; a value is allowed when
one alternative accepts it, and ``None`` in the tuple allows ``None``::

    constraints = {
        "width": (Int(1),),                                 # an integer >= 1
        "lr": (Real(0, closed="neither"), None),            # a number > 0, or None
        "preprocess": (Options("none", "dls"), IsCallable()),
    }

:func:`check` raises ``ValueError("width=0 is not allowed: use an integer >= 1")``: the
message names the field, the value and every allowed alternative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

_INT_TYPES = (int, np.integer)
_REAL_TYPES = (int, float, np.integer, np.floating)


@dataclass(frozen=True)
class Int:
    """An integer (never a bool) in ``[low, high]`` (``None``: unbounded), even if ``even``."""

    low: int | None = None
    high: int | None = None
    even: bool = False

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, _INT_TYPES) or isinstance(value, (bool, np.bool_)):
            return False
        if self.low is not None and value < self.low:
            return False
        if self.high is not None and value > self.high:
            return False
        return not (self.even and value % 2)

    def describe(self) -> str:
        kind = "an even integer" if self.even else "an integer"
        if self.low is not None and self.high is not None:
            return f"{kind} in {self.low}..{self.high}"
        if self.low is not None:
            return f"{kind} >= {self.low}"
        if self.high is not None:
            return f"{kind} <= {self.high}"
        return kind


@dataclass(frozen=True)
class Real:
    """A finite real number (ints included, bools not) in an interval; ``closed`` says which
    ends belong to it: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, _REAL_TYPES) or isinstance(value, (bool, np.bool_)):
            return False
        if not math.isfinite(value):
            return False
        open_low = self.closed in ("right", "neither")
        open_high = self.closed in ("left", "neither")
        if self.low is not None and (value < self.low or (open_low and value == self.low)):
            return False
        return self.high is None or not (value > self.high or (open_high and value == self.high))

    def describe(self) -> str:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        if self.low is not None and self.high is not None:
            return f"a number in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"a number {'>=' if left == '[' else '>'} {self.low:g}"
        if self.high is not None:
            return f"a number {'<=' if right == ']' else '<'} {self.high:g}"
        return "a finite number"


@dataclass(frozen=True, init=False)
class Options:
    """One of the listed values (compared with ``==``, same type)."""

    values: tuple

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", values)

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Bool:
    """``True`` or ``False``."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def describe(self) -> str:
        return "True or False"


@dataclass(frozen=True)
class Text:
    """Any string (e.g. a link name or expression, parsed at ``fit``)."""

    what: str = "a string"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def describe(self) -> str:
        return self.what


@dataclass(frozen=True)
class IsCallable:
    """A callable, e.g. a label transform ``T`` on label tensors."""

    what: str = "a callable"

    def accepts(self, value: Any) -> bool:
        return callable(value)

    def describe(self) -> str:
        return self.what


@dataclass(frozen=True)
class InstanceOf:
    """An instance of ``kind``."""

    kind: type

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.kind)

    def describe(self) -> str:
        name = self.kind.__name__
        return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


Alternatives = tuple  # of Int | Real | Options | Bool | Text | IsCallable | InstanceOf | None


def allowed(alternatives: Alternatives) -> str:
    """The alternatives as text: ``"an integer >= 1 or None"``."""
    parts = [("None" if a is None else a.describe()) for a in alternatives]
    return " or ".join(parts)


def check(name: str, value: Any, alternatives: Alternatives) -> None:
    """``ValueError`` naming ``name``, ``value`` and the alternatives unless one accepts it."""
    for alt in alternatives:
        if (value is None) if alt is None else alt.accepts(value):
            return
    raise ValueError(f"{name}={value!r} is not allowed: use {allowed(alternatives)}")


def check_all(values: Mapping[str, Any], table: Mapping[str, Alternatives]) -> None:
    """:func:`check` every entry of ``table`` against ``values`` (in the table's order)."""
    for name, alternatives in table.items():
        check(name, values[name], alternatives)
