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
    assert as_json["weak_recovery_threshold"] is None


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
