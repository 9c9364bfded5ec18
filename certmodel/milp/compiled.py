"""Compile a Pyomo model for a backend at solve time, and keep it in step with edits.

:class:`CompiledModel` holds one model loaded into one backend.  Before every solve it takes
the model's :func:`~certmodel.milp.fingerprint.fingerprint`; if anything the compiled
:class:`~certmodel.milp.standard_form.StandardForm` depends on changed (a new constraint,
a fixed variable, a changed bound or coefficient, ...) the model is recompiled and reloaded,
and objective / warm-start vectors given in the old column layout are mapped onto the new
one by variable identity.  An edit is therefore always honoured, never ignored; what cannot
be mapped (an objective coefficient on a variable that disappeared) raises
:class:`~certmodel.exceptions.FormulationError`.

Mutable parameters that occur only in the objective (the test-point parameters of
:func:`certmodel.milp.samplewise_model`) are re-read at every solve of the model's own
objective without recompiling.

:func:`solve_model` is the one-call form: it caches a :class:`CompiledModel` per backend
name on the model and writes the solution back into the Pyomo variables.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from certmodel.backends.base import (
    Backend,
    DecisionTarget,
    SolveOptions,
    SolveResult,
)
from certmodel.backends.factory import make_backend, warn_without_decision_stop
from certmodel.exceptions import FormulationError
from certmodel.milp.fingerprint import fingerprint, objective_params
from certmodel.standard_form import Sense, StandardForm, compile_model, linear_objective

__all__ = ["CompiledModel", "solve_model"]


class CompiledModel:
    """``model`` compiled for ``backend`` (a name or a :class:`Backend` instance)."""

    def __init__(self, model: pyo.Block, backend: str | Backend = "highs",
                 options: SolveOptions | None = None):
        self.model = model
        self._backend_spec = backend
        self._options = options
        self.form: StandardForm | None = None
        self.backend: Backend | None = None
        self.compilations = 0
        self._fp = None
        self._skip = frozenset()
        self.compile()

    # ------------------------------------------------------------------ compilation
    def compile(self) -> None:
        """(Re)compile the model and load it into a backend."""
        form = compile_model(self.model)
        if isinstance(self._backend_spec, Backend):
            backend = self._backend_spec
        else:
            # licence cap checked before any solve; killable child when a time limit is set
            backend = make_backend(self._backend_spec, self._options, form)
        backend.load(form)
        self.form, self.backend = form, backend
        self._skip = objective_params(self.model)
        self._fp = fingerprint(self.model, self._skip)
        self.compilations += 1

    def refresh(self) -> StandardForm | None:
        """Recompile if the model changed since the last compilation; returns the *old* form
        when it did (for remapping vectors), else ``None``."""
        fp = fingerprint(self.model, self._skip)
        if fp == self._fp:
            return None
        old = self.form
        self.compile()
        return old

    @property
    def name(self) -> str:
        return self.backend.name or type(self.backend).__name__

    # ------------------------------------------------------------------ vectors
    def remap(self, vec: np.ndarray | None, old: StandardForm, *, objective: bool
              ) -> tuple[np.ndarray | None, float]:
        """``vec`` in ``old``'s column order -> this form's (plus a constant for fixed vars)."""
        if vec is None:
            return None, 0.0
        new = np.zeros(self.form.n_cols) if objective else np.full(self.form.n_cols, np.nan)
        const = 0.0
        for j, var in enumerate(old.columns):
            k = self.form._index.get(id(var))
            if k is not None:
                new[k] = vec[j]
            elif objective and vec[j] != 0:
                if not var.fixed:
                    raise FormulationError(
                        f"objective coefficient on {var.name}, which is no longer in the model")
                const += float(vec[j]) * float(var.value)
        if not objective:
            if np.isnan(new).any():  # new columns: no full start, let the solver search
                return None, 0.0
        return new, const

    def objective(self) -> tuple[np.ndarray, float, Sense]:
        """Coefficients of the model's single active objective in the current layout."""
        objs = list(self.model.component_data_objects(pyo.Objective, active=True))
        if len(objs) != 1:
            raise FormulationError(f"the model has {len(objs)} active objectives; "
                                   "activate exactly one")
        c, c0 = linear_objective(self.form, objs[0].expr)
        sense = Sense.MAXIMIZE if objs[0].sense == pyo.maximize else Sense.MINIMIZE
        return c, c0, sense

    # ------------------------------------------------------------------ solving
    def solve(self, c: np.ndarray | None = None, sense: Sense | None = None, *, c0: float = 0.0,
              warm_start: np.ndarray | None = None, decision: DecisionTarget | None = None,
              options: SolveOptions | None = None) -> SolveResult:
        """Solve with objective ``c`` (old layouts are remapped) or, by default, the model's
        own active objective, after recompiling if the model changed."""
        old = self.refresh()
        if old is not None:
            warm_start, _ = self.remap(warm_start, old, objective=False)
            if c is not None:
                c, extra = self.remap(c, old, objective=True)
                c0 += extra
        if c is None:
            c, c0, own = self.objective()
            sense = own if sense is None else sense
        if sense is None:
            raise FormulationError("sense is required with an explicit objective vector")
        self.backend.set_objective(np.asarray(c, float), float(c0), sense)
        if decision is not None:
            warn_without_decision_stop(self.backend)
        return self.backend.solve(warm_start=warm_start, decision=decision, options=options)

    def load_values(self, x: np.ndarray) -> None:
        """Write a solution vector into the Pyomo variables (fixed ones keep their values)."""
        for var, val in zip(self.form.columns, x):
            var.set_value(float(val), skip_validation=True)


def solve_model(model: pyo.Block, backend: str = "highs", *,
                options: SolveOptions | None = None, warm_start: dict | None = None,
                decision: DecisionTarget | None = None, load: bool = True) -> SolveResult:
    """Solve ``model``'s active objective with a certmodel backend.

    The compiled form is cached on the model per backend name and recompiled whenever the
    model changed (:class:`CompiledModel`).  ``warm_start`` maps Pyomo variables to values
    (a full MIP start); with ``load`` the solution is written into the variables.
    """
    cache = model.__dict__.setdefault("_certmodel_compiled", {})
    if backend not in cache:
        cache[backend] = CompiledModel(model, backend, options)
    else:
        cache[backend].refresh()
    cm = cache[backend]
    x0 = None
    if warm_start is not None:
        x0 = cm.form.vector(warm_start)
        if np.isnan(x0).any():
            x0 = None
    res = cm.solve(warm_start=x0, decision=decision, options=options)
    if load and res.x is not None:
        cm.load_values(res.x)
    return res
