"""CLI hardening (#13): every case through the CLI, exit codes and "nothing written" checked."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from certmodel.cli import main
from certmodel.results import records_from_json


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _instance(path, *, n=8, m=3, seed=0, C=0.5, labels=None, **extra):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n + m, 3))
    K_all = Z @ Z.T + 0.1 * np.eye(n + m)
    y = labels if labels is not None else np.where(rng.random(n) < 0.5, -1, 1)
    arrays = dict(K=K_all[:n, :n], K_test=K_all[n:, :n], y=y, C=C)
    arrays.update(extra)
    np.savez(path, **arrays)
    return path


def _verdicts(path):
    return [(r.test_index, r.budget, r.verdict) for r in records_from_json(path.read_text())]


@pytest.mark.parametrize("mode", ["multiclass", "multiclass-inexact"])
def test_binary_dataset_in_multiclass_mode(tmp_path, mode):
    """#13.4: two classes, same verdicts as sample-wise (was IndexError, exit 1)."""
    args = ["certify", "--dataset", "csbm", "--arch", "gcn", "--budget", "1,2", "--max-test",
            "6", "-q"]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run(*args, "--json", a).exit_code == 0
    res = run(*args, "--mode", mode, "--json", b)
    assert res.exit_code == 0, res.output
    assert _verdicts(a) == _verdicts(b)


@pytest.mark.parametrize("mode", ["multiclass", "multiclass-inexact"])
@pytest.mark.parametrize("labels", [[-1, 1] * 4, [0, 1] * 4])
def test_binary_instance_in_multiclass_mode(tmp_path, mode, labels):
    inst = _instance(tmp_path / "i.npz", labels=np.array(labels))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run("certify", "--instance", inst, "--budget", "1,2", "--json", a).exit_code == 0
    res = run("certify", "--instance", inst, "--budget", "1,2", "--mode", mode, "--json", b)
    assert res.exit_code == 0, res.output
    assert _verdicts(a) == _verdicts(b)


@pytest.mark.parametrize("method", ["labelcert", "scalabel"])
def test_instance_mode_follows_labels(tmp_path, method):
    """3-class labels with the default --mode samplewise: the multiclass certificate for both
    methods (ScaLabelCert used to demand --mode multiclass)."""
    inst = _instance(tmp_path / "i.npz", labels=np.array([0, 1, 2] * 2 + [0, 1]), C=0.001)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    res = run("certify", "--instance", inst, "--budget", "1", "--method", method, "--json", a)
    assert res.exit_code == 0, res.output
    res = run("certify", "--instance", inst, "--budget", "1", "--method", method,
              "--mode", "multiclass", "--json", b)
    assert res.exit_code == 0, res.output
    assert _verdicts(a) == _verdicts(b)
