"""The theory card of a link as a figure: ``indexlab exponents LINK --plot card.png``.

Two bar charts on log scales, one bar per degree ``k = 1..K``:

* left, ``|c_k|`` (single-index: ``c_k = E[m(z) h_k(z)]``; multi-index: the norm of the
  degree-``k`` tensor), with the zero level ``COEFF_RTOL · sd(m(z))`` below which a coefficient
  counts as zero; the first bar above it is the information exponent ``k*``;
* right, ``λ_k² = E_y[E[h_k(z) | y]²]`` with the zero level ``LAMBDA_TOL``; the first bar
  above it is the generative exponent ``s*``.

Bars at or below the zero level are drawn hatched and grey; values below the axis floor
(three decades under the zero level: quadrature noise or exact zeros) are marked "0". The
title carries ``k*``, ``s*`` and ``α_c``.
"""

from __future__ import annotations

import math

import numpy as np

from indexlab.experiments.style import OKABE_ITO, ZERO_COLOUR, pyplot

_FLOOR_DECADES = 3  # the axis floor sits this many decades below the zero level


def _panel(ax, values: np.ndarray, zero: float, colour: str, title: str, star: int | None,
           star_name: str) -> None:
    from matplotlib.patches import Patch

    ks = np.arange(1, len(values))
    v = np.abs(np.asarray(values[1:], dtype=float))
    floor = zero / 10**_FLOOR_DECADES
    top = max(zero, v.max() if v.size else zero)
    shown = np.maximum(v, floor)
    above = v > zero
    ax.bar(ks[above], shown[above] - floor, bottom=floor, color=colour, edgecolor="black",
           lw=0.6)
    ax.bar(ks[~above], shown[~above] - floor, bottom=floor, color="white",
           edgecolor=ZERO_COLOUR, hatch="//", lw=0.6)
    for k in ks[v <= floor]:  # below the axis floor: say it, a bar of height 0 is invisible
        ax.text(k, floor * 1.5, "0", ha="center", va="bottom", fontsize=8, color=ZERO_COLOUR)
    ax.axhline(zero, color=ZERO_COLOUR, ls="--", lw=1.0)
    if star is not None and 1 <= star < len(values):
        ax.annotate(f"{star_name} = {star}", (star, shown[star - 1]), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8,
                    fontweight="bold")
    ax.set_yscale("log")
    ax.set_ylim(floor, top * 30)
    ax.set_xticks(ks)
    ax.set_xlabel("degree k")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    handles = [Patch(facecolor=colour, edgecolor="black", label="non-zero"),
               Patch(facecolor="white", edgecolor=ZERO_COLOUR, hatch="//",
                     label="counts as zero"),
               ax.get_lines()[-1]]
    handles[-1].set_label(f"zero level {zero:.0e}")
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=3, frameon=False)


def plot_theory_card(report: dict, path: str, coefficient_zero: float,
                     lambda_zero: float) -> None:
    """Draw the card of an ``indexlab exponents`` report (the dict of
    :func:`indexlab.cli.exponents_report`) to ``path`` (PNG/PDF/SVG by suffix)."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.9), layout="constrained")
    single = report["r"] == 1
    _panel(left, np.asarray(report["hermite_coefficients"]), coefficient_zero, OKABE_ITO[0],
           "|c_k| = |E[m(z) h_k(z)]|" if single else "‖c_α‖, |α| = k (degree-k tensor norm)",
           report["information_exponent"], "k*")
    _panel(right, np.asarray(report["generative_coefficients"]), lambda_zero, OKABE_ITO[1],
           "λ_k² = E_y[E[h_k(z) | y]²]", report["generative_exponent"], "s*")
    alpha = report["weak_recovery_threshold"]
    alpha_text = "∞" if alpha is None or (isinstance(alpha, float) and math.isinf(alpha)) \
        else f"{float(alpha):.4g}"
    fig.suptitle(f"link {report['link']} (r = {report['r']}, noise = {report['noise']:g}):  "
                 f"k* = {report['information_exponent']},  s* = "
                 f"{report['generative_exponent']},  α_c = {alpha_text}", fontsize=10)
    fig.savefig(path, dpi=150)
    plt.close(fig)
