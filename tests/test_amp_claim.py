"""The claim ``amp-threshold`` (docs/theory.md): its judges pass on data that follow state
evolution and fail on data that do not, its specs, and the tables the claims report shows;
fast sizes (no GAMP run)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from indexlab.experiments.claims import CLAIMS, Table, amp
from indexlab.experiments.claims.base import Claim
from indexlab.experiments.judge import Check
from indexlab.experiments.reproduce import ClaimResult, write_claims_report
from indexlab.experiments.store import Store

D = 2000


def _replicas(mean: float, sd: float, R: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(R)
    return mean + sd * (x - x.mean()) / x.std(ddof=1)  # exactly this mean and sd


def test_above_the_threshold_the_judge_passes_on_se_and_fails_far_from_it():
    """SE 0.72: a replica mean 0.70 (sd 0.05, 8 replicas: s.e. 0.0224 = the 1/√d floor) is
    within 4 s.e.; a mean 0.50 or one at the random level is not, and fails."""
    near = amp.judge_above("near", _replicas(0.70, 0.05), D, 0.72)
    assert near.verdict == "pass", near.reason
    assert near.hi - near.lo == pytest.approx(8 / math.sqrt(D))  # the floor, not sd/√R
    for mean in (0.50, 0.002):
        far = amp.judge_above("far", _replicas(mean, 0.05), D, 0.72)
        assert far.verdict == "fail", (mean, far.reason)


def test_above_the_threshold_a_band_reaching_the_random_level_is_inconclusive():
    """SE 0.13 and a mean 0.11 with sd 0.11 over 4 replicas: the ±4 s.e. band holds SE and
    the random-level bound 1/√d = 0.022, so the check cannot separate them."""
    check = amp.judge_above("wide", _replicas(0.11, 0.11, R=4), D, 0.13)
    assert check.verdict == "inconclusive", check.reason


def test_below_the_threshold_the_judge_needs_the_random_level():
    """Below α_c the mean overlap must lie below 1/√d = 0.022 with its whole 95% interval: a
    mean of 15/d (the measured finite-size level) passes, one of 0.1 (recovery) fails."""
    low = amp.judge_below("low", np.abs(_replicas(15 / D, 10 / D)), D, n_boot=400)
    assert low.verdict == "pass", low.reason
    high = amp.judge_below("high", _replicas(0.1, 0.02), D, n_boot=400)
    assert high.verdict == "fail", high.reason


def test_nothing_measured_is_inconclusive_never_a_pass():
    check = amp.judge_above("none", np.array([math.nan, math.nan]), D, 0.5)
    assert check.verdict == "inconclusive"


def test_the_specs_put_alpha_around_the_channel_threshold():
    """The budgets are f·α_c of each part's noisy link, f = 0.75, 2, 2.5, with the GAMP
    channel grid of amp.toml; quick mode has d ≥ 2000 for phase retrieval."""
    claim = CLAIMS["amp-threshold"]
    specs = claim.specs("quick")
    assert set(specs) == set(amp.PARTS)
    assert amp.FACTORS == (0.75, 2.0, 2.5)
    for part, spec in specs.items():
        alpha_c = amp.part_alpha_c(part)
        assert spec["budget"]["c"] == pytest.approx([f * alpha_c for f in amp.FACTORS],
                                                    rel=1e-3)
        assert spec["learners"][0]["hyper"]["nodes"] == amp.PARTS[part]["nodes"]
    assert specs["pr"]["targets"][0]["d"] == [2000]
    assert 0.5 < amp.part_alpha_c("pr") < 0.55  # z² + 0.3ε: above the noiseless 1/2


def test_the_report_shows_a_claims_tables(tmp_path):
    """A claim's tables (not judged) appear in summary.md and index.html after its checks."""
    claim = Claim(name="fake", title="t", source="s", measures="m", theory="th", rule="r",
                  build=lambda mode: {}, evaluate=lambda ctx: [])
    check = Check("x", math.nan, math.nan, math.nan, 1.0, "1", "inconclusive", "none")  # no figure
    table = Table("α_c of the links", ["link", "α_c ± error"], [["z1*z2", "0.59383 ± 0.00042"]],
                  "from the quadrature")
    result = ClaimResult(claim, "tiny", [check], "inconclusive", tables=[table])
    with Store(tmp_path / "s.db") as store:
        write_claims_report([result], store, tmp_path / "out", "tiny")
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "**α_c of the links**" in md and "| z1*z2 | 0.59383 ± 0.00042 |" in md
    assert "from the quadrature" in md
    assert "<h3>α_c of the links</h3>" in (tmp_path / "out" / "index.html").read_text()
    assert result.as_dict()["tables"][0]["rows"] == [["z1*z2", "0.59383 ± 0.00042"]]


def test_the_alpha_c_table_lists_the_registered_multi_index_links():
    names = amp.multi_index_links()
    assert "z1*z2" in names and "phase_retrieval" not in names
    assert amp.alpha_c_text("z1*z2", "tiny").startswith("—")


def test_the_random_level_bound_is_the_geometric_mean_of_r_over_d_and_one():
    assert amp.random_bound(2000, 1) == pytest.approx(1 / math.sqrt(2000))
    assert amp.random_bound(500, 2) == pytest.approx(math.sqrt(2 / 500))
    below = amp.judge_below("r=2", np.full(8, 0.05), 500, n_boot=100, r=2)  # 0.05 < 0.063
    assert below.verdict == "pass" and below.theory == pytest.approx(0.0632, abs=1e-4)


class _FakeContext:
    """A Context stand-in: the runs of each part at the claim's budgets (no store)."""

    mode, n_boot, store = "quick", 200, None

    def __init__(self, d: int):
        self.d = d

    def runs(self, part):
        return [{"n": round(a * self.d), "d": self.d, "part": part} for a in amp.alphas(part)]


@pytest.mark.parametrize(("shift", "verdict"), [(0.0, "pass"), (-0.4, "fail")])
def test_the_claim_fails_on_runs_far_from_state_evolution(monkeypatch, shift, verdict):
    """The claim's evaluation end to end on fake replica overlaps: at SE (and at the random
    level below α_c) every check passes; 0.4 below SE above α_c, the claim fails."""
    from indexlab.experiments.judge import combine

    se_value = {"pr": 0.6, "z1z2": 0.5}
    monkeypatch.setattr(amp, "se_overlap", lambda part, alpha, steps=500: se_value[part])

    def overlaps(store, run, r):
        if run["n"] / run["d"] < amp.part_alpha_c(run["part"]):
            return np.abs(_replicas(2 / run["d"], 1 / run["d"]))
        return np.clip(_replicas(se_value[run["part"]] + shift, 0.03), 0, 1)

    monkeypatch.setattr(amp, "squared_overlaps", overlaps)
    checks = amp._evaluate(_FakeContext(2000))
    assert len(checks) == len(amp.PARTS) * len(amp.FACTORS)
    assert combine(c.verdict for c in checks) == verdict, [c.reason for c in checks]
