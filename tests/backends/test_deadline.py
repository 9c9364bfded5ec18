"""Hard deadlines: a solve that ignores its own time limit is killed at limit + grace and the
record comes back ``unknown``; enumeration and attack stop at the same time limit."""

from __future__ import annotations

import time

import numpy as np
import pytest

import certmodel.backends.base as base
from certmodel.backends.base import SolveOptions, Termination, get_backend
from certmodel.backends.isolated import IsolatedBackend, isolated
from certmodel.backends.testing import BlockingBackend, tiny_form
from certmodel.deadline import Deadline, DeadlineExceeded, stage_time_limit

GRACE = 1.0


def test_blocking_solve_killed_at_limit_plus_grace():
    b = IsolatedBackend(BlockingBackend, SolveOptions(time_limit=0.5), kill_grace=GRACE)
    b.load(tiny_form())
    for _ in range(2):  # the second solve runs in a fresh child (load replayed)
        t0 = time.perf_counter()
        res = b.solve()
        wall = time.perf_counter() - t0
        assert res.termination is Termination.TIME_LIMIT
        assert res.bound is None and res.incumbent is None and res.x is None
        assert res.extra["killed"] and "ignored its time limit" in res.log
        assert 0.5 + GRACE - 0.05 <= wall < 0.5 + GRACE + 1.5
    assert b.kills == 2
    b.close()


def test_isolated_backend_solves_and_swaps_like_the_inner_one():
    b = isolated(get_backend("highs"), SolveOptions(time_limit=30))
    assert isinstance(b, IsolatedBackend)
    form = tiny_form()
    b.load(form)
    assert b.solve().incumbent == pytest.approx(23.5)
    b.set_objective(-form.c, -form.c0, "min")
    assert b.solve().incumbent == pytest.approx(-23.5)
    b.close()
    assert not isinstance(isolated(get_backend("highs"), SolveOptions()), IsolatedBackend)


def test_labelcert_record_unknown_within_deadline(monkeypatch):
    """Through the certificate pipeline: every MILP record is unknown, none takes longer
    than the time limit plus the grace (and the child start)."""
    from certmodel import labelcert
    from certmodel.labelcert import LabelCertOptions
    from tests.labelcert.oracles import random_instance

    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY, blocking=BlockingBackend))
    K, y, K_test = random_instance(3, 6, m=2)
    limit = 1.0
    opts = LabelCertOptions.plain(backend="blocking", time_limit=limit)
    t0 = time.perf_counter()
    recs = labelcert.certify(K, y, K_test, 1.0, [1], options=opts)
    wall = time.perf_counter() - t0
    assert [r.verdict.value for r in recs] == ["unknown", "unknown"]
    assert all(r.solver_status == "time_limit" for r in recs)
    assert all("killed after" in r.extra["solver_log"] for r in recs)  # the reason
    per_record = 2.0 + 1.5  # KILL_GRACE + slack (child start, Pyomo build, loaded machine)
    assert wall < len(recs) * (limit + per_record) + 10.0


def test_enumeration_stops_at_the_stage_deadline():
    from certmodel.labelcert._enumerate import EnumerationTimeout, binary_levels
    from certmodel.labelcert._problem import Problem, RetrainFailed
    from certmodel.learners import solve_svm_dual
    from tests.labelcert.oracles import random_instance

    K, y, K_test = random_instance(5, 12, m=2)
    prob = Problem.create(K, y, K_test, 1.0, None)
    alpha0 = solve_svm_dual(K, y.astype(float), 1.0).alpha
    with stage_time_limit(1e-9), pytest.raises(EnumerationTimeout):
        list(binary_levels(prob, alpha0, 3))
    assert issubclass(EnumerationTimeout, RetrainFailed)  # every caller falls back
    assert issubclass(EnumerationTimeout, DeadlineExceeded)
    assert len(list(binary_levels(prob, alpha0, 2))) >= 2  # no limit: runs through


def test_tiny_time_limit_never_gives_a_wrong_verdict():
    from certmodel import labelcert
    from certmodel.labelcert import LabelCertOptions
    from tests.labelcert.oracles import brute_binary, random_instance

    K, y, K_test = random_instance(7, 7, m=3)
    worst, _ = brute_binary(K, y, 1.0, K_test, 2)
    recs = labelcert.certify(K, y, K_test, 1.0, [2], options=LabelCertOptions(
        time_limit=1e-3, enumeration="always"))
    for r, w in zip(recs, worst):
        if r.verdict.value == "robust":
            assert w > 0
        elif r.verdict.value == "not_robust":
            assert w <= 0


def test_deadline_object():
    d = Deadline.after(None)
    assert d.remaining() is None and not d.expired() and d.solver_time_limit() is None
    d = Deadline.after(1e-9)
    time.sleep(0.01)
    assert d.expired() and d.remaining() == 0.0
    with pytest.raises(DeadlineExceeded, match="enumeration"):
        d.check("enumeration")
    assert np.isclose(Deadline.after(100).solver_time_limit(), 100, atol=1)
