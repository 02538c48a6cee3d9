"""Plugins: learners and claims that other installed packages declare as entry points.

A package adds its learner (or claim) to every process that imports indexlab, the
``indexlab`` command and Dask workers included, by declaring it in its ``pyproject.toml``::

    [project.entry-points."indexlab.learners"]
    first_moment = "my_package.learners:FirstMoment"      # name = module:Learner subclass

    [project.entry-points."indexlab.claims"]
    first-moment-dlinear = "my_package.claims:CLAIMS"     # a Claim, or a list of them

The learner registry reads the group ``indexlab.learners`` when it is imported, the claims
registry ``indexlab.claims`` when it is (:func:`entry_points` and :func:`load_all`; both
through :mod:`importlib.metadata`, so an installed distribution's ``entry_points.txt`` is
all it takes). A plugin that fails to import, or whose class the registry refuses, is named
in a :class:`PluginWarning` and in :data:`FAILED` (name → reason), and the other learners
and claims load as usual; asking for a failed plugin by name repeats its reason.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

LEARNER_GROUP = "indexlab.learners"
CLAIM_GROUP = "indexlab.claims"

# (group, name) → why that plugin did not load
FAILED: dict[tuple[str, str], str] = {}


class PluginWarning(UserWarning):
    """An installed plugin (entry point) of indexlab did not load; the message names it."""


def entry_points(group: str) -> list[metadata.EntryPoint]:
    """The installed entry points of ``group``, one per name (the first found on
    ``sys.path`` wins, as for imports)."""
    seen: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=group):
        seen.setdefault(ep.name, ep)
    return list(seen.values())


def _origin(ep: metadata.EntryPoint) -> str:
    name = getattr(getattr(ep, "dist", None), "name", None)
    return f"{ep.value!r}" + (f" of the distribution {name!r}" if name else "")


def load_all(group: str, add: Callable[[str, Any], None]) -> list[str]:
    """Load every entry point of ``group`` and pass ``(name, object)`` to ``add``; returns
    the names added. Any exception while importing or adding a plugin becomes a
    :class:`PluginWarning` naming it (and an entry of :data:`FAILED`); the others go on."""
    added = []
    for ep in entry_points(group):
        try:
            add(ep.name, ep.load())
        except Exception as exc:  # a broken plugin must not break the others
            why = f"{type(exc).__name__}: {exc}"
            FAILED[(group, ep.name)] = why
            warnings.warn(f"indexlab plugin {ep.name!r} ({group} entry point {_origin(ep)}) "
                          f"was not loaded: {why}", PluginWarning, stacklevel=2)
        else:
            FAILED.pop((group, ep.name), None)
            added.append(ep.name)
    return added


def failure(group: str, name: str) -> str | None:
    """Why the plugin ``name`` of ``group`` did not load, or ``None``."""
    return FAILED.get((group, name))
