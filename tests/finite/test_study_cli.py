"""The width study and ``certmodel validate`` on tiny settings (small widths, few steps)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("jax")

from click.testing import CliRunner  # noqa: E402

from certmodel.cli.main import main  # noqa: E402
from certmodel.exceptions import InvalidParameterError  # noqa: E402
from certmodel.finite.study import Task, width_study  # noqa: E402


@pytest.fixture(scope="module")
def task():
    rng = np.random.default_rng(2)
    n, d = 30, 5
    y = np.repeat([0, 1], n // 2)
    X = rng.normal(size=(n, d)) + 0.7 * (2 * y[:, None] - 1)
    A = np.triu((rng.random((n, n)) < 0.1).astype(float), 1)
    train = np.array([0, 1, 2, 3, 15, 16, 17, 18])
    return Task("toy", X, A + A.T, y, train, np.setdiff1d(np.arange(n), train))


def test_width_study_rows_and_reproducible(task):
    kw = dict(C=0.05, seeds=(0, 1), budget=2, n_targets=4, max_steps=40)
    a = width_study(task, "gcn", [8, 64], **kw)
    b = width_study(task, "gcn", [8, 64], **kw)
    assert [r["agreement"] for r in a.rows] == [r["agreement"] for r in b.rows]
    assert len(a.rows) == 4 and [s["width"] for s in a.summary()] == [8, 64]
    cert = a.certificates
    assert cert["robust"] + cert["not_robust"] + cert["unknown"] == 4
    for r in a.rows:
        assert 0 <= r["agreement"] <= 1 and r["rel_logit_error"] >= 0
        assert np.isfinite(r["objective_gap"])
        assert r["nr_total"] == cert["not_robust"] and r["robust_total"] == cert["robust"]
        assert 0 <= r["nr_flipped"] <= r["nr_total"]
        assert 0 <= r["robust_attacked"] <= r["robust_total"]
    doc = json.loads(json.dumps(a.to_dict()))
    assert doc["agreement_width"] in (None, 8, 64)


def test_width_study_validation(task):
    with pytest.raises(InvalidParameterError, match="widths"):
        width_study(task, "gcn", [], C=0.1)
    with pytest.raises(InvalidParameterError, match="budget"):
        width_study(task, "gcn", [8], C=0.1, budget=99)
    with pytest.raises(InvalidParameterError, match="dataset"):
        width_study(task, "gcn", [8])          # no default C for an unknown dataset


def test_validate_cli(tmp_path):
    out = tmp_path / "v.json"
    res = CliRunner().invoke(main, ["validate", "--dataset", "csbm", "--arch", "sgc",
                                    "--widths", "16,32", "--budget", "2", "--targets", "2",
                                    "--max-steps", "20", "--quiet", "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert [s["width"] for s in doc["summary"]] == [16, 32]
    assert "agree" in res.output


@pytest.mark.parametrize("args", [["--widths", "0"], ["--budget", "999"], ["--C", "-1"]])
def test_validate_cli_bad_input(tmp_path, args):
    out = tmp_path / "v.json"
    res = CliRunner().invoke(main, ["validate", "--dataset", "csbm", "--arch", "gcn",
                                    "--quiet", "--json", str(out), *args])
    assert res.exit_code == 2, res.output
    assert not out.exists()


def test_report_validate_table_and_plots(task, tmp_path):
    pytest.importorskip("matplotlib")
    doc = width_study(task, "sgc", [8, 16], C=0.05, budget=1, n_targets=2, max_steps=20)
    path = tmp_path / "v.json"
    path.write_text(json.dumps(doc.to_dict()))
    res = CliRunner().invoke(main, ["report", "--store", str(tmp_path / "none.sqlite"),
                                    "--validate", str(path), "--plot", str(tmp_path / "fig")])
    assert res.exit_code == 0, res.output
    assert "| width | agree %" in res.output
    assert (tmp_path / "fig" / "finite_width_agreement.png").is_file()
    assert (tmp_path / "fig" / "finite_width_transfer.svg").is_file()
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    res = CliRunner().invoke(main, ["report", "--validate", str(bad)])
    assert res.exit_code == 2


def test_ensemble_cli_reports_fraction_of_training_set(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4))
    y = (X[:, 0] > 0).astype(int)
    np.savez(tmp_path / "f.npz", X_train=X[:80], y_train=y[:80], X_test=X[80:],
             y_test=y[80:])
    out = tmp_path / "e.json"
    res = CliRunner().invoke(main, ["ensemble", "--dataset", str(tmp_path / "f.npz"),
                                    "--partitions", "5", "--learner", "krr", "--json", str(out)])
    assert res.exit_code == 0, res.output
    meta = json.loads(out.read_text())["meta"]
    assert meta["mcr_whitebox_fraction"] == pytest.approx(meta["mcr_whitebox"] / 80)
    assert meta["mcr_blackbox_fraction"] == pytest.approx(meta["mcr_blackbox"] / 80)
    assert "% of n" in res.output


def test_validate_help():
    res = CliRunner().invoke(main, ["validate", "--help"])
    assert res.exit_code == 0 and "--widths" in res.output and "--budget" in res.output
