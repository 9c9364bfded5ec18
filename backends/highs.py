"""HiGHS backend through highspy's array API (the default, always-installed solver).

The model is passed once as a column-wise :class:`highspy.HighsLp`; objectives, column
bounds and options change in place between solves.  Decision mode subscribes a MIP
interrupt callback that stops the search as soon as the incumbent or the dual bound (both
read from the callback's data, in the original objective sense) decides the threshold.
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

__all__ = ["HighsBackend"]

# SolveOptions field -> HiGHS option name(s).  ``verbose`` is handled separately, and so are
# the two tolerances (see :func:`_tolerance_options`).
_OPTION_NAMES: dict[str, tuple[str, ...]] = {
    "time_limit": ("time_limit",),
    "threads": ("threads",),
    "rel_gap": ("mip_rel_gap",),
    "abs_gap": ("mip_abs_gap",),
}

# Tolerance in force -> HiGHS option read back after every solve.
_TOLERANCE_OPTIONS = {"feasibility_tol": "primal_feasibility_tolerance",
                      "int_feas_tol": "mip_feasibility_tolerance"}


def _tolerance_options(feas: float | None, integ: float | None, is_mip: bool
                       ) -> dict[str, float]:
    """HiGHS options that put the requested tolerances in force.

    HiGHS ≥ 1.16 runs the LPs of a MIP with ``primal_feasibility_tolerance`` overwritten by
    ``mip_feasibility_tolerance`` (1.15 kept them apart).  So for a MIP both options get
    ``min(feas, integ)``: the row tolerance in force is never looser than ``feas`` and the
    integrality tolerance never looser than ``integ``, on every HiGHS version we allow.
    """
    out: dict[str, float] = {}
    if feas is not None:
        out["primal_feasibility_tolerance"] = float(feas)
    if integ is not None:
        out["mip_feasibility_tolerance"] = float(integ)
    if is_mip and feas is not None and integ is not None:
        tight = float(min(feas, integ))
        out["primal_feasibility_tolerance"] = out["mip_feasibility_tolerance"] = tight
    elif is_mip and feas is not None:
        out["mip_feasibility_tolerance"] = float(feas)
    return out

# HighsModelStatus name -> Termination.  Every member of highspy 1.15 is listed; a status
# missing here (newer highspy) maps to UNKNOWN with a warning.
_STATUS_MAP: dict[str, Termination] = {
    "kNotset": Termination.ERROR,
    "kLoadError": Termination.ERROR,
    "kModelError": Termination.ERROR,
    "kPresolveError": Termination.ERROR,
    "kSolveError": Termination.ERROR,
    "kPostsolveError": Termination.ERROR,
    "kModelEmpty": Termination.OPTIMAL,  # resolved by hand in _empty_result
    "kOptimal": Termination.OPTIMAL,
    "kInfeasible": Termination.INFEASIBLE,
    "kUnboundedOrInfeasible": Termination.UNBOUNDED,
    "kUnbounded": Termination.UNBOUNDED,
    "kObjectiveBound": Termination.OTHER_LIMIT,
    "kObjectiveTarget": Termination.OTHER_LIMIT,
    "kTimeLimit": Termination.TIME_LIMIT,
    "kIterationLimit": Termination.OTHER_LIMIT,
    "kUnknown": Termination.UNKNOWN,
    "kSolutionLimit": Termination.OTHER_LIMIT,
    "kInterrupt": Termination.OTHER_LIMIT,  # DECIDED when our own callback interrupted
    "kMemoryLimit": Termination.OTHER_LIMIT,
    "kHighsInterrupt": Termination.OTHER_LIMIT,
}

_FEASIBLE = 2  # HiGHS SolutionStatus kSolutionStatusFeasible


def _decided(sense: Sense, threshold: float, incumbent: float, bound: float) -> bool:
    """True when ``incumbent``/``bound`` (non-finite = absent) decide ``threshold``."""
    if sense is Sense.MINIMIZE:
        return (math.isfinite(incumbent) and incumbent <= threshold) or \
            (math.isfinite(bound) and bound > threshold)
    return (math.isfinite(incumbent) and incumbent >= threshold) or \
        (math.isfinite(bound) and bound < threshold)


def _tighter(sense: Sense, a: float | None, b: float | None) -> float | None:
    """The tighter of two proven dual bounds (either may be None)."""
    vals = [v for v in (a, b) if v is not None and math.isfinite(v)]
    if not vals:
        return None
    return max(vals) if sense is Sense.MINIMIZE else min(vals)


@register_backend("highs")
class HighsBackend(Backend):
    """HiGHS MILP backend (highspy array API).

    Parameters
    ----------
    options : SolveOptions, optional
        Default options of every solve (``solve(options=...)`` overrides them per call).

    Notes
    -----
    * ``threads`` configures HiGHS's process-wide task scheduler; when a solve asks for a
      different count than the scheduler was started with, the scheduler is reset first
      (safe as long as no other HiGHS solve runs concurrently in another thread of the
      same process; certmodel parallelises over processes).
    * Every solve starts from a cleared solver state (``clearSolver``): results never
      depend on the previous solve except through an explicit ``warm_start``.
    """

    features: ClassVar[frozenset[Feature]] = frozenset({
        Feature.MIP_START, Feature.DUAL_BOUND, Feature.DECISION_STOP,
        Feature.OBJECTIVE_SWAP, Feature.WRITE_MPS,
    })
    _scheduler_threads: ClassVar[int | None] = None

    def __init__(self, options: SolveOptions | None = None):
        super().__init__(options)
        self._h = None
        self._sense = Sense.MINIMIZE
        self._c0 = 0.0

    # ------------------------------------------------------------------ protocol
    @classmethod
    def available(cls) -> bool:
        return importlib.util.find_spec("highspy") is not None

    @classmethod
    def version(cls) -> str:
        import highspy

        return f"{highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}." \
            f"{highspy.HIGHS_VERSION_PATCH}"

    def load(self, form: StandardForm) -> None:
        """Pass ``form`` to a fresh :class:`highspy.Highs` as one column-wise LP."""
        self.check_form(form)
        import highspy

        with quiet_stdout():  # highspy prints its banner from the constructor
            h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        A = form.A.tocsc()
        lp = highspy.HighsLp()
        lp.num_col_ = form.n_cols
        lp.num_row_ = form.n_rows
        lp.col_cost_ = np.asarray(form.c, dtype=float)
        lp.col_lower_ = np.asarray(form.col_lower, dtype=float)
        lp.col_upper_ = np.asarray(form.col_upper, dtype=float)
        lp.row_lower_ = np.asarray(form.row_lower, dtype=float)
        lp.row_upper_ = np.asarray(form.row_upper, dtype=float)
        lp.offset_ = float(form.c0)
        lp.sense_ = self._native_sense(form.sense)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.num_col_ = form.n_cols
        lp.a_matrix_.num_row_ = form.n_rows
        lp.a_matrix_.start_ = A.indptr.astype(np.int32)
        lp.a_matrix_.index_ = A.indices.astype(np.int32)
        lp.a_matrix_.value_ = A.data.astype(float)
        if form.n_integer:
            lp.integrality_ = [highspy.HighsVarType.kInteger if b else
                               highspy.HighsVarType.kContinuous for b in form.integrality]
        status = h.passModel(lp)
        if status == highspy.HighsStatus.kError:
            raise SolverError("HiGHS rejected the model (passModel returned kError)")
        self._h = h
        self.form = form
        self._sense = form.sense
        self._c0 = float(form.c0)

    def set_objective(self, c: np.ndarray, c0: float, sense: Sense) -> None:
        """Replace cost vector, offset and sense in place (no rebuild)."""
        form = self._require_loaded()
        c = self._checked_objective(c, c0)
        sense = Sense(sense)
        h = self._h
        h.changeColsCost(form.n_cols, np.arange(form.n_cols, dtype=np.int32), c)
        h.changeObjectiveOffset(float(c0))
        h.changeObjectiveSense(self._native_sense(sense))
        self._sense = sense
        self._c0 = float(c0)

    def set_column_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Replace every column's bounds (arrays of shape ``(n_cols,)``)."""
        form = self._require_loaded()
        lower, upper = self._checked_bounds(lower, upper)
        self._h.changeColsBounds(form.n_cols, np.arange(form.n_cols, dtype=np.int32),
                                 lower, upper)

    def write(self, path: str | Path) -> Path:
        """Write the loaded model (``.mps`` or ``.lp``, chosen by HiGHS from the suffix)."""
        path = self._checked_write_path(path)
        import highspy

        if self._h.writeModel(str(path)) == highspy.HighsStatus.kError:
            raise SolverError(f"HiGHS could not write {path}")
        return path

    def solve(self, *, warm_start: np.ndarray | None = None,
              decision: DecisionTarget | None = None,
              options: SolveOptions | None = None) -> SolveResult:
        """Solve the loaded model (see :meth:`Backend.solve`)."""
        import highspy

        form = self._require_loaded()
        h = self._h
        opts = options or self.options
        self._apply_options(h, opts)
        h.clearSolver()  # independent re-solves: drop the previous solution and basis
        if warm_start is not None:
            self._set_start(h, form, warm_start)

        snapshot: dict[str, float] = {}
        callback = None
        if decision is not None:
            threshold = float(decision.threshold)
            sense = self._sense

            def callback(e):
                inc, bnd = e.data_out.mip_primal_bound, e.data_out.mip_dual_bound
                if _decided(sense, threshold, inc, bnd):
                    snapshot["incumbent"], snapshot["bound"] = inc, bnd
                    e.interrupt()
                else:  # HiGHS keeps the flag from a previous solve's interrupt: clear it
                    e.interrupt(False)

            h.cbMipInterrupt.subscribe(callback)
        t0 = time.perf_counter()
        try:
            with quiet_stdout(echo_to_stderr=opts.verbose) as out:
                run_status = h.run()
            if (run_status == highspy.HighsStatus.kError
                    and h.getModelStatus() == highspy.HighsModelStatus.kNotset
                    and opts.threads is not None):
                # Scheduler started elsewhere with another thread count: reset and retry.
                highspy.Highs.resetGlobalScheduler(True)
                type(self)._scheduler_threads = int(opts.threads)
                with quiet_stdout(echo_to_stderr=opts.verbose) as out:
                    run_status = h.run()
        finally:
            if callback is not None:
                h.cbMipInterrupt.unsubscribe(callback)
        runtime = time.perf_counter() - t0
        result = self._result(h, form, runtime, decision, snapshot, run_status)
        if out.text:
            result = dataclasses.replace(result, log=out.text)
        result.extra["tolerances"] = self._check_tolerances(h, opts)
        return result

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _native_sense(sense: Sense):
        import highspy

        return highspy.ObjSense.kMaximize if Sense(sense) is Sense.MAXIMIZE else \
            highspy.ObjSense.kMinimize

    def _apply_options(self, h, opts: SolveOptions) -> None:
        import highspy

        h.resetOptions()
        values: dict[str, Any] = {"output_flag": bool(opts.verbose),
                                  "log_to_console": bool(opts.verbose)}
        for field, names in _OPTION_NAMES.items():
            v = getattr(opts, field)
            if v is None:
                continue
            for name in names:
                values[name] = int(v) if field == "threads" else float(v)
        is_mip = bool(self.form is not None and self.form.n_integer)
        values.update(_tolerance_options(opts.feasibility_tol, opts.int_feas_tol, is_mip))
        if opts.threads is not None and type(self)._scheduler_threads != int(opts.threads):
            if type(self)._scheduler_threads is not None:
                highspy.Highs.resetGlobalScheduler(True)
            type(self)._scheduler_threads = int(opts.threads)
        values.update(opts.native)
        for name, value in values.items():
            try:
                status = h.setOptionValue(str(name), value)
            except (TypeError, ValueError) as e:
                raise InvalidParameterError(
                    f"HiGHS option {name!r} = {value!r} rejected: {e}") from e
            if status == highspy.HighsStatus.kError:
                known = name in h.getOptions().__dir__()
                what = "invalid value" if known else "unknown option"
                raise InvalidParameterError(
                    f"HiGHS option {name!r} = {value!r} rejected ({what}); see "
                    "https://ergo-code.github.io/HiGHS/stable/options/definitions/")

    @staticmethod
    def _check_tolerances(h, opts: SolveOptions) -> dict[str, float]:
        """Read back the tolerances in force after the run; looser than asked is an error.

        Soundness rests on them (a verdict's margin ``eps`` assumes the requested feasibility
        tolerance), so a HiGHS release that silently relaxes one must fail loudly, not
        certify with it.
        """
        in_force = {}
        for field, name in _TOLERANCE_OPTIONS.items():
            got = float(h.getOptionValue(name)[1])
            in_force[field] = got
            asked = getattr(opts, field)
            native = opts.native.get(name)
            if asked is not None and native is None and got > float(asked) * (1 + 1e-12):
                raise SolverError(
                    f"HiGHS ran with {name} = {got:g}, looser than the requested "
                    f"{field} = {asked:g}; this HiGHS version does not honour it")
        return in_force

    @staticmethod
    def _set_start(h, form: StandardForm, warm_start) -> None:
        import highspy

        x0 = np.asarray(warm_start, dtype=float)
        if x0.shape != (form.n_cols,):
            raise InvalidParameterError(
                f"warm_start has shape {x0.shape}, expected ({form.n_cols},)")
        known = np.flatnonzero(np.isfinite(x0))
        if known.size == form.n_cols:
            sol = highspy.HighsSolution()
            sol.col_value = x0
            sol.value_valid = True
            h.setSolution(sol)
        else:  # partial start: NaN entries are left for HiGHS to complete
            h.setSolution(int(known.size), known.astype(np.int32), x0[known])

    def _result(self, h, form: StandardForm, runtime: float, decision, snapshot,
                run_status) -> SolveResult:
        import highspy

        status = h.getModelStatus()
        info = h.getInfo()
        sense = self._sense
        extra: dict[str, Any] = {"native_status": status.name,
                                 "native_status_text": h.modelStatusToString(status)}
        termination = _STATUS_MAP.get(status.name)
        if termination is None:
            warnings.warn(f"unmapped HiGHS model status {status.name}; reported as UNKNOWN",
                          RuntimeWarning, stacklevel=3)
            termination = Termination.UNKNOWN
        if status == highspy.HighsModelStatus.kModelEmpty:
            return self._empty_result(form, runtime, extra)
        if run_status == highspy.HighsStatus.kError and termination is Termination.ERROR:
            extra["message"] = "HiGHS run() returned kError"

        x = incumbent = None
        if info.primal_solution_status == _FEASIBLE and termination not in (
                Termination.INFEASIBLE, Termination.ERROR):
            x = np.array(h.getSolution().col_value, dtype=float)
            incumbent = float(info.objective_function_value)

        bound = None
        if termination in (Termination.INFEASIBLE, Termination.UNBOUNDED, Termination.ERROR):
            bound = None
        elif form.n_integer:
            # HiGHS reports +-inf when no bound was proven (e.g. time-out before the root LP).
            bound = _tighter(sense, float(info.mip_dual_bound), snapshot.get("bound"))
        elif termination is Termination.OPTIMAL:
            bound = incumbent  # an LP solved to optimality
        if decision is not None and snapshot and status in (
                highspy.HighsModelStatus.kInterrupt, highspy.HighsModelStatus.kHighsInterrupt):
            termination = Termination.DECIDED
            extra["decided_by"] = snapshot
        nodes = int(info.mip_node_count) if form.n_integer and info.mip_node_count >= 0 else None
        return SolveResult(
            termination=termination, incumbent=incumbent, bound=bound, x=x, sense=sense,
            runtime=runtime, solver_name="highs", solver_version=self.version(), nodes=nodes,
            extra=extra)

    def _empty_result(self, form: StandardForm, runtime: float, extra) -> SolveResult:
        """No columns: feasible iff every row range contains 0; the objective is ``c0``."""
        feasible = bool(np.all(form.row_lower <= 0) and np.all(form.row_upper >= 0))
        term = Termination.OPTIMAL if feasible else Termination.INFEASIBLE
        val = self._c0 if feasible else None
        return SolveResult(
            termination=term, incumbent=val, bound=val, x=np.zeros(0) if feasible else None,
            sense=self._sense, runtime=runtime, solver_name="highs",
            solver_version=self.version(), nodes=0, extra=extra)
