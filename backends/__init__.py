"""Solver backends (installed as ``certmodel.backends``).

See :mod:`certmodel.backends.base` for the protocol.  Built in: ``highs`` (default, always
installed), ``gurobi`` (when ``gurobipy`` imports), ``scip`` (when ``pyscipopt`` imports) and
``pyomo:<name>`` (any Pyomo solver).  Third-party backends register through the
``certmodel.backends`` entry-point group; :mod:`certmodel.backends.testing` checks them.
"""

from certmodel.backends.base import (
    Backend,
    DecisionTarget,
    Feature,
    SolveOptions,
    SolveResult,
    Termination,
    available_backends,
    backend_class,
    backend_names,
    check_backend_name,
    get_backend,
    register_backend,
)

__all__ = [
    "Backend",
    "DecisionTarget",
    "Feature",
    "SolveOptions",
    "SolveResult",
    "Termination",
    "available_backends",
    "backend_class",
    "backend_names",
    "check_backend_name",
    "get_backend",
    "register_backend",
]
