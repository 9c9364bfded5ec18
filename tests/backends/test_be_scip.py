"""SCIP-specific behaviour (skipped when pyscipopt does not import)."""

from __future__ import annotations

import pytest
from _be_models import hard_form, tiny_form

from certmodel.backends.base import DecisionTarget, SolveOptions, Termination, available_backends
from certmodel.exceptions import InvalidParameterError
from certmodel.milp.standard_form import Sense

pytestmark = pytest.mark.skipif("scip" not in available_backends(),
                                reason="pyscipopt not installed")


@pytest.fixture
def sb():
    import certmodel.backends.scip as sb

    return sb


def test_option_table_reaches_scip(sb):
    b = sb.ScipBackend(SolveOptions(time_limit=7.5, rel_gap=1e-3, abs_gap=0.25,
                                    feasibility_tol=1e-8, int_feas_tol=1e-6,
                                    native={"presolving/maxrounds": 0}))
    b.load(tiny_form())
    assert b.solve().incumbent == pytest.approx(23.5)
    m = b._m
    got = {k: m.getParam(k) for k in ("limits/time", "limits/gap", "limits/absgap",
                                     "numerics/feastol", "presolving/maxrounds")}
    assert got == {"limits/time": 7.5, "limits/gap": 1e-3, "limits/absgap": 0.25,
                   "numerics/feastol": 1e-8, "presolving/maxrounds": 0}
    b.solve(options=SolveOptions())  # nothing sticks from the last call
    assert m.getParam("presolving/maxrounds") == -1 and m.getParam("limits/time") >= 1e20


def test_more_than_one_thread_is_refused(sb):
    b = sb.ScipBackend(SolveOptions(threads=4))
    b.load(tiny_form())
    with pytest.raises(InvalidParameterError, match="threads"):
        b.solve()


@pytest.mark.parametrize("maximize", [True, False])
def test_decision_handler_reaimed_per_solve(sb, maximize):
    """One event handler per model serves every solve with that solve's threshold."""
    form = hard_form()
    b = sb.ScipBackend(SolveOptions(time_limit=20))
    b.load(form)
    sign = 1.0 if maximize else -1.0
    if not maximize:
        b.set_objective(-form.c, 0.0, Sense.MINIMIZE)
    for offset, below in ((-300.0, True), (300.0, False), (-300.0, True)):
        t = sign * (14171.0 + offset)
        res = b.solve(decision=DecisionTarget(t))
        assert res.termination in (Termination.DECIDED, Termination.OPTIMAL)
        assert res.decided_below(t) is below
    res = b.solve(options=SolveOptions(time_limit=1.0))  # handler inactive: no early stop
    assert res.termination is Termination.TIME_LIMIT
