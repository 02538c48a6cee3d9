"""``indexlab reproduce``: run the claims of :mod:`indexlab.experiments.claims`, judge them, and
write a claims report.

:func:`reproduce` runs, for each selected claim, every sweep of its spec in the chosen mode
through :func:`indexlab.experiments.runner.sweep` (so runs already stored under the current
version are skipped: a second call resumes), then evaluates the claim from the stored runs of
exactly those sweeps. A store written by another library version, or by another spec of the
same claim, holds other run keys: the claim's sweeps are re-registered with the current keys,
those runs are computed, and the old ones are never read (they stay in the file).

:func:`write_claims_report` writes ``summary.md`` and ``index.html`` (a claims table: claim,
source, measured figure with its 95% CI, theory, verdict, figure; then one section per claim
with all its checks and the claim's tables, :class:`~indexlab.experiments.claims.Table`,
which are shown and not judged) and one figure per claim: each check's estimate and interval
beside the value or bound it is judged against.
"""

from __future__ import annotations

import html
import math
import os
import platform
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from indexlab import __version__
from indexlab.experiments.claims import Claim, Context, Table, get_claims
from indexlab.experiments.judge import Check, combine, interval, unavailable
from indexlab.experiments.store import Store


@dataclass
class ClaimResult:
    """A judged claim: its checks, the combined verdict, the runs it ran now."""

    claim: Claim
    mode: str
    checks: list[Check]
    verdict: str
    note: str = ""
    runs: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    figure: str | None = None
    tables: list[Table] = field(default_factory=list)

    def measured(self, most: int = 4) -> str:
        """The checks' figures with their intervals; beyond ``most`` checks, the counts by
        verdict and the first check that did not pass (the section has them all)."""
        measured = [c for c in self.checks if math.isfinite(c.estimate)]
        if not measured:
            return "—"
        if len(measured) <= most:
            return "; ".join(c.text() for c in measured)
        counts = ", ".join(f"{sum(c.verdict == v for c in measured)} {v}"
                           for v in ("pass", "fail", "inconclusive")
                           if any(c.verdict == v for c in measured))
        worst = next((c for c in measured if c.verdict == "fail"),
                     next((c for c in measured if c.verdict != "pass"), None))
        return f"{len(measured)} checks: {counts}" + (f"; {worst.verdict}: {worst.text()}"
                                                      if worst else "")

    def theory(self) -> str:
        return "; ".join(f"{c.label}: {c.theory_text}" for c in self.checks) or self.claim.theory

    def as_dict(self) -> dict[str, Any]:
        c = self.claim
        return {"claim": c.name, "title": c.title, "source": c.source, "measures": c.measures,
                "theory": c.theory, "rule": c.rule, "mode": self.mode,
                "verdict": self.verdict, "note": self.note,
                "checks": [k.as_dict() for k in self.checks], "runs": self.runs,
                "seconds": round(self.seconds, 2), "figure": self.figure,
                "tables": [asdict(t) for t in self.tables]}


def claim_listing(claims: list[Claim]) -> list[dict[str, Any]]:
    """The registry as JSON-ready dicts (with the spec of every mode and what it needs)."""
    from indexlab.experiments.claims import MODES

    return [{"claim": c.name, "title": c.title, "source": c.source, "measures": c.measures,
             "theory": c.theory, "rule": c.rule,
             "needs": {m: list(c.requires(m)) for m in MODES},
             "specs": {m: c.specs(m) for m in MODES}} for c in claims]


def claim_specs(claim: Claim, mode: str, seed: int | None = None) -> dict[str, dict[str, Any]]:
    """The specs of ``claim`` in ``mode``; with ``seed``, every part's spec seed replaced by it
    (so every run's data, hidden directions and initialisation are drawn anew: each run's
    seed derives from the spec seed, :func:`~indexlab.experiments.run.run_seed`) and its sweep
    named ``{claim}-{mode}-s{seed}-{part}``. ``None`` (the default): the registered specs,
    unchanged."""
    from indexlab.experiments.claims import sweep_name

    specs = claim.specs(mode)
    if seed is None:
        return specs
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} is not allowed: use an integer >= 0")
    out = {part: {**spec, "seed": seed, "name": sweep_name(claim.name, f"{mode}-s{seed}", part)}
           for part, spec in specs.items()}
    if len({spec["name"] for spec in out.values()}) != len(out):
        raise ValueError(f"claim {claim.name!r}: seed={seed} makes two sweep names of its parts "
                         "equal after the 64-character cut; use a shorter seed")
    return out


def pending_runs(claims: list[Claim], mode: str, store: Store,
                 seed: int | None = None) -> list:
    """The runs of ``claims`` in ``mode`` not yet finished in ``store`` (each once), and the
    runs their adaptive searches may still make at most
    (:func:`~indexlab.experiments.runner.search_plans`), for the time estimate before any
    work; claims missing a capability contribute none."""
    from indexlab.experiments.runner import expand_runs, search_plans
    from indexlab.experiments.spec import parse_spec

    finished = store.finished_keys()
    runs, planned = {}, []
    for claim in claims:
        if claim.missing(mode):
            continue
        for spec in claim_specs(claim, mode, seed).values():
            parsed = parse_spec(spec)
            for run in expand_runs(parsed):
                if run.key not in finished:
                    runs[run.key] = run
            planned += [run for _, plan in search_plans(parsed, store) for run in plan]
    return list(runs.values()) + planned


def run_claim(claim: Claim, mode: str, store: Store, executor: str = "local",
              scheduler: str | None = None, workers: int | None = None,
              progress: bool = False, n_boot: int = 1000,
              time_limit: str | float | None = None, seed: int | None = None) -> ClaimResult:
    """Run what is not stored yet of ``claim`` in ``mode`` and judge it (each sweep under
    ``time_limit``, :func:`~indexlab.experiments.runner.sweep`); ``seed``: replicate it on
    other data (:func:`claim_specs`)."""
    from indexlab.experiments.runner import sweep
    from indexlab.experiments.spec import parse_spec

    start = time.perf_counter()
    missing = claim.missing(mode)
    if missing:
        reason = f"engine not available: needs {', '.join(missing)} (not in this version)"
        return ClaimResult(claim, mode, [unavailable(claim.title, reason)],
                           "inconclusive", reason)
    specs = {part: parse_spec(spec) for part, spec in claim_specs(claim, mode, seed).items()}
    counts = {"total": 0, "skipped": 0, "ran": 0, "failed": 0}
    for spec in specs.values():
        summary = sweep(spec, store, executor, scheduler, workers, progress=progress,
                        time_limit=time_limit)
        for k in counts:
            counts[k] += summary[k]
    stored = {s["name"]: s for s in store.sweeps()}
    ctx = Context(store, {part: stored[spec.name] for part, spec in specs.items()}, mode,
                  n_boot)
    checks = claim.evaluate(ctx)
    tables = claim.tables(ctx)
    note = f"{counts['failed']} run(s) failed (see `indexlab status`)" if counts["failed"] else ""
    if mode == "tiny":
        note = (note + "; " if note else "") + "tiny mode: checks the wiring, not the science"
    verdict = combine(c.verdict for c in checks)
    if counts["failed"] and verdict == "pass":  # a pass on partial data is no pass
        verdict = "inconclusive"
    return ClaimResult(claim, mode, checks, verdict, note, counts, time.perf_counter() - start,
                       tables=tables)


def reproduce(names: list[str] | None, mode: str, store: Store, executor: str = "local",
              scheduler: str | None = None, workers: int | None = None,
              progress: bool = False, n_boot: int = 1000, on_claim=None,
              time_limit: str | float | None = None,
              seed: int | None = None) -> list[ClaimResult]:
    """Run and judge every claim named (all when ``names`` is empty); ``seed``: every claim
    replicated on other data (:func:`claim_specs`; ``None``, the default, runs the
    registered specs). With ``executor =
    "dask"`` and no ``scheduler``, one local cluster of ``workers`` processes serves every
    sweep (instead of one cluster started per sweep).

    Before any work, the estimated time of every run not yet stored, shared by the Dask
    workers, is checked against ``time_limit`` (:func:`indexlab.experiments.guards.
    time_limit`: default one day); the sweeps then run without a limit of their own."""
    from indexlab.experiments.runner import check_time

    results = []
    claims = get_claims(names)
    check_time(pending_runs(claims, mode, store, seed),
               f"indexlab reproduce --{mode} ({len(claims)} claims)", time_limit,
               (workers or 2) if executor == "dask" else 1)
    with _shared_cluster(executor, scheduler, workers) as (scheduler, workers):
        for claim in claims:
            result = run_claim(claim, mode, store, executor, scheduler, workers, progress,
                               n_boot, time_limit="none", seed=seed)
            results.append(result)
            if on_claim is not None:
                on_claim(result)
    return results


@contextmanager
def _shared_cluster(executor: str, scheduler: str | None, workers: int | None):
    """``(scheduler, workers)`` for the sweeps: a local Dask cluster's address when Dask runs
    here (its workers single-threaded processes, each given ``cores / workers`` intra-op
    threads through ``OMP_NUM_THREADS``, as :func:`~indexlab.experiments.runner.run_dask`
    does for its own cluster), else the arguments unchanged."""
    if executor != "dask" or scheduler:
        yield scheduler, workers
        return
    from distributed import LocalCluster

    n = workers or 2
    threads = str(max(1, (os.cpu_count() or 1) // n))
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None,
                           env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads})
    try:
        yield cluster.scheduler_address, None
    finally:
        cluster.close()


# ---------------------------------------------------------------------------------- report
def plot_checks(result: ClaimResult, out: Path, stem: str):
    """A forest plot: each check's estimate and interval (dot and bar, coloured by verdict in
    the palette of :mod:`indexlab.experiments.style`) beside the value or bound it is judged
    against (a cross). Returns the (closed) Figure."""
    from indexlab.experiments.style import OKABE_ITO, ZERO_COLOUR, pyplot

    plt = pyplot()
    colours = {"pass": OKABE_ITO[2], "fail": OKABE_ITO[1], "inconclusive": ZERO_COLOUR}
    checks = result.checks
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(checks) + 1.2), layout="constrained")
    for i, c in enumerate(checks):
        y = len(checks) - 1 - i
        if math.isfinite(c.estimate):
            lo = c.lo if math.isfinite(c.lo) else c.estimate
            hi = c.hi if math.isfinite(c.hi) else c.estimate
            ax.plot([lo, hi], [y, y], color=colours[c.verdict], lw=2)
            ax.plot([c.estimate], [y], "o", color=colours[c.verdict])
        if c.theory is not None and math.isfinite(c.theory):
            ax.plot([c.theory], [y], "x", color="black", ms=8)
    ax.set_yticks(range(len(checks)), [c.label for c in reversed(checks)], fontsize=7)
    ax.set_title(f"{result.claim.name}: {result.verdict} (dot + bar: estimate, 95% CI; "
                 "x: theory / bound)", fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    fig.savefig(out / f"{stem}.png", dpi=110)
    fig.savefig(out / f"{stem}.pdf")
    plt.close(fig)
    return fig


def _provenance(store: Store, mode: str) -> str:
    machine = f"{platform.node() or 'unknown host'} ({platform.machine()}, " \
              f"{platform.processor() or platform.system()})"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    from indexlab.experiments.provenance import versions

    others = ", ".join(f"{k.removesuffix('_version')} {v}" for k, v in versions().items()
                       if k != "version")
    return (f"indexlab {__version__} ({others}), mode {mode}, {when}, machine {machine}, "
            f"{os.cpu_count()} cores, store {store.path}")


def claims_table(results: list[ClaimResult]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the claims table (one row per claim) for summary.md and index.html."""
    head = ["claim", "source", "measured (95% CI)", "theory", "verdict", "figure"]
    rows = [[r.claim.name, r.claim.source, r.measured(), r.claim.theory,
             r.verdict + (f" ({r.note})" if r.note and r.verdict == "inconclusive"
                          and "engine" in r.note else ""),
             f"{r.figure}.png" if r.figure else "—"] for r in results]
    return head, rows


def _linked(table, figure: str, claim: str, escape=lambda x: x):
    """The claims table with the figure cell and the claim name as links (``figure`` and
    ``claim`` are format strings of the escaped file name and claim name)."""
    head, rows = table
    out = []
    for row in rows:
        name, fig = escape(row[0]), escape(row[-1])
        out.append([claim.format(fig, name), *row[1:-1],
                    figure.format(fig, name) if row[-1] != "—" else "—"])
    return head, out


def check_table(result: ClaimResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one claim's checks: estimate, 95% CI, theory, verdict and reason."""
    head = ["check", "estimate", "95% CI", "theory", "verdict", "why"]
    rows = [[c.label, f"{c.estimate:.4g}" if math.isfinite(c.estimate) else "—",
             interval(c.lo, c.hi), c.theory_text, c.verdict, c.reason] for c in result.checks]
    return head, rows


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
               for row in rows] + [""])


def write_claims_report(results: list[ClaimResult], store: Store, out: str | Path,
                        mode: str) -> dict[str, Path]:
    """``summary.md``, ``index.html`` and one figure per claim into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        if any(math.isfinite(c.estimate) for c in r.checks):
            r.figure = f"claim_{r.claim.name}"
            plot_checks(r, out, r.figure)
    prov = _provenance(store, mode)
    intro = ("A claim passes only if its 95% intervals separate it from the alternative; "
             "'inconclusive' means too wide to separate (or not measurable here), never a "
             "pass. `indexlab report DB --out DIR` draws the per-sweep curves and thresholds.")
    md = ["# indexlab reproduce", "", prov, "", intro, "", "## Claims", "",
          *_md_table(*_linked(claims_table(results), "[{0}]({0})", "{1}"))]
    for r in results:
        c = r.claim
        md += [f"## {c.name}: {c.title}", "", f"- source: {c.source}",
               f"- measured: {c.measures}", f"- theory: {c.theory}", f"- pass rule: {c.rule}",
               f"- verdict: **{r.verdict}**" + (f" ({r.note})" if r.note else ""), "",
               *_md_table(*check_table(r))]
        for t in r.tables:
            md += [f"**{t.title}**", "", *_md_table(t.head, t.rows)] + ([t.note, ""] if t.note
                                                                       else [])
        if r.figure:
            md += [f"![{c.name}]({r.figure}.png)", ""]
    e = html.escape

    def table(head, rows, raw: bool = False):
        def cell(i: int, x: str) -> str:
            return x if raw and i in (0, len(head) - 1) else e(x)

        return ("<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head)
                + "</tr></thead><tbody>" + "".join(
                    "<tr>" + "".join(f"<td>{cell(i, x)}</td>" for i, x in enumerate(row))
                    + "</tr>" for row in rows) + "</tbody></table>")

    from indexlab.experiments.report import _CSS

    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<title>indexlab reproduce</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>indexlab reproduce</h1>", f"<p>{e(prov)}</p>", f"<p>{e(intro)}</p>",
             "<h2>Claims</h2>",
             table(*_linked(claims_table(results), "<a href='{0}'>{0}</a>",
                            "<a href='#{1}'>{1}</a>", escape=e), raw=True)]
    for r in results:
        c = r.claim
        parts += [f"<h2 id='{e(c.name)}'>{e(c.name)}: {e(c.title)}</h2><ul>",
                  f"<li>source: {e(c.source)}</li><li>measured: {e(c.measures)}</li>",
                  f"<li>theory: {e(c.theory)}</li><li>pass rule: {e(c.rule)}</li>",
                  f"<li>verdict: <b>{e(r.verdict)}</b> {e(r.note)}</li></ul>",
                  table(*check_table(r))]
        for t in r.tables:
            parts += [f"<h3>{e(t.title)}</h3>", table(t.head, t.rows)]
            if t.note:
                parts.append(f"<p>{e(t.note)}</p>")
        if r.figure:
            parts.append(f"<figure><img src='{e(r.figure)}.png' alt='{e(c.name)}'>"
                         f"<figcaption>{e(c.name)} (<a href='{e(r.figure)}.pdf'>PDF</a>)"
                         "</figcaption></figure>")
    parts.append("</body></html>")
    md_path, page = out / "summary.md", out / "index.html"
    md_path.write_text("\n".join(md), encoding="utf-8")
    page.write_text("\n".join(parts), encoding="utf-8")
    return {"markdown": md_path, "html": page}
