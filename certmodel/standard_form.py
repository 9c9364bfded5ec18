"""Compile a Pyomo model once into solver-independent arrays.

A :class:`StandardForm` is the mixed-integer linear programme

    min/max  cᵀx + c0   s.t.  row_lower ≤ A x ≤ row_upper,  col_lower ≤ x ≤ col_upper,
             x_j integer for j with integrality[j]

in the column order of :attr:`StandardForm.columns` (the Pyomo variables), plus two optional
kinds of constraints that only some backends load (``Feature.SOS1`` / ``Feature.INDICATOR``;
:meth:`certmodel.backends.base.Backend.check_form` refuses the others):

* ``sos1`` — list of integer arrays of column indices; at most one column of each set is
  non-zero (weights are the order of the columns, 1, 2, …).  From active Pyomo
  ``SOSConstraint(sos=1)`` components.
* ``indicators`` — list of :class:`IndicatorRow`: ``x[binary] == active_value  ⇒
  Σ_k coefficients[k]·x[columns[k]] ≤ rhs``.  From the Pyomo ``Suffix`` named
  ``indicator`` (on any block) that maps a (deactivated) linear ``ConstraintData`` to
  ``(binary VarData, active value)``; a ``≥`` or ``==`` row gives one or two ``≤`` rows.

Active ``pyomo.mpec.Complementarity`` components are refused (:class:`FormulationError`)
unless every one of their data is listed in a Suffix named ``complementarity_encoded``;
active constraints listed there (the indicator encoding's exact bilinear guard rows, kept
for solvers that read the Pyomo model directly) are skipped too.  Fixed variables are not
columns: :meth:`StandardForm.values_of` reads their fixed values.

Backends load it once into a native model; certificates then swap only the objective vector
(one test point after another) and re-solve, which avoids rebuilding the Pyomo model or re-running
Pyomo's writer for every test point (the dominant cost for models of ~2000 variables, see
``reference/toolchain-notes.md`` §1).
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.repn import generate_standard_repn
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from certmodel.exceptions import FormulationError

__all__ = ["Sense", "StandardForm", "IndicatorRow", "compile_model", "linear_objective"]


class Sense(str, enum.Enum):
    """Optimisation direction."""

    MINIMIZE = "min"
    """Minimise the objective."""
    MAXIMIZE = "max"
    """Maximise the objective."""


@dataclasses.dataclass(frozen=True)
class IndicatorRow:
    """``x[binary] == active_value ⇒ Σ_k coefficients[k] · x[columns[k]] ≤ rhs``."""

    binary: int
    active_value: int
    columns: np.ndarray
    coefficients: np.ndarray
    rhs: float
    name: str = ""


@dataclasses.dataclass
class StandardForm:
    """Arrays of a compiled MILP (see module docstring).

    ``sos1`` (list of column-index arrays) and ``indicators`` (list of
    :class:`IndicatorRow`) are empty unless the model uses the ``sos1`` / ``indicator``
    complementarity encodings.
    """

    A: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray  # bool per column
    c: np.ndarray
    c0: float
    sense: Sense
    columns: list  # Pyomo VarData per column
    row_names: list[str]
    col_names: list[str]
    _index: dict = dataclasses.field(default_factory=dict, repr=False)
    sos1: list = dataclasses.field(default_factory=list)
    indicators: list = dataclasses.field(default_factory=list)

    @property
    def n_cols(self) -> int:
        return len(self.columns)

    @property
    def n_rows(self) -> int:
        return self.A.shape[0]

    @property
    def n_integer(self) -> int:
        return int(np.count_nonzero(self.integrality))

    def column_of(self, var) -> int:
        """Column index of a Pyomo variable (raises if the variable is not in the model)."""
        try:
            return self._index[id(var)]
        except KeyError:
            raise FormulationError(f"variable {var.name} does not appear in the compiled model") \
                from None

    def vector(self, values: dict) -> np.ndarray:
        """Column vector from ``{VarData: value}`` (missing columns: NaN)."""
        x = np.full(self.n_cols, np.nan)
        for var, val in values.items():
            x[self.column_of(var)] = val
        return x

    def values_of(self, x: np.ndarray, variables) -> np.ndarray:
        """Read the entries of ``x`` that belong to an iterable of Pyomo variables.

        A fixed variable (not a column) reads as its fixed value."""
        out = []
        for v in variables:
            j = self._index.get(id(v))
            if j is None:
                if not v.fixed:
                    self.column_of(v)  # raises with the variable's name
                out.append(float(v.value))
            else:
                out.append(x[j])
        return np.array(out, dtype=float)

    def has_column(self, var) -> bool:
        return id(var) in self._index


def compile_model(model: pyo.Block) -> StandardForm:
    """Compile every active linear constraint and the active objective of ``model``.

    Raises :class:`~certmodel.exceptions.FormulationError` for non-linear expressions or
    non-finite data (checked here, before any backend sees the arrays).
    """
    objs = list(model.component_data_objects(pyo.Objective, active=True))
    if len(objs) > 1:
        raise FormulationError(f"model has {len(objs)} active objectives; activate exactly one")
    special = _special_components(model)
    for comp in special:
        comp.deactivate()
    try:
        info = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    except Exception as e:  # pyomo raises plain ValueError/RuntimeError on non-linear input
        raise FormulationError(f"cannot compile the model to a linear standard form: {e}") from e
    finally:
        for comp in special:
            comp.activate()
    columns = list(info.columns)
    n = len(columns)
    A_rows = sp.csr_matrix(info.A) if info.A is not None else sp.csr_matrix((0, n))
    rhs = np.asarray(info.rhs, dtype=float)
    # Merge the (possibly split) rows of each constraint into one ranged row.
    row_map: dict[int, int] = {}
    lower, upper, names, keep_rows, signs = [], [], [], [], []
    for k, entry in enumerate(info.rows):
        con = entry.constraint
        key = id(con)
        if key in row_map:
            r = row_map[key]
            if entry.bound_type == 1:
                upper[r] = rhs[k]
            elif entry.bound_type == -1:
                lower[r] = rhs[k]
            continue
        row_map[key] = len(keep_rows)
        keep_rows.append(k)
        names.append(con.name)
        if entry.bound_type == 0:
            lower.append(rhs[k])
            upper.append(rhs[k])
        elif entry.bound_type == 1:
            lower.append(-np.inf)
            upper.append(rhs[k])
        else:
            lower.append(rhs[k])
            upper.append(np.inf)
        signs.append(1.0)
    A = A_rows[keep_rows, :].tocsr() if keep_rows else sp.csr_matrix((0, n))
    col_lower = np.array([-np.inf if v.lb is None else float(v.lb) for v in columns])
    col_upper = np.array([np.inf if v.ub is None else float(v.ub) for v in columns])
    integrality = np.array([v.is_integer() or v.is_binary() for v in columns], dtype=bool)
    c = np.zeros(n)
    c0 = 0.0
    sense = Sense.MINIMIZE
    if objs:
        c_mat = info.c
        c = np.asarray(c_mat.todense()).ravel() if sp.issparse(c_mat) else np.asarray(c_mat).ravel()
        if c.size == 0:
            c = np.zeros(n)
        c0 = float(info.c_offset[0]) if len(info.c_offset) else 0.0
        sense = Sense.MAXIMIZE if objs[0].sense == pyo.maximize else Sense.MINIMIZE
    for arr, what in ((A.data, "constraint coefficients"), (c, "objective coefficients")):
        if not np.all(np.isfinite(arr)):
            raise FormulationError(f"non-finite {what} in the compiled model")
    if np.any(np.isnan(np.r_[lower, upper])):
        raise FormulationError("NaN right-hand side in the compiled model")
    form = StandardForm(
        A=A, row_lower=np.asarray(lower, float), row_upper=np.asarray(upper, float),
        col_lower=col_lower, col_upper=col_upper, integrality=integrality, c=c, c0=c0,
        sense=sense, columns=columns, row_names=names, col_names=[v.name for v in columns])
    form._index = {id(v): j for j, v in enumerate(columns)}
    form.sos1 = _sos1_sets(model, form)
    form.indicators = _indicator_rows(model, form)
    return form


def _special_components(model: pyo.Block) -> list:
    """Active SOS and complementarity components (compiled here, not by Pyomo's compiler)."""
    from pyomo.mpec import Complementarity

    encoded = set()
    for suffix in model.component_data_objects(pyo.Suffix, descend_into=True):
        if suffix.local_name == "complementarity_encoded":
            encoded.update(id(k) for k in suffix.keys())
    out = []
    for comp in model.component_objects(Complementarity, active=True, descend_into=True):
        missing = [d.name for d in comp.values() if d.active and id(d) not in encoded]
        if missing:
            raise FormulationError(
                f"complementarity {missing[0]} is declared but not reformulated: apply "
                "certmodel.milp.reformulate_complementarity(block, 'bigm'|'sos1'|'indicator') "
                "first")
        out.append(comp)
    for comp in model.component_objects(pyo.SOSConstraint, active=True, descend_into=True):
        out.append(comp)
    for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        if id(con) in encoded:  # e.g. the indicator encoding's bilinear guard rows
            out.append(con)
    return out


def _sos1_sets(model: pyo.Block, form: StandardForm) -> list:
    sets = []
    for con in model.component_data_objects(pyo.SOSConstraint, active=True, descend_into=True):
        if con.level != 1:
            raise FormulationError(f"{con.name}: only SOS1 constraints are supported, got "
                                   f"SOS{con.level}")
        items = sorted(con.get_items(), key=lambda vw: vw[1])
        free = [v for v, _ in items if not (v.fixed and v.value == 0)]
        if any(v.fixed for v in free):
            raise FormulationError(f"{con.name}: a variable of an SOS1 set is fixed to a "
                                   "non-zero value; unfix it or deactivate the set")
        sets.append(np.array([form.column_of(v) for v in free], dtype=np.int64))
    return sets


def _indicator_rows(model: pyo.Block, form: StandardForm) -> list:
    rows = []
    for suffix in model.component_data_objects(pyo.Suffix, descend_into=True):
        if suffix.local_name != "indicator" or not _ancestors_active(suffix):
            continue
        for con, (binary, value) in suffix.items():
            repn = generate_standard_repn(con.body, compute_values=True, quadratic=False)
            if not repn.is_linear():
                raise FormulationError(f"indicator row {con.name} must be linear")
            cols = np.array([form.column_of(v) for v in repn.linear_vars], dtype=np.int64)
            coef = np.array([float(a) for a in repn.linear_coefs])
            const = float(repn.constant)
            b = form.column_of(binary)
            up = None if con.upper is None else float(pyo.value(con.upper)) - const
            lo = None if con.lower is None else float(pyo.value(con.lower)) - const
            if up is not None:
                rows.append(IndicatorRow(b, int(value), cols, coef, up, con.name))
            if lo is not None:
                rows.append(IndicatorRow(b, int(value), cols, -coef, -lo, con.name))
    return rows


def _ancestors_active(component) -> bool:
    blk = component.parent_block()
    while blk is not None:
        if not blk.active:
            return False
        blk = blk.parent_block()
    return True


def linear_objective(form: StandardForm, expr) -> tuple[np.ndarray, float]:
    """Coefficient vector and constant of a linear Pyomo expression in ``form``'s columns.

    Used to swap objectives on a loaded backend without recompiling the constraints.
    """
    repn = generate_standard_repn(expr, compute_values=True, quadratic=False)
    if not repn.is_linear():
        raise FormulationError("objective must be linear")
    c = np.zeros(form.n_cols)
    for var, coef in zip(repn.linear_vars, repn.linear_coefs):
        c[form.column_of(var)] += float(coef)
    if not np.all(np.isfinite(c)):
        raise FormulationError("non-finite objective coefficients")
    return c, float(repn.constant)
