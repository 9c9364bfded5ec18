"""Failed tasks are computed again on resume; `unknown` records on request (#13.3)."""

from __future__ import annotations

import dataclasses

from click.testing import CliRunner

from certmodel.cli.main import main
from certmodel.pipeline import CertifyConfig, certify_task, run_certify
from certmodel.results import Verdict
from certmodel.store import ResultStore

CONFIG = CertifyConfig(budgets=(1, 2), max_test=12)


def _fail_first_points(payload):
    if min(payload["test_indices"]) == CONFIG_FIRST[0]:
        raise RuntimeError("worker crashed")
    return certify_task(payload)


CONFIG_FIRST = [None]


def _as_time_limit_unknown(payload):
    return [dataclasses.replace(r, verdict=Verdict.UNKNOWN, relabelling=None,
                                solver_status="time_limit") for r in certify_task(payload)]


def _verdicts(records):
    return {(r.test_index, r.budget): r.verdict for r in records}


def test_error_records_retried_on_resume(tmp_path):
    fresh = run_certify(CONFIG, workers=1)
    CONFIG_FIRST[0] = min(r.test_index for r in fresh.records)
    db = tmp_path / "s.sqlite"
    first = run_certify(CONFIG, store=db, workers=1, chunk_size=3, task_fn=_fail_first_points)
    assert first.errors and "worker crashed" in first.errors[0]
    bad = [r for r in first.records if r.solver_status == "error"]
    assert 0 < len(bad) < len(first.records)
    again = run_certify(CONFIG, store=db, workers=1, chunk_size=3)
    assert again.n_computed == len(bad) and not again.errors  # only the failed task re-ran
    assert _verdicts(again.records) == _verdicts(fresh.records)
    with ResultStore(db) as st:
        assert st.count() == len(fresh.records)
        assert not any(s.record.solver_status == "error" for s in st.records())
    assert run_certify(CONFIG, store=db, workers=1).n_computed == 0  # now final


def test_rerun_unknown_with_larger_time_limit(tmp_path):
    db = tmp_path / "s.sqlite"
    fresh = run_certify(CONFIG, workers=1)
    first = run_certify(dataclasses.replace(CONFIG, time_limit=0.01), store=db, workers=1,
                        task_fn=_as_time_limit_unknown)
    assert all(r.verdict is Verdict.UNKNOWN for r in first.records)
    bigger = dataclasses.replace(CONFIG, time_limit=60.0)
    assert bigger.point_hash() == first.config.point_hash()  # the limit is not in the key
    kept = run_certify(bigger, store=db, workers=1)
    assert kept.n_computed == 0  # unknown is final unless asked
    rerun = run_certify(bigger, store=db, workers=1, rerun_unknown=True)
    assert rerun.n_computed == len(fresh.records)
    assert _verdicts(rerun.records) == _verdicts(fresh.records)
    with ResultStore(db) as st:
        assert st.count() == len(fresh.records)


def test_cli_rerun_unknown(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["certify", "--dataset", "csbm", "--arch", "gcn", "--budget", "1",
                               "--rerun-unknown"])
    assert res.exit_code == 2 and "--store" in res.output
    toml = tmp_path / "s.toml"
    toml.write_text('datasets = ["csbm"]\narchitectures = ["gcn"]\nbudgets = [1]\n'
                    '[options]\nmax_test = 5\n')
    db = tmp_path / "s.sqlite"
    res = runner.invoke(main, ["sweep", str(toml), "--store", str(db), "-q",
                               "--time-limit", "5"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["sweep", str(toml), "--store", str(db), "--time-limit", "50",
                               "--rerun-unknown"])
    assert res.exit_code == 0, res.output
    assert "computed 0" in res.output  # nothing was unknown: nothing re-ran
    res = runner.invoke(main, ["sweep", str(toml), "--store", str(db), "--time-limit", "-1"])
    assert res.exit_code == 2
