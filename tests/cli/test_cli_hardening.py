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


# ---------------------------------------------------------------------------------------------
# bad input: exit 2, nothing written
# ---------------------------------------------------------------------------------------------

def _nothing_but(tmp_path, *keep):
    return sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


@pytest.mark.parametrize("ridge", ["-1", "0"])
def test_ridge_must_be_positive(tmp_path, ridge):
    inst = _instance(tmp_path / "i.npz")
    res = run("certify", "--instance", inst, "--budget", "1", "--method", "scalabel",
              "--learner", "krr", "--ridge", ridge, "--json", tmp_path / "o.json")
    assert res.exit_code == 2 and "--ridge" in res.output
    assert _nothing_but(tmp_path, "i.npz")


def test_npy_and_text_instances(tmp_path):
    np.save(tmp_path / "a.npy", np.eye(3))
    (tmp_path / "t.npz").write_text("not numpy at all\n")
    for name, needle in (("a.npy", ".npy file holds one array"), ("t.npz", "not an .npz")):
        res = run("certify", "--instance", tmp_path / name, "--budget", "1",
                  "--json", tmp_path / "o.json")
        assert res.exit_code == 2 and needle in res.output, res.output
        assert "pickle" not in res.output
    assert _nothing_but(tmp_path, "a.npy", "t.npz")


def test_json_target_checked_before_computing(tmp_path, monkeypatch):
    import certmodel.cli.certify as cli_certify

    def boom(*a, **k):
        raise AssertionError("computation started before --json was checked")

    monkeypatch.setattr(cli_certify, "run_certify", boom)
    monkeypatch.setattr(cli_certify, "certify_arrays", boom)
    inst = _instance(tmp_path / "i.npz")
    (tmp_path / "d").mkdir()
    for args in (["--instance", inst], ["--dataset", "csbm", "--arch", "gcn"]):
        res = run("certify", *args, "--budget", "1", "--json", tmp_path / "d")
        assert res.exit_code == 2 and "is a folder" in res.output
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os

        if not os.access(ro, os.W_OK):  # (root can write anywhere)
            res = run("certify", "--instance", inst, "--budget", "1", "--json", ro / "o.json")
            assert res.exit_code == 2 and "not writable" in res.output
    finally:
        ro.chmod(0o700)


def test_store_must_be_sqlite(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("my notes\n")
    for cmd in (["certify", "--dataset", "csbm", "--arch", "gcn", "--budget", "1"],
                ["sweep", _sweep_file(tmp_path)]):
        res = run(*cmd, "--store", bad)
        assert res.exit_code == 2 and "not an SQLite" in res.output, res.output
    assert bad.read_text() == "my notes\n"
    from certmodel.exceptions import InvalidParameterError
    from certmodel.store import ResultStore

    with pytest.raises(InvalidParameterError, match="not an SQLite"):
        ResultStore(bad)


@pytest.mark.parametrize("address", ["notaurl", "tcp://host", "http://x:1", "tcp://h:port"])
def test_scheduler_address_fails_fast(tmp_path, address):
    import time

    t0 = time.perf_counter()
    res = run("certify", "--dataset", "csbm", "--arch", "gcn", "--budget", "1",
              "--scheduler", address, "--store", tmp_path / "s.sqlite")
    assert res.exit_code == 2 and "tcp://HOST:PORT" in res.output
    assert time.perf_counter() - t0 < 5 and "Traceback" not in res.output
    res = run("sweep", _sweep_file(tmp_path), "--scheduler", address,
              "--store", tmp_path / "s.sqlite")
    assert res.exit_code == 2
    assert _nothing_but(tmp_path, "s.toml")


def _sweep_file(tmp_path, extra=""):
    p = tmp_path / "s.toml"
    p.write_text('datasets = ["csbm"]\narchitectures = ["gcn"]\nbudgets = [1]\n'
                 '[options]\nmax_test = 4\n' + extra)
    return p


def test_sweep_validates_every_config_first(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text('datasets = ["csbm"]\narchitectures = ["gcn", "appnp"]\nbudgets = [1]\n'
                    '[options]\nmax_test = 4\n')  # appnp needs alpha: the 2nd run is invalid
    res = run("sweep", toml, "--store", tmp_path / "s.sqlite")
    assert res.exit_code == 2 and "run 2 of 2" in res.output and "alpha" in res.output
    assert _nothing_but(tmp_path, "s.toml")  # the valid first run stored nothing
    res = run("sweep", toml, "--store", tmp_path / "s.sqlite", "--arch-option", "alpha=0.1",
              "-q")
    assert res.exit_code == 0, res.output
    res = run("sweep", toml, "--store", tmp_path / "s.sqlite", "--arch-option", "nope=1")
    assert res.exit_code == 2 and "nope" in res.output


def test_arch_option_and_missing_C(tmp_path):
    out = tmp_path / "o.json"
    base = ["certify", "--dataset", "csbm", "--arch", "appnp", "--budget", "1", "--max-test",
            "3", "-q"]
    res = run(*base, "--json", out)
    assert res.exit_code == 2 and "alpha" in res.output and "--arch-option" in res.output
    res = run(*base, "--arch-option", "bogus=1", "--json", out)
    assert res.exit_code == 2 and "bogus" in res.output
    res = run(*base, "--arch-option", "alpha", "--json", out)
    assert res.exit_code == 2 and "KEY=VALUE" in res.output
    assert not out.exists()
    res = run(*base, "--arch-option", "alpha=0.1", "--json", out)
    assert res.exit_code == 0, res.output
    import json

    assert json.loads(out.read_text())["meta"]["config"]["arch_options"] == {"alpha": 0.1}
    res = run("certify", "--dataset", "cora_ml_binary", "--arch", "appnp", "--arch-option",
              "alpha=0.1", "--budget", "1", "--json", tmp_path / "p.json")
    assert res.exit_code == 2 and "--cv" in res.output and "--C 0.01" in res.output
    assert not (tmp_path / "p.json").exists()


def test_kernel_checks(tmp_path):
    n, m = 6, 2
    rng = np.random.default_rng(0)
    K = np.eye(n)
    K[2, 2] = -0.5  # impossible for a kernel
    np.savez(tmp_path / "neg.npz", K=K, K_test=rng.normal(size=(m, n)), y=[1, -1] * 3, C=1.0)
    res = run("certify", "--instance", tmp_path / "neg.npz", "--budget", "1",
              "--json", tmp_path / "o.json")
    assert res.exit_code == 2 and "diagonal" in res.output
    Kc = np.eye(n) + 1j * 0.1 * np.ones((n, n))
    np.savez(tmp_path / "cplx.npz", K=Kc, K_test=np.ones((m, n)), y=[1, -1] * 3, C=1.0)
    res = run("certify", "--instance", tmp_path / "cplx.npz", "--budget", "1",
              "--json", tmp_path / "o.json")
    assert res.exit_code == 2 and "complex" in res.output
    assert not (tmp_path / "o.json").exists()


def test_indefinite_kernel_warns_api():
    from certmodel import labelcert

    K = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # eigenvalue −1
    with pytest.warns(UserWarning, match="not positive semi-definite"):
        labelcert.certify(K, [1, -1, 1], K[:1], 1.0, [1])


@pytest.mark.parametrize("bad", [[0.0, 1.0], [3, 3]])
def test_test_indices_must_be_distinct_integers(bad):
    from certmodel import labelcert, scalabel
    from certmodel.exceptions import InvalidParameterError

    K = np.eye(3)
    with pytest.raises(InvalidParameterError, match="test_indices"):
        labelcert.certify(K, [1, -1, 1], K[:2], 1.0, [1], test_indices=bad)
    with pytest.raises(InvalidParameterError, match="test_indices"):
        scalabel.certify(K[:2], [1, -1, 1], [1], test_indices=bad)


def test_checksum_mismatch_is_not_available(tmp_path):
    from certmodel import datasets
    from certmodel.datasets._files import KNOWN_SHA256
    from certmodel.datasets._registry import _REGISTRY

    name, entry = next((k, e) for k, e in _REGISTRY.items()
                       if e.files and all(f in KNOWN_SHA256 for f in e.files))
    for rel in entry.files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"corrupt")
    info = {i.name: i for i in datasets.available(tmp_path)}[name]
    assert not info.found and "checksum" in info.problem
    res = run("datasets", "--data-dir", tmp_path)
    assert res.exit_code == 0
    line = next(ln for ln in res.output.splitlines() if f" {name} " in ln)
    assert "checksum" in line and "yes" not in line


def test_json_mode_follows_umask(tmp_path):
    import os
    import stat

    inst = _instance(tmp_path / "i.npz")
    old = os.umask(0o022)
    try:
        res = run("certify", "--instance", inst, "--budget", "1", "--json", tmp_path / "o.json")
    finally:
        os.umask(old)
    assert res.exit_code == 0
    assert stat.S_IMODE((tmp_path / "o.json").stat().st_mode) == 0o644


# ---------------------------------------------------------------------------------------------
# progress, killed runs, node ids
# ---------------------------------------------------------------------------------------------

def test_piped_progress_lines_count_records(tmp_path, monkeypatch):
    import time

    import certmodel.cli.certify as cli_certify

    real = cli_certify.run_certify

    def slow(config, **kw):
        kw["progress"](0, 6)
        time.sleep(0.3)
        return real(config, **kw)

    monkeypatch.setattr(cli_certify, "run_certify", slow)
    monkeypatch.setenv("CERTMODEL_PROGRESS_INTERVAL", "0.05")
    res = run("certify", "--dataset", "csbm", "--arch", "gcn", "--budget", "1,2",
              "--max-test", "3", "--json", tmp_path / "o.json")
    assert res.exit_code == 0
    assert "records (" in res.output and "labelcert samplewise" in res.output


def test_killed_run_keeps_finished_records(tmp_path, monkeypatch):
    import json

    import certmodel.cli.certify as cli_certify
    from certmodel.pipeline import CertifyConfig, Interrupted, certify_task, run_certify

    calls = []

    def interrupt_second(payload):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return certify_task(payload)

    config = CertifyConfig(budgets=(1, 2), max_test=6)
    with pytest.raises(Interrupted) as info:
        run_certify(config, workers=1, chunk_size=3, task_fn=interrupt_second)
    assert len(info.value.records) == 6 and info.value.total == 12

    def interrupted(config, **kw):
        raise Interrupted(info.value.records, 12)

    monkeypatch.setattr(cli_certify, "run_certify", interrupted)
    out = tmp_path / "o.json"
    res = run("certify", "--dataset", "csbm", "--arch", "gcn", "--budget", "1,2",
              "--json", out, "--store", tmp_path / "s.sqlite")
    assert res.exit_code == 130
    doc = json.loads(out.read_text())
    assert doc["meta"]["interrupted"] is True and len(doc["records"]) == 6
    assert "6 of 12" in res.output and "s.sqlite" in res.output


def test_relabellings_keyed_by_node_id(tmp_path):
    import json

    out = tmp_path / "o.json"
    res = run("certify", "--dataset", "csbm", "--arch", "gcn", "--budget", "2", "--max-test",
              "10", "--C", "10", "-q", "--json", out)
    assert res.exit_code == 0
    doc = json.loads(out.read_text())
    labelled = set(doc["meta"]["labelled_nodes"])
    test = {r["test_index"] for r in doc["records"]}
    assert len(labelled) == doc["meta"]["n_labelled"] and not labelled & test
    relabelled = [r["relabelling"] for r in doc["records"] if r["relabelling"]]
    assert relabelled
    for relab in relabelled:
        assert {int(k) for k in relab} <= labelled


def test_export_output_and_manifest(tmp_path):
    import json
    import os
    import stat

    toml = _sweep_file(tmp_path, "C = 1.0\n")
    old = os.umask(0o022)
    try:
        res = run("export", toml, "--out", tmp_path / "out", "--max-points", "2")
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == len(set(lines)) == 2  # one "exported" line, one total; no banner
    assert "HiGHS" not in res.output and "Writing" not in res.output
    manifest = tmp_path / "out" / "manifest.json"
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o644
    rows = json.loads(manifest.read_text())
    assert len(rows) == 2
    for row in rows:
        assert row["mode"] == "samplewise" and row["robust_threshold"] > 0
        assert "robust_if" in row
