"""Any Pyomo solver as a backend: ``pyomo:<name>`` (``pyomo:cbc``, ``pyomo:glpk``,
``pyomo:appsi_highs``, ``pyomo:scip_direct``, ``pyomo:gurobi_direct``, ``pyomo:cplex`` ...).

The :class:`StandardForm` is rebuilt once as a plain Pyomo model (``x[j]`` per column, one
ranged constraint per row) and solved through ``pyomo.environ.SolverFactory(name)``, the
legacy interface every Pyomo solver plug-in (shell, direct, persistent, appsi, contrib v2)
answers.  Objective swaps replace the Pyomo objective only.

Soundness (the backend contract, whatever the plug-in reports):

* A **dual bound** is read from ``results.problem`` only for the interfaces listed in
  :data:`TRUSTED_BOUNDS` (direct/persistent/appsi/v2 interfaces that fill it from the solver's
  own best bound; checked by the conformance suite).  Shell plug-ins are not trusted: CBC's
  shell plug-in was seen reporting the bound of a maximisation with the wrong sign, GLPK's
  reports none on a time-out.
* Otherwise only an ``optimal`` termination proves a bound, and only when the relative and
  absolute gaps could be set to 0 through :data:`OPTION_NAMES` (then bound = incumbent);
  anything else gives ``bound=None`` (a verdict that needs it stays ``unknown``).
* The incumbent is recomputed as ``c @ x + c0`` from the loaded solution.

No Pyomo interface offers a decision stop: with a :class:`DecisionTarget` the solve runs to
optimality (or its limit) and a ``RuntimeWarning`` says so once per solver.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from certmodel.backends._quiet import quiet_stdout
from certmodel.backends.base import (
    Backend,
    DecisionTarget,
    Feature,
    SolveOptions,
    SolveResult,
    Termination,
)
from certmodel.exceptions import InvalidParameterError, SolverError
from certmodel.standard_form import Sense, StandardForm

__all__ = ["PyomoBackend", "pyomo_backend", "KNOWN_SOLVERS", "TRUSTED_BOUNDS", "OPTION_NAMES"]

PREFIX = "pyomo:"

# Pyomo solver name -> option family (the native option names it understands).
_FAMILY: dict[str, str] = {
    "appsi_highs": "highs", "highs": "highs",
    "scip_direct": "scip", "scip_persistent": "scip",
    "gurobi_direct": "gurobi", "gurobi_persistent": "gurobi", "gurobi": "gurobi",
    "gurobi_direct_v2": "gurobi", "gurobi_persistent_v2": "gurobi", "appsi_gurobi": "gurobi",
    "cbc": "cbc", "appsi_cbc": "cbc",
    "glpk": "glpk",
    "cplex": "cplex", "cplex_direct": "cplex", "cplex_persistent": "cplex",
    "appsi_cplex": "cplex",
    "xpress": "xpress", "xpress_direct": "xpress", "xpress_persistent": "xpress",
}
KNOWN_SOLVERS: tuple[str, ...] = tuple(_FAMILY)
"""The names ``certmodel solvers`` probes (any other Pyomo name works too)."""

# SolveOptions field -> native option name, per family (None: the solver has no such option).
OPTION_NAMES: dict[str, dict[str, str | None]] = {
    "highs": {"time_limit": "time_limit", "rel_gap": "mip_rel_gap", "abs_gap": "mip_abs_gap",
              "threads": "threads", "feasibility_tol": "primal_feasibility_tolerance",
              "int_feas_tol": "mip_feasibility_tolerance"},
    "scip": {"time_limit": "limits/time", "rel_gap": "limits/gap", "abs_gap": "limits/absgap",
             "threads": None, "feasibility_tol": "numerics/feastol",
             "int_feas_tol": "numerics/feastol"},  # SCIP: one tolerance for both
    "gurobi": {"time_limit": "TimeLimit", "rel_gap": "MIPGap", "abs_gap": "MIPGapAbs",
               "threads": "Threads", "feasibility_tol": "FeasibilityTol",
               "int_feas_tol": "IntFeasTol"},
    "cbc": {"time_limit": "seconds", "rel_gap": "ratioGap", "abs_gap": "allowableGap",
            "threads": "threads", "feasibility_tol": "primalTolerance",
            "int_feas_tol": "integerTolerance"},
    "glpk": {"time_limit": "tmlim", "rel_gap": "mipgap", "abs_gap": None, "threads": None,
             "feasibility_tol": None, "int_feas_tol": None},
    "cplex": {"time_limit": "timelimit", "rel_gap": "mip_tolerances_mipgap",
              "abs_gap": "mip_tolerances_absmipgap", "threads": "threads",
              "feasibility_tol": "simplex_tolerances_feasibility",
              "int_feas_tol": "mip_tolerances_integrality"},
    "xpress": {"time_limit": "maxtime", "rel_gap": "miprelstop", "abs_gap": "mipabsstop",
               "threads": "threads", "feasibility_tol": "feastol",
               "int_feas_tol": "miptol"},
}

TRUSTED_BOUNDS: frozenset[str] = frozenset({
    "appsi_highs", "highs", "scip_direct", "scip_persistent",
    "gurobi_direct", "gurobi_persistent", "gurobi_direct_v2", "gurobi_persistent_v2",
    "appsi_gurobi", "cplex_direct", "cplex_persistent", "appsi_cplex",
    "xpress_direct", "xpress_persistent",
})
"""Interfaces whose ``results.problem`` bounds come from the solver's proven dual bound."""

# Pyomo TerminationCondition name -> Termination.
_TC_MAP: dict[str, Termination] = {
    "optimal": Termination.OPTIMAL, "globallyOptimal": Termination.OPTIMAL,
    "infeasible": Termination.INFEASIBLE,
    "unbounded": Termination.UNBOUNDED, "infeasibleOrUnbounded": Termination.UNBOUNDED,
    "maxTimeLimit": Termination.TIME_LIMIT,
    "maxIterations": Termination.OTHER_LIMIT, "maxEvaluations": Termination.OTHER_LIMIT,
    "minFunctionValue": Termination.OTHER_LIMIT, "minStepLength": Termination.OTHER_LIMIT,
    "userInterrupt": Termination.OTHER_LIMIT, "resourceInterrupt": Termination.OTHER_LIMIT,
    "licensingProblems": Termination.LICENSE,
    "error": Termination.ERROR, "solverFailure": Termination.ERROR,
    "internalSolverError": Termination.ERROR, "invalidProblem": Termination.ERROR,
}

_WARNED: set[str] = set()
_DEFAULTS = SolveOptions()


@contextlib.contextmanager
def _pyomo_log_quiet():
    import logging

    logger = logging.getLogger("pyomo")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _solver_factory(solver: str):
    import pyomo.environ as pyo

    with _pyomo_log_quiet():  # e.g. Gurobi's "release_license() with -2 clients" warnings
        return pyo.SolverFactory(solver)


def _solver_available(solver: str) -> bool:
    # The probe object is dropped inside the quiet block: some interfaces (gurobi_direct)
    # log a licence warning from their finaliser.
    with _pyomo_log_quiet():
        try:
            s = _solver_factory(solver)
            ok = bool(s is not None and s.available(exception_flag=False))
            del s
            return ok
        except Exception:  # noqa: BLE001 - a broken plug-in is simply not available
            return False


class PyomoBackend(Backend):
    """Base of the ``pyomo:<name>`` backends (one subclass per Pyomo solver name, made by
    :func:`pyomo_backend`)."""

    solver: ClassVar[str] = ""
    family: ClassVar[str | None] = None
    validates_native_options: ClassVar[bool] = True
    """False where a misspelt native option is silently ignored by the solver (CBC, unknown
    plug-ins): such options are then passed with a one-time warning."""

    def __init__(self, options: SolveOptions | None = None):
        super().__init__(options)
        self._m = None
        self._opt = None
        self._c = np.zeros(0)
        self._c0 = 0.0
        self._sense = Sense.MINIMIZE
        self._trivially_infeasible = False

    # ------------------------------------------------------------------ protocol
    @classmethod
    def available(cls) -> bool:
        return _solver_available(cls.solver)

    @classmethod
    def version(cls) -> str:
        with _pyomo_log_quiet():
            try:
                v = _solver_factory(cls.solver).version()
            except Exception:  # noqa: BLE001
                return "unknown"
        if isinstance(v, tuple):
            v = ".".join(str(p) for p in v)
        return f"{v} (Pyomo {_pyomo_version()})"

    def load(self, form: StandardForm) -> None:
        """Build a plain Pyomo model from the arrays of ``form`` (once)."""
        import pyomo.environ as pyo

        self.check_form(form)
        n = form.n_cols
        m = pyo.ConcreteModel(name="certmodel_standard_form")
        integ = np.asarray(form.integrality, bool)
        lo = np.asarray(form.col_lower, float)
        up = np.asarray(form.col_upper, float)
        m.J = pyo.RangeSet(0, n - 1) if n else pyo.Set(initialize=[])
        m.x = pyo.Var(m.J, domain=lambda _, j: pyo.Integers if integ[j] else pyo.Reals,
                      bounds=lambda _, j: (lo[j] if math.isfinite(lo[j]) else None,
                                           up[j] if math.isfinite(up[j]) else None))
        A = form.A.tocsr()
        rlo = np.asarray(form.row_lower, float)
        rup = np.asarray(form.row_upper, float)
        m.rows = pyo.ConstraintList()
        self._trivially_infeasible = False
        for i in range(form.n_rows):
            sl = slice(A.indptr[i], A.indptr[i + 1])
            cols, vals = A.indices[sl], A.data[sl]
            if cols.size == 0:  # an empty row holds iff its range contains 0
                self._trivially_infeasible |= not (rlo[i] <= 0 <= rup[i])
                continue
            expr = pyo.quicksum(float(v) * m.x[int(j)] for j, v in zip(cols, vals))
            lower = float(rlo[i]) if math.isfinite(rlo[i]) else None
            upper = float(rup[i]) if math.isfinite(rup[i]) else None
            if lower is not None and lower == upper:
                m.rows.add(expr == lower)
            else:
                m.rows.add((lower, expr, upper))
        m.obj = pyo.Objective(expr=0.0)
        self._m, self.form = m, form
        self._opt = _solver_factory(self.solver)
        self._set_native_objective(np.asarray(form.c, float), float(form.c0), form.sense)

    def set_objective(self, c: np.ndarray, c0: float, sense: Sense) -> None:
        """Replace the Pyomo objective (the constraints stay as built)."""
        c = self._checked_objective(c, c0)
        self._set_native_objective(c, float(c0), Sense(sense))

    def set_column_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Replace every column's bounds (arrays of shape ``(n_cols,)``)."""
        form = self._require_loaded()
        lower, upper = self._checked_bounds(lower, upper)
        for j in range(form.n_cols):
            self._m.x[j].setlb(float(lower[j]) if math.isfinite(lower[j]) else None)
            self._m.x[j].setub(float(upper[j]) if math.isfinite(upper[j]) else None)

    def write(self, path: str | Path) -> Path:
        """Write the Pyomo model (``.mps`` or ``.lp``, Pyomo's own writers)."""
        self._require_loaded()
        path = Path(path)
        fmt = {".mps": "mps", ".lp": "lp"}.get(path.suffix.lower())
        if fmt is None:
            raise InvalidParameterError(f"cannot write {path.name!r}: use a .mps or .lp suffix")
        try:
            self._m.write(str(path), format=fmt)
        except Exception as e:  # noqa: BLE001
            raise SolverError(f"Pyomo could not write {path}: {e}") from e
        return path

    def solve(self, *, warm_start: np.ndarray | None = None,
              decision: DecisionTarget | None = None,
              options: SolveOptions | None = None) -> SolveResult:
        """Solve through Pyomo (see the module docstring for what proves a bound)."""
        form = self._require_loaded()
        opts = options or self.options
        native, exact_gap = self._native_options(opts)
        if decision is not None:
            _warn_once(f"decision:{self.solver}",
                       f"backend {self.name!r} has no decision stop: each MILP is solved to "
                       "optimality (or its time limit) instead of stopping once decided")
        if self._trivially_infeasible:
            return self._make(Termination.INFEASIBLE, None, None, 0.0, {})
        kw: dict[str, Any] = {"load_solutions": False, "tee": bool(opts.verbose),
                              "options": native}
        if opts.time_limit is not None and (self.family is None or
                                            OPTION_NAMES[self.family]["time_limit"] is None):
            kw["timelimit"] = opts.time_limit  # unknown family: Pyomo's own keyword
        m = self._m
        for v in m.x.values():
            v.value = None
        if warm_start is not None:
            x0 = np.asarray(warm_start, dtype=float)
            if x0.shape != (form.n_cols,):
                raise InvalidParameterError(
                    f"warm_start has shape {x0.shape}, expected ({form.n_cols},)")
            if Feature.MIP_START in self.features:
                for j in np.flatnonzero(np.isfinite(x0)):
                    m.x[int(j)].value = float(x0[j])
                kw["warmstart"] = True
        t0 = time.perf_counter()
        try:
            with quiet_stdout(echo_to_stderr=opts.verbose) as out:
                results = self._opt.solve(m, **kw)
        except Exception as e:  # noqa: BLE001 - a failed solve is returned, never raised
            runtime = time.perf_counter() - t0
            self._opt = _solver_factory(self.solver)  # a fresh interface for the next solve
            text = f"{type(e).__name__}: {e}"
            if getattr(e, "errno", None) == 10010 or "size-limited" in text:
                return self._make(Termination.LICENSE, None, None, runtime,
                                  {"message": text, "errno": getattr(e, "errno", None)},
                                  log=text)
            if opts.native:
                raise InvalidParameterError(
                    f"{self.name}: the solve failed with native options "
                    f"{sorted(opts.native)} ({', '.join(map(repr, opts.native))}): {text}") \
                    from e
            return self._make(Termination.ERROR, None, None, runtime, {"message": text},
                              log=text)
        runtime = time.perf_counter() - t0
        return self._result(results, runtime, exact_gap, out.text, opts.time_limit)

    # ------------------------------------------------------------------ helpers
    def _set_native_objective(self, c: np.ndarray, c0: float, sense: Sense) -> None:
        import pyomo.environ as pyo

        m = self._m
        nz = np.flatnonzero(c)
        expr = pyo.quicksum(float(c[j]) * m.x[int(j)] for j in nz) + c0
        m.obj.set_value(expr)
        m.obj.sense = pyo.maximize if sense is Sense.MAXIMIZE else pyo.minimize
        self._c, self._c0, self._sense = c.copy(), c0, sense

    def _native_options(self, opts: SolveOptions) -> tuple[dict, bool]:
        """Native options from the name table; ``exact_gap``: both gaps set to 0 natively."""
        out: dict[str, Any] = {}
        table = OPTION_NAMES.get(self.family or "", {})
        trusted = self.solver in TRUSTED_BOUNDS
        for field in ("time_limit", "rel_gap", "abs_gap", "threads", "feasibility_tol",
                      "int_feas_tol"):
            value = getattr(opts, field)
            if value is None:
                continue
            if field in ("rel_gap", "abs_gap") and not trusted:
                value = 0.0  # an optimal status proves the bound only at gap 0
            name = table.get(field)
            if name is None:
                if field == "time_limit" or value == getattr(_DEFAULTS, field) or (
                        field in ("rel_gap", "abs_gap") and value == 0.0):
                    continue  # time limit: Pyomo keyword; defaults: the solver's are as tight
                if field in table or not table:
                    _warn_once(f"{field}:{self.solver}",
                               f"backend {self.name!r}: no native option for {field}; "
                               "the solver's default is used")
                continue
            if field == "threads":
                value = int(value)
            elif field == "time_limit" and self.family == "glpk":
                value = max(1, int(math.ceil(value)))  # glpsol --tmlim takes whole seconds
            out[name] = min(out[name], value) if field.endswith("_tol") and name in out \
                else value
        gap_names = (table.get("rel_gap"), table.get("abs_gap"))
        exact_gap = not trusted and table.get("rel_gap") is not None and (
            table.get("abs_gap") is not None or self.family == "glpk")
        self._check_native(opts.native)
        if self.family == "scip":  # the same SCIP defaults as the built-in backend
            from certmodel.backends.scip import DEFAULT_NATIVE

            out.update(DEFAULT_NATIVE)
        out.update(opts.native)
        for name in gap_names:
            if name is not None and name in opts.native and opts.native[name] != 0:
                exact_gap = False  # the user re-opened the gap natively
        return out, exact_gap

    def _check_native(self, native) -> None:
        """Refuse native option names the solver does not know (where that can be checked)."""
        if not native:
            return
        if self.family == "highs":
            import highspy

            with quiet_stdout():
                h = highspy.Highs()
                unknown = [n for n in native
                           if h.getOptionType(str(n))[0] != highspy.HighsStatus.kOk]
            if unknown:
                raise InvalidParameterError(
                    f"{self.name}: unknown HiGHS option(s) {', '.join(map(repr, unknown))}; "
                    "see https://ergo-code.github.io/HiGHS/stable/options/definitions/")
        elif not self.validates_native_options:
            _warn_once(f"native:{self.solver}",
                       f"backend {self.name!r} cannot check native option names; a misspelt "
                       f"option is ignored by the solver: {sorted(native)}")

    def _result(self, results, runtime: float, exact_gap: bool, log: str,
                time_limit: float | None) -> SolveResult:
        tc = str(getattr(results.solver, "termination_condition", "unknown"))
        extra: dict[str, Any] = {"native_status": tc,
                                 "native_solver_status": str(results.solver.status)}
        termination = _TC_MAP.get(tc, Termination.UNKNOWN)
        if tc == "feasible":  # stopped with a solution before optimality (GLPK's time-out)
            termination = Termination.TIME_LIMIT if time_limit is not None and \
                runtime >= 0.9 * time_limit else Termination.OTHER_LIMIT
        x = inc = None
        if termination not in (Termination.INFEASIBLE, Termination.ERROR) and \
                len(getattr(results, "solution", ())) > 0:
            try:
                with _pyomo_log_quiet():  # "loading a non-optimal solution" warnings
                    self._m.solutions.load_from(results)
                vals = np.array([v.value for v in self._m.x.values()], dtype=float)
            except Exception as e:  # noqa: BLE001 - an unreadable solution is no solution
                extra["load_error"] = str(e)
                vals = None
            if vals is not None and vals.shape == (self.form.n_cols,) and \
                    np.all(np.isfinite(vals)):
                x = vals
                inc = float(self._c @ x + self._c0)
        bound = None
        if termination not in (Termination.INFEASIBLE, Termination.UNBOUNDED,
                               Termination.ERROR, Termination.LICENSE):
            if self.solver in TRUSTED_BOUNDS:
                p = results.problem
                raw = p.lower_bound if self._sense is Sense.MINIMIZE else p.upper_bound
                bound = _finite(raw)
            elif termination is Termination.OPTIMAL and exact_gap and inc is not None:
                bound = inc
            if bound is not None and inc is not None:
                wrong = bound > inc + 1e-6 * max(1.0, abs(inc)) if self._sense is \
                    Sense.MINIMIZE else bound < inc - 1e-6 * max(1.0, abs(inc))
                if wrong:  # a "bound" beyond the incumbent is not a dual bound: drop it
                    extra["dropped_bound"] = bound
                    bound = None
                elif termination is Termination.OPTIMAL:
                    bound = min(bound, inc) if self._sense is Sense.MINIMIZE else \
                        max(bound, inc)
        if not self.form.n_integer and termination is Termination.OPTIMAL and inc is not None:
            bound = inc if bound is None else bound  # an LP solved to optimality
        return self._make(termination, inc, bound, runtime, extra, x=x, log=log)

    def _make(self, termination, inc, bound, runtime, extra, *, x=None, log="") -> SolveResult:
        return SolveResult(termination=termination, incumbent=inc, bound=bound, x=x,
                           sense=self._sense, runtime=runtime, solver_name=self.name,
                           solver_version=self.version(), log=log, extra=extra)


def _finite(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and abs(v) < 1e30 else None


def _pyomo_version() -> str:
    import pyomo.version

    return pyomo.version.version


def _licence_limit(cls) -> tuple[int, int] | None:
    if cls.family != "gurobi":
        return None
    from certmodel.backends.gurobi import GurobiBackend

    return GurobiBackend.licence_limit()


def _features(solver: str) -> frozenset[Feature]:
    feats = {Feature.OBJECTIVE_SWAP, Feature.WRITE_MPS}
    if solver in TRUSTED_BOUNDS:
        feats.add(Feature.DUAL_BOUND)
    try:
        if _solver_factory(solver).warm_start_capable():
            feats.add(Feature.MIP_START)
    except Exception:  # noqa: BLE001
        pass
    return frozenset(feats)


_CLASSES: dict[str, type[PyomoBackend]] = {}


def pyomo_backend(name: str) -> type[PyomoBackend]:
    """The backend class of ``pyomo:<solver>`` (made once per solver name)."""
    if not name.startswith(PREFIX) or not name[len(PREFIX):]:
        raise InvalidParameterError(
            f"{name!r} is not a Pyomo backend name; expected 'pyomo:<solver>', e.g. "
            f"pyomo:cbc, pyomo:glpk, pyomo:appsi_highs")
    if name not in _CLASSES:
        solver = name[len(PREFIX):]
        cls = type(f"Pyomo_{solver}_Backend", (PyomoBackend,), {
            "name": name, "solver": solver, "family": _FAMILY.get(solver),
            "features": _features(solver), "__doc__": f"Pyomo solver {solver!r}.",
            "licence_limit": classmethod(_licence_limit),
            "validates_native_options": _FAMILY.get(solver) in ("highs", "scip", "gurobi",
                                                                "glpk", "cplex", "xpress"),
        })
        _CLASSES[name] = cls
    return _CLASSES[name]
