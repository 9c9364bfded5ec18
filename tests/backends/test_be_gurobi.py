"""Gurobi-specific behaviour (skipped when gurobipy does not import); all within the
size-limited licence."""

from __future__ import annotations

import pytest
from _be_models import hard_form, tiny_form

from certmodel.backends.base import DecisionTarget, SolveOptions, Termination, available_backends
from certmodel.exceptions import InvalidParameterError
from certmodel.milp.standard_form import Sense

ROOT_BOUND = 14269.0  # Gurobi's root bound on hard_form() (the rounded LP relaxation)

pytestmark = [pytest.mark.gurobi,
              pytest.mark.skipif("gurobi" not in available_backends(),
                                 reason="gurobipy not installed")]


@pytest.fixture
def gb():
    import certmodel.backends.gurobi as gb

    return gb


def test_every_gurobi_status_is_mapped(gb):
    from gurobipy import GRB

    codes = {getattr(GRB.Status, k) for k in dir(GRB.Status) if k.isupper()}
    assert codes <= set(gb._STATUS_MAP)


def test_ranged_rows_become_two_rows(gb):
    b = gb.GurobiBackend()
    b.load(tiny_form())  # knap (<=), card (ranged: 2 rows), link (==)
    assert b._m.NumConstrs == 4
    assert b._m.NumVars == 5


def test_option_table_reaches_gurobi(gb):
    b = gb.GurobiBackend(SolveOptions(time_limit=7.5, rel_gap=1e-3, abs_gap=0.25,
                                      feasibility_tol=1e-8, int_feas_tol=1e-6,
                                      native={"Presolve": 0}))
    b.load(tiny_form())
    assert b.solve().incumbent == pytest.approx(23.5)
    p = b._m.Params
    assert (p.TimeLimit, p.MIPGap, p.MIPGapAbs, p.FeasibilityTol, p.IntFeasTol, p.Presolve,
            p.Threads, p.OutputFlag) == (7.5, 1e-3, 0.25, 1e-8, 1e-6, 0, 1, 0)
    b.solve(options=SolveOptions())
    assert p.Presolve == -1 and p.TimeLimit >= 1e100


def test_tolerances_in_force_are_reported(gb):
    b = gb.GurobiBackend(SolveOptions(feasibility_tol=1e-8, int_feas_tol=1e-6))
    b.load(tiny_form())
    res = b.solve()
    assert res.extra["tolerances"] == {"feasibility_tol": 1e-8, "int_feas_tol": 1e-6}


def test_bad_parameter_value_raises(gb):
    b = gb.GurobiBackend(SolveOptions(native={"TimeLimit": "soon"}))
    b.load(tiny_form())
    with pytest.raises(InvalidParameterError, match="TimeLimit"):
        b.solve()


@pytest.mark.parametrize("maximize", [True, False])
def test_bound_stop_reached_exactly_is_not_a_decision(gb, monkeypatch, maximize):
    """With no margin Gurobi stops at bound == threshold (undecided: the optimum may equal
    the threshold); the backend then resumes with a wider margin and still decides."""
    monkeypatch.setattr(gb, "_BD_MARGIN", 0.0)
    form = hard_form()
    b = gb.GurobiBackend(SolveOptions(time_limit=20))
    b.load(form)
    sign = 1.0 if maximize else -1.0
    if not maximize:
        b.set_objective(-form.c, 0.0, Sense.MINIMIZE)
    threshold = sign * ROOT_BOUND  # the root bound: reached at once, exactly
    res = b.solve(decision=DecisionTarget(threshold))
    assert res.termination is Termination.DECIDED
    assert res.decided_below(threshold) is False
    assert res.runtime < 5
