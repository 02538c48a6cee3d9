"""The report of ``indexlab measure``: a table (learner, p̂ [CI], d range, theory, verdict,
time), ``summary.md``, ``results.jsonl`` (one JSON object per learner) and the ``n*(d)``
figure of every learner with its fitted and theoretical slopes
(:func:`indexlab.experiments.plots.plot_thresholds`)."""

from __future__ import annotations

import json
from pathlib import Path

from indexlab.experiments.judge import interval
from indexlab.experiments.measure import LearnerMeasure

HEAD = ["learner", "p̂ [95% CI]", "d range", "theory", "verdict", "time", "why"]


def rows(results: list[LearnerMeasure]) -> list[list[str]]:
    """One row per learner (the columns of :data:`HEAD`)."""
    out = []
    for r in results:
        c = r.check
        est = "—" if c.estimate != c.estimate else f"{c.estimate:.3g} {interval(c.lo, c.hi)}"
        span = "—" if r.d_min is None else f"{r.d_min}–{r.d_max}"
        theory = "—" if r.theory is None else f"{r.theory:g}" + (
            " (n*/log d)" if r.log_factor else "")
        out.append([r.learner, est, span, theory, r.verdict, f"{r.seconds:.1f} s", c.reason])
    return out


def write_report(results: list[LearnerMeasure], link: str, out: str | Path,
                 command: str = "") -> dict[str, Path]:
    """``summary.md``, ``results.jsonl`` and ``nstar.png``/``.pdf`` into ``out``."""
    from indexlab.experiments.plots import plot_thresholds

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = [(r.analysis.fits[0], r.analysis.curves, r.analysis.thresholds)
               for r in results if r.analysis is not None and r.analysis.fits]
    figures = plot_thresholds(entries, out, "nstar") if entries else []
    jsonl = out / "results.jsonl"
    jsonl.write_text("".join(json.dumps(r.as_dict()) + "\n" for r in results),
                     encoding="utf-8")
    md = [f"# indexlab measure {link}", ""]
    if command:
        md += [f"`{command}`", ""]
    md += ["Each learner: a pilot at small d calibrates the budget, a traced sweep over d "
           "(as wide as the cost cap allows) gives the median first passage n*(d); the "
           "exponent's 95% bootstrap CI is judged against theory as the exponent claims are "
           "(docs/measure.md).", "",
           "| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    md += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
           for row in rows(results)]
    if figures:
        md += ["", "![n*(d)](nstar.png)"]
    summary = out / "summary.md"
    summary.write_text("\n".join(md) + "\n", encoding="utf-8")
    paths = {"markdown": summary, "jsonl": jsonl}
    if figures:
        paths["figure"] = out / "nstar.png"
    return paths
