"""SCIP backend through PySCIPOpt (optional: ``pip install 'certmodel[scip]'``).

The model is built once from the :class:`StandardForm` arrays (one SCIP variable per column,
one ranged linear row per row, plus the SOS1 sets and indicator rows the form carries);
objectives and column bounds change on the original problem after ``freeTransform()``.

Decision mode installs an event handler on ``BESTSOLFOUND`` and ``DUALBOUNDIMPROVED`` that
calls ``interruptSolve()`` as soon as the primal bound (incumbent) or the dual bound decides
the threshold (strictly, for the bound).  Both values are read from SCIP in the original
objective sense, so the handler and the result agree with :class:`DecisionTarget`.

Option names (SCIP 10): ``time_limit`` -> ``limits/time``, ``rel_gap`` -> ``limits/gap``,
``abs_gap`` -> ``limits/absgap``, ``feasibility_tol``/``int_feas_tol`` -> ``numerics/feastol``
(SCIP checks rows and integrality against the same tolerance, so the tighter one is used).
SCIP solves with one thread; ``threads > 1`` is refused (it would not be honoured).
:data:`DEFAULT_NATIVE` holds certmodel's SCIP defaults (``native`` overrides them).
"""

from __future__ import annotations

import dataclasses
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
from certmodel.exceptions import InvalidParameterError, SolverError
from certmodel.standard_form import Sense, StandardForm

__all__ = ["ScipBackend"]

# SolveOptions field -> SCIP parameter.  Tolerances and threads are handled separately.
_OPTION_NAMES: dict[str, str] = {
    "time_limit": "limits/time",
    "rel_gap": "limits/gap",
    "abs_gap": "limits/absgap",
}

# certmodel's SCIP defaults (applied before ``native``, which overrides them).  The
# aggregation (c-MIR) separator took ~90 % of SCIP's time on the LabelCert KKT MILPs
# (n = 6-8 labelled: 4.9 s -> 0.54 s CPU for four solves, same optima), so it is off.
DEFAULT_NATIVE: dict[str, Any] = {"separating/aggregation/freq": -1}

# SCIP status string (Model.getStatus) -> Termination.
_STATUS_MAP: dict[str, Termination] = {
    "optimal": Termination.OPTIMAL,
    "gaplimit": Termination.OPTIMAL,  # within rel_gap / abs_gap, like the other backends
    "infeasible": Termination.INFEASIBLE,
    "unbounded": Termination.UNBOUNDED,
    "inforunbd": Termination.UNBOUNDED,
    "timelimit": Termination.TIME_LIMIT,
    "nodelimit": Termination.OTHER_LIMIT,
    "totalnodelimit": Termination.OTHER_LIMIT,
    "stallnodelimit": Termination.OTHER_LIMIT,
    "memlimit": Termination.OTHER_LIMIT,
    "sollimit": Termination.OTHER_LIMIT,
    "bestsollimit": Termination.OTHER_LIMIT,
    "restartlimit": Termination.OTHER_LIMIT,
    "primallimit": Termination.OTHER_LIMIT,
    "duallimit": Termination.OTHER_LIMIT,
    "userinterrupt": Termination.OTHER_LIMIT,  # DECIDED when our handler interrupted
    "terminate": Termination.OTHER_LIMIT,
    "unknown": Termination.UNKNOWN,
}


def _decider(sense: Sense, threshold: float):
    """``decided(incumbent, bound)`` for a threshold (non-finite values count as absent)."""

    def decided(inc: float, bnd: float) -> bool:
        if sense is Sense.MINIMIZE:
            return (math.isfinite(inc) and inc <= threshold) or \
                (math.isfinite(bnd) and bnd > threshold)
        return (math.isfinite(inc) and inc >= threshold) or \
            (math.isfinite(bnd) and bnd < threshold)

    return decided


def _finite(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) and abs(v) < 1e19 else None  # SCIP's infinity is 1e20


def _decision_handler_class():
    """An event handler that interrupts SCIP once ``decided(primal, dual)`` holds."""
    import pyscipopt as scip

    events = scip.SCIP_EVENTTYPE.BESTSOLFOUND | scip.SCIP_EVENTTYPE.DUALBOUNDIMPROVED \
        | scip.SCIP_EVENTTYPE.NODESOLVED

    class DecisionStop(scip.Eventhdlr):
        active = False
        decided = None
        snapshot: dict = {}

        def eventinit(self):
            self.model.catchEvent(events, self)

        def eventexit(self):
            self.model.dropEvent(events, self)

        def eventexec(self, event):
            if not self.active:
                return
            inc, bnd = self.model.getPrimalbound(), self.model.getDualbound()
            if self.decided(inc, bnd):
                self.snapshot["incumbent"], self.snapshot["bound"] = inc, bnd
                self.model.interruptSolve()

    return DecisionStop


@register_backend("scip")
class ScipBackend(Backend):
    """SCIP MILP backend (PySCIPOpt).

    Parameters
    ----------
    options : SolveOptions, optional
        Default options of every solve (``solve(options=...)`` overrides them per call).

    Notes
    -----
    * Every solve starts from the original problem (``freeTransform``): results never depend
      on the previous solve except through an explicit ``warm_start``.
    * SOS1 sets and indicator rows of the form become SCIP ``SOS1`` and ``indicator``
      constraints (the ``sos1`` / ``indicator`` complementarity encodings).
    """

    features: ClassVar[frozenset[Feature]] = frozenset({
        Feature.MIP_START, Feature.DUAL_BOUND, Feature.DECISION_STOP,
        Feature.OBJECTIVE_SWAP, Feature.WRITE_MPS, Feature.SOS1, Feature.INDICATOR,
    })

    def __init__(self, options: SolveOptions | None = None):
        super().__init__(options)
        self._m = None
        self._x: list = []
        self._sense = Sense.MINIMIZE
        self._c = np.zeros(0)
        self._c0 = 0.0

    # ------------------------------------------------------------------ protocol
    @classmethod
    def available(cls) -> bool:
        return importlib.util.find_spec("pyscipopt") is not None

    @classmethod
    def version(cls) -> str:
        import pyscipopt

        return f"{pyscipopt.Model().version()} (PySCIPOpt {pyscipopt.__version__})"

    def load(self, form: StandardForm) -> None:
        """Build the SCIP model once (ranged rows stay one row)."""
        self.check_form(form)
        import pyscipopt as scip

        m = scip.Model()
        m.hideOutput(True)
        integ = np.asarray(form.integrality, bool)
        lo = np.asarray(form.col_lower, float)
        up = np.asarray(form.col_upper, float)
        x = []
        for j in range(form.n_cols):
            vt = "I" if integ[j] else "C"
            if vt == "I" and lo[j] >= 0 and up[j] <= 1:
                vt = "B"
            x.append(m.addVar(name=f"x{j}", vtype=vt,
                              lb=None if not math.isfinite(lo[j]) else float(lo[j]),
                              ub=None if not math.isfinite(up[j]) else float(up[j])))
        A = form.A.tocsr()
        rlo = np.asarray(form.row_lower, float)
        rup = np.asarray(form.row_upper, float)
        for i in range(form.n_rows):
            sl = slice(A.indptr[i], A.indptr[i + 1])
            expr = scip.quicksum(float(v) * x[j] for j, v in zip(A.indices[sl], A.data[sl]))
            if not isinstance(expr, scip.Expr):  # an empty row: 0 must lie in the range
                expr = scip.Expr()
            cons = scip.scip.ExprCons(expr, lhs=float(rlo[i]) if math.isfinite(rlo[i]) else None,
                                      rhs=float(rup[i]) if math.isfinite(rup[i]) else None)
            m.addCons(cons, name=f"r{i}")
        self._add_special(m, form, x)
        self._m, self._x, self.form = m, x, form
        self._set_native_objective(np.asarray(form.c, float), float(form.c0), form.sense)

    def set_objective(self, c: np.ndarray, c0: float, sense: Sense) -> None:
        """Replace cost vector, constant and sense on the original problem (no rebuild)."""
        c = self._checked_objective(c, c0)
        self._m.freeTransform()
        self._set_native_objective(c, float(c0), Sense(sense))

    def set_column_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Replace every column's bounds (arrays of shape ``(n_cols,)``)."""
        lower, upper = self._checked_bounds(lower, upper)
        m = self._m
        m.freeTransform()
        for j, v in enumerate(self._x):
            m.chgVarLb(v, float(lower[j]) if math.isfinite(lower[j]) else None)
            m.chgVarUb(v, float(upper[j]) if math.isfinite(upper[j]) else None)

    def write(self, path: str | Path) -> Path:
        """Write the loaded model (``.mps`` or ``.lp``, the original problem)."""
        path = self._checked_write_path(path)
        try:
            self._m.writeProblem(str(path), trans=False, verbose=False)
        except Exception as e:  # noqa: BLE001 - PySCIPOpt raises plain exceptions
            raise SolverError(f"SCIP could not write {path}: {e}") from e
        return path

    def solve(self, *, warm_start: np.ndarray | None = None,
              decision: DecisionTarget | None = None,
              options: SolveOptions | None = None) -> SolveResult:
        """Solve the loaded model (see :meth:`Backend.solve`)."""
        form = self._require_loaded()
        m = self._m
        opts = options or self.options
        m.freeTransform()  # independent re-solves: start from the original problem
        self._apply_options(m, opts)
        if warm_start is not None:
            self._set_start(m, form, warm_start)
        handler = None
        snapshot: dict[str, float] = {}
        if decision is not None:
            handler = self._decision_handler(m, decision, snapshot)
        t0 = time.perf_counter()
        try:
            with quiet_stdout(echo_to_stderr=opts.verbose) as out:  # never stdout
                m.optimize()
        except Exception as e:  # noqa: BLE001 - a SCIP error is returned, never raised
            return SolveResult(
                termination=Termination.ERROR, incumbent=None, bound=None, x=None,
                sense=self._sense, runtime=time.perf_counter() - t0, solver_name="scip",
                solver_version=self.version(), log=f"SCIP failed: {e}",
                extra={"message": str(e)})
        finally:
            if handler is not None:
                handler.active = False
        result = self._result(m, form, time.perf_counter() - t0, decision, snapshot)
        return dataclasses.replace(result, log=out.text) if out.text else result

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _add_special(m, form: StandardForm, x: list) -> None:
        """SOS1 sets and indicator rows of the form (absent on forms without them)."""
        for k, cols in enumerate(getattr(form, "sos1", None) or ()):
            cols = [int(j) for j in cols]
            m.addConsSOS1([x[j] for j in cols], weights=list(range(1, len(cols) + 1)),
                          name=f"sos{k}")
        for k, ind in enumerate(getattr(form, "indicators", None) or ()):
            import pyscipopt as scip

            coef = np.asarray(ind.coefficients, float)
            cols = np.asarray(ind.columns, int)
            expr = scip.quicksum(float(a) * x[j] for j, a in zip(cols, coef))
            # SCIP's indicator: binvar = activeone -> expr <= rhs.
            m.addConsIndicator(expr <= float(ind.rhs), binvar=x[int(ind.binary)],
                               activeone=bool(ind.active_value), name=f"ind{k}")

    def _set_native_objective(self, c: np.ndarray, c0: float, sense: Sense) -> None:
        import pyscipopt as scip

        m = self._m
        nz = np.flatnonzero(c)
        expr = scip.quicksum(float(c[j]) * self._x[j] for j in nz) + c0
        if not isinstance(expr, scip.Expr):
            expr = scip.Expr() + c0
        m.setObjective(expr, sense="maximize" if sense is Sense.MAXIMIZE else "minimize",
                       clear=True)
        self._sense, self._c, self._c0 = sense, c.copy(), c0

    def _apply_options(self, m, opts: SolveOptions) -> None:
        m.resetParams()
        m.hideOutput(not opts.verbose)  # the log is captured off stdout in solve()
        values: dict[str, Any] = {}
        for field, name in _OPTION_NAMES.items():
            v = getattr(opts, field)
            if v is not None:
                values[name] = float(v)
        tols = [t for t in (opts.feasibility_tol, opts.int_feas_tol) if t is not None]
        if tols:
            values["numerics/feastol"] = float(min(tols))
        if opts.threads is not None and int(opts.threads) != 1:
            raise InvalidParameterError(
                f"threads == {opts.threads}: the SCIP backend solves with one thread; "
                "use threads=1 (certmodel parallelises over test points)")
        values.update(DEFAULT_NATIVE)
        values.update(opts.native)
        for name, value in values.items():
            try:
                m.setParam(str(name), value)
            except (KeyError, LookupError, TypeError, ValueError, Exception) as e:  # noqa: BLE001
                raise InvalidParameterError(
                    f"SCIP parameter {name!r} = {value!r} rejected: {e}; see "
                    "https://www.scipopt.org/doc/html/PARAMETERS.php") from e

    def _set_start(self, m, form: StandardForm, warm_start) -> None:
        x0 = np.asarray(warm_start, dtype=float)
        if x0.shape != (form.n_cols,):
            raise InvalidParameterError(
                f"warm_start has shape {x0.shape}, expected ({form.n_cols},)")
        known = np.flatnonzero(np.isfinite(x0))
        sol = m.createPartialSol() if known.size < form.n_cols else m.createSol()
        for j in known:
            m.setSolVal(sol, self._x[j], float(x0[j]))
        if known.size < form.n_cols:
            m.addSol(sol)  # SCIP completes a partial start itself
        else:
            m.addSol(sol, free=True)  # an infeasible start is dropped by SCIP, not an error

    def _decision_handler(self, m, decision: DecisionTarget, snapshot: dict):
        """The model's one decision event handler, aimed at this solve's threshold."""
        if getattr(self, "_handler", None) is None:  # SCIP cannot remove a handler: reuse it
            self._handler = _decision_handler_class()()
            m.includeEventhdlr(self._handler, "certmodel_decision", "decision stop")
        h = self._handler
        h.decided = _decider(self._sense, float(decision.threshold))
        h.snapshot = snapshot
        h.active = True
        return h

    def _result(self, m, form: StandardForm, runtime: float, decision, snapshot
                ) -> SolveResult:
        status = str(m.getStatus())
        extra: dict[str, Any] = {"native_status": status}
        termination = _STATUS_MAP.get(status)
        if termination is None:
            warnings.warn(f"unmapped SCIP status {status!r}; reported as UNKNOWN",
                          RuntimeWarning, stacklevel=3)
            termination = Termination.UNKNOWN
        x = inc = None
        if termination not in (Termination.INFEASIBLE, Termination.ERROR) and m.getNSols() > 0:
            sol = m.getBestSol()
            x = np.array([m.getSolVal(sol, v) for v in self._x], dtype=float)
            inc = float(m.getSolObjVal(sol))
        bound = None
        if termination not in (Termination.INFEASIBLE, Termination.UNBOUNDED,
                               Termination.ERROR):
            bound = _finite(m.getDualbound())
            if bound is not None and inc is not None:  # never past the incumbent (round-off)
                bound = max(bound, inc) if self._sense is Sense.MAXIMIZE else min(bound, inc)
        if decision is not None and snapshot and status == "userinterrupt":
            termination = Termination.DECIDED
            extra["decided_by"] = dict(snapshot)
        nodes = int(m.getNTotalNodes()) if form.n_integer else None
        return SolveResult(
            termination=termination, incumbent=inc, bound=bound, x=x, sense=self._sense,
            runtime=runtime, solver_name="scip", solver_version=self.version(), nodes=nodes,
            extra=extra)
