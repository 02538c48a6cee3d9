"""Figures of an analysed sweep (matplotlib, Agg backend), each saved as PNG and PDF.

* :func:`plot_curves`: the criterion's metric vs ``n`` (log axis), one curve per ``d``, the
  replicas' mean ± sd; with ``collapse=True`` against ``n / base^p`` for the theoretical ``p``
  (the curves fall on each other when the theory's scaling holds);
* :func:`plot_thresholds`: ``n*(d)`` on log-log axes with bootstrap intervals, the fitted line
  ``e^ĉ d^p̂`` and the theoretical slope through the same points;
* :func:`plot_phase`: the isotonic success probability over ``(log d, log n)`` as a heat map,
  with ``n*(d)`` on top.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np

from indexlab.experiments.analysis import Curve, ScalingFit, Threshold
from indexlab.experiments.spec import Success
from indexlab.experiments.style import categorical, sequential
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


def _save(fig, out: Path, stem: str) -> list[Path]:
    fig.tight_layout()  # once for both formats (a layout engine would redo it per format)
    paths = []
    for fmt in FORMATS:
        path = out / f"{stem}.{fmt}"
        fig.savefig(path, dpi=130)
        paths.append(path)
    _pyplot().close(fig)
    report_progress(1, "figures")
    return paths


def _log_axis(axis, ticks=None) -> None:
    """For an axis already in log scale: plain-number labels at 1, 2, 5 × 10^k (or at
    ``ticks``), none on the minor ticks (the default labels every minor tick of a short
    log range)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    locator = FixedLocator(ticks) if ticks is not None else LogLocator(10, subs=(1, 2, 5))
    axis.set_major_locator(locator)
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _mean_sd(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.full(values.shape[0], np.nan)
    sd = np.zeros(values.shape[0])
    for i, row in enumerate(values):
        row = row[np.isfinite(row)]
        if row.size:
            mean[i] = row.mean()
            sd[i] = row.std(ddof=1) if row.size > 1 else 0.0
    return mean, sd


def plot_curves(curves: list[Curve], success: Success, out: Path, stem: str,
                p_theory: float | None = None, base: str | None = "d") -> list[Path]:
    """Metric vs ``n`` per ``d`` (mean ± sd over replicas), or vs ``n/base^p`` (``p_theory``)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.9))
    colours = sequential(len(curves))
    for colour, curve in zip(colours, curves, strict=False):
        mean, sd = _mean_sd(curve.values)
        scale = 1.0
        if p_theory is not None:
            b = curve.target_config.get("sparsity") if base == "k" else curve.d
            scale = float(b) ** p_theory
        x = curve.ns / scale
        marker = None if curve.source == "trace" else "o"
        ax.plot(x, mean, marker=marker, ms=3, color=colour, label=f"d = {curve.d}")
        ax.fill_between(x, mean - sd, mean + sd, color=colour, alpha=0.18)
    ax.axhline(success.value, color="0.4", ls="--", lw=0.8, label=success.text())
    ax.set_xscale("log")
    _log_axis(ax.xaxis)
    ax.set_xlabel("n" if p_theory is None else f"n / {base}^{p_theory:g}")
    ax.set_ylabel(success.metric + " (mean ± sd over replicas)")
    if curves:
        title = f"{curves[0].learner} on {curves[0].target}"
        ax.set_title(title + (" — collapse at the theoretical exponent" if p_theory is not None
                              else ""), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, out, stem)


def plot_thresholds(entries: list[tuple[ScalingFit, list[Curve], list[Threshold]]], out: Path,
                    stem: str) -> list[Path]:
    """``n*(d)`` log-log for every learner on one target: points with intervals, fitted and
    theoretical lines (the latter through the points, slope = the theoretical exponent)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.9))
    colours = categorical(len(entries))
    for colour, (fit, curves, thresholds) in zip(colours, entries, strict=False):
        pts = [(c.d, t) for c, t in zip(curves, thresholds, strict=True)
               if 0 < t.n_star < math.inf]
        if not pts:
            continue
        d = np.array([p[0] for p in pts], dtype=float)
        ns = np.array([p[1].n_star for p in pts])
        lo = np.array([min(p[1].lo, p[1].n_star) for p in pts])
        hi = np.array([max(p[1].hi, p[1].n_star) for p in pts])
        hi = np.where(np.isfinite(hi), hi, ns * 10)
        ax.errorbar(d, ns, yerr=[ns - lo, hi - ns], fmt="o", ms=4, capsize=3, color=colour,
                    label=f"{fit.learner}: n*(d)")
        grid = np.geomspace(d.min(), d.max(), 50)
        if math.isfinite(fit.p):
            ax.plot(grid, np.exp(fit.c) * grid**fit.p, color=colour,
                    label=f"fit p̂ = {fit.p:.2f} [{fit.lo:.2f}, {fit.hi:.2f}]")
        if fit.theory is not None and fit.theory_base == "d":
            c_th = float(np.mean(np.log(ns) - fit.theory * np.log(d)))
            ax.plot(grid, np.exp(c_th) * grid**fit.theory, color=colour, ls=":",
                    label=f"theory p = {fit.theory:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_axis(ax.xaxis, sorted({c.d for _, curves, _ in entries for c in curves}))
    _log_axis(ax.yaxis)
    ax.set_xlabel("d")
    ax.set_ylabel("threshold n*")
    if entries:
        ax.set_title(f"thresholds on {entries[0][0].target}", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    else:
        ax.text(0.5, 0.5, "no threshold inside the sampled range", ha="center",
                transform=ax.transAxes, fontsize=8, color="0.4")
    return _save(fig, out, stem)


def plot_phase(curves: list[Curve], thresholds: list[Threshold], out: Path, stem: str,
               rows: int = 60) -> list[Path]:
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
    _log_axis(ax.xaxis, [c.d for c in curves])
    _log_axis(ax.yaxis)
    ax.set_xlabel("d")
    ax.set_ylabel("n")
    if curves:
        ax.set_title(f"phase diagram: {curves[0].learner} on {curves[0].target}", fontsize=9)
    return _save(fig, out, stem)
