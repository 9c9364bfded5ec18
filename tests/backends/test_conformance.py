"""Conformance suite run against every installed backend (cvxpy/Pyomo style).

Every backend must: find known optima and proven bounds in both senses, swap objectives
without a rebuild, accept warm starts, report infeasibility, honour time limits with a
valid bound, stop early in decision mode with consistent incumbent/bound, reject unknown
options, write MPS files that another solver reads back, and never crash on a licence cap.
"""

from __future__ import annotations

import time

import numpy as np
import pyomo.environ as pyo
import pytest
from _be_models import (
    HARD_OPT,
    brute_force,
    feasible,
    hard_form,
    infeasible_form,
    lp_form,
    tiny_form,
)

from certmodel.backends.base import (
    Backend,
    DecisionTarget,
    Feature,
    SolveOptions,
    Termination,
    available_backends,
    get_backend,
)
from certmodel.exceptions import InvalidParameterError
from certmodel.milp.standard_form import Sense, compile_model

BACKENDS = [b for b in ("highs", "gurobi") if b in available_backends()]
BACKENDS += [b for b in available_backends() if b not in BACKENDS]
TOL = 1e-6


@pytest.fixture(params=BACKENDS)
def name(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def tiny():
    return tiny_form()


@pytest.fixture(scope="module")
def hard():
    return hard_form()


def loaded(name: str, form, **opts) -> Backend:
    backend = get_backend(name)(SolveOptions(**opts))
    backend.load(form)
    return backend


def check_consistent(res, form, *, opt: float | None = None) -> None:
    """Soundness contract: x feasible and matching the incumbent; bound on the right side."""
    maximize = res.sense is Sense.MAXIMIZE
    if res.x is not None:
        assert res.incumbent is not None
        assert feasible(form, res.x)
    if res.incumbent is not None and opt is not None:
        assert (res.incumbent <= opt + TOL) if maximize else (res.incumbent >= opt - TOL)
    if res.bound is not None:
        assert np.isfinite(res.bound)
        if res.incumbent is not None:
            assert (res.bound >= res.incumbent - TOL) if maximize else \
                (res.bound <= res.incumbent + TOL)
        if opt is not None:
            assert (res.bound >= opt - TOL) if maximize else (res.bound <= opt + TOL)


def test_backends_declare_features(name):
    cls = get_backend(name)
    assert cls.name == name
    assert cls.available()
    assert isinstance(cls.features, frozenset)
    assert all(isinstance(f, Feature) for f in cls.features)
    assert cls.version()


def test_tiny_max_optimum_and_bound(name, tiny):
    res = loaded(name, tiny).solve()
    opt = brute_force(tiny, tiny.c, tiny.c0, maximize=True)
    assert opt == pytest.approx(23.5)
    assert res.termination is Termination.OPTIMAL
    assert res.sense is Sense.MAXIMIZE
    assert res.incumbent == pytest.approx(opt, abs=TOL)
    assert res.bound == pytest.approx(opt, abs=TOL)
    assert res.solver_name == name and res.runtime >= 0
    check_consistent(res, tiny, opt=opt)


def test_tiny_min_optimum_and_bound(name, tiny):
    backend = loaded(name, tiny)
    backend.set_objective(-tiny.c, -tiny.c0, Sense.MINIMIZE)
    res = backend.solve()
    assert res.termination is Termination.OPTIMAL
    assert res.sense is Sense.MINIMIZE
    assert res.incumbent == pytest.approx(-23.5, abs=TOL)
    assert res.bound == pytest.approx(-23.5, abs=TOL)
    check_consistent(res, tiny, opt=-23.5)


@pytest.mark.parametrize("maximize", [True, False])
def test_objective_swap_without_rebuild(name, tiny, maximize):
    backend = loaded(name, tiny)
    backend.solve()
    rng = np.random.default_rng(3)
    sense = Sense.MAXIMIZE if maximize else Sense.MINIMIZE
    for _ in range(4):
        c, c0 = rng.integers(-9, 10, tiny.n_cols).astype(float), float(rng.integers(-5, 5))
        backend.set_objective(c, c0, sense)
        res = backend.solve()
        opt = brute_force(tiny, c, c0, maximize=maximize)
        assert res.termination is Termination.OPTIMAL
        assert res.incumbent == pytest.approx(opt, abs=TOL)
        assert res.bound == pytest.approx(opt, abs=TOL)
        check_consistent(res, tiny, opt=opt)
    backend.set_objective(tiny.c, tiny.c0, Sense.MAXIMIZE)  # back to the original
    assert backend.solve().incumbent == pytest.approx(23.5, abs=TOL)


def test_set_column_bounds(name, tiny):
    backend = loaded(name, tiny)
    lower, upper = tiny.col_lower.copy(), tiny.col_upper.copy()
    upper[tiny.column_of(tiny.model.b)] = 0.0  # forbid b
    backend.set_column_bounds(lower, upper)
    res = backend.solve()
    opt = brute_force(tiny, tiny.c, tiny.c0, maximize=True, lower=lower, upper=upper)
    assert res.incumbent == pytest.approx(opt, abs=TOL) and opt < 23.5
    assert res.x[tiny.column_of(tiny.model.b)] == pytest.approx(0.0, abs=TOL)


def test_pure_lp_bound_is_optimum(name):
    form = lp_form()
    res = loaded(name, form).solve()
    assert res.termination is Termination.OPTIMAL
    assert res.incumbent == pytest.approx(1.4, abs=TOL)
    assert res.bound == pytest.approx(1.4, abs=TOL)
    np.testing.assert_allclose(res.x, [0.8, 0.6], atol=1e-6)


def test_warm_start_accepted(name, tiny):
    backend = loaded(name, tiny)
    x_opt = backend.solve().x
    res = backend.solve(warm_start=x_opt)
    assert res.termination is Termination.OPTIMAL
    assert res.incumbent == pytest.approx(23.5, abs=TOL)
    partial = x_opt.copy()
    partial[::2] = np.nan  # NaN: no start value for that column
    assert backend.solve(warm_start=partial).incumbent == pytest.approx(23.5, abs=TOL)
    worse = np.zeros(tiny.n_cols)
    worse[tiny.column_of(tiny.model.a)] = 1.0
    worse[tiny.column_of(tiny.model.e)] = 1.0  # feasible, value 10.5
    assert backend.solve(warm_start=worse).incumbent == pytest.approx(23.5, abs=TOL)
    with pytest.raises(InvalidParameterError, match="warm_start"):
        backend.solve(warm_start=np.zeros(tiny.n_cols + 1))


def test_infeasible(name):
    res = loaded(name, infeasible_form()).solve()
    assert res.termination is Termination.INFEASIBLE
    assert res.incumbent is None and res.x is None and res.bound is None
    assert not res.has_solution


def test_time_limit_honoured_with_valid_bound(name, hard):
    limit = 0.5
    backend = loaded(name, hard, time_limit=limit)
    t0 = time.perf_counter()
    res = backend.solve()
    wall = time.perf_counter() - t0
    assert res.termination is Termination.TIME_LIMIT
    assert wall < limit + 0.75, f"{name} ran {wall:.2f} s under a {limit} s limit"
    assert res.runtime <= wall + 1e-3
    assert res.bound is not None, "a proven bound must survive a time-out"
    check_consistent(res, hard, opt=HARD_OPT)
    # The same backend, minimising the negated objective: mirrored bound semantics.
    backend.set_objective(-hard.c, 0.0, Sense.MINIMIZE)
    res = backend.solve()
    assert res.termination is Termination.TIME_LIMIT
    assert res.bound is not None
    check_consistent(res, hard, opt=-HARD_OPT)


@pytest.mark.parametrize("offset, below", [(-300.0, True), (300.0, False)])
@pytest.mark.parametrize("maximize", [True, False])
def test_decision_mode(name, hard, offset, below, maximize):
    """Threshold below / above the optimum of the max problem (mirrored for the min one)."""
    sign = 1.0 if maximize else -1.0
    backend = loaded(name, hard, time_limit=20)
    if not maximize:
        backend.set_objective(-hard.c, 0.0, Sense.MINIMIZE)
    threshold = sign * (HARD_OPT + offset)
    res = backend.solve(decision=DecisionTarget(threshold))
    assert res.termination in (Termination.DECIDED, Termination.OPTIMAL)
    # max: opt >= threshold iff threshold below opt; min: opt <= threshold iff -opt >= -t.
    assert res.decided_below(threshold) is below
    check_consistent(res, hard, opt=sign * HARD_OPT)


def test_decision_mode_on_easy_model_solves_to_optimality(name, tiny):
    backend = loaded(name, tiny)
    for threshold, below in ((23.5, True), (23.0, True), (24.0, False)):
        res = backend.solve(decision=DecisionTarget(threshold))
        assert res.termination in (Termination.DECIDED, Termination.OPTIMAL)
        assert res.decided_below(threshold) is below
        check_consistent(res, tiny, opt=23.5)


def test_unknown_option_raises_naming_it(name, tiny):
    backend = loaded(name, tiny)
    with pytest.raises(InvalidParameterError, match="no_such_option_xyz"):
        backend.solve(options=SolveOptions(native={"no_such_option_xyz": 1}))
    res = backend.solve()  # the backend stays usable
    assert res.incumbent == pytest.approx(23.5, abs=TOL)


def test_solve_before_load_raises(name):
    with pytest.raises(InvalidParameterError, match="load"):
        get_backend(name)().solve()


def test_write_mps_and_read_back_with_highspy(name, tiny, tmp_path):
    import highspy

    backend = loaded(name, tiny)
    path = backend.write(tmp_path / "tiny.mps")
    assert path.exists()
    assert backend.write(tmp_path / "tiny.lp").exists()
    with pytest.raises(InvalidParameterError):
        backend.write(tmp_path / "tiny.txt")
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(str(path))
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert h.getInfo().objective_function_value == pytest.approx(23.5, abs=TOL)


def test_repeated_solves_are_independent(name, hard):
    """A decided / time-limited solve leaves no state behind for the next one."""
    backend = loaded(name, hard, time_limit=20)
    first = backend.solve(decision=DecisionTarget(HARD_OPT - 300))
    second = backend.solve(decision=DecisionTarget(HARD_OPT + 300))
    assert first.decided_below(HARD_OPT - 300) is True
    assert second.decided_below(HARD_OPT + 300) is False
    check_consistent(second, hard, opt=HARD_OPT)


@pytest.mark.gurobi
@pytest.mark.skipif("gurobi" not in BACKENDS, reason="gurobipy not installed")
def test_gurobi_over_size_model_returns_license():
    n = 2100
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(n), bounds=(0, 1))
    m.c = pyo.Constraint(expr=sum(m.x[j] for j in range(n)) <= 5)
    m.o = pyo.Objective(expr=sum(m.x[j] for j in range(n)), sense=pyo.maximize)
    form = compile_model(m)
    cls = get_backend("gurobi")
    assert cls.max_size == (2000, 2000)
    t0 = time.perf_counter()
    res = loaded("gurobi", form).solve()
    assert time.perf_counter() - t0 < 5
    if res.termination is Termination.OPTIMAL:  # a full licence is installed here
        assert res.incumbent == pytest.approx(5.0)
        return
    assert res.termination is Termination.LICENSE
    assert res.incumbent is None and res.bound is None and res.x is None
    assert "2100 variables" in res.log and "2000" in res.log
    assert res.extra["errno"] == 10010
