"""What every claim family shares: :class:`Claim`, the :class:`Context` its evaluation reads,
the modes, the capabilities a mode may need, and the calibration and sizes of a family, read
from the TOML file beside its module (``claims/{family}.toml``).

A :class:`Claim` names its source (paper, theorem or figure), what is measured, the theory it
is judged against and its pass rule, and builds its sweep specs (TOML-shaped dicts, validated
by :func:`indexlab.experiments.spec.parse_spec`) in three modes:

* ``tiny`` — seconds per claim: checks that the claim runs and its judge is wired (the
  verdict of a tiny run means nothing);
* ``quick`` — the whole registry in about 14 min on 2 CPU cores (docs/claims-quick.md);
* ``full`` — the sizes a paper would print (Dask or a GPU welcome).

The specs of a claim are its *parts*, ``{part: spec}``, each run as the sweep
``{claim}-{mode}-{part}``; an evaluation reads a part by its name (:meth:`Context.runs`) and
a learner entry of a part by its label (the entry's ``label``, or its learner's name when
the name is used once: :func:`indexlab.experiments.measures.pick`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import indexlab.experiments.measures as ms
from indexlab.experiments.judge import Check
from indexlab.experiments.store import Store

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

MODES = ("tiny", "quick", "full")


@dataclass
class Context:
    """What an evaluation sees: the store, the stored sweep of each part, the mode."""

    store: Store
    sweeps: dict[str, dict[str, Any]]
    mode: str
    n_boot: int = ms.N_BOOT

    def runs(self, part: str) -> list[dict[str, Any]]:
        sweep = self.sweeps.get(part)
        return [] if sweep is None else ms.finished_runs(self.store, sweep)


@dataclass(frozen=True)
class Table:
    """A table a claim's report shows beside its checks, not judged (e.g. the theory values a
    claim's figures are read against): ``title``, ``head``, ``rows`` (strings) and a ``note``
    saying where the numbers come from."""

    title: str
    head: list[str]
    rows: list[list[str]]
    note: str = ""


def no_tables(ctx: Context) -> list[Table]:
    """The ``tables`` of a claim that shows none."""
    return []


@dataclass(frozen=True)
class Claim:
    """A named reproduction: see the module docstring. ``tables`` (optional) turns the
    stored runs into :class:`Table` objects that the report shows after the checks."""

    name: str
    title: str
    source: str
    measures: str
    theory: str
    rule: str
    build: Callable[[str], dict[str, dict[str, Any]]]
    evaluate: Callable[[Context], list[Check]]
    requires: Callable[[str], tuple[str, ...]] = field(default=lambda mode: ())
    tables: Callable[[Context], list[Table]] = no_tables

    def specs(self, mode: str) -> dict[str, dict[str, Any]]:
        """``{part: spec dict}`` of ``mode``, each named ``{claim}-{mode}-{part}``."""
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not allowed: use one of {', '.join(MODES)}")
        return {part: {**spec, "name": sweep_name(self.name, mode, part)}
                for part, spec in self.build(mode).items()}

    def missing(self, mode: str) -> list[str]:
        """Capabilities ``mode`` needs that this library lacks (e.g. ``engine='chain'``)."""
        return [need for need in self.requires(mode) if not CAPABILITIES[need]()]


def sweep_name(claim: str, mode: str, part: str) -> str:
    """The stored sweep name of one part of a claim: ``{claim}-{mode}-{part}``, cut to 64."""
    return f"{claim}-{mode}-{part}"[:64]


# ---------------------------------------------------------------------------------- capabilities
def _has_chain() -> bool:
    """The exact overlap-chain engine: among the ``engines`` the online learners declare."""
    from indexlab.learners.registry import learner_class

    return all("chain" in learner_class(name).engines
               for name in ("online_sgd", "smoothed_sgd", "unified"))


CAPABILITIES: dict[str, Callable[[], bool]] = {"engine=chain": _has_chain}


def chain_in(*modes: str) -> Callable[[str], tuple[str, ...]]:
    """A claim's ``requires``: the chain engine in ``modes``, nothing in the others."""
    return lambda mode: ("engine=chain",) if mode in modes else ()


# ---------------------------------------------------------------------------------- data
@cache
def _data(family: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(f"{family}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_data(family: str) -> dict[str, Any]:
    """The calibration and sizes of a claim family: ``claims/{family}.toml`` as a dict (a
    fresh copy: a caller may change it)."""
    return copy.deepcopy(_data(family))


def sizes(family: str, mode: str, table: str | None = None) -> dict[str, Any]:
    """The sizes of ``mode`` (the table ``[mode]``, or ``[table.mode]``) of ``family``."""
    data = load_data(family)
    return (data if table is None else data[table])[mode]
