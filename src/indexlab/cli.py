"""The ``indexlab`` command line (Typer + Rich).

Commands: ``exponents`` (Hermite coefficients, k*, s*, α_c and predicted sample complexities
of a link), ``fit`` (train a learner on a target and report) and ``links`` (the registry).
"""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from indexlab import __version__, theory
from indexlab._cli_style import clean_flag_rendering
from indexlab.experiments.cli import register
from indexlab.experiments.terminal import console
from indexlab.experiments.terminal import fail as _fail
from indexlab.links import REGISTRY, get_link

clean_flag_rendering()
app = typer.Typer(
    help="indexlab: learn Gaussian single/multi-index models and measure sample complexity.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"indexlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    """indexlab: learn Gaussian single/multi-index models and measure sample complexity."""


MAX_COUNT = 10**15  # the largest d, n, R, width, ... a command accepts (estimates stay finite)


def check_counts(**counts: int | None) -> None:
    """``ValueError`` naming the flag, the value and the limit for a count above
    ``MAX_COUNT`` (a larger integer overflows the float64 cost estimates; no run of that size
    fits any machine anyway)."""
    for name, value in counts.items():
        if value is not None and value > MAX_COUNT:
            raise ValueError(f"--{name.replace('_', '-')}={value} is not allowed: use an "
                             f"integer <= {MAX_COUNT:.0e}")


def threshold_json(alpha: float | None) -> float | str | None:
    """``α_c`` for JSON: a number, the string ``"inf"`` when infinite (JSON has no ∞), or
    ``None`` only where α_c does not apply."""
    if alpha is None:
        return None
    return "inf" if math.isinf(alpha) else float(alpha)


def exponents_report(link_text: str, d: int, noise: float = 0.0, sparsity: int | None = None,
                     degree: int = theory.DEFAULT_DEGREE) -> dict:
    """Everything ``indexlab exponents`` prints, as a JSON-ready dict.

    Every value comes with its error estimate (``*_errors``, ``weak_recovery_threshold_error``);
    ``weak_recovery_threshold`` is a number or ``"inf"``. ``generative_constant`` is
    ``1/λ_{s*}²``, the constant in front of every ``d^{s*/2}``-type prediction.
    """
    link = get_link(link_text, noise=noise)
    theory.check_cost(link, "hermite", degree)  # a too-large r is named before anything else
    theory.check_supported(link)
    herm = theory.hermite_estimate(link, degree)
    deg = theory.hermite_degree_estimate(link, degree)
    coeffs, coeff_err = (herm.value, herm.error) if link.r == 1 else (deg.value, deg.error)
    k_star = theory.information_exponent(link, degree)
    lam = theory.generative_estimate(link)
    s_star = theory.generative_exponent(link)
    alpha = theory.weak_recovery_estimate(link)
    predicted = theory.predicted_sample_complexities(link, d, sparsity, k_star=k_star,
                                                     s_star=s_star)
    return {
        "link": link.name,
        "r": link.r,
        "noise": link.noise,
        "d": d,
        "sparsity": sparsity,
        "hermite_coefficients": [float(c) for c in coeffs],
        "hermite_coefficient_errors": [float(e) for e in coeff_err],
        "hermite_coefficients_kind": "c_k" if link.r == 1 else "norm of degree-k tensor",
        "information_exponent": k_star,
        "generative_coefficients": [float(v) for v in lam.value],
        "generative_coefficient_errors": [float(e) for e in lam.error],
        "generative_method": lam.method,
        "generative_exponent": s_star,
        "generative_constant": (None if s_star is None else float(1.0 / lam.value[s_star])),
        "zero_factor": theory.ZERO_FACTOR,
        "weak_recovery_threshold": threshold_json(alpha.value),
        "weak_recovery_threshold_error": (None if math.isinf(alpha.value) else alpha.error),
        "predicted": {
            name: {
                "exponent": p.exponent,
                "base": p.base,
                "formula": p.formula,
                "samples": p.samples,
                "source": p.source,
            }
            for name, p in predicted.items()
        },
    }


@app.command()
def exponents(
    link: Annotated[str, typer.Argument(help="registry name (see `indexlab links`) or an "
                                        "expression in z, or z1..zr for multi-index links")],
    d: Annotated[int, typer.Option("--d", help="dimension for the predicted sample sizes")] = 1024,
    noise: Annotated[float, typer.Option(help="additive Gaussian label noise σ")] = 0.0,
    sparsity: Annotated[int | None, typer.Option(help="k for the sparse predictions")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    plot: Annotated[str | None, typer.Option(help="also draw the card (c_k and λ_k² bars with "
                                             "their zero levels) to this PNG/PDF/SVG")] = None,
    transition: Annotated[bool, typer.Option(
        "--transition", help="also classify the weak-recovery transition of the GAMP channel "
        "(continuous or first order, spinodal α_sp; seconds for r = 1, minutes for r = 2)")
    ] = False,
) -> None:
    """Hermite coefficients, information/generative exponents, α_c and predicted n of LINK."""
    try:
        check_counts(d=d, sparsity=sparsity)
        report = exponents_report(link, d, noise=noise, sparsity=sparsity)
        if transition:
            report["transition"] = transition_report(link, noise)
    except ValueError as exc:
        _fail(str(exc))
        return
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print_report(report)
        if transition:
            _print_transition(report["transition"])
    if plot:
        from indexlab.experiments.theory_card import plot_theory_card

        try:
            plot_theory_card(report, plot)
        except (ValueError, OSError) as exc:
            _fail(f"could not write the plot {plot!r}: {exc}")
        if not as_json:
            console.print(f"theory card saved to {escape(plot)}")


def transition_report(link_text: str, noise: float = 0.0) -> dict:
    """:func:`indexlab.state_evolution.transition` of the link's GAMP channel, JSON-ready
    (``alpha_c`` of that channel, ``"inf"`` when infinite; ``alpha_sp`` ``None`` when none)."""
    from indexlab.state_evolution import transition

    t = transition(get_link(link_text, noise=noise))
    return {"kind": t.kind, "alpha_c": threshold_json(t.alpha_c), "alpha_c_error": t.alpha_c_error,
            "alpha_sp": t.alpha_sp, "level": t.level,
            "informed": [list(p) for p in t.informed],
            "uninformed": [list(p) for p in t.uninformed], "seconds": t.seconds}


def _print_transition(t: dict) -> None:
    alpha_c = "∞" if t["alpha_c"] == "inf" else f"{t['alpha_c']:.4g}"
    sp = "none" if t["alpha_sp"] is None else f"{t['alpha_sp']:.4g}"
    console.print(escape(
        f"GAMP channel transition: {t['kind']}   α_c (uninformed start, returned) = {alpha_c}   "
        f"spinodal α_sp (informed start stays above overlap {t['level']:g}) = {sp}   "
        f"({t['seconds']:.1f} s)"))


def _print_report(report: dict) -> None:
    r = report["r"]
    title = escape(f"link {report['link']}  (r = {r}, noise = {report['noise']:g})")
    coeff = Table(title=title, show_lines=False)
    coeff.add_column("k", justify="right")
    coeff.add_column(escape("c_k = E[m(z) h_k(z)]" if r == 1 else "‖c_α‖, |α| = k"),
                     justify="right")
    coeff.add_column(escape("λ_k² = E[E[h_k|y]²]  ± error"), justify="right")
    lam, lam_err = report["generative_coefficients"], report["generative_coefficient_errors"]
    for k, c in enumerate(report["hermite_coefficients"]):
        lam_k = f"{lam[k]:.6g} ± {lam_err[k]:.1e}" if 1 <= k < len(lam) else ""
        coeff.add_row(str(k), f"{0.0 if abs(c) < 1e-12 else c:+.6g}", lam_k)
    console.print(coeff)
    alpha = report["weak_recovery_threshold"]
    alpha_text = ("∞" if alpha == "inf" else "—" if alpha is None
                  else f"{alpha:.4g} ± {report['weak_recovery_threshold_error']:.1e}")
    console.print(
        f"information exponent k* = {report['information_exponent']}   "
        f"generative exponent s* = {report['generative_exponent']}   "
        f"weak-recovery threshold α_c = {alpha_text}"
    )
    console.print(escape(
        f"(a value counts as non-zero when it exceeds {report['zero_factor']:g}× its error; "
        f"method: {report['generative_method']})"))
    s_star, constant = report["generative_exponent"], report["generative_constant"]
    if constant is not None and constant > 100:
        console.print(escape(
            f"note: λ_{s_star}² = {lam[s_star]:.3g} is small, so the constant 1/λ_{s_star}² ≈ "
            f"{constant:.3g} multiplies the predicted sample sizes below; at moderate d the "
            "next exponent may describe the data better."))
    pred = Table(title=f"predicted sample complexity at d = {report['d']}")
    for col in ("algorithm", "n ≍", "exponent", "n at this d", "source"):
        pred.add_column(col)
    for name, p in report["predicted"].items():
        pred.add_row(name, p["formula"], f"{p['base']}^{p['exponent']:g}",
                     f"{p['samples']:.3g}", p["source"])
    console.print(pred)


@app.command()
def fit(
    link: Annotated[str, typer.Option(help="registry name or expression (as for exponents)")],
    d: Annotated[int, typer.Option("--d", help="input dimension")],
    n: Annotated[int, typer.Option("--n", help="sample budget per replica")],
    learner: Annotated[str, typer.Option(help="learner name (a key of "
                                         "indexlab.learners.LEARNERS; an unknown name lists "
                                         "them), or several separated by commas, compared on "
                                         "the same data")] = "unified",
    r: Annotated[int | None, typer.Option("--r", help="hidden dimension (multi-index)")] = None,
    n1: Annotated[int | None, typer.Option(help="stage-1 samples (learners with stage "
                                           "budgets: the layerwise family)")] = None,
    n2: Annotated[int | None, typer.Option(help="stage-2 samples (learners with stage "
                                           "budgets)")] = None,
    loss: Annotated[str | None, typer.Option(help="loss: square, correlation, huber, "
                                             "logistic")] = None,
    t1: Annotated[int | None, typer.Option(help="stage-1 GD steps (layerwise family)")] = None,
    replicas: Annotated[int, typer.Option(help="independent replicas R")] = 8,
    seed: Annotated[int, typer.Option(help="seed of directions, data and init")] = 0,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    noise: Annotated[float, typer.Option(help="additive Gaussian label noise σ")] = 0.0,
    sparsity: Annotated[int | None, typer.Option(help="k-sparse hidden direction")] = None,
    width: Annotated[int | None, typer.Option(help="neurons m")] = None,
    lr: Annotated[float | None, typer.Option(help="search-phase step (default: spec)")] = None,
    batch: Annotated[int | None, typer.Option(help="minibatch size")] = None,
    preprocess: Annotated[str | None, typer.Option(
        help="label preprocessing: spectral (optimal, label_transform, truncation, identity) "
             "or layerwise (none, dls, square)")] = None,
    setting: Annotated[list[str] | None, typer.Option(
        "--set", help="any other hyperparameter as KEY=VALUE (repeatable), e.g. "
                      "--set n_slices=20 --set kernel=laplace")] = None,
    float64: Annotated[bool, typer.Option("--float64", help="compute in float64")] = False,
    plot: Annotated[str | None, typer.Option(help="save overlap-vs-samples plot here (one "
                                              "curve per learner)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object (a list for "
                                          "several learners)")] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar (samples, rate, ETA) on "
                                           "a terminal")] = True,
    memory_limit: Annotated[str | None, typer.Option(
        help="refuse a run estimated to need more memory (e.g. 8G, 50%; default: "
             "$INDEXLAB_MEMORY_LIMIT, else 80% of the available memory)")] = None,
    time_limit: Annotated[str | None, typer.Option(
        help="refuse a run estimated to take longer (e.g. 600, 30m, 2h; none: no limit; "
             "default: $INDEXLAB_TIME_LIMIT, else one day)")] = None,
) -> None:
    """Train LEARNER on a target and report overlaps, test error, samples and time.

    LEARNER may be a comma-separated list (``unified,smoothed_sgd,online_sgd``): each learner
    runs on the same target, data seed and budget, and one comparison table (or one JSON list)
    is printed; a hyperparameter option then applies to the learners that have it.
    """
    import torch

    from indexlab.experiments.compare import (
        check_used,
        hyper_for,
        options_for,
        print_comparison,
    )
    from indexlab.experiments.preflight import preflight_fit
    from indexlab.experiments.progress_bars import samples_bar
    from indexlab.experiments.run import effective_budget
    from indexlab.experiments.single_run import fit_and_summarise, make_target
    from indexlab.learners.registry import learner_class, make_learner

    names = [name.strip() for name in learner.split(",")]
    fit_kwargs = {k: v for k, v in dict(n1=n1, n2=n2).items() if v is not None}
    given = dict(width=width, lr=lr, batch=batch, loss=loss, t1=t1, preprocess=preprocess)
    reports, models = [], []
    try:
        if len(set(names)) != len(names) or not all(names):
            raise ValueError(f"--learner {learner!r} is not allowed: give distinct learner "
                             "names separated by commas, e.g. unified,online_sgd")
        check_counts(d=d, n=n, n1=n1, n2=n2, r=r, t1=t1, replicas=replicas,
                     sparsity=sparsity, width=width, batch=batch)
        settings = parse_settings(setting or [])
        classes = [learner_class(name) for name in names]  # resolved once, passed on
        strict = len(names) == 1
        hypers = [hyper_for(cls, given, settings, seed, strict=strict) for cls in classes]
        check_used(classes, given, settings)
        for cls in classes:  # every check before any work
            effective_budget(cls, n, n1, n2)  # stage budgets only for learners with stages
            flags_i, settings_i = options_for(cls, given, settings, strict=strict)
            preflight_fit(link=link, d=d, n=n, n1=n1, n2=n2, learner=cls, r=r,
                          replicas=replicas, seed=seed, device=device, noise=noise,
                          sparsity=sparsity, flags=flags_i, settings=settings_i,
                          float64=float64, memory_limit=memory_limit,
                          time_limit=time_limit)
        theory.check_supported(get_link(link, noise=noise))  # before any sampling
        for name, cls, hyper in zip(names, classes, hypers, strict=True):
            torch.manual_seed(seed)
            target = make_target(link, d, r=r, sparsity=sparsity, noise=noise,
                                 replicas=replicas, seed=seed, device=device,
                                 dtype=torch.float64 if float64 else torch.float32)
            model = make_learner(cls, **hyper(target))
            total = effective_budget(cls, n, n1, n2)
            with samples_bar(total, f"{name} on {target.link.name}", progress and not as_json,
                             console):
                reports.append(fit_and_summarise(target, model, None if fit_kwargs else n,
                                                 **fit_kwargs))
            models.append(model)
    except ValueError as exc:
        _fail(str(exc))
        return
    if as_json:
        typer.echo(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    elif len(reports) == 1:
        _print_fit(reports[0])
    else:
        print_comparison(console, reports)
    if plot:  # after the results are printed: a plotting problem loses nothing computed
        from indexlab.experiments.compare import plot_overlap_traces

        try:
            plot_overlap_traces(models, names, plot,
                                title=f"{', '.join(names)} on {target.link.name}, d = {d}",
                                target=target)
        except (ValueError, OSError) as exc:
            _fail(f"could not write the plot {plot!r}: {exc}")
        if not as_json:
            console.print(f"overlap plot saved to {escape(plot)}")


def parse_settings(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` strings as hyperparameters: ints, floats, true/false/none, else strings
    (never evaluated)."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"--set {item!r} is not allowed: use KEY=VALUE with KEY a "
                             "hyperparameter name, e.g. --set n_slices=20")
        text = text.strip()
        lowered = text.lower()
        value: object
        if lowered in ("true", "false"):
            value = lowered == "true"
        elif lowered == "none":
            value = None
        else:
            try:
                value = int(text)
            except ValueError:
                try:
                    value = float(text)
                except ValueError:
                    value = text
        out[key.strip()] = value
    return out


def _fmt(mean, sd) -> str:
    if mean is None:
        return "—"
    return f"{mean:.4f} ± {sd:.4f}"


def _print_fit(report: dict) -> None:
    table = Table(title=escape(f"{report['learner']} on {report['link']} "
                               f"(d = {report['d']}, R = {report['replicas']})"))
    table.add_column("quantity")
    table.add_column("value", justify="right")
    if report["overlap_mean"] is not None:
        table.add_row("overlap, best neuron (mean ± sd)",
                      _fmt(report["overlap_mean"], report["overlap_sd"]))
        neuron = report["overlap_neuron_mean"]
        table.add_row("overlap, neuron average", "—" if neuron is None else f"{neuron:.4f}")
    if report["subspace_distance_mean"] is not None:
        table.add_row("subspace distance (mean ± sd)",
                      _fmt(report["subspace_distance_mean"], report["subspace_distance_sd"]))
        cosines = ", ".join(f"{c:.3f}" for c in report["principal_cosines_mean"] if c is not None)
        table.add_row("principal cosines (mean)", cosines or "—")
    table.add_row("normalised test MSE", _fmt(report["test_mse_mean"], report["test_mse_sd"]))
    ridge = report.get("samples_ridge") or 0
    table.add_row("samples per replica", f"{report['samples'] - ridge:,} + {ridge:,} ridge"
                  if ridge else f"{report['samples']:,}")
    table.add_row("seconds", f"{report['seconds']:.2f}")
    table.add_row("diverged replicas", f"{report['diverged_count']} / {report['replicas']}")
    console.print(table)
    if report.get("note"):
        console.print(escape(report["note"]))


def links_report() -> list[dict]:
    """The registry as ``indexlab links --json`` prints it: one dict per named link."""
    return [{"name": name, "r": link.r, "information_exponent": link.information_exponent,
             "generative_exponent": link.generative_exponent,
             "labels": "binary" if link.binary else "real", "definition": link.description}
            for name, link in REGISTRY.items()]


@app.command()
def links(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON list")] = False,
) -> None:
    """List the registry of named links with their known exponents."""
    if as_json:
        typer.echo(json.dumps(links_report(), indent=2))
        return
    table = Table(title="indexlab link registry")
    for col in ("name", "r", "k*", "s*", "label", "definition"):
        table.add_column(col)
    for name, link in REGISTRY.items():
        table.add_row(name, str(link.r), str(link.information_exponent),
                      str(link.generative_exponent), "±1" if link.binary else "real",
                      link.description)
    table.add_row("hard{k}_{act}[_bool]", "k", "≥ k", "", "real or ±1",
                  escape("orthogonal hard family member (indexlab.hardness), e.g. "
                         "hard4_relu, hard3_tanh_bool"))
    console.print(table)


register(app)  # sweep, status, report, export, reproduce


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
