"""Issue 13: a direction the spherical learners find is kept (learners/holding.py).

Statistic: among replicas whose running maximum of the best-neuron overlap passed 0.9, the
share whose final overlap is within 0.05 of that running maximum ("held"). Before the hold
caps, SmoothedSGD on He₄ at d = 32, n = 65536 held 6 of 8 (two ended at 0.10 and 0.05 after
peaking ≥ 0.93).
"""

from __future__ import annotations

import pytest

from indexlab import SingleIndex
from indexlab.learners import OnlineSGD, SmoothedSGD, Unified

pytestmark = pytest.mark.slow

# (learner, link, d, n, width): He3, He4, genexp3 at d = 32 ... 128, budgets about twice the
# measured median first passage of 0.9 (so that most replicas pass and the hold is tested)
CASES = [
    (SmoothedSGD, "he4", 32, 65536, 64),  # the reproduction (CLI default width)
    (SmoothedSGD, "he3", 128, 65536, 4),
    (SmoothedSGD, "genexp3", 64, 24576, 4),
    (SmoothedSGD, "he4", 64, 131072, 4),
    (OnlineSGD, "he3", 32, 32768, 4),
    (OnlineSGD, "he3", 64, 65536, 4),
    (OnlineSGD, "genexp3", 128, 40960, 4),
    (OnlineSGD, "he4", 32, 131072, 4),
    (Unified, "he3", 128, 8192, 4),
    (Unified, "he4", 64, 8192, 4),
    (Unified, "he4", 128, 32768, 4),
    (Unified, "genexp3", 128, 81920, 4),
]


def held_counts(cls, link, d, n, width, **hyper):
    target = SingleIndex(link, d, replicas=8, seed=0)
    learner = cls(width=width, ridge_samples=0, seed=0, **hyper).fit(target, n=n)
    overlap = learner.trace_["overlap"]  # (checkpoints, R)
    peak = overlap.max(axis=0)
    passed = peak >= 0.9
    held = passed & (peak - overlap[-1] <= 0.05)
    return int(passed.sum()), int(held.sum())


def test_found_directions_are_held_on_he3_he4_genexp3_d32_to_128():
    """Required by the issue: ≥ 95% of the passing replicas held. Measured with the caps:
    83 of 96 replicas passed 0.9 and all 83 held (100%). Without the caps
    (hold_search = hold_descent = None) the same cases pass 90 and hold 85 (94.4%; the lost
    ones are SmoothedSGD He₄ d = 32 (2), d = 64 (3)), so the 95% bound separates the two.
    We also require ≥ 75% of all replicas to pass (measured 86%), so that the statistic is
    not vacuous."""
    passed = held = 0
    for case in CASES:
        p, h = held_counts(*case)
        passed, held = passed + p, held + h
    total = 8 * len(CASES)
    assert passed >= 0.75 * total, (passed, total)
    assert held >= 0.95 * passed, (held, passed)


def test_the_statistic_sees_the_smoothed_collapse_without_the_caps():
    """The seam the caps remove: with the spec's step kept after the hand-over (no caps),
    He₄ at d = 32 loses 2 of its 8 passing replicas (measured finals 0.10 and 0.05)."""
    passed, held = held_counts(SmoothedSGD, "he4", 32, 65536, 64, hold_search=None,
                               hold_descent=None)
    assert passed - held >= 1, (passed, held)
