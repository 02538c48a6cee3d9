"""The registry behind ``indexlab reproduce``: one entry per claim of the papers.

A :class:`Claim` names its source (paper, theorem or figure), what is measured, the theory it
is judged against and its pass rule, and builds its sweep specs in three modes (``tiny``,
``quick``, ``full``: :mod:`indexlab.experiments.claims.base`). The claims live one family per
module, each with its calibration and sizes as data beside it (``{family}.toml``):

* :mod:`~indexlab.experiments.claims.exponents` — ``exponents-{he3,he4,genexp3,genexp4}``;
* :mod:`~indexlab.experiments.claims.sparse` — ``sparse-k``;
* :mod:`~indexlab.experiments.claims.layerwise` — ``layerwise-exponent``, ``layerwise-dlogd``,
  ``t1-superconstant``, ``loss-matters``;
* :mod:`~indexlab.experiments.claims.hardness` — ``hard-instances`` (and the standalone
  hard-family experiment);
* :mod:`~indexlab.experiments.claims.baselines` — ``baselines``;
* :mod:`~indexlab.experiments.claims.amp` — ``amp-threshold``.

The specs are built in Python (so ``pip install`` users have them; ``indexlab reproduce
--list --json`` prints them) and run through the ordinary sweep engine, so every run is
stored once, keyed by its configuration and the library version, and a second
``reproduce`` resumes. Sweep names are ``{claim}-{mode}-{part}``: a claim always reads the
runs its *current* spec expands to, under the current version, never older ones.

Each claim's ``evaluate`` turns the stored runs into :class:`~indexlab.experiments.judge.Check`
objects, judged by separation (:mod:`indexlab.experiments.judge`): a claim passes only if its
intervals separate it from the alternative.

Claims that need the exact overlap-chain engine (``engine = "chain"``, docs/chain.md) for
their large ``d`` check for it before running and report "inconclusive (engine not
available)" on a version of the library without it.

A claim defined elsewhere joins the registry with :func:`register` (docs/extending.md), or,
from an installed package, as an entry point of the group ``indexlab.claims``
(:mod:`indexlab.learners.plugins`), read on first use (:func:`get_claims`).
"""

from __future__ import annotations

import indexlab.learners.plugins as plugins
from indexlab.experiments.claims import amp, baselines, exponents, hardness, layerwise, sparse
from indexlab.experiments.claims.base import (
    CAPABILITIES,
    MODES,
    Claim,
    Context,
    Table,
    load_data,
    sizes,
    sweep_name,
)
from indexlab.experiments.claims.exponents import (
    EXPONENT_C,
    EXPONENT_SUCCESS,
    SINGLE_LEARNERS,
    exponent_log_factor,
    spec_lr_formula,
)

__all__ = ["CAPABILITIES", "CLAIMS", "EXPONENT_C", "EXPONENT_SUCCESS", "MODES",
           "SINGLE_LEARNERS", "Claim", "Context", "Table", "exponent_log_factor", "get_claims",
           "load_data", "load_plugins", "register", "sizes", "spec_lr_formula", "sweep_name"]

CLAIMS: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    """Add ``claim`` to the registry (after the claims already there) and return it; a name
    already registered is a ``ValueError``."""
    if claim.name in CLAIMS:
        raise ValueError(f"claim name {claim.name!r} is already registered: give the claim "
                         "another name")
    CLAIMS[claim.name] = claim
    return claim


for _family in (exponents, sparse, layerwise, hardness, baselines, amp):
    for _claim in _family.CLAIMS:
        register(_claim)


def _add_plugin(name: str, value: object) -> None:
    """Register an entry point's object: a :class:`Claim` or a list of them."""
    found = [value] if isinstance(value, Claim) else value
    if not isinstance(found, (list, tuple)) or not all(isinstance(c, Claim) for c in found):
        raise TypeError(f"the entry point gives {value!r:.60}, not a Claim or a list of Claims")
    for claim in found:
        register(claim)


PLUGINS: list[str] = []  # the entry points whose claims are registered
_plugins_read = False


def load_plugins() -> list[str]:
    """Register the claims of installed packages (entry points of the group
    ``indexlab.claims``, :mod:`indexlab.learners.plugins`: a Claim or a list of them), after
    the papers' claims, once per process; :func:`get_claims` calls it, so ``indexlab
    reproduce`` lists and runs them. Read on first use, not at import, so that a plugin
    module may import this package."""
    global _plugins_read
    if not _plugins_read:
        _plugins_read = True
        PLUGINS.extend(plugins.load_all(plugins.CLAIM_GROUP, _add_plugin))
    return list(PLUGINS)


def get_claims(names: list[str] | None = None) -> list[Claim]:
    """The claims named (all, in registry order, when ``names`` is empty); an unknown name is
    a ``ValueError`` listing the claims. Installed plugin claims are registered first
    (:func:`load_plugins`)."""
    load_plugins()
    if not names:
        return list(CLAIMS.values())
    unknown = [n for n in names if n not in CLAIMS]
    if unknown:
        broken = "".join(f"; plugin {name!r} failed to load ({why})"
                         for (group, name), why in plugins.FAILED.items()
                         if group == plugins.CLAIM_GROUP)
        raise ValueError(f"unknown claim(s) {', '.join(map(repr, unknown))}: use one of "
                         f"{', '.join(CLAIMS)}{broken}")
    return [CLAIMS[n] for n in dict.fromkeys(names)]
