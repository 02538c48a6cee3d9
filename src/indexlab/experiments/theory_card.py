"""The theory card of a link as a figure: ``indexlab exponents LINK --plot card.png``.

Two bar charts on log scales, one bar per degree ``k = 1..K``:

* left, ``|c_k|`` (single-index: ``c_k = E[m(z) h_k(z)]``; multi-index: the norm of the
  degree-``k`` tensor); the first bar above its zero level is the information exponent ``k*``;
* right, ``λ_k² = E_y[E[h_k(z) | y]²]``; the first bar above its zero level is the generative
  exponent ``s*``.

The zero level of each bar is the rule of :mod:`indexlab.theory`: a value counts as non-zero
only above ``ZERO_FACTOR`` (10) times its error estimate (``*_errors`` of the report), drawn as
a dashed tick over the bar. Bars at or below their level are hatched grey; values below the
axis floor are marked "0". The title carries ``k*``, ``s*`` and ``α_c``.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.lines import Line2D

from indexlab.experiments.style import OKABE_ITO, ZERO_COLOUR, pyplot

_FLOOR_DECADES = 3  # the axis floor sits this many decades below the smallest zero level


def _panel(ax, values: np.ndarray, zero: np.ndarray, colour: str, title: str,
           star: int | None, star_name: str) -> None:
    from matplotlib.patches import Patch

    ks = np.arange(1, len(values))
    v = np.abs(np.asarray(values[1:], dtype=float))
    level = np.asarray(zero[1:], dtype=float)
    positive = level[level > 0]
    reference = positive.min() if positive.size else max(v.max(initial=0.0) * 1e-12, 1e-300)
    floor = reference / 10**_FLOOR_DECADES
    level = np.maximum(level, floor)
    top = max(v.max(initial=floor), level.max(initial=floor))
    shown = np.maximum(v, floor)
    above = v > level
    ax.bar(ks[above], shown[above] - floor, bottom=floor, color=colour, edgecolor="black",
           lw=0.6)
    ax.bar(ks[~above], shown[~above] - floor, bottom=floor, color="white",
           edgecolor=ZERO_COLOUR, hatch="//", lw=0.6)
    ax.hlines(level, ks - 0.45, ks + 0.45, colors=ZERO_COLOUR, linestyles="--", lw=1.0)
    for k in ks[v <= floor]:  # below the axis floor: say it, a bar of height 0 is invisible
        ax.text(k, floor * 1.5, "0", ha="center", va="bottom", fontsize=8, color=ZERO_COLOUR)
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
               Line2D([], [], color=ZERO_COLOUR, ls="--", label="zero level (10 × error)")]
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=3, frameon=False)


def _levels(report: dict, key: str, fallback: float) -> np.ndarray:
    """``ZERO_FACTOR × error`` per degree from the report, or a flat ``fallback`` level."""
    values = np.asarray(report[key.replace("_errors", "s")], dtype=float)
    errors = report.get(key)
    if errors is None:
        return np.full(values.shape, fallback)
    return float(report.get("zero_factor", 10.0)) * np.asarray(errors, dtype=float)


def plot_theory_card(report: dict, path: str):
    """Draw the card of an ``indexlab exponents`` report (the dict of
    :func:`indexlab.cli.exponents_report`, with its ``*_errors`` and ``zero_factor``) to
    ``path`` (PNG/PDF/SVG by suffix); returns the (closed) Figure."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.9), layout="constrained")
    single = report["r"] == 1
    _panel(left, np.asarray(report["hermite_coefficients"]),
           _levels(report, "hermite_coefficient_errors", 1e-6), OKABE_ITO[0],
           "|c_k| = |E[m(z) h_k(z)]|" if single else "‖c_α‖, |α| = k (degree-k tensor norm)",
           report["information_exponent"], "k*")
    _panel(right, np.asarray(report["generative_coefficients"]),
           _levels(report, "generative_coefficient_errors", 1e-3), OKABE_ITO[1],
           "λ_k² = E_y[E[h_k(z) | y]²]", report["generative_exponent"], "s*")
    alpha = report["weak_recovery_threshold"]
    alpha_text = "∞" if alpha in (None, "inf") or (isinstance(alpha, float)
                                                   and math.isinf(alpha)) else f"{alpha:.4g}"
    fig.suptitle(f"link {report['link']} (r = {report['r']}, noise = {report['noise']:g}):  "
                 f"k* = {report['information_exponent']},  s* = "
                 f"{report['generative_exponent']},  α_c = {alpha_text}", fontsize=10)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return fig
