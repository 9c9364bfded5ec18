"""Make the backend a certificate MILP is solved with: licence caps checked before any
solver round trip, and hard deadlines when a time limit is set.

:func:`make_backend` is what the MILP call sites use instead of ``get_backend(name)(opts)``:

* a size cap known in advance (:meth:`Backend.licence_limit`, e.g. Gurobi's pip licence of
  2000 columns and 2000 rows) that the compiled form exceeds gives a :class:`RefusedBackend`,
  whose every solve returns ``Termination.LICENSE`` at once with the sizes in ``log``
  (the record is ``unknown`` with that reason; no 4-10 s licence round trip per record);
* otherwise, with ``options.time_limit`` set, the backend runs in a killable child process
  (:class:`~certmodel.backends.isolated.IsolatedBackend`), so the time limit bounds the
  wall time of the solve whatever the solver does.
"""

from __future__ import annotations

import numpy as np

from certmodel.backends.base import (
    Backend,
    DecisionTarget,
    SolveOptions,
    SolveResult,
    Termination,
    get_backend,
)
from certmodel.standard_form import Sense, StandardForm

__all__ = ["make_backend", "licence_refusal", "RefusedBackend", "warn_without_decision_stop"]

_WARNED_NO_STOP: set[str] = set()


def warn_without_decision_stop(backend: Backend) -> None:
    """A decision-mode solve on a backend without :attr:`Feature.DECISION_STOP` runs to
    optimality: say so once per backend name (``RuntimeWarning``), never silently."""
    from certmodel.backends.base import Feature

    name = backend.name or type(backend).__name__
    if Feature.DECISION_STOP in backend.features or name in _WARNED_NO_STOP:
        return
    _WARNED_NO_STOP.add(name)
    if name.startswith("pyomo:"):
        return  # the Pyomo backend warns itself
    import warnings

    warnings.warn(f"backend {name!r} has no decision stop: each MILP is solved to optimality "
                  "(or its time limit) instead of stopping once decided", RuntimeWarning,
                  stacklevel=3)


def licence_refusal(cls: type[Backend], form: StandardForm) -> str | None:
    """Why ``cls``'s licence cannot solve ``form`` (``None`` when it fits or no cap is known)."""
    cap = cls.licence_limit()
    if cap is None:
        return None
    cols, rows = cls.model_size(form)
    if cols <= cap[0] and rows <= cap[1]:
        return None
    return (f"the model has {cols} variables / {rows} rows; the {cls.name} licence in use "
            f"allows {cap[0]} variables and {cap[1]} rows (size-limited licence, checked "
            "before solving). Use a smaller encoding or budget, a full licence, or another "
            "backend (e.g. --solver highs).")


class RefusedBackend(Backend):
    """Stands in for a backend whose licence cannot solve the loaded model: every solve
    returns ``Termination.LICENSE`` with the reason, without calling the solver."""

    def __init__(self, inner: type[Backend], reason: str, options: SolveOptions | None = None):
        super().__init__(options)
        self.inner, self.reason = inner, reason
        self.name = inner.name
        self.features = inner.features
        self._sense = Sense.MINIMIZE

    @classmethod
    def available(cls) -> bool:
        return True

    def load(self, form: StandardForm) -> None:
        self.form, self._sense = form, form.sense

    def set_objective(self, c: np.ndarray, c0: float, sense: Sense) -> None:
        self._require_loaded()
        self._sense = Sense(sense)
        self._objective = (np.asarray(c, dtype=float).copy(), float(c0), self._sense)

    def write(self, path):
        """Writing needs no licence (Gurobi writes oversized models): the real backend does."""
        backend = self.inner(self.options)
        backend.load(self.form)
        if getattr(self, "_objective", None) is not None:
            backend.set_objective(*self._objective)
        return backend.write(path)

    def set_column_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        self._require_loaded()

    def solve(self, *, warm_start: np.ndarray | None = None,
              decision: DecisionTarget | None = None,
              options: SolveOptions | None = None) -> SolveResult:
        self._require_loaded()
        return SolveResult(termination=Termination.LICENSE, incumbent=None, bound=None, x=None,
                           sense=self._sense, runtime=0.0, solver_name=self.name,
                           solver_version="", log=self.reason,
                           extra={"message": self.reason, "checked_before_solve": True})


def make_backend(name: str, options: SolveOptions | None, form: StandardForm) -> Backend:
    """The backend instance for solving ``form`` with ``name`` (not yet loaded)."""
    from certmodel.backends.isolated import isolated

    cls = get_backend(name)
    options = options or SolveOptions()
    reason = licence_refusal(cls, form)
    if reason is not None:
        return RefusedBackend(cls, reason, options)
    return isolated(cls, options)
