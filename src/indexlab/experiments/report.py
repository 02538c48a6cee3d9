"""Reports of a results store: figures, a Markdown summary and a self-contained HTML page.

:func:`write_report` analyses every sweep of the store (:mod:`indexlab.experiments.analysis`),
draws its figures (:mod:`indexlab.experiments.plots`) and writes ``summary.md`` and
``index.html`` into the output folder. Both hold the same tables — fitted exponent ``p̂`` with
its bootstrap interval beside the theoretical exponent, thresholds ``n*(d)`` with their
intervals, run counts by status — and the HTML page (inline CSS, no scripts, nothing fetched)
shows the PNGs by relative path and links the PDFs. ``results.json`` holds the same numbers as
data (:mod:`indexlab.experiments.results`), and each exponent is judged against its theory by
the claims' rule, up to one log factor (:func:`indexlab.experiments.results.fit_check`).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from indexlab.experiments.analysis import N_BOOT, Analysis, analyse
from indexlab.experiments.plots import (
    THEORY_METRIC,
    plot_collapse,
    plot_curves,
    plot_phase,
    plot_thresholds,
    slug,
    theory_curves,
)
from indexlab.experiments.results import fit_check, lower_bounds, results_document
from indexlab.experiments.store import Store

Table = tuple[list[str], list[list[str]]]


@dataclass
class Section:
    """One sweep's part of the report: title, tables and figure stems (PNG + PDF each)."""

    title: str
    notes: list[str]
    tables: list[tuple[str, Table]]
    figures: list[tuple[str, str]] = field(default_factory=list)  # (caption, stem)


def _num(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "0"
    return f"{x:.{digits}g}"


def _interval(lo: float, hi: float, digits: int = 3) -> str:
    return f"[{_num(lo, digits)}, {_num(hi, digits)}]"


def exponent_table(analysis: Analysis) -> Table:
    """Fitted vs theoretical exponents, one row per (target, learner), with the verdict of
    :func:`~indexlab.experiments.results.fit_check` (the interval meets ``[p, p + ℓ]``, ``ℓ``
    the slope of one log factor over the fitted range)."""
    head = ["target", "learner", "d used", "p̂ (fit)", "95% CI", "CI width", "theory p",
            "vs theory (up to log d)", "no-slope resamples", "flags"]
    rows = []
    for f in analysis.fits:
        theory = "—" if f.theory is None else f"{f.theory:g} (in {f.theory_base})"
        check = fit_check(f)
        verdict = "—" if check is None else f"{check.verdict}: {check.reason}"
        rows.append([f.target, f.learner, ", ".join(map(str, f.ds)) or "—", _num(f.p),
                     _interval(f.lo, f.hi) if math.isfinite(f.p) else "—",
                     _num(f.ci_width, 2) if math.isfinite(f.p) else "—", theory, verdict,
                     f"{f.undefined:.0%}" if math.isfinite(f.p) else "—",
                     "; ".join(f.flags) or "—"])
    return head, rows


def threshold_table(analysis: Analysis) -> Table:
    """Thresholds ``n*(d)`` with their bootstrap intervals, one row per curve: how it was
    estimated (first passage of a trace, or the isotonic crossing over runs), replicas that
    met the criterion, and those that lost it again ("lost after success")."""
    head = ["target", "learner", "d", "from", "n range", "replicas", "passed",
            "lost after success", "n*", "95% CI", "flags"]
    rows = []
    for c, t in zip(analysis.curves, analysis.thresholds, strict=True):
        n_star = _num(t.n_star)
        if math.isinf(t.n_star):
            n_star = f"> {c.ns.max()}"
        elif t.n_star == 0:
            n_star = f"< {c.ns.min()}"
        flags = [name for name, on in (("grid-limited", t.grid_limited),
                                       ("censored", t.censored)) if on]
        source = "trace, first passage" if t.method == "first passage" else c.source
        rows.append([c.target, c.learner, str(c.d), source, f"{c.ns.min()}–{c.ns.max()}",
                     str(c.values.shape[1]), str(t.passed), str(t.lost), n_star,
                     _interval(t.lo, t.hi) + (" (grid)" if t.grid_limited else ""),
                     ", ".join(flags) or "—"])
    return head, rows


def status_table(store: Store, keys) -> Table:
    """Runs of a sweep by state (:meth:`Store.run_states`: running, interrupted, queued...)."""
    counts: dict[str, int] = {}
    for state in store.run_states(set(keys)).values():
        counts[state] = counts.get(state, 0) + 1
    return ["status", "runs"], [[k, str(v)] for k, v in sorted(counts.items())]


def _figures(analysis: Analysis, out: Path, prefix: str) -> list[tuple[str, str]]:
    figures = []
    by_pair: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(analysis.curves):
        by_pair.setdefault((c.target, c.learner), []).append(i)
    fits = {(f.target, f.learner): f for f in analysis.fits}
    by_target: dict[str, list] = {}
    for (target, learner), idx in by_pair.items():
        curves = [analysis.curves[i] for i in idx]
        thresholds = [analysis.thresholds[i] for i in idx]
        fit = fits[(target, learner)]
        name = slug(prefix, target, learner)
        predicted = theory_curves(curves, analysis.success.metric)
        plot_curves(curves, analysis.success, out, f"curves_{name}", theory=predicted)
        said = (f" (dashed: theory, {predicted[0]})" if predicted[0] is not None
                else " (no theory curve: none for this learner)"
                if analysis.success.metric == THEORY_METRIC else "")
        figures.append((f"{analysis.success.metric} vs n: {learner} on {target}{said}",
                        f"curves_{name}"))
        if fit.theory is not None:
            fitted = fit.p if fit.theory_base == "d" and math.isfinite(fit.p) else None
            plot_collapse(curves, analysis.success, out, f"collapse_{name}", fit.theory,
                          fitted, fit.theory_base)
            at = f"the theoretical p = {fit.theory:g}" + (
                f" and the fitted p̂ = {fitted:.3g}" if fitted is not None else "")
            figures.append((f"collapse at n/{fit.theory_base}^p, {at}: {learner} on "
                            f"{target}", f"collapse_{name}"))
        plot_phase(curves, thresholds, out, f"phase_{name}")
        figures.append((f"phase diagram: {learner} on {target}", f"phase_{name}"))
        by_target.setdefault(target, []).append((fit, curves, thresholds))
    first = []  # the n*(d) figures with every learner come first
    for target, entries in by_target.items():
        name = slug(prefix, target)
        plot_thresholds(entries, out, f"thresholds_{name}", analysis.success,
                        lower_bounds(entries[0][1][0].target_config))
        first.append((f"n*(d) and exponents of every learner on {target}",
                       f"thresholds_{name}"))
    return first + figures


def _section(store: Store, sweep: dict, analysis: Analysis, out: Path, n_boot: int
             ) -> Section:
    q = analysis.success.probability
    notes = [f"success: {analysis.success.text()} per replica. Traced learners: n* is the "
             f"{q:g}-quantile of the replicas' first passages (first checkpoint meeting the "
             "criterion); replicas that never pass are censored, not dropped, so n* is "
             f"defined only when more than a share {q:g} of them pass, else reported as "
             "'> n_max'. Runs: n* is where the isotonic fit of the success fraction crosses "
             f"{q:g}. Intervals: percentile bootstrap over replicas ({n_boot} resamples); "
             "'(grid)': the interval is one grid cell (checkpoint or budget), wider than the "
             "bootstrap's. 'lost after success': replicas that met the criterion and later "
             "fell 0.1 or more short of it. Exponents: weighted least squares in log-log, "
             "weights 1/σ² from each n*'s interval."]
    tables = [("Scaling exponents", exponent_table(analysis)),
              ("Thresholds", threshold_table(analysis)),
              ("Runs", status_table(store, list(sweep["labels"])))]
    figures = _figures(analysis, out, sweep["name"]) if analysis.curves else []
    if not analysis.curves:
        notes.append("no finished runs yet: no figures.")
    return Section(f"Sweep {sweep['name']}", notes, tables, figures)


# ---------------------------------------------------------------------------------- rendering
def render_markdown(sections: list[Section], source: str) -> str:
    """The Markdown summary (tables as pipe tables, figures as image links)."""
    lines = ["# indexlab report", "", f"Results store: `{source}`", ""]
    for s in sections:
        lines += [f"## {s.title}", "", *s.notes, ""]
        for title, (head, rows) in s.tables:
            lines += [f"### {title}", "", "| " + " | ".join(head) + " |",
                      "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                      for row in rows]
            lines.append("")
        for caption, stem in s.figures:
            lines += [f"![{caption}]({stem}.png)  ", f"[{stem}.pdf]({stem}.pdf)", ""]
    return "\n".join(lines)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;
padding:0.25em 0.6em;text-align:left;font-size:0.9em}th{background:#f2f2f2}
figure{display:inline-block;margin:0.5em;vertical-align:top}img{max-width:520px}
figcaption{font-size:0.85em;color:#555}"""


def render_html(sections: list[Section], source: str) -> str:
    """A self-contained HTML page (inline CSS, no scripts) with the tables and the PNGs."""
    e = html.escape
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<title>indexlab report</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>indexlab report</h1>", f"<p>Results store: <code>{e(source)}</code></p>"]
    for s in sections:
        parts.append(f"<h2>{e(s.title)}</h2>")
        parts += [f"<p>{e(note)}</p>" for note in s.notes]
        for title, (head, rows) in s.tables:
            parts.append(f"<h3>{e(title)}</h3><table><thead><tr>"
                         + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead><tbody>")
            parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
            parts.append("</tbody></table>")
        for caption, stem in s.figures:
            parts.append(f"<figure><img src='{e(stem)}.png' alt='{e(caption)}'>"
                         f"<figcaption>{e(caption)} (<a href='{e(stem)}.pdf'>PDF</a>)"
                         "</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(store: Store, out: str | Path, n_boot: int = N_BOOT) -> dict[str, Path]:
    """Analyse every sweep in ``store`` and write figures, ``summary.md``, ``index.html`` and
    ``results.json`` into ``out`` (created if needed); returns the paths of the three
    documents (keys ``markdown``, ``html``, ``json``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sweeps = store.sweeps()
    if not sweeps:
        raise ValueError(f"results store {str(store.path)!r} holds no sweep: run "
                         "`indexlab sweep SPEC.toml --db ...` first")
    analyses = [analyse(store, sweep, n_boot=n_boot) for sweep in sweeps]
    sections = [_section(store, sweep, analysis, out, n_boot)
                for sweep, analysis in zip(sweeps, analyses, strict=True)]
    md = out / "summary.md"
    page = out / "index.html"
    data = out / "results.json"
    md.write_text(render_markdown(sections, str(store.path)), encoding="utf-8")
    page.write_text(render_html(sections, str(store.path)), encoding="utf-8")
    data.write_text(json.dumps(results_document(analyses, str(store.path)), indent=1,
                               ensure_ascii=False) + "\n", encoding="utf-8")
    return {"markdown": md, "html": page, "json": data}
