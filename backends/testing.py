"""Conformance checks for solver backends, for plug-in authors and for certmodel's own tests.

A third-party backend's test suite calls::

    from certmodel.backends.testing import check_backend
    check_backend(MySolverBackend)          # raises ConformanceError listing every failure

or, one pytest item per check::

    import pytest
    from certmodel.backends.testing import CHECKS, run_check

    @pytest.mark.parametrize("check", CHECKS)
    def test_conformance(check):
        run_check(MySolverBackend, check)   # pytest.skip()s checks that do not apply

What is checked (the contract of :mod:`certmodel.backends.base`): optimal statuses with
brute-forced optima in both senses; the bound is a proven dual bound, never an incumbent
(after a time-out it stays on the right side of the known optimum); a time limit ends in a
non-optimal *returned* status; objective swaps without a rebuild; warm starts (full, partial
with NaN, worse than optimal, wrong shape refused); infeasibility; decision mode (stops early
when :attr:`Feature.DECISION_STOP` is declared, otherwise is never wrong); unknown native
options refused naming them (unless the backend declares ``validates_native_options =
False``); misuse before ``load`` refused; MPS written and read back by HiGHS; repeated
solves independent; and a licence refusal returned as ``Termination.LICENSE`` when the
backend declares a size cap (:attr:`Backend.max_size`).

Needs only numpy, Pyomo and highspy (all certmodel dependencies); not pytest, except that
:func:`run_check` calls ``pytest.skip`` when pytest is importable.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap

from certmodel.backends.base import (
    Backend,
    DecisionTarget,
    Feature,
    SolveOptions,
    Termination,
    backend_class,
)
from certmodel.exceptions import InvalidParameterError
from certmodel.standard_form import Sense, StandardForm, compile_model

__all__ = ["CHECKS", "ConformanceError", "SkipCheck", "check_backend", "run_check",
           "tiny_form", "tiny_points", "feasible", "brute_force", "infeasible_form", "lp_form",
           "hard_knapsack_data", "hard_form", "HARD_OPT"]

TOL = 1e-6
# Optimum of hard_form() (maximisation), proven by Gurobi 13 in 19 s with MIPGap=0 and
# confirmed by HiGHS 1.15 (kOptimal, about 500 s, 1 thread).
HARD_OPT = 14171.0


class ConformanceError(AssertionError):
    """One or more conformance checks failed (the message lists each)."""


class SkipCheck(Exception):
    """A check that does not apply to this backend (e.g. no declared size cap)."""


# ---------------------------------------------------------------------------------- models
def tiny_form() -> StandardForm:
    """max 8a + 11b + 6c + 4d + 2.5 over binaries a..d and 0 <= e <= 2 with
    5a + 7b + 4c + 3d <= 14 (knapsack), 1 <= a + b + c + d <= 3 (ranged row),
    e == a + d (equality row).  Optimum 23.5 (b, c, d), LP relaxation 24.5."""
    m = pyo.ConcreteModel()
    m.a, m.b, m.c, m.d = (pyo.Var(domain=pyo.Binary) for _ in range(4))
    m.e = pyo.Var(bounds=(0, 2))
    m.knap = pyo.Constraint(expr=5 * m.a + 7 * m.b + 4 * m.c + 3 * m.d <= 14)
    m.card = pyo.Constraint(expr=pyo.inequality(1, m.a + m.b + m.c + m.d, 3))
    m.link = pyo.Constraint(expr=m.e - m.a - m.d == 0)
    m.obj = pyo.Objective(expr=8 * m.a + 11 * m.b + 6 * m.c + 4 * m.d + 2.5,
                          sense=pyo.maximize)
    form = compile_model(m)
    form.model = m  # keep the Pyomo model alive for the checks that need its variables
    return form


def tiny_points(form: StandardForm):
    """Every integer point of :func:`tiny_form` (e is determined by the equality row)."""
    m = form.model
    for a, b, c, d in itertools.product((0, 1), repeat=4):
        yield form.vector(ComponentMap([(m.a, a), (m.b, b), (m.c, c), (m.d, d),
                                        (m.e, a + d)]))


def feasible(form: StandardForm, x: np.ndarray, tol: float = 1e-6) -> bool:
    """x satisfies rows, column bounds and integrality of ``form``."""
    ax = form.A @ x
    return bool(np.all(ax >= form.row_lower - tol) and np.all(ax <= form.row_upper + tol)
                and np.all(x >= form.col_lower - tol) and np.all(x <= form.col_upper + tol)
                and np.all(np.abs(x[form.integrality] - np.round(x[form.integrality])) <= tol))


def brute_force(form: StandardForm, c: np.ndarray, c0: float, maximize: bool,
                lower=None, upper=None) -> float | None:
    """Optimum of ``c @ x + c0`` over :func:`tiny_points` (None if infeasible)."""
    best = None
    for x in tiny_points(form):
        if lower is not None and (np.any(x < lower - 1e-9) or np.any(x > upper + 1e-9)):
            continue
        if not feasible(form, x):
            continue
        v = float(c @ x + c0)
        if best is None or (v > best if maximize else v < best):
            best = v
    return best


def infeasible_form() -> StandardForm:
    """Two binaries that must sum to at least 3."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1], domain=pyo.Binary)
    m.c = pyo.Constraint(expr=m.x[0] + m.x[1] >= 3)
    m.o = pyo.Objective(expr=m.x[0] + 2 * m.x[1])
    return compile_model(m)


def lp_form() -> StandardForm:
    """min x + y s.t. x + 2y >= 2, 3x + y >= 3, x, y >= 0: optimum 1.4 at (0.8, 0.6)."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, None))
    m.y = pyo.Var(bounds=(0, None))
    m.c1 = pyo.Constraint(expr=m.x + 2 * m.y >= 2)
    m.c2 = pyo.Constraint(expr=3 * m.x + m.y >= 3)
    m.o = pyo.Objective(expr=m.x + m.y)
    return compile_model(m)


def hard_knapsack_data(n: int = 50, m: int = 5, seed: int = 1):
    """Multi-dimensional 0/1 knapsack (capacities half the row sums, profits correlated
    with weights) from a portable LCG, so the data never depend on numpy's streams."""
    state = seed * 2654435761 % 2**32 or 1
    vals = []
    for _ in range(m * n + n):
        state = (1103515245 * state + 12345) % 2**31
        vals.append(state)
    W = np.array([1 + v % 999 for v in vals[: m * n]], float).reshape(m, n)
    p = np.round(W.sum(0) / m) + np.array([1 + v % 99 for v in vals[m * n:]], float)
    cap = np.floor(W.sum(1) / 2)
    return W, p, cap


def hard_form() -> StandardForm:
    """max p @ x s.t. W x <= cap, x binary (50 columns, 5 rows; optimum :data:`HARD_OPT`).
    Takes HiGHS and Gurobi many seconds with one thread: used for time limits/decisions."""
    W, p, cap = hard_knapsack_data()
    n, rows = W.shape[1], W.shape[0]
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(n), domain=pyo.Binary)
    m.w = pyo.Constraint(range(rows),
                         rule=lambda m, i: sum(W[i, j] * m.x[j] for j in range(n)) <= cap[i])
    m.o = pyo.Objective(expr=sum(p[j] * m.x[j] for j in range(n)), sense=pyo.maximize)
    return compile_model(m)


def _oversize_form(n_cols: int) -> StandardForm:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(n_cols), bounds=(0, 1))
    m.c = pyo.Constraint(expr=sum(m.x[j] for j in range(n_cols)) <= 5)
    m.o = pyo.Objective(expr=sum(m.x[j] for j in range(n_cols)), sense=pyo.maximize)
    return compile_model(m)


# ---------------------------------------------------------------------------------- helpers
def _require(cond: bool, message: str) -> None:
    if not cond:
        raise AssertionError(message)


def _close(a, b, what: str, tol: float = TOL) -> None:
    _require(a is not None and abs(a - b) <= tol * max(1.0, abs(b)),
             f"{what}: got {a}, expected {b}")


def _loaded(cls: type[Backend], form, **opts) -> Backend:
    backend = cls(SolveOptions(**opts))
    backend.load(form)
    return backend


def check_consistent(res, form, *, opt: float | None = None) -> None:
    """Soundness contract of one result: x feasible and matching the incumbent; the bound on
    the right side of the incumbent and of the known optimum ``opt``."""
    maximize = res.sense is Sense.MAXIMIZE
    if res.x is not None:
        _require(res.incumbent is not None, "x returned without an incumbent value")
        _require(feasible(form, res.x), "returned x is infeasible")
    if res.incumbent is not None and opt is not None:
        _require((res.incumbent <= opt + TOL) if maximize else (res.incumbent >= opt - TOL),
                 f"incumbent {res.incumbent} better than the optimum {opt}")
    if res.bound is not None:
        _require(bool(np.isfinite(res.bound)), f"bound {res.bound} is not finite")
        if res.incumbent is not None:
            _require((res.bound >= res.incumbent - TOL) if maximize else
                     (res.bound <= res.incumbent + TOL),
                     f"bound {res.bound} on the wrong side of the incumbent {res.incumbent}")
        if opt is not None:
            _require((res.bound >= opt - TOL) if maximize else (res.bound <= opt + TOL),
                     f"bound {res.bound} is not a dual bound: the optimum is {opt}")


# ---------------------------------------------------------------------------------- checks
def _declares_features(cls):
    _require(bool(cls.name), "the class has no registered name")
    _require(cls.available(), "available() is False")
    _require(isinstance(cls.features, frozenset)
             and all(isinstance(f, Feature) for f in cls.features),
             "features must be a frozenset of Feature")
    _require(bool(cls.version()), "version() is empty")


def _optimum_both_senses(cls):
    tiny = tiny_form()
    res = _loaded(cls, tiny).solve()
    _require(res.termination is Termination.OPTIMAL, f"status {res.termination}")
    _require(res.sense is Sense.MAXIMIZE, "sense of the loaded form not kept")
    _close(res.incumbent, 23.5, "max incumbent")
    _close(res.bound, 23.5, "max bound")
    _require(res.solver_name == cls.name and res.runtime >= 0, "solver_name/runtime wrong")
    check_consistent(res, tiny, opt=23.5)
    backend = _loaded(cls, tiny)
    backend.set_objective(-tiny.c, -tiny.c0, Sense.MINIMIZE)
    res = backend.solve()
    _require(res.termination is Termination.OPTIMAL and res.sense is Sense.MINIMIZE,
             f"min: status {res.termination}, sense {res.sense}")
    _close(res.incumbent, -23.5, "min incumbent")
    _close(res.bound, -23.5, "min bound")


def _objective_swap(cls):
    tiny = tiny_form()
    backend = _loaded(cls, tiny)
    backend.solve()
    rng = np.random.default_rng(3)
    for maximize in (True, False):
        sense = Sense.MAXIMIZE if maximize else Sense.MINIMIZE
        for _ in range(3):
            c, c0 = rng.integers(-9, 10, tiny.n_cols).astype(float), float(rng.integers(-5, 5))
            backend.set_objective(c, c0, sense)
            res = backend.solve()
            opt = brute_force(tiny, c, c0, maximize=maximize)
            _require(res.termination is Termination.OPTIMAL, f"status {res.termination}")
            _close(res.incumbent, opt, f"incumbent after swap ({sense.value})")
            _close(res.bound, opt, f"bound after swap ({sense.value})")
            check_consistent(res, tiny, opt=opt)
    backend.set_objective(tiny.c, tiny.c0, Sense.MAXIMIZE)
    _close(backend.solve().incumbent, 23.5, "incumbent after swapping back")


def _column_bounds(cls):
    if cls.set_column_bounds is Backend.set_column_bounds:
        raise SkipCheck("set_column_bounds not implemented (optional)")
    tiny = tiny_form()
    backend = _loaded(cls, tiny)
    lower, upper = tiny.col_lower.copy(), tiny.col_upper.copy()
    upper[tiny.column_of(tiny.model.b)] = 0.0
    backend.set_column_bounds(lower, upper)
    res = backend.solve()
    opt = brute_force(tiny, tiny.c, tiny.c0, maximize=True, lower=lower, upper=upper)
    _close(res.incumbent, opt, "incumbent with b fixed to 0")
    _require(abs(res.x[tiny.column_of(tiny.model.b)]) <= TOL, "column bound not honoured")


def _pure_lp(cls):
    res = _loaded(cls, lp_form()).solve()
    _require(res.termination is Termination.OPTIMAL, f"status {res.termination}")
    _close(res.incumbent, 1.4, "LP optimum")
    _close(res.bound, 1.4, "LP bound")
    _require(np.allclose(res.x, [0.8, 0.6], atol=1e-6), f"LP solution {res.x}")


def _warm_start(cls):
    tiny = tiny_form()
    backend = _loaded(cls, tiny)
    x_opt = backend.solve().x
    _close(backend.solve(warm_start=x_opt).incumbent, 23.5, "full warm start")
    partial = x_opt.copy()
    partial[::2] = np.nan
    _close(backend.solve(warm_start=partial).incumbent, 23.5, "partial warm start")
    worse = np.zeros(tiny.n_cols)
    worse[tiny.column_of(tiny.model.a)] = 1.0
    worse[tiny.column_of(tiny.model.e)] = 1.0
    _close(backend.solve(warm_start=worse).incumbent, 23.5, "worse warm start")
    try:
        backend.solve(warm_start=np.zeros(tiny.n_cols + 1))
    except InvalidParameterError as e:
        _require("warm_start" in str(e), f"the error does not name warm_start: {e}")
    else:
        raise AssertionError("a warm start of the wrong shape was accepted")


def _infeasible(cls):
    res = _loaded(cls, infeasible_form()).solve()
    _require(res.termination is Termination.INFEASIBLE, f"status {res.termination}")
    _require(res.incumbent is None and res.x is None and res.bound is None,
             "an infeasible result carries a solution or bound")


def _time_limit(cls):
    """A time-out is returned non-optimal; any bound is proven (never the incumbent)."""
    hard = hard_form()
    limit = 0.5
    backend = _loaded(cls, hard, time_limit=limit)
    for sense in (Sense.MAXIMIZE, Sense.MINIMIZE):
        sign = 1.0 if sense is Sense.MAXIMIZE else -1.0
        backend.set_objective(sign * hard.c, 0.0, sense)
        t0 = time.perf_counter()
        res = backend.solve()
        wall = time.perf_counter() - t0
        _require(res.termination in (Termination.TIME_LIMIT, Termination.OTHER_LIMIT),
                 f"status {res.termination} after a {limit} s limit")
        _require(wall < limit + 2.0, f"ran {wall:.2f} s under a {limit} s limit")
        if Feature.DUAL_BOUND in cls.features:
            _require(res.bound is not None, "DUAL_BOUND declared but no bound after time-out")
        check_consistent(res, hard, opt=sign * HARD_OPT)


def _decision(cls):
    hard = hard_form()
    stops = Feature.DECISION_STOP in cls.features
    backend = _loaded(cls, hard, time_limit=20 if stops else 2)
    for maximize in (True, False):
        sign = 1.0 if maximize else -1.0
        backend.set_objective(sign * hard.c, 0.0, Sense.MAXIMIZE if maximize else Sense.MINIMIZE)
        for offset, below in ((-300.0, True), (300.0, False)):
            threshold = sign * (HARD_OPT + offset)
            res = backend.solve(decision=DecisionTarget(threshold))
            check_consistent(res, hard, opt=sign * HARD_OPT)
            got = res.decided_below(threshold)
            if stops:
                _require(res.termination in (Termination.DECIDED, Termination.OPTIMAL),
                         f"status {res.termination} with DECISION_STOP declared")
                _require(got is below, f"decided {got}, expected {below}")
            else:
                _require(got in (None, below), f"decided {got}, expected {below} (or none)")


def _decision_easy(cls):
    tiny = tiny_form()
    backend = _loaded(cls, tiny)
    for threshold, below in ((23.5, True), (23.0, True), (24.0, False)):
        res = backend.solve(decision=DecisionTarget(threshold))
        _require(res.termination in (Termination.DECIDED, Termination.OPTIMAL),
                 f"status {res.termination}")
        _require(res.decided_below(threshold) is below, f"threshold {threshold} undecided")
        check_consistent(res, tiny, opt=23.5)


def _unknown_option(cls):
    if not getattr(cls, "validates_native_options", True):
        raise SkipCheck("the backend declares validates_native_options = False")
    backend = _loaded(cls, tiny_form())
    try:
        backend.solve(options=SolveOptions(native={"no_such_option_xyz": 1}))
    except InvalidParameterError as e:
        _require("no_such_option_xyz" in str(e), f"the error does not name the option: {e}")
    else:
        raise AssertionError("an unknown native option was accepted silently")
    _close(backend.solve().incumbent, 23.5, "solve after a refused option")


def _before_load(cls):
    try:
        cls().solve()
    except InvalidParameterError as e:
        _require("load" in str(e), f"the error does not mention load: {e}")
    else:
        raise AssertionError("solve() before load() did not raise")


def _write_mps(cls, tmp_dir=None):
    if Feature.WRITE_MPS not in cls.features:
        raise SkipCheck("WRITE_MPS not declared")
    import tempfile
    from pathlib import Path

    import highspy

    from certmodel.backends._quiet import quiet_stdout

    backend = _loaded(cls, tiny_form())
    with tempfile.TemporaryDirectory() as d:
        path = backend.write(Path(d) / "tiny.mps")
        _require(Path(path).exists(), "no MPS file written")
        _require(backend.write(Path(d) / "tiny.lp").exists(), "no LP file written")
        try:
            backend.write(Path(d) / "tiny.txt")
        except InvalidParameterError:
            pass
        else:
            raise AssertionError("a .txt suffix was accepted")
        with quiet_stdout():
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            h.readModel(str(path))
            h.run()
        _require(h.getModelStatus() == highspy.HighsModelStatus.kOptimal,
                 "HiGHS cannot solve the written MPS")
        _close(h.getInfo().objective_function_value, 23.5, "optimum of the written MPS")


def _independent_solves(cls):
    hard = hard_form()
    stops = Feature.DECISION_STOP in cls.features
    backend = _loaded(cls, hard, time_limit=20 if stops else 2)
    first = backend.solve(decision=DecisionTarget(HARD_OPT - 300))
    second = backend.solve(decision=DecisionTarget(HARD_OPT + 300))
    if stops:
        _require(first.decided_below(HARD_OPT - 300) is True, "first solve undecided")
        _require(second.decided_below(HARD_OPT + 300) is False, "second solve undecided")
    check_consistent(second, hard, opt=HARD_OPT)
    tiny = _loaded(cls, tiny_form())
    _close(tiny.solve().incumbent, 23.5, "a second model in the same process")


def _licence_refusal(cls):
    cap = cls.max_size
    if cap is None:
        raise SkipCheck("no size cap declared (max_size is None)")
    form = _oversize_form(cap[0] + 100)
    t0 = time.perf_counter()
    res = _loaded(cls, form).solve()
    _require(time.perf_counter() - t0 < 10, "licence refusal took more than 10 s")
    if res.termination is Termination.OPTIMAL:  # an unrestricted licence is installed
        _close(res.incumbent, 5.0, "optimum of the over-size model")
        return
    _require(res.termination is Termination.LICENSE, f"status {res.termination}")
    _require(res.incumbent is None and res.bound is None and res.x is None,
             "a licence refusal carries a solution or bound")
    _require(str(cap[0] + 100) in res.log, "the log does not state the model size")


CHECKS: dict[str, Callable[[type[Backend]], None]] = {
    "declares_features": _declares_features,
    "optimum_both_senses": _optimum_both_senses,
    "objective_swap": _objective_swap,
    "column_bounds": _column_bounds,
    "pure_lp": _pure_lp,
    "warm_start": _warm_start,
    "infeasible": _infeasible,
    "time_limit_returns_non_optimal_with_proven_bound": _time_limit,
    "decision_mode": _decision,
    "decision_mode_easy_model": _decision_easy,
    "unknown_option_refused": _unknown_option,
    "solve_before_load_refused": _before_load,
    "write_mps_read_back": _write_mps,
    "repeated_solves_independent": _independent_solves,
    "licence_refusal_returned": _licence_refusal,
}
"""Name -> check function (each takes the backend class and raises AssertionError)."""


def _as_class(backend: type[Backend] | str) -> type[Backend]:
    return backend_class(backend) if isinstance(backend, str) else backend


def run_check(backend: type[Backend] | str, check: str) -> None:
    """Run one check; a check that does not apply calls ``pytest.skip`` (or raises
    :class:`SkipCheck` without pytest)."""
    cls = _as_class(backend)
    try:
        CHECKS[check](cls)
    except SkipCheck as e:
        try:
            import pytest
        except ImportError:
            raise
        pytest.skip(f"{cls.name}: {e}")


def check_backend(backend: type[Backend] | str, checks: Iterable[str] | None = None
                  ) -> dict[str, str]:
    """Run the conformance checks on a backend class (or registered name).

    Returns ``{check: "passed" | "skipped: why"}``; raises :class:`ConformanceError` naming
    every failed check and its message.
    """
    cls = _as_class(backend)
    report, failures = {}, []
    for name in checks or CHECKS:
        try:
            CHECKS[name](cls)
        except SkipCheck as e:
            report[name] = f"skipped: {e}"
        except AssertionError as e:
            report[name] = f"FAILED: {e}"
            failures.append(f"{name}: {e}")
        else:
            report[name] = "passed"
    if failures:
        raise ConformanceError(f"backend {cls.name!r} fails {len(failures)} conformance "
                               "check(s):\n  " + "\n  ".join(failures))
    return report


# ---------------------------------------------------------------------------------- deadlines
class BlockingBackend(Backend):
    """A backend whose ``solve`` blocks for ``block_seconds`` (default: an hour) whatever its
    time limit, like a solver stuck in presolve.  For testing hard deadlines
    (:class:`certmodel.backends.isolated.IsolatedBackend`); loads and swaps like any other.
    """

    name = "blocking"
    features = frozenset({Feature.OBJECTIVE_SWAP})
    block_seconds = 3600.0

    @classmethod
    def available(cls) -> bool:
        return True

    @classmethod
    def version(cls) -> str:
        return "0"

    def load(self, form: StandardForm) -> None:
        self.check_form(form)
        self.form = form

    def set_objective(self, c, c0, sense) -> None:
        self._require_loaded()

    def solve(self, *, warm_start=None, decision=None, options=None):
        self._require_loaded()
        time.sleep(self.block_seconds)  # ignores options.time_limit on purpose
        raise AssertionError("BlockingBackend.solve returned")
