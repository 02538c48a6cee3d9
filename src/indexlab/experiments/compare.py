"""Several learners on one target: ``indexlab fit --learner a,b,c``.

Each learner gets a fresh copy of the same target (same seed, hence the same hidden
directions and the same data stream — common random numbers), the same budget, and the
hyperparameter options that apply to it. :func:`print_comparison` prints one table (a row per
learner) and :func:`plot_overlap_traces` overlays their overlap-vs-samples curves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from indexlab._suggest import did_you_mean
from indexlab.learners.base import Learner


def _fields(cls: type[Learner]) -> tuple[str, ...]:
    return cls.hyperparameter_names()


def _given(given: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in given.items() if v is not None}


def _known(cls: type[Learner]) -> set[str]:
    """The options that apply to ``cls``: its hyperparameters, and ``width`` for a learner
    with neurons or features."""
    return set(_fields(cls)) | ({"width"} if cls.width_parameter else set())


def options_for(cls: type[Learner], given: dict[str, Any], settings: dict[str, Any],
                strict: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """The CLI options (``given``, ``None`` = not set) and ``--set`` settings that apply to
    learner class ``cls``: all of them with ``strict``, else those it has (``width`` counts
    for a learner with neurons)."""
    if strict:
        return _given(given), dict(settings)
    fields = _known(cls)
    return ({k: v for k, v in _given(given).items() if k in fields},
            {k: v for k, v in settings.items() if k in fields})


def hyper_for(cls: type[Learner], given: dict[str, Any], settings: dict[str, Any], seed: int,
              strict: bool = True) -> Callable[[Any], dict[str, Any]]:
    """The hyperparameters of learner class ``cls`` as a function of the target: the run's
    defaults (seed, ``r``), then the CLI options ``given`` (``width`` is ``m`` for random
    features), then ``--set`` ``settings``. With ``strict=False`` (several learners) options
    the learner does not have are left out instead of refused."""
    from indexlab.learners.registry import learner_defaults

    fields = _fields(cls)
    hyper = _given(given)
    width = cls.width_parameter
    if "width" in hyper and width not in (None, "width"):
        hyper[width] = hyper.pop("width")  # e.g. random features: m neurons
    hyper.update(settings)
    if not strict:
        hyper = {k: v for k, v in hyper.items() if k in fields}

    def resolve(target) -> dict[str, Any]:
        return {**learner_defaults(cls, target, seed), **hyper}

    return resolve


def check_used(classes: list[type[Learner]], given: dict[str, Any],
               settings: dict[str, Any]) -> None:
    """With several learners, every option must apply to at least one of them."""
    if len(classes) < 2:
        return
    known: set[str] = set()
    for cls in classes:
        known |= _known(cls)
    unused = sorted(k for k in {*_given(given), *settings} if k not in known)
    if unused:
        names = ", ".join(cls.label() for cls in classes)
        hints = "".join(did_you_mean(k, known) for k in unused)
        raise ValueError(f"hyperparameter(s) {', '.join(unused)} not known to any of "
                         f"{names}{hints}; allowed: {', '.join(sorted(known))}")


def _pm(mean, sd) -> str:
    return "—" if mean is None else f"{mean:.4f} ± {sd:.4f}"


def samples_text(report: dict[str, Any]) -> str:
    """``20,000 + 10,000 ridge`` (first stage + second-stage ridge samples), or ``20,000``."""
    ridge = report.get("samples_ridge") or 0
    first = report["samples"] - ridge
    return f"{first:,} + {ridge:,} ridge" if ridge else f"{first:,}"


def print_comparison(console, reports: list[dict[str, Any]]) -> None:
    """One Rich table, a row per learner (the keys of ``fit --json``)."""
    from rich.markup import escape
    from rich.table import Table

    first = reports[0]
    table = Table(title=escape(f"{first['link']} (d = {first['d']}, R = {first['replicas']}, "
                               f"seed = {first.get('seed')}): same data for every learner"))
    single = any(r["overlap_mean"] is not None for r in reports)
    multi = any(r["subspace_distance_mean"] is not None for r in reports)
    cols = ["learner", *(["overlap (mean ± sd)"] if single else []),
            *(["subspace distance"] if multi else []), "test MSE", "samples per replica",
            "seconds", "diverged"]
    for col in cols:
        table.add_column(col, justify="left" if col == "learner" else "right")
    for r in reports:
        row = [escape(r["learner"])]
        if single:
            row.append(_pm(r["overlap_mean"], r["overlap_sd"]))
        if multi:
            row.append(_pm(r["subspace_distance_mean"], r["subspace_distance_sd"]))
        row += [_pm(r["test_mse_mean"], r["test_mse_sd"]), samples_text(r),
                f"{r['seconds']:.2f}", f"{r['diverged_count']} / {r['replicas']}"]
        table.add_row(*row)
    console.print(table)
    for r in reports:
        if r.get("note"):
            console.print(escape(f"{r['learner']}: {r['note']}"))


def plot_overlap_traces(learners: list, labels: list[str], path: str, title: str = "",
                        target=None):
    """Overlap vs samples per replica (log x) of each learner: the median over replicas with
    the band of :data:`~indexlab.experiments.style.BAND` (10–90% quantiles, inside [0, 1] by
    construction), Okabe–Ito colours. A learner without an overlap curve (SIR, spectral, a
    batch learner: no trace, or one checkpoint) is drawn as one point at the samples it used
    — its final overlap on ``target`` (median, with the same band as an error bar) — and a
    note says so; an error if no learner gives a point or a trace. Beside each traced band,
    dashed in its colour, the theory's prediction of the overlap where the learner has one
    (:meth:`~indexlab.learners.base.Learner.overlap_theory`: the mean-field overlap ODE of
    online SGD, :mod:`indexlab.learners.mean_field`, for the learner's hyperparameters on
    ``target``). Returns the (closed) Figure."""
    import numpy as np

    from indexlab.experiments.style import BAND, BAND_TEXT, OKABE_ITO, SAMPLES, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.8, 3.9), layout="constrained")
    drawn, untraced, theories = 0, [], 0
    for i, (learner, label) in enumerate(zip(learners, labels, strict=True)):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        trace = getattr(learner, "trace_", None)
        values = (np.asarray(trace["overlap"], dtype=float) if trace is not None
                  and "overlap" in trace else np.empty((0, 0)))  # (T, R)
        if values.shape[0] >= 2 and np.isfinite(values).any():
            samples = np.asarray(trace.samples, dtype=float)
            with np.errstate(all="ignore"):
                low, med, high = np.nanquantile(values, [BAND[0], 0.5, BAND[1]], axis=1)
            ax.plot(samples, med, color=colour, lw=1.8, label=label)
            ax.fill_between(samples, low, high, color=colour, alpha=0.2, lw=0)
            predicted = _theory_curve(learner, target, samples)
            if predicted is not None:
                ax.plot(samples, predicted[1], color=colour, ls=(0, (4, 2)), lw=1.1,
                        gid="theory", label=None if theories else f"theory: {predicted[0]}")
                theories += 1
            drawn += 1
            continue
        final = _final_overlap(learner, target)
        if final is None and values.shape[0] == 1 and np.isfinite(values).any():
            final = float(np.asarray(trace.samples, dtype=float)[0]), values[0]
        if final is None:
            continue
        n, values = final
        low, med, high = np.nanquantile(values, [BAND[0], 0.5, BAND[1]])
        ax.errorbar([n], [med], yerr=[[med - low], [high - med]], fmt="s", ms=6, capsize=3,
                    color=colour, label=f"{label} (no trace: final overlap)")
        untraced.append(label)
        drawn += 1
    if not drawn:
        plt.close(fig)
        raise ValueError("no learner recorded an overlap trace or learned a direction to "
                         "compare (fit a single-index target)")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"{SAMPLES} n")
    ax.set_ylabel("overlap |⟨w, θ*⟩|, best neuron")
    note = f"\n{BAND_TEXT}"
    if untraced:
        note += f"; {', '.join(untraced)}: one point (no trace)"
    ax.set_title(title + note, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return fig


def _theory_curve(learner, target, samples):
    """``(name, values at samples)`` of the learner's overlap theory on the single-index
    ``target`` for its traced run (budget: the trace's last sample count), or ``None``."""
    if target is None or getattr(target, "r", 1) != 1:
        return None
    try:
        return type(learner).overlap_theory(learner.get_params(), target.link, target.d,
                                            samples, int(max(samples)),
                                            getattr(target, "sparsity", None))
    except (KeyError, ValueError, TypeError):
        return None


def _final_overlap(learner, target):
    """``(samples, overlaps per replica)`` of a fitted learner without a trace on a
    single-index ``target``, or ``None`` (no target, no directions, a multi-index target)."""
    import numpy as np

    if target is None or getattr(learner, "directions_", None) is None:
        return None
    directions = target.directions
    if directions.shape[1] != 1:
        return None
    try:
        values = np.asarray(learner.overlap(directions[:, 0]), dtype=float).reshape(-1)
    except (ValueError, RuntimeError, AttributeError):
        return None
    samples = getattr(learner, "samples_", None)
    if samples is None or not values.size:
        return None
    return float(np.max(np.asarray(samples, dtype=float))), values
