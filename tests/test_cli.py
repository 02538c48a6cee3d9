"""The `indexlab` command line."""

import json

from typer.testing import CliRunner

from indexlab.cli import app

runner = CliRunner()


def test_exponents_json_has_the_documented_keys():
    result = runner.invoke(app, ["exponents", "he3", "--d", "256", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in ("hermite_coefficients", "information_exponent", "generative_exponent",
                "weak_recovery_threshold", "predicted"):
        assert key in report
    assert len(report["hermite_coefficients"]) == 9
    assert report["information_exponent"] == 3 and report["generative_exponent"] == 1
    assert report["weak_recovery_threshold"] == 0.0
    assert report["predicted"]["online_sgd"]["exponent"] == 2
    assert report["predicted"]["unified"]["samples"] == 256


def test_exponents_table_and_infinite_threshold():
    result = runner.invoke(app, ["exponents", "genexp3"])
    assert result.exit_code == 0, result.output
    assert "s* = 3" in result.output and "∞" in result.output
    as_json = json.loads(runner.invoke(app, ["exponents", "genexp3", "--json"]).output)
    assert as_json["weak_recovery_threshold"] == "inf"  # JSON has no ∞ (issue 14)


def test_exponents_transition_flag_reports_the_first_order_transition():
    """genexp3: α_c = ∞ (q = 0 always stable), informative fixed point from α_sp ≈ 2.4
    (tests/test_state_evolution.py); without the flag the key is absent."""
    out = runner.invoke(app, ["exponents", "genexp3", "--json", "--transition"])
    assert out.exit_code == 0, out.output
    t = json.loads(out.output)["transition"]
    assert t["kind"] == "first order" and t["alpha_c"] == "inf" and 1 < t["alpha_sp"] < 8
    from indexlab.cli import _print_transition
    from indexlab.experiments.terminal import console

    with console.capture() as captured:  # the text line, without a second run
        _print_transition(t)
    assert "first order" in captured.get() and "α_sp" in captured.get()


def test_exponents_accepts_multi_index_expressions():
    result = runner.invoke(app, ["exponents", "z1**2 * tanh(z2)", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["r"] == 2 and report["information_exponent"] == 1  # E[z1²] E[z2 tanh z2] ≠ 0
    assert "layerwise" in report["predicted"]


def test_bad_link_is_a_clear_error():
    result = runner.invoke(app, ["exponents", "__import__('os').system('x')"])
    assert result.exit_code == 2
    assert "unknown link" in result.output and "allowed" in result.output


def test_links_lists_the_registry():
    result = runner.invoke(app, ["links"])
    assert result.exit_code == 0 and "genexp4" in result.output


def _fit_json(*args: str) -> dict:
    result = runner.invoke(app, ["fit", "--replicas", "2", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_fit_baselines_report_the_same_keys_as_the_network_learners():
    """Every learner's --json has the same keys; what does not apply is null. Phase
    retrieval at α = n/d = 8 is far above the spectral threshold 1/2 (overlap 0.99 at
    d = 32, measured), SIR cannot see an even link (its population matrix is zero: overlap
    ≈ a random direction's, 0.10 measured at d = 32) and kernel ridge learns no direction."""
    common = ["--link", "phase_retrieval", "--d", "32", "--n", "256"]
    unified = _fit_json(*common, "--learner", "unified")
    spectral = _fit_json(*common, "--learner", "spectral")
    sir = _fit_json(*common, "--learner", "sir", "--set", "n_slices=5")
    krr = _fit_json(*common, "--learner", "kernel_ridge", "--set", "kernel=laplace")
    assert set(spectral) == set(unified) == set(sir) == set(krr)
    assert spectral["overlap_mean"] > 0.8 and sir["overlap_mean"] < 0.5
    assert krr["overlap_mean"] is None and "learns no features" in krr["note"]
    assert krr["test_mse_mean"] is not None and spectral["test_mse_mean"] is None


def test_fit_spectral_preprocess_and_multi_index_r():
    identity = _fit_json("--link", "he2+he4", "--d", "16", "--n", "4000", "--learner",
                         "spectral", "--preprocess", "identity")
    assert len(identity["principal_cosines_mean"]) == 2  # r = 2 directions for r = 2 target
    bad = runner.invoke(app, ["fit", "--link", "he2", "--d", "8", "--n", "100", "--learner",
                              "spectral", "--preprocess", "cube"])
    assert bad.exit_code == 2 and "preprocess='cube'" in bad.output and "optimal" in bad.output


def test_fit_set_rejects_malformed_and_unknown_settings():
    base = ["fit", "--link", "he2", "--d", "8", "--n", "100", "--learner", "sir"]
    malformed = runner.invoke(app, [*base, "--set", "n_slices"])
    assert malformed.exit_code == 2 and "KEY=VALUE" in malformed.output
    unknown = runner.invoke(app, [*base, "--set", "bandwidth=2"])
    assert unknown.exit_code == 2 and "bandwidth" in unknown.output and "n_slices" in unknown.output


def test_version_flag_and_clean_flag_rendering():
    from indexlab import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"indexlab {__version__}"
    help_text = runner.invoke(app, ["exponents", "--help"], env={"COLUMNS": "120"}).output
    assert "--json" in help_text and "<bool>" not in help_text  # a flag takes no value
    assert "<int>" in help_text  # the types of real options stay


def _flat(text: str) -> str:
    return " ".join(text.split())  # error lines wrap at the terminal width


def test_did_you_mean_for_learners_links_and_hyperparameters():
    base = ["fit", "--link", "he3", "--d", "8", "--n", "100"]
    learner = runner.invoke(app, [*base, "--learner", "unifed"])
    assert learner.exit_code == 2 and "did you mean 'unified'" in _flat(learner.output)
    setting = runner.invoke(app, [*base, "--learner", "sir", "--set", "n_slice=3"])
    assert setting.exit_code == 2 and "did you mean 'n_slices'" in _flat(setting.output)
    link = runner.invoke(app, ["exponents", "he33"])
    assert link.exit_code == 2 and "did you mean 'he3'" in _flat(link.output)
    assert "genexp_smooth4" not in link.output  # a near miss gets no wall of names


def test_links_json_lists_the_registry():
    result = runner.invoke(app, ["links", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["he3"]["information_exponent"] == 3 and rows["genexp3"]["labels"] == "binary"
    assert rows["z1*z2"]["r"] == 2


def test_help_and_exponents_do_not_import_torch():
    """The fast start of issue 16: torch, dask and matplotlib load only where they are used
    (checked in a fresh interpreter: the test process has imported them already)."""
    import subprocess
    import sys

    code = ("import sys; from indexlab.cli import app, exponents_report; "
            "exponents_report('he3', 64); exponents_report('z1*z2', 64); "
            "print(sorted(m for m in ('torch', 'dask', 'matplotlib', 'scipy.optimize', "
            "'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
