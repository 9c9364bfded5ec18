"""The certmodel CLI: help, exit codes, instance files, the CSBM main job, sweep/report/export."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from certmodel.cli import main
from certmodel.results import Verdict, records_from_json

SUBCOMMANDS = ["certify", "datasets", "sweep", "report", "export", "ensemble"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _instance(path, *, n=8, m=3, seed=0, C=0.5, labels=None):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n + m, 3))
    K_all = Z @ Z.T + 0.1 * np.eye(n + m)
    y = labels if labels is not None else np.where(rng.random(n) < 0.5, -1, 1)
    np.savez(path, K=K_all[:n, :n], K_test=K_all[n:, :n], y=y, C=C)
    return path


@pytest.mark.parametrize("cmd", [[]] + [[c] for c in SUBCOMMANDS])
def test_help(cmd):
    res = run(*cmd, "--help")
    assert res.exit_code == 0
    assert "Usage" in res.output


def test_datasets_lists_embedded():
    res = run("datasets")
    assert res.exit_code == 0
    assert "csbm" in res.output and "karate" in res.output


def test_main_job_csbm(tmp_path):
    out = tmp_path / "out.json"
    res = run("certify", "--dataset", "csbm", "--arch", "gcn", "--budget", "1,2,4",
              "--max-test", 20, "--json", out)
    assert res.exit_code == 0, res.output
    assert "cert. ratio" in res.output and "clean accuracy" in res.output
    doc = json.loads(out.read_text())
    assert len(doc["records"]) == 60
    assert doc["meta"]["C"] == 0.001 and doc["meta"]["n_labelled"] == 40
    recs = records_from_json(out.read_text())
    assert {r.budget for r in recs} == {1, 2, 4}
    # monotone in the budget: robust at 4 => robust at 1
    by = {(r.test_index, r.budget): r.verdict for r in recs}
    for (t, b), v in by.items():
        if b == 4 and v is Verdict.ROBUST:
            assert by[(t, 1)] is Verdict.ROBUST


def test_karate_json_stdout():
    res = run("certify", "--dataset", "karate", "--arch", "sgc", "--budget", "1",
              "--json", "-", "--quiet")
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["records"] and doc["meta"]["n_labelled"] == 8


@pytest.mark.parametrize("args, needle", [
    (["--dataset", "nope", "--arch", "gcn", "--budget", "1"], "csbm"),
    (["--dataset", "csbm", "--arch", "transformer", "--budget", "1"], "gcn"),
    (["--dataset", "csbm", "--arch", "gcn", "--budget", "1", "--solver", "cplex"], "highs"),
    (["--dataset", "csbm", "--arch", "gcn", "--budget", "1,x"], "--budget"),
    (["--dataset", "csbm", "--arch", "gcn", "--budget", "-1"], "--budget"),
    (["--dataset", "csbm", "--arch", "gcn", "--budget", "99"], "--budget"),
    (["--dataset", "csbm", "--arch", "gcn", "--budget-fraction", "1.5"], "--budget-fraction"),
    (["--dataset", "csbm", "--arch", "gcn"], "--budget"),
    (["--dataset", "csbm", "--arch", "gcn", "--budget", "1", "--C", "0.1", "--cv"], "--cv"),
    (["--dataset", "csbm", "--arch", "gcn", "--budget", "1", "--mode", "nope"], "samplewise"),
    (["--arch", "gcn", "--budget", "1"], "--dataset"),
])
def test_bad_input_exit_2(tmp_path, args, needle, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.json"
    store = tmp_path / "s.sqlite"
    res = run("certify", *args, "--json", out, "--store", store)
    assert res.exit_code == 2, res.output
    assert needle in res.output
    assert "Traceback" not in res.output
    assert not out.exists() and not store.exists()
    assert list(tmp_path.iterdir()) == []


def test_multiclass_dataset_mode_follows_labels(tmp_path, data_dir):
    """Sample-wise on a 7-class dataset is the multiclass certificate (as labelcert infers);
    collective stays binary-only (exit 2, nothing written)."""
    out = tmp_path / "out.json"
    res = run("certify", "--dataset", "cora_ml", "--arch", "gcn", "--budget", "1",
              "--method", "scalabel", "--C", "1e-6", "--max-test", "3", "--data-dir", data_dir,
              "--json", out, "-q")
    assert res.exit_code == 0, res.output
    assert {r.prediction for r in records_from_json(out.read_text())} <= set(range(7))
    out2 = tmp_path / "out2.json"
    res = run("certify", "--dataset", "cora_ml", "--arch", "gcn", "--budget", "1",
              "--mode", "collective", "--C", "0.01", "--data-dir", data_dir, "--json", out2)
    assert res.exit_code == 2 and "binary" in res.output and "multiclass" in res.output
    assert not out2.exists()


def test_instance_round_trip(tmp_path):
    from certmodel.pipeline import certify_arrays

    inst = _instance(tmp_path / "inst.npz")
    out = tmp_path / "out.json"
    res = run("certify", "--instance", inst, "--budget", "1,2", "--method", "labelcert",
              "--json", out)
    assert res.exit_code == 0, res.output
    recs = records_from_json(out.read_text())
    assert len(recs) == 6
    assert {r.test_index for r in recs} == {0, 1, 2}
    z = np.load(inst)
    direct = certify_arrays(z["K"], z["y"], z["K_test"], float(z["C"]), [1, 2])
    assert [r.verdict for r in recs] == [r.verdict for r in direct]
    for r in recs:
        if r.verdict is Verdict.NOT_ROBUST:
            assert r.relabelling and len(r.relabelling) <= r.budget


def test_instance_scalabel_krr_min_flips(tmp_path):
    inst = _instance(tmp_path / "inst.npz", n=10, m=4, seed=3)
    out = tmp_path / "out.json"
    res = run("certify", "--instance", inst, "--budget", "1,2,3", "--method", "scalabel",
              "--learner", "krr", "--ridge", "0.5", "--json", out, "--quiet")
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert len(doc["records"]) == 12
    assert all(r["min_flips"] is not None for r in doc["records"])


def test_instance_scalabel_refuses_unsaturated_svm(tmp_path):
    inst = _instance(tmp_path / "inst.npz", C=10.0)
    out = tmp_path / "out.json"
    res = run("certify", "--instance", inst, "--budget", "1", "--method", "scalabel",
              "--json", out)
    assert res.exit_code == 2 and "labelcert" in res.output
    assert not out.exists()


@pytest.mark.parametrize("content, needle", [
    (b"this is not a zip file", "not an .npz archive"),
    ("missing", "missing key"),
    ("shape", "K_test"),
    ("asym", "symmetric"),
    ("labels", "y"),
])
def test_bad_instance_exit_2(tmp_path, content, needle):
    inst = tmp_path / "bad.npz"
    if content == "missing":
        np.savez(inst, K=np.eye(3), y=np.array([1, -1, 1]))
    elif content == "shape":
        np.savez(inst, K=np.eye(3), K_test=np.ones((2, 4)), y=np.array([1, -1, 1]), C=1.0)
    elif content == "asym":
        np.savez(inst, K=np.array([[1.0, 0.5], [0.0, 1.0]]), K_test=np.ones((1, 2)),
                 y=np.array([1, -1]), C=1.0)
    elif content == "labels":
        np.savez(inst, K=np.eye(2), K_test=np.ones((1, 2)), y=np.array([0.5, 1.0]), C=1.0)
    else:
        inst.write_bytes(content)
    out = tmp_path / "out.json"
    res = run("certify", "--instance", inst, "--budget", "1", "--json", out)
    assert res.exit_code == 2, res.output
    assert needle in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_instance_object_array_refused(tmp_path):
    inst = tmp_path / "pickled.npz"
    np.savez(inst, K=np.array([{"a": 1}], dtype=object), K_test=np.ones((1, 1)),
             y=np.array([1]), C=1.0)
    out = tmp_path / "out.json"
    res = run("certify", "--instance", inst, "--budget", "1", "--json", out)
    assert res.exit_code == 2 and not out.exists()


SWEEP = """
datasets = ["csbm"]
architectures = ["gcn", "sgc"]
seeds = [0, 1]
modes = ["samplewise", "collective"]
budgets = [1, 2, 4]
[options]
max_test = 12
"""


def test_sweep_report_plot(tmp_path):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(SWEEP)
    store = tmp_path / "r.sqlite"
    res = run("sweep", cfg, "--store", store, "--quiet")
    assert res.exit_code == 0, res.output
    res2 = run("sweep", cfg, "--store", store)
    assert res2.exit_code == 0 and "computed 0" in res2.output
    res = run("report", "--store", store)
    assert res.exit_code == 0
    assert "±" in res.output and "gcn" in res.output and "collective" in res.output
    res = run("report", "--store", store, "--format", "csv")
    assert res.output.splitlines()[0].startswith("dataset,arch")
    plots = tmp_path / "plots"
    res = run("report", "--store", store, "--plot", plots)
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in plots.iterdir())
    assert any(n.endswith("samplewise_vs_budget.png") for n in names)
    assert any("samplewise_vs_collective" in n and n.endswith(".svg") for n in names)


def test_sweep_bad_key(tmp_path):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('datasets = ["csbm"]\narchitectures = ["gcn"]\nbudgets = [1]\nfoo = 1\n')
    res = run("sweep", cfg, "--store", tmp_path / "s.sqlite")
    assert res.exit_code == 2 and "foo" in res.output
    assert not (tmp_path / "s.sqlite").exists()


def test_report_missing_store(tmp_path):
    res = run("report", "--store", tmp_path / "none.sqlite")
    assert res.exit_code == 2 and "does not exist" in res.output


def test_export_mps(tmp_path):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('datasets = ["karate"]\narchitectures = ["gcn"]\nbudgets = [1]\n'
                   '[options]\nmax_test = 2\n')
    out = tmp_path / "mps"
    res = run("export", cfg, "--out", out, "--max-points", 2)
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in out.glob("*.mps"))
    assert len(files) == 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert {m["file"] for m in manifest} == set(files)
    assert "ROWS" in (out / files[0]).read_text()


def test_ensemble_feature_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(140, 5))
    y = (X[:, 0] > 0).astype(int)
    np.savez(tmp_path / "f.npz", X_train=X[:120], y_train=y[:120], X_test=X[120:],
             y_test=y[120:])
    out = tmp_path / "e.json"
    res = run("ensemble", "--dataset", tmp_path / "f.npz", "--partitions", 5, "--learner",
              "krr", "--json", out)
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert len(doc["records"]) == 20
    c = doc["meta"]["curves"]
    assert len(c["radius"]) == len(c["whitebox"]) == len(c["blackbox"])
    # white-box radii dominate the black-box DPA radii
    assert all(r["whitebox_radius"] >= r["blackbox_radius"] for r in doc["records"])


def test_ensemble_bad_dataset(tmp_path):
    out = tmp_path / "e.json"
    res = run("ensemble", "--dataset", "cifar100", "--json", out)
    assert res.exit_code == 2 and "mnist" in res.output and not out.exists()


def _ensemble_file(tmp_path, labels="01"):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(170, 5))
    y = np.where(X[:, 0] + 0.3 * X[:, 1] > 0, 7, 1)
    if labels == "pm":
        y = np.where(y == 7, 1, -1)
    np.savez(tmp_path / "f.npz", X_train=X[:140], y_train=y[:140], X_test=X[140:],
             y_test=y[140:])
    return tmp_path / "f.npz"


def test_ensemble_svm_binary_and_fa(tmp_path):
    f = _ensemble_file(tmp_path)
    out = tmp_path / "e.json"
    res = run("ensemble", "--dataset", f, "--partitions", 4, "--learner", "svm", "--binary",
              "1,7", "--fa-d", 2, "--json", out)
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["meta"]["binary"] == [1, 7] and doc["meta"]["fa_d"] == 2
    assert {r["prediction"] for r in doc["records"]} <= {0, 1}
    assert all(r["fa_radius"] >= 0 for r in doc["records"])
    assert len(doc["meta"]["curves"]["fa"]) == len(doc["meta"]["curves"]["radius"])


def test_ensemble_svm_outside_saturated_regime_points_to_labelcert(tmp_path):
    f = _ensemble_file(tmp_path)
    out = tmp_path / "e.json"
    res = run("ensemble", "--dataset", f, "--partitions", 4, "--learner", "svm", "--svm-c",
              100, "--json", out)
    assert res.exit_code == 2 and not out.exists()
    assert "saturated" in res.output and "costs_from_certifier" in res.output


def test_ensemble_pm_labels_keep_their_values(tmp_path):
    f = _ensemble_file(tmp_path, labels="pm")
    out = tmp_path / "e.json"
    res = run("ensemble", "--dataset", f, "--partitions", 3, "--json", out)
    assert res.exit_code == 0, res.output
    recs = json.loads(out.read_text())["records"]
    assert {r["prediction"] for r in recs} == {-1, 1}
    acc = np.mean([r["prediction"] == r["y_true"] for r in recs])
    assert acc > 0.6


def test_ensemble_binary_class_missing(tmp_path):
    f = _ensemble_file(tmp_path)
    res = run("ensemble", "--dataset", f, "--binary", "1,3", "--json", tmp_path / "e.json")
    assert res.exit_code == 2 and "class 3 does not occur" in res.output
