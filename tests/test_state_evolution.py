"""State evolution, the GAMP output channel and the weak-recovery threshold (issue 24).

Exact values: phase retrieval ``α_c = 1/2`` (Mondelli & Montanari 2018), ``z1 z2``
``α_c = 19/32`` (Defilippis et al. 2025), ``‖z‖²/3`` ``α_c = 3/2`` and ``sign(z1 z2)``
``π²/4`` (Troiani et al. 2025, spec multi-index.md §5.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from indexlab import state_evolution as se
from indexlab import theory
from indexlab.links import get_link


def test_phase_retrieval_threshold_is_one_half_to_1e3():
    est = theory.weak_recovery_estimate("phase_retrieval")
    assert abs(est.value - 0.5) <= max(est.error, 1e-9) + 1e-9
    assert est.error / est.value <= 1e-3


def test_z1z2_threshold_is_19_over_32_to_1e3():
    est = theory.weak_recovery_estimate("z1*z2")
    assert est.error / est.value <= 1e-3
    assert abs(est.value - 19 / 32) <= est.error


def test_lattice_thresholds_agree_with_the_old_monte_carlo_numbers():
    """Issue 24 quotes the Monte Carlo values 0.5923 ± 0.0047 (z1 z2) and 1.477 ± 0.017
    ((z1² + z2² + z3²)/3); the exact values are 19/32 and 3/2."""
    for link, mc, mc_err, exact in (("z1*z2", 0.5923, 0.0047, 19 / 32),
                                    ("(z1**2+z2**2+z3**2)/3", 1.477, 0.017, 1.5)):
        est = theory.weak_recovery_estimate(link)
        assert abs(est.value - mc) <= mc_err + est.error
        assert abs(est.value - exact) <= est.error


def test_channel_threshold_of_discrete_and_regularised_channels():
    parity = se.channel_threshold("sign(z1*z2)")  # exact grouping of the two labels
    assert abs(parity.value - math.pi**2 / 4) <= parity.error
    assert parity.error / parity.value < 2e-3
    pr = se.channel_threshold("phase_retrieval")  # assumes the smallest resolved noise
    assert 0.5 < pr.value < 0.5 + 1e-3


def test_noisy_channel_threshold_agrees_with_theory():
    link = get_link("z1*z2", noise=0.3)
    mine, ref = se.channel_threshold(link), theory.weak_recovery_estimate(link)
    assert abs(mine.value - ref.value) <= mine.error + ref.error + 1e-3 * ref.value
    assert mine.value > 19 / 32  # noise raises the threshold


def test_state_evolution_leaves_zero_only_above_the_threshold():
    link = get_link("phase_retrieval", noise=0.3)
    alpha_c = se.channel_threshold(link).value
    below = se.state_evolution(link, 0.9 * alpha_c)
    above = se.state_evolution(link, 1.5 * alpha_c)
    assert below.converged and below.overlap < 1e-6
    assert above.converged and above.overlap > 0.1
    assert np.all(np.diff(above.overlaps[:5]) > 0)  # grows from q0 = 1e-3


def test_state_evolution_of_the_linear_channel_is_the_ridge_formula():
    """y = z + σε: q = q̂/(1 + q̂), q̂ = α/(σ² + 1 − q) (Gaussian prior and channel). The
    linear deposit of the labels on cells of σ/8 smooths like an added variance of about
    Δ²/6 ≈ 6.5e-4 (here 2.6e-3 of σ²), which moves q by ≈ 2e-4: tolerance 1e-3."""
    sigma, alpha = 0.5, 2.0
    q = se.state_evolution(get_link("he1", noise=sigma), alpha).overlap
    assert q == pytest.approx((lambda qh: qh / (1 + qh))(alpha / (sigma**2 + 1 - q)), abs=1e-3)


@pytest.mark.parametrize("alpha", [0, -1, math.nan, math.inf, True])
def test_bad_alpha_is_refused_before_work(alpha):
    with pytest.raises(ValueError, match=r"alpha=.* is not allowed"):
        se.state_evolution("phase_retrieval", alpha)


def test_links_the_quadrature_cannot_handle_are_refused():
    with pytest.raises(se.ChannelError, match=r"r=4.*r ≤ 3"):
        se.output_channel("z1*z2*z3*z4")
    with pytest.raises(se.ChannelError, match="exp"):
        se.output_channel("exp(z**2/4)")
    with pytest.raises(se.ChannelError, match="below what the channel grid resolves"):
        se.output_channel("z1*z2", channel_noise=1e-3)
