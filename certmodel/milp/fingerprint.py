"""Structural fingerprint of a Pyomo model: what a compiled :class:`StandardForm` depends on.

A compiled form is reused only while the model's fingerprint is unchanged; any edit after a
solve — a new or deleted component, a (de)activated constraint, block or objective, a fixed
or unfixed variable, a changed bound, domain, coefficient, mutable parameter value, named
expression, SOS set or indicator entry — changes it, so the next solve recompiles (never a
stale model).  The fingerprint keeps *references* to the component and expression objects
(compared with ``is``), so an id cannot be recycled by a new object while it is held, and
Pyomo expressions are immutable: a changed coefficient is a new expression object.
"""

from __future__ import annotations

import pyomo.environ as pyo

__all__ = ["Fingerprint", "fingerprint", "objective_params"]


class Fingerprint:
    """Opaque snapshot; ``a == b`` iff nothing the compiled form depends on changed."""

    __slots__ = ("_refs", "_values")

    def __init__(self, refs: list, values: list):
        self._refs = refs
        self._values = values

    def __eq__(self, other) -> bool:
        if not isinstance(other, Fingerprint):
            return NotImplemented
        if len(self._refs) != len(other._refs) or self._values != other._values:
            return False
        return all(a is b for a, b in zip(self._refs, other._refs))

    __hash__ = None


def _expr_of(data):
    return getattr(data, "_expr", None) if hasattr(data, "_expr") else data.expr


def fingerprint(model: pyo.Block, skip_params: frozenset = frozenset()) -> Fingerprint:
    """Snapshot of every active component the compiler reads (see the module docstring).

    ``skip_params`` holds ``id``s of mutable parameter data whose *values* are left out: those
    that occur only in the objective, which is re-read at every solve without recompiling
    (:func:`objective_params`).
    """
    from pyomo.mpec import Complementarity

    refs: list = []
    values: list = []
    for v in model.component_data_objects(pyo.Var, descend_into=True):
        refs.append(v)
        refs.append(v.domain)
        values.append((v.lb, v.ub, v.fixed, v.value if v.fixed else None))
    for ctype in (pyo.Constraint, pyo.Objective):
        refs.append(ctype)
        for c in model.component_data_objects(ctype, active=True, descend_into=True):
            refs.append(c)
            refs.append(_expr_of(c))
            if ctype is pyo.Objective:
                values.append(int(c.sense))
    refs.append(pyo.Expression)
    for e in model.component_data_objects(pyo.Expression, descend_into=True):
        refs.append(e)
        refs.append(e.expr)
    for p in model.component_data_objects(pyo.Param, descend_into=True):
        refs.append(p)
        if id(p) not in skip_params:
            values.append(pyo.value(p, exception=False))
    refs.append(pyo.SOSConstraint)
    for s in model.component_data_objects(pyo.SOSConstraint, active=True, descend_into=True):
        refs.append(s)
        for var, w in s.get_items():
            refs.append(var)
            values.append(w)
        values.append(s.level)
    refs.append(Complementarity)
    for comp in model.component_objects(Complementarity, active=True, descend_into=True):
        for d in comp.values():
            if d.active:
                refs.append(d)
    refs.append(pyo.Suffix)
    for suffix in model.component_data_objects(pyo.Suffix, active=True, descend_into=True):
        if suffix.local_name in ("indicator", "complementarity_encoded"):
            refs.append(suffix)
            for k, val in suffix.items():
                refs.append(k)
                if isinstance(val, tuple):
                    refs.append(val[0])
                    values.append(val[1:])
    return Fingerprint(refs, values)


def objective_params(model: pyo.Block) -> frozenset:
    """``id``s of the mutable parameters that occur in no constraint (nor SOS weight, variable
    bound or indicator row) — only in the objective, so changing them needs no recompile."""
    from pyomo.core.expr.visitor import identify_mutable_parameters

    used = set()
    for c in model.component_data_objects(pyo.Constraint, descend_into=True):
        used.update(id(p) for p in identify_mutable_parameters(c.expr))
    for v in model.component_data_objects(pyo.Var, descend_into=True):
        for bound in (v.lower, v.upper):
            if bound is not None:
                used.update(id(p) for p in identify_mutable_parameters(bound))
    params = {id(p) for p in model.component_data_objects(pyo.Param, descend_into=True)}
    return frozenset(params - used)
