"""HiGHS-specific behaviour not covered by the conformance suite."""

from __future__ import annotations

import dataclasses

import highspy
import numpy as np
import pyomo.environ as pyo
import pytest
from _be_models import hard_form, tiny_form

from certmodel.backends.base import DecisionTarget, SolveOptions, Termination, get_backend
from certmodel.backends.highs import _STATUS_MAP, HighsBackend
from certmodel.exceptions import InvalidParameterError, SolverError
from certmodel.milp.standard_form import compile_model


def test_every_highs_model_status_is_mapped():
    assert set(highspy.HighsModelStatus.__members__) <= set(_STATUS_MAP)


def test_unmapped_status_warns_and_reports_unknown(monkeypatch):
    b = HighsBackend()
    b.load(tiny_form())
    monkeypatch.delitem(_STATUS_MAP, "kOptimal")
    with pytest.warns(RuntimeWarning, match="kOptimal"):
        res = b.solve()
    assert res.termination is Termination.UNKNOWN


def test_option_table_reaches_highs():
    b = HighsBackend(SolveOptions(time_limit=7.5, rel_gap=1e-3, abs_gap=0.25,
                                  feasibility_tol=1e-8, int_feas_tol=1e-6,
                                  native={"presolve": "off"}))
    b.load(tiny_form())
    assert b.solve().incumbent == pytest.approx(23.5)
    h = b._h
    got = {k: h.getOptionValue(k)[1] for k in (
        "time_limit", "mip_rel_gap", "mip_abs_gap", "presolve", "output_flag", "threads")}
    assert got == {"time_limit": 7.5, "mip_rel_gap": 1e-3, "mip_abs_gap": 0.25,
                   "presolve": "off", "output_flag": False, "threads": 1}
    # per-solve options replace the constructor's (nothing sticks from the last call)
    b.solve(options=SolveOptions())
    assert h.getOptionValue("presolve")[1] == "choose"
    assert h.getOptionValue("time_limit")[1] == float("inf")


@pytest.mark.parametrize("feas, integ", [(1e-8, 1e-6), (1e-6, 1e-8), (1e-9, 1e-9),
                                         (1e-7, None), (None, 1e-7)])
@pytest.mark.parametrize("mip", [True, False])
def test_tolerances_in_force_are_never_looser_than_requested(feas, integ, mip):
    """Read back after the run: HiGHS >= 1.16 overwrites the primal tolerance of a MIP with
    the MIP one, so the table must put the tighter value in both (this failed on 1.16)."""
    form = tiny_form()
    if not mip:
        form = dataclasses.replace(form, integrality=np.zeros_like(form.integrality))
    b = HighsBackend(SolveOptions(feasibility_tol=feas, int_feas_tol=integ))
    b.load(form)
    res = b.solve()
    assert res.termination is Termination.OPTIMAL
    h = b._h
    in_force = {"feasibility_tol": h.getOptionValue("primal_feasibility_tolerance")[1],
                "int_feas_tol": h.getOptionValue("mip_feasibility_tolerance")[1]}
    assert res.extra["tolerances"] == in_force
    for name, asked in (("feasibility_tol", feas), ("int_feas_tol", integ)):
        if asked is not None:
            assert in_force[name] <= asked


def test_a_silently_relaxed_tolerance_is_an_error(monkeypatch):
    import certmodel.backends.highs as hmod

    monkeypatch.setattr(hmod, "_tolerance_options",
                        lambda feas, integ, is_mip: {"primal_feasibility_tolerance": 1e-5})
    b = HighsBackend(SolveOptions(feasibility_tol=1e-8))
    b.load(tiny_form())
    with pytest.raises(SolverError, match="primal_feasibility_tolerance"):
        b.solve()


def test_bad_option_value_raises():
    b = HighsBackend(SolveOptions(native={"presolve": "sometimes"}))
    b.load(tiny_form())
    with pytest.raises(InvalidParameterError, match="presolve"):
        b.solve()


def test_thread_count_can_change_between_solves():
    b = get_backend("highs")()
    b.load(tiny_form())
    for threads in (2, 1, 2, 1):
        res = b.solve(options=SolveOptions(threads=threads))
        assert res.termination is Termination.OPTIMAL, res.extra


def test_decision_interrupt_does_not_leak_into_next_solve():
    """HiGHS keeps the callback's interrupt flag between runs unless it is cleared."""
    form = hard_form()
    b = HighsBackend(SolveOptions(time_limit=20))
    b.load(form)
    first = b.solve(decision=DecisionTarget(14171.0 - 300))
    assert first.termination is Termination.DECIDED
    assert first.extra["decided_by"]["incumbent"] >= 14171.0 - 300
    tiny = HighsBackend()
    tiny.load(tiny_form())
    second = b.solve(decision=DecisionTarget(14171.0 + 300))
    assert second.termination in (Termination.DECIDED, Termination.OPTIMAL)
    assert second.decided_below(14171.0 + 300) is False


def test_empty_model():
    m = pyo.ConcreteModel()
    m.o = pyo.Objective(expr=3.0)
    res = HighsBackend()
    form = compile_model(m)
    res.load(form)
    out = res.solve()
    assert out.termination is Termination.OPTIMAL
    assert out.x.shape == (0,)


def test_integral_columns_really_integer():
    form = tiny_form()
    b = HighsBackend()
    b.load(form)
    x = b.solve().x
    np.testing.assert_allclose(x[form.integrality], np.round(x[form.integrality]), atol=1e-9)
