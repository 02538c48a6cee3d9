"""Figures of an analysed sweep (matplotlib, Agg backend), each saved as PNG and PDF.

* :func:`plot_curves`: the criterion's metric vs ``n`` (samples per replica, log axis), one
  curve per ``d``, the replicas' median with the band of :data:`~indexlab.experiments.style.
  BAND` (their 10% to 90% quantiles; quantiles of values in the metric's range stay in it,
  unlike mean ± sd), and for the overlap the theory's deterministic prediction beside it
  (:func:`theory_curves`: the mean-field overlap ODE of the online learners; a note where a
  learner has none);
* :func:`plot_collapse`: the same curves against ``n / d^p``, side by side at the theoretical
  ``p`` and at the fitted ``p̂`` (the curves fall on each other when the scaling holds);
* :func:`plot_thresholds`: ``n*(d)`` on log-log axes with bootstrap intervals, the fitted line
  ``e^ĉ d^p̂``, the theoretical slope through the same points and the lower bounds
  (:func:`indexlab.experiments.results.lower_bounds`);
* :func:`plot_phase`: the isotonic success probability over ``(log d, log n)`` as a heat map,
  with ``n*(d)`` on top.

Every figure uses the palette of :mod:`indexlab.experiments.style`, is saved as PNG and PDF,
and is returned (a closed ``matplotlib.figure.Figure``: its artists can be inspected).
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np

from indexlab.experiments.analysis import Curve, ScalingFit, Threshold
from indexlab.experiments.spec import Success
from indexlab.experiments.style import (
    BAND,
    BAND_TEXT,
    SAMPLES,
    ZERO_COLOUR,
    categorical,
    sequential,
)
from indexlab.progress import report as report_progress

FORMATS = ("png", "pdf")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def slug(*labels: str) -> str:
    """A file-name-safe name for ``labels``, with a short hash when characters were dropped."""
    text = "_".join(labels)
    clean = re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-")[:60] or "x"
    if clean != text:
        clean += "-" + hashlib.sha256(text.encode()).hexdigest()[:6]
    return clean


def _save(fig, out: Path, stem: str):
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log" and not getattr(axis, "_indexlab_fixed", False):
                _decade_ticks(axis)
    fig.tight_layout()  # once for both formats (a layout engine would redo it per format)
    for fmt in FORMATS:
        fig.savefig(out / f"{stem}.{fmt}", dpi=130)
    _pyplot().close(fig)
    report_progress(1, "figures")
    return fig


def _log_axis(axis, ticks=None) -> None:
    """For an axis already in log scale: labels at ``ticks`` (plain numbers, e.g. the
    dimensions ``d``), or — chosen when the figure is saved, from the final limits — at
    powers of ten written ``10^k`` (:func:`_decade_ticks`)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    axis.set_minor_formatter(NullFormatter())
    if ticks is not None:
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis._indexlab_fixed = True


def decade_ticks(vmin: float, vmax: float, most: int = 6) -> list[tuple[float, str]]:
    """Major ticks of a log axis over ``[vmin, vmax]``: ``10^k`` every ``s``-th decade (``s``
    chosen so that there are at most ``most``); under two decades in range, also
    ``2·10^k`` and ``5·10^k`` — never more than ``most`` labels, so they cannot overlap."""
    lo, hi = math.floor(math.log10(vmin)), math.ceil(math.log10(vmax))
    decades = [k for k in range(lo, hi + 1) if vmin <= 10.0**k <= vmax]
    if len(decades) >= 2:
        step = math.ceil(len(decades) / most)
        return [(10.0**k, f"$10^{{{k}}}$") for k in decades[::step]]
    ticks = [(m * 10.0**k, f"$10^{{{k}}}$" if m == 1 else f"${m}\\cdot 10^{{{k}}}$")
             for k in range(lo, hi + 1) for m in (1, 2, 5) if vmin <= m * 10.0**k <= vmax]
    if not ticks:  # a range inside one 1-2-5 step: one plain label in the middle
        mid = float(f"{math.sqrt(vmin * vmax):.2g}")
        return [(mid, f"{mid:g}")]
    return ticks[:: math.ceil(len(ticks) / most)]


def _decade_ticks(axis) -> None:
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

    vmin, vmax = sorted(axis.get_view_interval())
    if not (vmin > 0 and math.isfinite(vmax)):
        return
    ticks = decade_ticks(vmin, vmax)
    axis.set_major_locator(FixedLocator([t for t, _ in ticks]))
    axis.set_major_formatter(FixedFormatter([label for _, label in ticks]))
    axis.set_minor_formatter(NullFormatter())


def quantile_band(values: np.ndarray, band: tuple[float, float] = BAND
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row (one ``n``): median and the ``band`` quantiles over the finite replicas."""
    out = np.full((3, values.shape[0]), np.nan)
    for i, row in enumerate(values):
        row = row[np.isfinite(row)]
        if row.size:
            out[:, i] = np.quantile(row, [0.5, *band])
    return out[0], out[1], out[2]


THEORY_METRIC = "overlap"  # the metric the learners' overlap_theory predicts


def theory_curves(curves: list[Curve], metric: str) -> tuple[str | None, list | None]:
    """The theory's deterministic prediction of ``metric`` beside each curve
    (:meth:`indexlab.learners.base.Learner.overlap_theory` of the curve's learner, with the
    run's spec hyperparameters, at the curve's ``n``; a traced curve as one run of its
    largest ``n``): ``(name of the theory, [values or None per curve])``, or ``(None,
    None)`` when there is none for this metric or learner."""
    from indexlab.learners.registry import learner_class
    from indexlab.links import get_link

    if metric != THEORY_METRIC or not curves:
        return None, None
    name, out = None, []
    for curve in curves:
        t, learner = curve.target_config, curve.learner_config
        try:
            link = get_link(t["link"], noise=t.get("noise") or 0.0)
            got = learner_class(learner["name"]).overlap_theory(
                dict(learner.get("hyper", {})), link, curve.d, curve.ns,
                int(curve.ns.max()) if curve.source == "trace" else None, t.get("sparsity"))
        except (KeyError, ValueError):
            got = None
        out.append(None if got is None else np.asarray(got[1], dtype=float))
        name = name or (got[0] if got is not None else None)
    return (name, out) if name is not None else (None, None)


def _draw_curves(ax, curves: list[Curve], success: Success, p: float | None,
                 base: str | None, theory: tuple[str | None, list | None] = (None, None)
                 ) -> None:
    colours = sequential(len(curves))
    name, predicted = theory
    for i, (colour, curve) in enumerate(zip(colours, curves, strict=False)):
        mid, low, high = quantile_band(curve.values)
        scale = 1.0
        if p is not None:
            b = curve.target_config.get("sparsity") if base == "k" else curve.d
            scale = float(b) ** p
        x = curve.ns / scale
        marker = None if curve.source == "trace" else "o"
        ax.plot(x, mid, marker=marker, ms=3, color=colour, label=f"d = {curve.d}")
        ax.fill_between(x, low, high, color=colour, alpha=0.18)
        if predicted is not None and predicted[i] is not None:
            first = all(v is None for v in predicted[:i])
            ax.plot(x, predicted[i], color=colour, ls=(0, (4, 2)), lw=1.1, gid="theory",
                    label=f"theory: {name}" if first else None)
    ax.axhline(success.value, color="0.4", ls="--", lw=0.8, label=success.text())
    ax.set_xscale("log")
    _log_axis(ax.xaxis)
    ax.set_xlabel(f"{SAMPLES} n" if p is None else f"$n\\,/\\,{base}^{{{p:.3g}}}$")
    ax.set_ylabel(f"{success.metric}\n({BAND_TEXT})")
    ax.grid(alpha=0.3)


def _outside_legend(ax) -> None:
    """The legend right of the axes, so that it never covers a curve; the theory's and the
    criterion's entries after the curves'."""
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i].startswith("theory:"))
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=7,
              loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def plot_curves(curves: list[Curve], success: Success, out: Path, stem: str,
                p_theory: float | None = None, base: str | None = "d",
                theory: bool | tuple = True):
    """Metric vs ``n`` per ``d`` (median and :data:`BAND` quantile band over replicas), or
    vs ``n/base^p`` (``p_theory``); with ``theory``, the theory's deterministic prediction
    beside each band (dashed, :func:`theory_curves`, against ``n`` only), or a note that
    the learner has none for the overlap (``theory`` may be :func:`theory_curves`'s result,
    computed by the caller). Returns the Figure."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.6, 3.9))
    if isinstance(theory, tuple):
        predicted = theory
    else:
        predicted = (theory_curves(curves, success.metric) if theory and p_theory is None
                     else (None, None))
    _draw_curves(ax, curves, success, p_theory, base, predicted)
    _outside_legend(ax)
    if theory and p_theory is None and success.metric == THEORY_METRIC and curves \
            and predicted[0] is None:
        ax.text(0.99, 0.01, f"no theory curve: none for {curves[0].learner}",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.4",
                gid="theory-note")
    if curves:
        title = f"{curves[0].learner} on {curves[0].target}"
        ax.set_title(title + (" — collapse at the theoretical exponent" if p_theory is not None
                              else ""), fontsize=9)
    return _save(fig, out, stem)


def plot_collapse(curves: list[Curve], success: Success, out: Path, stem: str,
                  p_theory: float, p_fit: float | None, base: str = "d"):
    """The curves against ``n / base^p`` at the theoretical ``p`` (left) and, when a fit
    exists, at the fitted ``p̂`` (right): where they fall on one curve the scaling holds.
    Returns the Figure."""
    plt = _pyplot()
    panels = [("theory", p_theory)] + ([("fit", p_fit)] if p_fit is not None
                                        and math.isfinite(p_fit) else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels) + 2.0, 3.9),
                             squeeze=False, sharey=True)
    for ax, (kind, p) in zip(axes[0], panels, strict=True):
        _draw_curves(ax, curves, success, p, base)
        name = "theoretical p" if kind == "theory" else "fitted p̂"
        ax.set_title(f"collapse at the {name} = {p:.3g}", fontsize=9)
        if kind == "fit":
            ax.set_ylabel("")
    _outside_legend(axes[0][-1])  # one legend, right of the last panel
    if curves:
        fig.suptitle(f"{curves[0].learner} on {curves[0].target}", fontsize=9)
    return _save(fig, out, stem)


def plot_thresholds(entries: list[tuple[ScalingFit, list[Curve], list[Threshold]]], out: Path,
                    stem: str, success: Success | None = None,
                    bounds: list[tuple[str, float, float | None]] = ()):
    """``n*(d)`` log-log for every learner on one target: points with intervals, fitted and
    theoretical lines (the latter through the points, slope = the theoretical exponent), and
    the lower ``bounds`` ``(label, p, c)``: the line ``c·d^p``, or with ``c = None`` the
    highest line of slope ``p`` below every point. The legend sits outside the axes.
    Returns the Figure."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.6, 3.9))
    colours = categorical(len(entries))
    every: list[tuple[float, float]] = []
    for colour, (fit, curves, thresholds) in zip(colours, entries, strict=False):
        pts = [(c.d, t) for c, t in zip(curves, thresholds, strict=True)
               if 0 < t.n_star < math.inf]
        above = [(c.d, c.ns.max()) for c, t in zip(curves, thresholds, strict=True)
                 if t.n_star == math.inf]
        below = [(c.d, c.ns.min()) for c, t in zip(curves, thresholds, strict=True)
                 if t.n_star == 0]
        for side, marker, text in ((above, "^", "n* > largest n (censored)"),
                                   (below, "v", "n* < smallest n")):
            if side:  # a censored threshold is a bound: drawn as one, never dropped
                ax.plot(*zip(*side, strict=True), marker, ms=6, mfc="none", color=colour,
                        ls="none", label=f"{fit.learner}: {text}")
                if marker == "^":  # n* lies above: a line below n_max stays below n*
                    every += [(float(x), float(y)) for x, y in side]
        if not pts:
            continue
        d = np.array([p[0] for p in pts], dtype=float)
        ns = np.array([p[1].n_star for p in pts])
        lo = np.array([min(p[1].lo, p[1].n_star) for p in pts])
        hi = np.array([max(p[1].hi, p[1].n_star) for p in pts])
        hi = np.where(np.isfinite(hi), hi, ns * 10)
        every += list(zip(d, ns, strict=True))
        ax.errorbar(d, ns, yerr=[ns - lo, hi - ns], fmt="o", ms=4, capsize=3, color=colour,
                    label=f"{fit.learner}: n*(d), 95% CI")
        grid = np.geomspace(d.min(), d.max(), 50)
        if math.isfinite(fit.p):
            ax.plot(grid, np.exp(fit.c) * grid**fit.p, color=colour,
                    label=f"fit $\\hat p$ = {fit.p:.2f} [{fit.lo:.2f}, {fit.hi:.2f}]")
        if fit.theory is not None and fit.theory_base == "d":
            c_th = float(np.mean(np.log(ns) - fit.theory * np.log(d)))
            ax.plot(grid, np.exp(c_th) * grid**fit.theory, color=colour, ls=":",
                    label=f"theory p = {fit.theory:g}")
    if every:
        d_all = np.array([p[0] for p in every])
        n_all = np.array([p[1] for p in every])
        grid = np.geomspace(d_all.min(), d_all.max(), 50)
        for (label, p, c), ls in zip(bounds, ("--", "-."), strict=False):
            if c is None:  # the highest line of this slope under every point
                c = float(np.exp(np.min(np.log(n_all) - p * np.log(d_all))))
            ax.plot(grid, c * grid**p, color=ZERO_COLOUR, ls=ls, lw=1.0, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ds = sorted({c.d for _, curves, _ in entries for c in curves})
    _log_axis(ax.xaxis, ds[:: math.ceil(len(ds) / 8)] if ds else None)
    _log_axis(ax.yaxis)
    ax.set_xlabel("dimension d")
    criterion = f" for {success.text()}" if success is not None else ""
    ax.set_ylabel(f"n*{criterion}\n({SAMPLES})")
    if entries:
        ax.set_title(f"thresholds on {entries[0][0].target}", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    else:
        ax.text(0.5, 0.5, "no threshold inside the sampled range", ha="center",
                transform=ax.transAxes, fontsize=8, color="0.4")
    return _save(fig, out, stem)


def plot_phase(curves: list[Curve], thresholds: list[Threshold], out: Path, stem: str,
               rows: int = 60):
    """Heat map of the fitted success probability over ``(log d, log n)``: one column per
    ``d``, the isotonic fit interpolated linearly in ``log n`` (blank outside the measured
    range), with ``n*(d)`` as white dots."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.9))
    log_d = np.log([float(c.d) for c in curves])
    lo = min(np.log(c.ns.min()) for c in curves)
    hi = max(np.log(c.ns.max()) for c in curves)
    y_edges = np.linspace(lo, hi, rows + 1)
    y_mid = 0.5 * (y_edges[1:] + y_edges[:-1])
    if len(log_d) > 1:
        mids = 0.5 * (log_d[1:] + log_d[:-1])
        x_edges = np.concatenate([[2 * log_d[0] - mids[0]], mids, [2 * log_d[-1] - mids[-1]]])
    else:
        x_edges = np.array([log_d[0] - 0.35, log_d[0] + 0.35])
    grid = np.full((rows, len(curves)), np.nan)
    for j, (curve, t) in enumerate(zip(curves, thresholds, strict=True)):
        x = np.log(curve.ns.astype(float))
        inside = (y_mid >= x.min()) & (y_mid <= x.max())
        grid[inside, j] = np.interp(y_mid[inside], x, t.fitted)
    mesh = ax.pcolormesh(np.exp(x_edges), np.exp(y_edges), np.ma.masked_invalid(grid),
                         cmap="viridis", vmin=0, vmax=1, shading="flat")
    fig.colorbar(mesh, ax=ax, label="P(success), isotonic fit")
    star = [(c.d, t.n_star) for c, t in zip(curves, thresholds, strict=True)
            if 0 < t.n_star < math.inf]
    if star:
        ax.plot(*zip(*star, strict=True), "o", color="white", mec="black", ms=5, label="n*(d)")
        ax.legend(fontsize=7, loc="upper left")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_axis(ax.xaxis, [c.d for c in curves][:: math.ceil(len(curves) / 8)])
    _log_axis(ax.yaxis)
    ax.set_xlabel("dimension d")
    ax.set_ylabel(f"{SAMPLES} n")
    if curves:
        ax.set_title(f"phase diagram: {curves[0].learner} on {curves[0].target}", fontsize=9)
    return _save(fig, out, stem)
