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
