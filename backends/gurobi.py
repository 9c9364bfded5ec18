"""Gurobi backend through gurobipy's matrix API (optional: ``pip install 'certmodel[gurobi]'``).

``gurobipy`` is imported inside the methods only; :meth:`GurobiBackend.available` looks for
the module without importing it and never takes a licence.  The model is built once with
``addMVar`` and sparse ``A @ x`` rows (a ranged row becomes two one-sided rows); objectives
and column bounds then change through the ``Obj``/``ObjCon``/``ModelSense``/``LB``/``UB``
attributes.

Decision mode uses Gurobi's termination parameters.  For a minimisation Gurobi stops when
the incumbent is ``<= BestObjStop`` and when the bound is ``>= BestBdStop`` (mirrored for a
maximisation, checked empirically with gurobipy 13).  "Above" must be *strict*
(``bound > threshold``), so ``BestBdStop`` is set just beyond the threshold,
``threshold + 1e-9 * max(1, |threshold|)`` (minus for a maximisation): a bound that only
reaches the threshold does not stop the search.  Gurobi compares with a tiny tolerance of
its own (``BestBdStop = nextafter(threshold)`` was seen to stop at ``bound == threshold``;
a relative 1e-12 offset was not), so a stop that leaves the threshold undecided resumes
the search with wider margins (1e-7, 1e-5 relative) and finally without a bound stop.
"""

from __future__ import annotations

import importlib.util
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
    register_backend,
)
from certmodel.exceptions import BackendUnavailableError, InvalidParameterError, SolverError
from certmodel.standard_form import Sense, StandardForm

__all__ = ["GurobiBackend"]

# SolveOptions field -> Gurobi parameter name.  ``verbose`` maps to OutputFlag.
_OPTION_NAMES: dict[str, str] = {
    "time_limit": "TimeLimit",
    "threads": "Threads",
    "rel_gap": "MIPGap",
    "abs_gap": "MIPGapAbs",
    "feasibility_tol": "FeasibilityTol",
    "int_feas_tol": "IntFeasTol",
}

# gurobipy GRB.Status code -> Termination (every status of Gurobi 13).
_STATUS_MAP: dict[int, Termination] = {
    1: Termination.ERROR,          # LOADED: optimize() did not run
    2: Termination.OPTIMAL,        # OPTIMAL
    3: Termination.INFEASIBLE,     # INFEASIBLE
    4: Termination.UNBOUNDED,      # INF_OR_UNBD
    5: Termination.UNBOUNDED,      # UNBOUNDED
    6: Termination.OTHER_LIMIT,    # CUTOFF
    7: Termination.OTHER_LIMIT,    # ITERATION_LIMIT
    8: Termination.OTHER_LIMIT,    # NODE_LIMIT
    9: Termination.TIME_LIMIT,     # TIME_LIMIT
    10: Termination.OTHER_LIMIT,   # SOLUTION_LIMIT
    11: Termination.OTHER_LIMIT,   # INTERRUPTED
    12: Termination.ERROR,         # NUMERIC
    13: Termination.OTHER_LIMIT,   # SUBOPTIMAL
    14: Termination.UNKNOWN,       # INPROGRESS
    15: Termination.OTHER_LIMIT,   # USER_OBJ_LIMIT (DECIDED when our decision stop fired)
    16: Termination.OTHER_LIMIT,   # WORK_LIMIT
    17: Termination.OTHER_LIMIT,   # MEM_LIMIT
    18: Termination.UNKNOWN,       # LOCALLY_OPTIMAL (non-convex only)
    19: Termination.UNKNOWN,       # LOCALLY_INFEASIBLE (non-convex only)
}
_USER_OBJ_LIMIT = 15
_SIZE_LIMIT_ERRNO = 10010  # GRB.Error.SIZE_LIMIT_EXCEEDED
_UNDEFINED = 1e101  # GRB.UNDEFINED: "no start value" for a column
_BD_MARGIN = 1e-9  # BestBdStop = threshold +- _BD_MARGIN * max(1, |threshold|)
_RESUME_MARGINS = (1e-7, 1e-5, None)  # wider margins after an undecided stop, then none


def full_licence_configured() -> bool:
    """True when a Gurobi licence other than the pip wheel's size-limited one is set up
    (``GRB_LICENSE_FILE``, a ``gurobi.lic`` in a default place, or WLS / token server
    variables); then no size cap is assumed in advance."""
    import glob
    import os

    if any(os.environ.get(v) for v in ("GRB_LICENSE_FILE", "GRB_WLSACCESSID",
                                        "GRB_TOKENSERVER", "GRB_COMPUTESERVER")):
        return True
    places = [os.path.expanduser("~/gurobi.lic"), "/opt/gurobi/gurobi.lic",
              "/usr/local/gurobi/gurobi.lic", "/Library/gurobi/gurobi.lic",
              r"C:\gurobi\gurobi.lic"]
    places += glob.glob("/opt/gurobi*/gurobi.lic")
    return any(os.path.isfile(p) for p in places)


@register_backend("gurobi")
class GurobiBackend(Backend):
    """Gurobi MILP backend (gurobipy matrix API).

    Parameters
    ----------
    options : SolveOptions, optional
        Default options of every solve (``solve(options=...)`` overrides them per call).

    Notes
    -----
    The pip wheel ships a size-limited licence (:attr:`max_size`: 2000 columns and 2000
    rows, ranged rows counting twice).  Without a configured full licence
    (:func:`full_licence_configured`) the certificate pipeline refuses larger models before
    solving (:func:`certmodel.backends.factory.make_backend`); called directly, the backend
    still tries and returns ``Termination.LICENSE`` if Gurobi refuses.
    """

    features: ClassVar[frozenset[Feature]] = frozenset({
        Feature.MIP_START, Feature.DUAL_BOUND, Feature.DECISION_STOP,
        Feature.OBJECTIVE_SWAP, Feature.WRITE_MPS, Feature.SOS1, Feature.INDICATOR,
    })
    max_size: ClassVar[tuple[int, int] | None] = (2000, 2000)
    _env: ClassVar[Any] = None

    def __init__(self, options: SolveOptions | None = None):
        super().__init__(options)
        self._m = None
        self._x = None
        self._sense = Sense.MINIMIZE

    # ------------------------------------------------------------------ protocol
    @classmethod
    def available(cls) -> bool:
        return importlib.util.find_spec("gurobipy") is not None

    @classmethod
    def version(cls) -> str:
        import gurobipy

        return ".".join(map(str, gurobipy.gurobi.version()))

    @classmethod
    def licence_limit(cls) -> tuple[int, int] | None:
        """The pip licence's cap, unless a licence file or WLS licence is configured."""
        return None if full_licence_configured() else cls.max_size

    @classmethod
    def model_size(cls, form: StandardForm) -> tuple[int, int]:
        """Columns and rows as loaded here: a ranged row becomes two rows."""
        lo, up = np.asarray(form.row_lower, float), np.asarray(form.row_upper, float)
        ranged = int(np.count_nonzero(np.isfinite(lo) & np.isfinite(up) & (lo != up)))
        return form.n_cols, form.n_rows + ranged

    @classmethod
    def _environment(cls):
        """One silent Gurobi environment per process (this is where a licence is taken)."""
        if cls._env is None:
            import gurobipy as gp

            try:
                env = gp.Env(empty=True)
                env.setParam("OutputFlag", 0)
                env.start()
            except gp.GurobiError as e:
                raise BackendUnavailableError(
                    f"Gurobi environment could not start (licence?): {e} [errno {e.errno}]") \
                    from e
            cls._env = env
        return cls._env

    def load(self, form: StandardForm) -> None:
        """Build the Gurobi model once (ranged rows become two one-sided rows)."""
        self.check_form(form)
        import gurobipy as gp
        from gurobipy import GRB

        m = gp.Model(env=self._environment())
        vtype = np.where(np.asarray(form.integrality, bool), GRB.INTEGER, GRB.CONTINUOUS)
        x = m.addMVar(form.n_cols, lb=np.asarray(form.col_lower, float),
                      ub=np.asarray(form.col_upper, float), vtype=vtype)
        A = form.A.tocsr()
        lo = np.asarray(form.row_lower, float)
        up = np.asarray(form.row_upper, float)
        eq = np.flatnonzero(np.isfinite(lo) & (lo == up))
        le = np.flatnonzero(np.isfinite(up) & ~(lo == up))
        ge = np.flatnonzero(np.isfinite(lo) & ~(lo == up))
        for rows, op in ((eq, "="), (le, "<"), (ge, ">")):
            if rows.size:
                rhs = up[rows] if op != ">" else lo[rows]
                m.addMConstr(A[rows, :], x, op, rhs)
        for cols in getattr(form, "sos1", None) or ():  # complementarity: sos1
            cols = [int(j) for j in cols]
            m.addSOS(GRB.SOS_TYPE1, [x[j] for j in cols], list(range(1, len(cols) + 1)))
        for k, ind in enumerate(getattr(form, "indicators", None) or ()):  # ... indicator
            expr = gp.quicksum(float(a) * x[int(j)] for j, a in zip(ind.columns,
                                                                   ind.coefficients))
            m.addGenConstrIndicator(x[int(ind.binary)], bool(ind.active_value), expr,
                                    GRB.LESS_EQUAL, float(ind.rhs), name=f"ind{k}")
        m.ModelSense = GRB.MAXIMIZE if form.sense is Sense.MAXIMIZE else GRB.MINIMIZE
        x.Obj = np.asarray(form.c, float)
        m.ObjCon = float(form.c0)
        m.update()
        self._m, self._x, self.form, self._sense = m, x, form, form.sense

    def set_objective(self, c: np.ndarray, c0: float, sense: Sense) -> None:
        """Replace cost vector, constant and sense through model attributes (no rebuild)."""
        from gurobipy import GRB

        c = self._checked_objective(c, c0)
        sense = Sense(sense)
        self._x.Obj = c
        self._m.ObjCon = float(c0)
        self._m.ModelSense = GRB.MAXIMIZE if sense is Sense.MAXIMIZE else GRB.MINIMIZE
        self._sense = sense

    def set_column_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Replace every column's bounds (arrays of shape ``(n_cols,)``)."""
        lower, upper = self._checked_bounds(lower, upper)
        self._x.LB = lower
        self._x.UB = upper

    def write(self, path: str | Path) -> Path:
        """Write the loaded model (``.mps`` or ``.lp``; works beyond the licence size)."""
        import gurobipy as gp

        path = self._checked_write_path(path)
        try:
            self._m.update()
            self._m.write(str(path))
        except gp.GurobiError as e:
            raise SolverError(f"Gurobi could not write {path}: {e}") from e
        return path

    def solve(self, *, warm_start: np.ndarray | None = None,
              decision: DecisionTarget | None = None,
              options: SolveOptions | None = None) -> SolveResult:
        """Solve the loaded model (see :meth:`Backend.solve`)."""
        import gurobipy as gp

        form = self._require_loaded()
        m, x = self._m, self._x
        opts = options or self.options
        with quiet_stdout(echo_to_stderr=opts.verbose):  # "Set parameter ...", "Discarded"
            m.reset(1)  # independent re-solves: drop the previous solution and MIP start
            self._apply_options(m, opts, decision)
        if warm_start is not None:
            x0 = np.asarray(warm_start, dtype=float)
            if x0.shape != (form.n_cols,):
                raise InvalidParameterError(
                    f"warm_start has shape {x0.shape}, expected ({form.n_cols},)")
            x.Start = np.where(np.isfinite(x0), x0, _UNDEFINED)
        t0 = time.perf_counter()
        try:
            with quiet_stdout(echo_to_stderr=opts.verbose):  # Gurobi logs to stdout
                self._optimize(m, opts, decision, t0)
        except gp.GurobiError as e:
            return self._error_result(form, e, time.perf_counter() - t0)
        result = self._result(m, form, time.perf_counter() - t0, decision)
        result.extra["tolerances"] = {"feasibility_tol": float(m.Params.FeasibilityTol),
                                      "int_feas_tol": float(m.Params.IntFeasTol)}
        return result

    def _optimize(self, m, opts: SolveOptions, decision, t0: float) -> None:
        """``optimize()``, resumed when a bound stop left the threshold undecided."""
        m.optimize()
        for margin in _RESUME_MARGINS:
            if decision is None or m.Status != _USER_OBJ_LIMIT or self._is_decided(m, decision):
                break
            # Stopped by BestBdStop within Gurobi's tolerance but not strictly decided:
            # resume with the stop moved further out (None: no bound stop at all).
            self._set_bound_stop(m, decision.threshold, margin)
            if opts.time_limit is not None:
                m.Params.TimeLimit = max(opts.time_limit - (time.perf_counter() - t0), 0.0)
            m.optimize()

    # ------------------------------------------------------------------ helpers
    def _apply_options(self, m, opts: SolveOptions, decision: DecisionTarget | None) -> None:
        import gurobipy as gp

        m.resetParams()
        values: dict[str, Any] = {"OutputFlag": int(bool(opts.verbose))}
        for field, name in _OPTION_NAMES.items():
            v = getattr(opts, field)
            if v is not None:
                values[name] = int(v) if field == "threads" else float(v)
        if decision is not None:
            t = float(decision.threshold)
            values["BestObjStop"] = t
            values["BestBdStop"] = self._bound_stop(t, _BD_MARGIN)
        values.update(opts.native)
        for name, value in values.items():
            try:
                m.setParam(str(name), value)
            except (gp.GurobiError, TypeError, ValueError) as e:
                raise InvalidParameterError(
                    f"Gurobi parameter {name!r} = {value!r} rejected: {e}; see "
                    "https://docs.gurobi.com/projects/optimizer/en/current/reference/"
                    "parameters.html") from e

    def _bound_stop(self, t: float, margin: float) -> float:
        """BestBdStop for a strict "bound > t" (min) / "bound < t" (max)."""
        step = margin * max(1.0, abs(t))
        return t + step if self._sense is Sense.MINIMIZE else t - step

    def _set_bound_stop(self, m, t: float, margin: float | None) -> None:
        if margin is None:
            m.setParam("BestBdStop", m.getParamInfo("BestBdStop")[-1])  # the default
        else:
            m.setParam("BestBdStop", self._bound_stop(float(t), margin))

    def _is_decided(self, m, decision: DecisionTarget) -> bool:
        inc, bnd = self._values(m)[1:]
        t = decision.threshold
        if self._sense is Sense.MINIMIZE:
            return (inc is not None and inc <= t) or (bnd is not None and bnd > t)
        return (inc is not None and inc >= t) or (bnd is not None and bnd < t)

    def _values(self, m):
        """(x, incumbent, proven bound) of the last optimize(); None where absent."""
        x = inc = bnd = None
        if m.SolCount > 0:
            x = np.asarray(self._x.X, dtype=float)
            inc = float(m.ObjVal)
        if m.IsMIP:
            b = float(m.ObjBound)
            bnd = b if math.isfinite(b) and abs(b) < 1e100 else None
        elif m.Status == 2:
            bnd = inc  # an LP solved to optimality
        return x, inc, bnd

    def _result(self, m, form: StandardForm, runtime: float, decision) -> SolveResult:
        status = int(m.Status)
        termination = _STATUS_MAP.get(status)
        extra: dict[str, Any] = {"native_status": status}
        if termination is None:
            warnings.warn(f"unmapped Gurobi status {status}; reported as UNKNOWN",
                          RuntimeWarning, stacklevel=3)
            termination = Termination.UNKNOWN
        if status == _USER_OBJ_LIMIT and decision is not None:
            termination = Termination.DECIDED
        x, inc, bnd = self._values(m)
        if termination in (Termination.INFEASIBLE, Termination.UNBOUNDED, Termination.ERROR):
            bnd = None
        nodes = int(m.NodeCount) if m.IsMIP else None
        return SolveResult(
            termination=termination, incumbent=inc, bound=bnd, x=x, sense=self._sense,
            runtime=runtime, solver_name="gurobi", solver_version=self.version(), nodes=nodes,
            extra=extra)

    def _error_result(self, form: StandardForm, e, runtime: float) -> SolveResult:
        """A GurobiError raised by optimize(): licence size limit or solver failure."""
        n_rows = int(self._m.NumConstrs)
        if e.errno == _SIZE_LIMIT_ERRNO:
            msg = (f"model has {form.n_cols} variables / {n_rows} rows; the size-limited "
                   f"gurobipy licence allows {self.max_size[0]} each (install a full Gurobi "
                   f"licence or use the 'highs' backend). Gurobi said: {e}")
            term = Termination.LICENSE
        else:
            msg = f"Gurobi failed: {e} [errno {e.errno}]"
            term = Termination.ERROR
        return SolveResult(
            termination=term, incumbent=None, bound=None, x=None, sense=self._sense,
            runtime=runtime, solver_name="gurobi", solver_version=self.version(), log=msg,
            extra={"errno": e.errno, "message": msg, "n_cols": form.n_cols, "n_rows": n_rows})
