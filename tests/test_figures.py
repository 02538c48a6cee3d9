"""Every figure type is drawn with data: no blank panels, the palette, the shared labels.

A figure counts as drawn when each of its data axes holds an artist with finite data (a line,
an error bar, a band or a mesh) *and* its PNG has palette-coloured pixels: axes, ticks and text
are black or grey, so a blank panel has none (the check below fails on an empty axes: see
``test_blank_axes_are_detected``).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from indexlab.cli import app
from indexlab.experiments.style import BAND_TEXT, SAMPLES, pyplot

runner = CliRunner()


def coloured_fraction(png) -> float:
    """Share of pixels with a saturated colour (max − min channel > 0.2): data in the
    palette, never the black/grey of frames, ticks and text or the white background."""
    image = pyplot().imread(str(png))[..., :3]
    return float(((image.max(axis=-1) - image.min(axis=-1)) > 0.2).mean())


def data_artists(ax) -> int:
    """Artists of ``ax`` carrying finite data (lines with a finite point, filled bands, error
    bars, meshes)."""
    count = sum(1 for line in ax.get_lines()
                if np.isfinite(np.asarray(line.get_ydata(), dtype=float)).any())
    return count + len(ax.collections)


def assert_drawn(fig, png, least: float = 2e-4) -> None:
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert axes and all(data_artists(ax) > 0 for ax in axes), png
    assert coloured_fraction(png) > least, (png, coloured_fraction(png))


def test_blank_axes_are_detected(tmp_path):
    """The check fails on an empty axes with a grey reference line (what `fit --plot` for SIR
    drew before)."""
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.axhline(0.5, color="0.4", ls="--")
    ax.set_xlabel("samples")
    fig.savefig(tmp_path / "blank.png")
    plt.close(fig)
    assert coloured_fraction(tmp_path / "blank.png") < 1e-4


@pytest.fixture(scope="module")
def report(tiny_db, tmp_path_factory):
    from indexlab.experiments import plots
    from indexlab.experiments.report import write_report
    from indexlab.experiments.store import Store

    out = tmp_path_factory.mktemp("report")
    figures = {}
    original = plots._save

    def keep(fig, folder, stem):
        figures[stem] = original(fig, folder, stem)
        return figures[stem]

    plots._save = keep
    try:
        with Store(tiny_db) as store:
            paths = write_report(store, out, n_boot=50)
    finally:
        plots._save = original
    return out, figures, paths


def test_every_report_figure_is_drawn_and_returned(report):
    out, figures, _ = report
    kinds = {stem.split("_", 1)[0] for stem in figures}
    assert kinds == {"curves", "collapse", "phase", "thresholds"}, kinds
    for stem, fig in figures.items():
        assert fig is not None and fig.axes, stem
        assert_drawn(fig, out / f"{stem}.png")


def test_report_figures_share_labels_and_name_the_criterion(report):
    _, figures, _ = report
    for stem, fig in figures.items():
        labels = [ax.get_xlabel() + " " + ax.get_ylabel() for ax in fig.axes]
        text = " ".join(labels)
        if stem.startswith(("curves", "phase", "thresholds")):
            assert SAMPLES in text, (stem, text)
        if stem.startswith(("curves", "collapse")):
            assert BAND_TEXT in text, (stem, text)
        if stem.startswith("thresholds"):
            assert "overlap >= 0.9" in text, text  # the criterion of examples/tiny.toml


def test_collapse_is_drawn_at_theory_and_at_the_fitted_exponent(report):
    _, figures, paths = report
    document = json.loads(paths["json"].read_text())
    fitted = {row["learner"]: row["p"] for sweep in document["sweeps"]
              for row in sweep["exponents"]}
    for stem, fig in figures.items():
        if not stem.startswith("collapse"):
            continue
        titles = [ax.get_title() for ax in fig.axes]
        learner = stem.split("_")[-1]
        p = fitted.get(learner) or fitted.get(stem.rsplit("he3_", 1)[-1])
        assert any("theoretical p" in t for t in titles), titles
        assert (p is not None and math.isfinite(p)) == any("fitted" in t for t in titles), \
            (titles, p)


def test_results_json_holds_exponents_thresholds_and_verdicts(report, tiny_db):
    _, _, paths = report
    document = json.loads(paths["json"].read_text())
    assert document["format"] == "indexlab-results" and document["version"] == 1
    (sweep,) = document["sweeps"]
    assert sweep["name"] == "tiny" and sweep["success"] == "overlap >= 0.9"
    learners = {row["learner"] for row in sweep["exponents"]}
    assert learners == {"online_sgd", "smoothed_sgd"}
    for row in sweep["thresholds"]:
        assert row["censored"] == (row["n_star"] is None)
        if row["n_star"] is not None:
            assert row["n_min"] <= row["n_star"] <= row["n_max"]
    for row in sweep["exponents"]:
        assert row["verdict"] in (None, "pass", "fail", "inconclusive")
        if row["p"] is None:  # no finite interval: never a pass
            assert row["verdict"] in (None, "inconclusive")
    # --json prints the same document on stdout, nothing else
    result = runner.invoke(app, ["report", str(tiny_db), "--out", str(paths["json"].parent),
                                 "--bootstrap", "50", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == document


def test_python_access_gives_the_report_json(report, tiny_db):
    from indexlab.experiments import analyse

    _, _, paths = report
    assert analyse(tiny_db, n_boot=50) == json.loads(paths["json"].read_text())


def test_fit_check_uses_the_claims_log_allowance():
    """An exponent 1.1 [1.05, 1.15] over d = 16–1024 is a pass for theory 1 (a log factor
    adds 0.22 there) and a fail for theory 0.5; no finite interval is inconclusive."""
    from indexlab.experiments.analysis import ScalingFit
    from indexlab.experiments.judge import log_slope
    from indexlab.experiments.results import fit_check

    ds = [16, 64, 256, 1024]
    fit = ScalingFit("he3", "unified", ds, 1.1, 0.0, 1.05, 1.15, 0.0, 1.0, "d")
    assert log_slope(16, 1024) > 0.15
    assert fit_check(fit).verdict == "pass"
    fit.theory = 0.5
    assert fit_check(fit).verdict == "fail"
    nan = ScalingFit("he3", "unified", [], math.nan, math.nan, math.nan, math.nan, math.nan,
                     1.0, "d")
    assert fit_check(nan).verdict == "inconclusive"
    assert fit_check(ScalingFit("he3", "sir", ds, 1.0, 0, 0.9, 1.1, 0, None, None)) is None


def test_lower_bounds_of_a_link():
    from indexlab.experiments.results import lower_bounds

    he4 = lower_bounds({"link": "he4", "r": 1})
    assert [p for _, p, _ in he4] == [1.0, 1.0] and math.isclose(he4[1][2], 0.6448, rel_tol=1e-3)
    genexp3 = lower_bounds({"link": "genexp3", "r": 1})
    assert [(p, c) for _, p, c in genexp3] == [(1.5, None)]  # α_c = ∞: no α_c·d line
    assert lower_bounds({"link": "he4+he4", "r": 2}) == []


def test_fit_plot_of_an_untraced_learner_draws_a_point(tmp_path):
    """`fit --plot` for SIR (one checkpoint, no curve) draws its final overlap with a note,
    next to a traced learner's curve."""
    from indexlab import SingleIndex
    from indexlab.experiments.compare import plot_overlap_traces
    from indexlab.learners import SIR, Unified

    target = SingleIndex("he3", d=32, replicas=4, seed=0)
    models = [Unified(ridge_samples=0).fit(target, n=3000), SIR().fit(target.reset(), n=3000)]
    fig = plot_overlap_traces(models, ["unified", "sir"], tmp_path / "c.png", target=target)
    assert_drawn(fig, tmp_path / "c.png")
    assert "sir: one point" in fig.axes[0].get_title()
    alone = plot_overlap_traces(models[1:], ["sir"], tmp_path / "s.png", target=target)
    assert_drawn(alone, tmp_path / "s.png", )  # one marker and its bar


def test_theory_card_and_claim_forest_plot_are_drawn(tmp_path):
    from indexlab.cli import exponents_report
    from indexlab.experiments.claims import get_claims
    from indexlab.experiments.judge import separate
    from indexlab.experiments.reproduce import ClaimResult, plot_checks
    from indexlab.experiments.theory_card import plot_theory_card

    card = plot_theory_card(exponents_report("he4", d=256), tmp_path / "card.png")
    assert_drawn(card, tmp_path / "card.png")
    checks = [separate("unified p̂", 1.0, 0.9, 1.1, 1.0, [2.0]),
              separate("online p̂", 2.5, 2.2, 2.8, 2.0, [1.0])]
    result = ClaimResult(get_claims()[0], "quick", checks, "fail")
    forest = plot_checks(result, tmp_path, "forest")
    assert_drawn(forest, tmp_path / "forest.png")


@pytest.mark.slow
def test_first_example_yields_both_exponents_within_theory(tmp_path):
    """examples/first.toml (the README's first result) runs through the CLI and gives the
    unified exponent 1 and the smoothed exponent 1.5, each with a 95% interval that passes
    against its own theory and excludes the other learner's (seed 0; 12 s on our loaded 2-core
    machine)."""
    from pathlib import Path

    first = Path(__file__).resolve().parents[1] / "examples" / "first.toml"
    db, out = tmp_path / "first.db", tmp_path / "first-report"
    result = runner.invoke(app, ["sweep", str(first), "--db", str(db), "--no-progress"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", str(db), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["learner"]: row for row in json.loads(result.output)["sweeps"][0]["exponents"]}
    assert set(rows) == {"unified", "smoothed_sgd"}
    for learner, theory, other in (("unified", 1.0, 1.5), ("smoothed_sgd", 1.5, 1.0)):
        row = rows[learner]
        assert row["theory"] == theory and row["verdict"] == "pass", row
        assert not row["lo"] <= other <= row["hi"], row  # the two rates are separated
        assert math.log10(row["d"][-1] / row["d"][0]) >= 1.5, row


def test_theory_exponent_follows_the_step_actually_used():
    """Vanilla SGD on He3 at a step ∝ 1/d (the hold cap) instead of the theory's d^{-3/2}:
    the escape takes η_theory/η_used ∝ d^{-1/2} times the theory's samples: p = 2 − 0.5; at
    the theory's own step the exponent is unchanged; a step above it gives no prediction."""
    from indexlab.experiments.analysis import Curve, step_shift

    def curves(lr):
        return [Curve("he3", "online_sgd", d, np.array([1]), np.zeros((1, 2)),
                      resolved={"lr": lr(d), "lr_constant": 1.0, "exponent": 3,
                                "smoothing": 0.0, "signal": 1.0})
                for d in (16, 64, 256, 1024)]

    assert math.isclose(step_shift("online_sgd", curves(lambda d: 0.01 / d)), -0.5,
                        abs_tol=1e-9)
    assert step_shift("online_sgd", curves(lambda d: d**-1.5)) == 0.0
    assert step_shift("online_sgd", curves(lambda d: 2 * d**-1.5)) is None
    assert step_shift("sir", curves(lambda d: 0.01 / d)) is None  # not an online learner
    # every online spherical learner reads the same rule (smoothed: λ = d^{1/4}, s = 3, so the
    # theory's step is c λ^4 d^{-3/2} = 0.1 d^{-1/2}; a step 0.1/d is d^{-1/2} smaller)
    smoothed = [Curve("he3", "smoothed_sgd", d, np.array([1]), np.zeros((1, 2)),
                      resolved={"lr": 0.1 / d, "lr_constant": 0.1, "exponent": 3,
                                "smoothing": d**0.25, "signal": 1.0})
                for d in (16, 64, 256, 1024)]
    assert math.isclose(step_shift("smoothed_sgd", smoothed), 0.5, abs_tol=1e-9)
    assert math.isclose(step_shift("unified", curves(lambda d: 0.01 / d)), -0.5,
                        abs_tol=1e-9)


def test_step_shift_of_batch_reuse_and_where_no_step_applies():
    """Batch-reuse SGD's rate is for η_out = c_out/(d log d): a step √d smaller moves the
    exponent by +1/2, its own default by 0. Full-batch GD (layerwise) stores an lr, but its
    rate counts samples, not iterations: no shift (None), nor for SIR."""
    from indexlab.experiments.analysis import Curve, step_shift

    def curves(name, lr):
        return [Curve("he3", name, d, np.array([1]), np.zeros((1, 2)),
                      resolved={"lr": lr(d), "lr_constant": 2.0})
                for d in (16, 64, 256, 1024)]

    def default(d):
        return 2.0 / (d * math.log(d))

    assert math.isclose(step_shift("batch_reuse_sgd", curves("batch_reuse_sgd",
                                                             lambda d: default(d) / d**0.5)),
                        0.5, abs_tol=1e-9)
    assert step_shift("batch_reuse_sgd", curves("batch_reuse_sgd", default)) == 0.0
    assert step_shift("layerwise", curves("layerwise", lambda d: 0.01 / d)) is None
    assert step_shift("sir", curves("sir", lambda d: 0.01 / d)) is None


def test_status_lists_runs_not_started_with_their_d(tmp_path):
    """A sweep registered but not run (as after Ctrl-C before its first run) shows every run
    as queued under its own d, never under d = "—"."""
    from pathlib import Path

    from indexlab.experiments.runner import expand_labelled
    from indexlab.experiments.spec import load_spec
    from indexlab.experiments.store import Store

    spec = load_spec(Path(__file__).resolve().parents[1] / "examples" / "tiny.toml")
    labelled = expand_labelled(spec)
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.register_sweep(spec.name, spec.source, spec.success.text(),
                             spec.success.probability, [(c.key, t, lr) for c, t, lr in labelled])
    result = runner.invoke(app, ["status", str(db), "--json"])
    assert result.exit_code == 0, result.output
    (sweep,) = json.loads(result.output)
    groups = {(g["learner"], g["d"]): g.get("queued", 0) for g in sweep["groups"]}
    expected: dict = {}
    for c, _, lr in labelled:
        expected[(lr, c.d)] = expected.get((lr, c.d), 0) + 1
    assert groups == expected and None not in {d for _, d in groups}


def test_ctrl_c_says_what_is_stored_and_how_to_resume(tiny_db, tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    from indexlab.experiments import runner as runner_module
    from indexlab.experiments.store import Store

    db = tmp_path / "copy.db"
    shutil.copy(tiny_db, db)
    with Store(db, create=False) as store:
        (sweep,) = store.sweeps()
        held = len(set(sweep["labels"]) & store.finished_keys())
    assert held > 0

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner_module, "sweep", interrupted)
    spec = Path(__file__).resolve().parents[1] / "examples" / "tiny.toml"
    result = runner.invoke(app, ["sweep", str(spec), "--db", str(db), "--no-progress"])
    assert result.exit_code == 130, result.output
    text = "".join(result.output.split())  # the console may wrap a long path anywhere

    def squeezed(line: str) -> str:
        return "".join(line.split())

    assert squeezed(f"interrupted: {held} of {len(sweep['labels'])} runs are stored") in text
    assert squeezed(f"resume with: indexlab sweep {spec} --db {db}") in text, result.output


def test_dry_run_counts_adaptive_searches_at_their_most():
    """An adaptive search's runs are chosen while it runs; --dry-run counts the most it can
    make: low, high, their mean and one refinement per halving of the log-bracket (each at
    the upper bound), so no adaptive learner is left out of the plan."""
    from pathlib import Path

    from indexlab.experiments.adaptive import MAX_ROUNDS, planned_budgets
    from indexlab.experiments.cli import plan_rows
    from indexlab.experiments.spec import load_spec

    ns = planned_budgets(64, 65536, 0.15)
    # log(1024)/2 = 3.47 halves to below log(1.075) = 0.072 after 6 halvings
    assert ns[:3] == [64, 2048, 65536] and ns[3:] == [65536] * 6
    assert len(planned_budgets(1, 10**15, 1e-6)) == 3 + MAX_ROUNDS
    spec = load_spec(Path(__file__).resolve().parents[1] / "examples"
                     / "he3_unified_vs_online_sgd.toml")
    rows, totals = plan_rows(spec)
    adaptive = [g for g in rows if g.get("adaptive")]
    assert {g["learner"] for g in adaptive} == {"unified"} and len(adaptive) == 3
    assert all(g["runs"] >= 4 and g["samples"] > 0 and g["seconds"] > 0 for g in adaptive)
    assert totals["runs"] == sum(g["runs"] for g in rows)


def test_hardness_and_chain_figures_are_drawn_from_their_json(tmp_path):
    """docs/hardness.png and docs/chain.png redrawn from the JSON beside them: every panel
    holds data, colours come from the palette, the legends are outside the axes."""
    import importlib.util
    from pathlib import Path

    from indexlab.experiments.claims import hardness
    from indexlab.experiments.style import OKABE_ITO, ZERO_COLOUR

    root = Path(__file__).resolve().parents[1]
    fig = hardness.plot(json.loads((root / "docs" / "hardness.json").read_text()),
                        str(tmp_path / "h.png"))
    assert_drawn(fig, tmp_path / "h.png")
    assert not any(ax.get_legend() for ax in fig.axes) and len(fig.legends) == 2
    palette = {c.lower() for c in (*OKABE_ITO, ZERO_COLOUR)}  # grey: reference lines
    colours = {line.get_color().lower() for ax in fig.axes for line in ax.get_lines()
               if len(line.get_xdata()) > 1}
    assert colours <= palette and len(colours - {ZERO_COLOUR.lower()}) >= 4, colours

    spec = importlib.util.spec_from_file_location("chain_fits", root / "examples" / "chain_fits.py")
    chain_fits = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chain_fits)
    fig = chain_fits.plot(json.loads((root / "docs" / "chain.json").read_text()),
                          tmp_path / "c.png")
    assert_drawn(fig, tmp_path / "c.png")
    colours = {line.get_color().lower() for line in fig.axes[0].get_lines()
               if len(line.get_xdata()) > 1}
    assert colours <= palette, colours


def _curve(learner: str, hyper: dict, link: str, d: int, ns, source: str = "trace",
           sparsity=None):
    from indexlab.experiments.analysis import Curve

    ns = np.asarray(ns)
    values = np.random.default_rng(0).uniform(0, 1, (ns.size, 4))
    return Curve(link, learner, d, ns, values, source,
                 {"link": link, "d": d, "r": None, "sparsity": sparsity, "noise": 0.0},
                 {"name": learner, "hyper": hyper})


def _theory_lines(fig):
    return [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == "theory"]


@pytest.mark.parametrize("source", ["trace", "runs"])
def test_overlap_figure_draws_the_mean_field_ode_of_an_online_learner(source, tmp_path):
    """Beside each band, dashed, labelled "theory: ...": exactly what
    indexlab.learners.mean_field.overlap_ode returns for the run's learner (one traced run of
    the largest n, or one run per n with its own schedule)."""
    from indexlab.experiments.plots import plot_curves
    from indexlab.experiments.spec import parse_success
    from indexlab.learners import Unified
    from indexlab.learners.mean_field import overlap_ode
    from indexlab.links import get_link

    hyper = {"width": 1, "engine": "chain", "ridge_samples": 0}
    ns = np.geomspace(32, 4096, 6).round().astype(int)
    curves = [_curve("unified", hyper, "he3", d, ns, source) for d in (32, 64)]
    fig = plot_curves(curves, parse_success("overlap >= 0.5"), tmp_path, "c")
    lines = _theory_lines(fig)
    assert len(lines) == 2
    labels = [line.get_label() for line in lines]
    assert labels[0] == "theory: mean-field overlap ODE" and labels[1].startswith("_")
    for line, d in zip(lines, (32, 64), strict=True):
        want = overlap_ode(Unified(**hyper), get_link("he3"), d, ns,
                           int(ns.max()) if source == "trace" else None)
        np.testing.assert_array_equal(line.get_ydata(), want)
    assert_drawn(fig, tmp_path / "c.png")


def test_overlap_figure_has_no_theory_curve_where_none_exists(tmp_path):
    """SIR declares no overlap theory: no dashed curve, a note instead; nor for a metric
    other than the overlap."""
    from indexlab.experiments.plots import plot_curves
    from indexlab.experiments.spec import parse_success

    ns = [100, 400, 1600]
    fig = plot_curves([_curve("sir", {}, "he2", 16, ns, "runs")],
                      parse_success("overlap >= 0.5"), tmp_path, "s")
    assert _theory_lines(fig) == []
    notes = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "theory-note"]
    assert notes == ["no theory curve: none for sir"]
    other = plot_curves([_curve("unified", {"width": 1}, "he3", 16, ns, "runs")],
                        parse_success("test_mse <= 0.5"), tmp_path, "m")
    assert _theory_lines(other) == []


def test_mean_field_ode_lies_in_the_chain_band_and_crosses_at_its_median():
    """The ODE against the exact overlap chain (Unified on He3, d = 128, 48 replicas, width 1;
    the odd-exponent case, two branches): at every checkpoint of the trace it lies inside the
    replicas' 10%–90% band, and the n where it reaches 0.5 is within 30% of the replicas'
    median first passage. Margins: the ODE predicts the median; the sampling error of the
    median of 48 replicas is ≈ 1.25 σ/√48 ≈ 0.18 σ, the band's half-width ≈ 1.28 σ, so an
    honest prediction leaves the band only when it is off by about a spread (measured: the
    ODE sits at 49%–86% of the band's height; crossing at 0.85 of the median passage)."""
    from indexlab import SingleIndex
    from indexlab.learners import Unified
    from indexlab.learners.mean_field import initial_overlap, overlap_ode
    from indexlab.links import get_link

    d, n = 128, 16 * 128
    hyper = {"width": 1, "engine": "chain", "ridge_samples": 0}
    fit = Unified(**hyper).fit(SingleIndex("he3", d, replicas=48, seed=3), n=n)
    samples = np.asarray(fit.trace_.samples)
    overlap = np.asarray(fit.trace_["overlap"])  # (T, R)
    low, high = np.quantile(overlap, [0.1, 0.9], axis=1)
    ode = overlap_ode(Unified(**hyper), get_link("he3"), d, samples, n)
    assert np.all((ode >= low) & (ode <= high)), np.round((ode - low) / (high - low), 2)
    reached = overlap >= 0.5
    passed = np.where(reached.any(axis=0), samples[np.argmax(reached, axis=0)], np.inf)
    median = float(np.median(passed))
    assert math.isfinite(median)
    crossing = float(samples[np.argmax(ode >= 0.5)])
    assert 0.7 < crossing / median < 1.3, (crossing, median)
    assert initial_overlap(1, d) == pytest.approx(math.sqrt(2 / math.pi / d), rel=1e-4)


def test_mean_field_branches_are_told_apart_by_the_symmetry_of_the_problem():
    """An even link with an even activation (He2, h_2) is symmetric under θ → −θ: one branch;
    He3 with h_1 (Unified's s* = 1) is not: a neuron with m < 0 is pushed back to 0."""
    from indexlab.learners.mean_field import _agree, _branches, _grid
    from indexlab.learners.online_setup import update_slopes
    from indexlab.links import get_link
    from indexlab.nn import get_activation

    grid = _grid()
    for link, act, symmetric in (("he2", "he2", True), ("he3", "he1", False)):
        psi, _ = update_slopes(get_activation(act), "correlation", 0.0, 64)
        L = get_link(link)
        pair = _branches(psi, L, lambda y: y, 64, grid)  # c_2, c_3 > 0: the identity
        assert _agree(*pair) is symmetric, link


def test_fit_plot_draws_the_theory_beside_a_traced_online_learner(tmp_path):
    """`fit --plot` (plot_overlap_traces): the traced online learner gets its mean-field ODE
    dashed beside its band, exactly overlap_ode at its hyperparameters and trace; SIR (no
    overlap theory, no trace) gets its point and no dashed curve."""
    from indexlab import SingleIndex
    from indexlab.experiments.compare import plot_overlap_traces
    from indexlab.learners import SIR, Unified
    from indexlab.learners.mean_field import overlap_ode

    target = SingleIndex("he2", 16, replicas=4, seed=1)
    unified = Unified(width=2, engine="chain", ridge_samples=0).fit(target, n=512)
    X, y = SingleIndex("he2", 16, replicas=4, seed=1).sample(512)
    sir = SIR().fit(X, y)
    fig = plot_overlap_traces([unified, sir], ["unified", "sir"], str(tmp_path / "f.png"),
                              target=target)
    lines = _theory_lines(fig)
    assert len(lines) == 1 and lines[0].get_label() == "theory: mean-field overlap ODE"
    samples = np.asarray(unified.trace_.samples)
    want = overlap_ode(Unified(**unified.get_params()), target.link, 16, samples,
                       int(samples.max()))
    np.testing.assert_array_equal(lines[0].get_ydata(), want)
    assert_drawn(fig, tmp_path / "f.png")


def test_the_mean_field_ode_refuses_bad_sizes_before_work():
    from indexlab.learners import make_learner
    from indexlab.learners.mean_field import initial_overlap, overlap_ode
    from indexlab.links import get_link

    for bad in ({"width": 0, "d": 8}, {"width": 2, "d": 0}, {"width": 2.5, "d": 8}):
        with pytest.raises(ValueError, match="is not allowed"):
            initial_overlap(**bad)
    learner, link = make_learner("online_sgd", exponent=3, width=1), get_link("he3")
    for ns, budget in (([], None), ([0, 10], None), ([float("nan")], None), ([10], 0)):
        with pytest.raises(ValueError, match="is not allowed"):
            overlap_ode(learner, link, 16, ns, budget)
