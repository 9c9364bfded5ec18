"""Local processes, crash isolation, time-outs and a 2-worker dask LocalCluster."""

from __future__ import annotations

import os
import time

import pytest

from certmodel.parallel import run_tasks
from certmodel.pipeline import CertifyConfig, _certify_task, run_certify
from certmodel.results import Verdict

CRASH_INDEX_ENV = "CERTMODEL_TEST_CRASH_INDEX"


def square_or_fail(x):
    if x == "crash":
        os._exit(3)
    if x == "raise":
        raise ValueError("bad payload")
    if x == "sleep":
        time.sleep(30)
    return x * x


def crash_on_point(payload):
    """Task function that kills its worker when it holds test point ``payload['crash']``."""
    crash = payload.pop("crash")
    if crash in set(int(t) for t in payload["test_indices"]):
        os._exit(7)
    return _certify_task(payload)


def _by_index(outcomes):
    return {o.index: o for o in outcomes}


def test_inline_exception_isolated():
    out = _by_index(run_tasks(square_or_fail, [2, "raise", 3], workers=1))
    assert out[0].value == 4 and out[2].value == 9
    assert "ValueError" in out[1].error


def test_process_crash_isolated():
    out = _by_index(run_tasks(square_or_fail, [1, 2, "crash", 3, 4, 5], workers=2))
    assert set(out) == set(range(6))
    assert "died" in out[2].error
    assert [out[i].value for i in (0, 1, 3, 4, 5)] == [1, 4, 9, 16, 25]


def test_process_timeout():
    out = _by_index(run_tasks(square_or_fail, [1, "sleep", 2], workers=2, timeout=3))
    assert "timed out" in out[1].error
    assert out[0].value == 1 and out[2].value == 4


class _RacingPool:
    """A pool whose worker for task 1 dies and which, like ``ProcessPoolExecutor``, marks
    itself broken (so ``submit`` raises) before it fails the futures in flight."""

    _processes: dict = {}

    def __init__(self, log):
        self.log, self.futures = log, []

    def submit(self, fn, x):
        import concurrent.futures as cf
        from concurrent.futures.process import BrokenProcessPool

        if any(f.payload == 1 for f in self.futures):
            for f in self.futures:
                if not f.done():
                    f.set_exception(BrokenProcessPool("worker died"))
            raise BrokenProcessPool("pool broken")
        fut = cf.Future()
        fut.payload = x
        if x != 1:
            fut.set_result(fn(x))
        self.futures.append(fut)
        self.log.append(x)
        return fut

    def shutdown(self, wait=True, cancel_futures=False):
        pass


def test_pool_broken_before_its_futures_fail(monkeypatch):
    """The race CI met: ``submit`` raised BrokenProcessPool before the dead worker's future
    failed; the task not yet started must be run on a fresh pool, the dead one reported."""
    from certmodel.parallel import executor

    log = []
    monkeypatch.setattr(executor, "_new_pool", lambda n: _RacingPool(log))
    out = _by_index(run_tasks(square_or_fail, [0, 1, 2, 3], workers=2))
    assert set(out) == {0, 1, 2, 3}
    assert "died" in out[1].error
    assert [out[i].value for i in (0, 2, 3)] == [0, 4, 9]


class _CrashingTask:
    """Picklable callable adding the crash marker to every payload."""

    def __init__(self, crash: int):
        self.crash = crash

    def __call__(self, payload):
        return crash_on_point(dict(payload, crash=self.crash))


def test_worker_crash_gives_unknown_records(tmp_path):
    config = CertifyConfig(budgets=(1, 2), max_test=12)
    clean = run_certify(config)
    victim = clean.records[0].test_index
    res = run_certify(config, workers=2, chunk_size=3, task_fn=_CrashingTask(victim),
                      store=tmp_path / "s.sqlite")
    assert len(res.records) == 24 and res.errors
    unknown = {r.test_index for r in res.records if r.verdict is Verdict.UNKNOWN}
    assert victim in unknown and len(unknown) == 3   # exactly the crashed chunk
    for r in res.records:
        if r.verdict is Verdict.UNKNOWN:
            assert "died" in r.extra["error"]
    ok = {(r.test_index, r.budget): r.verdict for r in res.records if r.test_index not in unknown}
    ref = {(r.test_index, r.budget): r.verdict for r in clean.records}
    assert all(ref[k] == v for k, v in ok.items())


def test_processes_match_inline():
    config = CertifyConfig(budgets=(1, 4), max_test=16)
    a = run_certify(config)
    b = run_certify(config, workers=2)
    assert [(r.test_index, r.budget, r.verdict) for r in a.records] == \
           [(r.test_index, r.budget, r.verdict) for r in b.records]


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                       dashboard_address=None, host="127.0.0.1")
    try:
        yield cluster
    finally:
        cluster.close()


def test_dask_two_workers(dask_cluster, tmp_path):
    config = CertifyConfig(budgets=(1, 2, 4), max_test=16)
    ref = run_certify(config)
    res = run_certify(config, scheduler=dask_cluster.scheduler_address, chunk_size=4,
                      store=tmp_path / "s.sqlite")
    assert not res.errors
    assert [(r.test_index, r.budget, r.verdict) for r in res.records] == \
           [(r.test_index, r.budget, r.verdict) for r in ref.records]
    out = {o.index: o for o in run_tasks(square_or_fail, [3, "raise"],
                                         scheduler=dask_cluster.scheduler_address)}
    assert out[0].value == 9 and "bad payload" in out[1].error
