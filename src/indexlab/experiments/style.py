"""Figure style shared by every plot: colour-blind-safe colours with contrast on white.

* :data:`OKABE_ITO` — the Okabe & Ito (2008) palette for categories (learners, algorithms),
  distinguishable under the common colour-vision deficiencies, ordered by contrast on white
  (WCAG ratio: blue 5.2, vermillion 3.9, bluish green 3.4, reddish purple 3.1, black 21, then
  orange 2.3 and sky blue 2.3, used from the sixth category on); its yellow (1.3:1) is left
  out;
* :func:`sequential` — ordered categories (one curve per ``d``) from viridis, stopping
  before its light-yellow end so the lightest colour keeps a ≥ 3:1 contrast on white;
* :data:`BAND`, :data:`BAND_TEXT`, :data:`SAMPLES` — the one band over replicas and the
  axis words every figure uses;
* :func:`pyplot` — matplotlib's ``pyplot`` on the Agg backend (imported on first use).
"""

from __future__ import annotations

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000", "#E69F00", "#56B4E9")
ZERO_COLOUR = "#7F7F7F"  # reference lines (thresholds, zero levels, lower bounds)
BAND = (0.1, 0.9)  # the band of every figure over replicas: their 10% and 90% quantiles
BAND_TEXT = "median, 10–90% of replicas"
SAMPLES = "samples per replica"  # what n counts on every axis
_SEQUENTIAL_END = 0.6  # viridis(0.6) = #22a884: contrast 3.0:1 against white


def pyplot():
    """``matplotlib.pyplot`` with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def sequential(n: int):
    """``n`` colours (RGBA rows) for ordered categories, dark to light."""
    import numpy as np

    plt = pyplot()
    return plt.cm.viridis(np.linspace(0.0, _SEQUENTIAL_END, max(n, 1)))


def categorical(n: int) -> list[str]:
    """``n`` categorical colours (Okabe–Ito, cycling after seven)."""
    return [OKABE_ITO[i % len(OKABE_ITO)] for i in range(n)]
