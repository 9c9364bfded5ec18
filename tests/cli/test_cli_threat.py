"""certify --flippable FILE.npy|class:K and --cost FILE.npy: the JSON records carry the threat
model and agree with the API; bad input exits 2 and writes nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from certmodel import labelcert
from certmodel.cli import main
from certmodel.threat import ThreatModel


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def inst(tmp_path):
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(11, 3))
    K_all = Z @ Z.T + 0.1 * np.eye(11)
    y = np.array([1, -1, 1, 1, -1, -1, 1, -1])
    path = tmp_path / "inst.npz"
    np.savez(path, K=K_all[:8, :8], K_test=K_all[8:, :8], y=y, C=0.5)
    return path, K_all[:8, :8], K_all[8:, :8], y


@pytest.mark.parametrize("method", ["labelcert", "scalabel"])
def test_flippable_class_and_cost(tmp_path, inst, method):
    path, K, K_test, y = inst
    cost = np.array([1, 2, 1, 3, 1, 1, 2, 1], dtype=float)
    np.save(tmp_path / "cost.npy", cost)
    out = tmp_path / "out.json"
    extra = ["--learner", "krr"] if method == "scalabel" else []
    res = run("certify", "--instance", path, "--budget", "1,2,3", "--method", method, *extra,
              "--flippable", "class:1", "--cost", tmp_path / "cost.npy", "--json", out, "-q")
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    threat = ThreatModel(flippable=y == 1, cost=cost)
    assert doc["meta"]["threat"] == threat.to_dict()
    for r in doc["records"]:
        assert r["extra"]["threat"] == threat.to_dict()
        if r["verdict"] == "not_robust":
            idx = [int(i) for i in r["relabelling"]]
            assert all(y[i] == 1 for i in idx) and cost[idx].sum() <= r["budget"]
    if method == "labelcert":
        api = labelcert.certify(K, y, K_test, 0.5, [1, 2, 3], threat=threat)
        assert [r.verdict.value for r in api] == [r["verdict"] for r in doc["records"]]


def test_flippable_mask_file(tmp_path, inst):
    path, *_ = inst
    np.save(tmp_path / "mask.npy", np.arange(8) < 4)
    out = tmp_path / "out.json"
    res = run("certify", "--instance", path, "--budget", "1", "--flippable",
              tmp_path / "mask.npy", "--json", out, "-q")
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["meta"]["threat"]["flippable"] == [0, 1, 2, 3]


@pytest.mark.parametrize("bad", ["class:7", "class:x", "wrong_length", "pickle", "missing"])
def test_bad_threat_exits_2_and_writes_nothing(tmp_path, inst, bad):
    path, *_ = inst
    arg = bad
    if bad == "wrong_length":
        np.save(tmp_path / "m.npy", np.ones(5, bool))
        arg = tmp_path / "m.npy"
    elif bad == "pickle":
        np.save(tmp_path / "p.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        arg = tmp_path / "p.npy"
    elif bad == "missing":
        arg = tmp_path / "nope.npy"
    out = tmp_path / "out.json"
    res = run("certify", "--instance", path, "--budget", "1", "--flippable", arg,
              "--json", out, "-q")
    assert res.exit_code == 2, res.output
    assert not out.exists()


def test_threat_needs_instance():
    res = run("certify", "--dataset", "csbm", "--arch", "gcn", "--budget", "1",
              "--flippable", "class:1")
    assert res.exit_code == 2
