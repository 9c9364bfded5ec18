"""The SQLite results store: round trip, idempotent writes, resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from certmodel.pipeline import CertifyConfig, run_certify
from certmodel.results import CertificateRecord, CollectiveRecord, ValueKind
from certmodel.results import Path as RPath
from certmodel.store import ResultStore, record_key

REPO = Path(__file__).resolve().parents[2]


def _rec(t, b, verdict="robust"):
    return CertificateRecord(test_index=t, budget=b, verdict=verdict, prediction=1,
                             clean_margin=0.5, value=0.1, value_kind=ValueKind.WORST_MARGIN,
                             method="labelcert", path=RPath.SATURATED,
                             relabelling={0: -1} if verdict == "not_robust" else None)


def test_round_trip_and_idempotent(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as st:
        st.register_config("h", {"dataset": "csbm"}, "0.1")
        assert st.write_task("h", "run1", "0.1", [(_rec(0, 1), 1), (_rec(0, 2, "not_robust"),
                                                                      1)]) == 2
        assert st.write_task("h", "run2", "0.1", [(_rec(0, 1), 1)]) == 0   # kept, not duplicated
        coll = CollectiveRecord(budget=1, n_test=3, certified_count=2, bound=1.0, incumbent=1,
                                method="labelcert", path=RPath.MILP)
        st.write_task("h", "run2", "0.1", [(coll, None)])
        assert st.stored_keys("h") == {(0, 1), (0, 2), (-1, 1)}
        assert st.count("h") == 3
        recs = list(st.records("h"))
        assert isinstance(recs[0].record, CollectiveRecord)
        assert recs[2].record.relabelling == {0: -1} and recs[1].y_true == 1
        assert st.computations("h") == (4, 3)
        assert st.configs() == {"h": {"dataset": "csbm"}}
    assert record_key("h", 0, 1) != record_key("h", 1, 0)


def test_point_hash_ignores_budget_list():
    a = CertifyConfig(budgets=(1, 2))
    b = CertifyConfig(budgets=(1, 2, 4))
    assert a.point_hash() == b.point_hash()
    assert a.config_hash() != b.config_hash()
    assert a.config_hash() == CertifyConfig(budgets=(2, 1)).config_hash()
    assert a.point_hash() != CertifyConfig(budgets=(1,), seed=1).point_hash()


def test_more_budgets_reuse_stored(tmp_path):
    db = tmp_path / "s.sqlite"
    r1 = run_certify(CertifyConfig(budgets=(1, 2), max_test=10), store=db)
    assert r1.n_computed == 20
    r2 = run_certify(CertifyConfig(budgets=(1, 2, 4), max_test=10), store=db)
    assert r2.n_computed == 10 and r2.n_reused == 20 and len(r2.records) == 30


SCRIPT = """
import sys, time
from certmodel.pipeline import CertifyConfig, run_certify, _certify_task

def slow(payload):
    time.sleep(float(sys.argv[2]))
    return _certify_task(payload)

config = CertifyConfig(budgets=(1, 2, 4), max_test=40)
run_certify(config, store=sys.argv[1], task_fn=slow, chunk_size=4)
print("done")
"""


def _tasks_logged(db: Path) -> int:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM computations").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def test_resume_after_sigkill(tmp_path):
    db = tmp_path / "s.sqlite"
    script = tmp_path / "sweep.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, str(script), str(db), "0.4"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while _tasks_logged(db) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with ResultStore(db) as st:
        partial = st.count()
    assert 0 < partial < 120            # killed midway: some tasks stored, not all
    res = subprocess.run([sys.executable, str(script), str(db), "0"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    with ResultStore(db) as st:
        assert st.count() == 120         # 40 points × 3 budgets: nothing lost
        n_computed, n_new = st.computations()
        stored = {(s.record.test_index, s.record.budget): s.record.verdict for s in st.records()}
    assert n_computed == n_new == 120    # nothing computed twice
    fresh = run_certify(CertifyConfig(budgets=(1, 2, 4), max_test=40))
    assert stored == {(r.test_index, r.budget): r.verdict for r in fresh.records}
