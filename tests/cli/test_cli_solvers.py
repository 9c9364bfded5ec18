"""Every installed MILP backend gives brute-force verdicts from the CLI, names are checked
against the registry, and ``--json -`` stays valid JSON whatever the solver prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from certmodel.backends.base import backend_class
from certmodel.cli import main
from tests.labelcert.oracles import brute_binary, random_instance

SOLVERS = ("highs", "scip", "gurobi", "pyomo:appsi_highs", "pyomo:scip_direct", "pyomo:cbc",
           "pyomo:glpk")
C = 1.0


def _installed(name: str) -> bool:
    try:
        return backend_class(name).available()
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """n = 6 labelled, 4 test points, budgets 1-2, with the brute-force verdicts."""
    K, y, K_test = random_instance(11, 6, m=4)
    path = tmp_path_factory.mktemp("inst") / "inst.npz"
    np.savez(path, K=K, K_test=K_test, y=y, C=np.array(C))
    expected = {}
    for B in (1, 2):
        worst, _ = brute_binary(K, y, C, K_test, B)
        P = C * np.abs(K_test).sum(axis=1)
        for t in range(len(K_test)):
            assert not (0 < worst[t] <= 1e-6 * P[t]), "instance too close to a tie"
            expected[(t, B)] = "robust" if worst[t] > 1e-6 * P[t] else "not_robust"
    assert set(expected.values()) == {"robust", "not_robust"}  # both verdicts exercised
    return path, expected


@pytest.mark.parametrize("solver", SOLVERS)
def test_certify_milp_only_equals_brute_force(solver, instance):
    if not _installed(solver):
        pytest.skip(f"{solver} is not installed here")
    path, expected = instance
    out = path.parent / f"{solver.replace(':', '_')}.json"
    res = CliRunner().invoke(main, ["certify", "--instance", str(path), "--budget", "1,2",
                                    "--solver", solver, "--milp-only", "--json", str(out),
                                    "-q"])
    assert res.exit_code == 0, res.output
    records = json.loads(out.read_text())["records"]
    got = {(r["test_index"], r["budget"]): r["verdict"] for r in records}
    assert got == expected
    assert {r["path"] for r in records} == {"milp"}
    assert {r["backend"] for r in records} == {solver}


@pytest.mark.parametrize("solver", ["nosuch", "pyomo:nosuch_solver", "pyomo:"])
def test_unknown_or_missing_solver_exits_2_listing_installed(solver, instance, tmp_path):
    path, _ = instance
    out = tmp_path / "out.json"
    res = CliRunner().invoke(main, ["certify", "--instance", str(path), "--budget", "1",
                                    "--solver", solver, "--json", str(out)])
    assert res.exit_code == 2
    assert "highs" in res.output and not out.exists()


def test_sweep_rejects_unknown_solver(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('datasets = ["csbm"]\narchitectures = ["gcn"]\nbudgets = [1]\n'
                   '[options]\nsolver = "nosuch"\n')
    store = tmp_path / "store.sqlite"
    res = CliRunner().invoke(main, ["sweep", str(cfg), "--store", str(store)])
    assert res.exit_code == 2 and "nosuch" in res.output
    assert not store.exists()


def test_labelcert_options_validate_backend():
    from certmodel.exceptions import InvalidParameterError
    from certmodel.labelcert import LabelCertOptions

    with pytest.raises(InvalidParameterError, match="backend.*nosuch"):
        LabelCertOptions(backend="nosuch")
    assert LabelCertOptions(backend="pyomo:appsi_highs").backend == "pyomo:appsi_highs"


@pytest.mark.parametrize("solver", ["highs", "pyomo:appsi_highs", "scip", "gurobi"])
def test_json_to_stdout_parses(solver, instance):
    """Through a real process (solvers print from C to file descriptor 1), with --verbose:
    the solver logs go to stderr, stdout carries the JSON only."""
    if not _installed(solver):
        pytest.skip(f"{solver} is not installed here")
    path, expected = instance
    proc = subprocess.run(
        [sys.executable, "-c", "from certmodel.cli import main; main()", "certify",
         "--instance", str(path), "--budget", "1", "--solver", solver, "--milp-only",
         "--json", "-", "--verbose"],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # nothing but JSON on stdout
    assert len(doc["records"]) == 4
    assert len(proc.stderr.splitlines()) > 20  # the solver log went to stderr


def test_solvers_command_lists_backends_as_json():
    res = CliRunner().invoke(main, ["solvers", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.output)}
    assert rows["highs"]["installed"] and rows["highs"]["version"]
    assert "decision_stop" in rows["highs"]["features"]
    assert {"gurobi", "scip", "pyomo:appsi_highs", "pyomo:cbc"} <= set(rows)
    assert rows["gurobi"]["licence_limit"] in ([2000, 2000], None)
    assert "no decision stop" in rows["pyomo:appsi_highs"]["notes"]
    table = CliRunner().invoke(main, ["solvers", "--installed", "--no-pyomo"])
    assert table.exit_code == 0 and "highs" in table.output and "pyomo:" not in table.output
