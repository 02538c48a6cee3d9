"""“Did you mean …?” for names the user typed (learners, links, hyperparameters, spec fields).

:func:`did_you_mean` uses :func:`difflib.get_close_matches` (Ratcliff–Obershelp similarity,
cut-off 0.6) and returns a short clause to append to an error message, or ``""``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(word: object, choices: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``choices`` close to ``word`` (best first); none for a non-string."""
    if not isinstance(word, str) or not word:
        return []
    choices = list(choices)
    folded = {c.lower(): c for c in choices}
    matches = difflib.get_close_matches(word.lower(), list(folded), n=n, cutoff=0.6)
    return [folded[m] for m in matches]


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """``" (did you mean 'unified'?)"`` for the closest choice, or ``""`` when none is close."""
    matches = close_matches(word, choices)
    if not matches:
        return ""
    return " (did you mean " + " or ".join(repr(m) for m in matches[:2]) + "?)"
