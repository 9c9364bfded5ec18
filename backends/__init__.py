"""Solver backends (installed as ``certmodel.backends``).

See :mod:`certmodel.backends.base` for the protocol.  Built in: ``highs`` (default, always
installed) and ``gurobi`` (when ``gurobipy`` imports).  Third-party backends register
through the ``certmodel.backends`` entry-point group.
"""

from certmodel.backends.base import (
    Backend,
    DecisionTarget,
    Feature,
    SolveOptions,
    SolveResult,
    Termination,
    available_backends,
    backend_names,
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
    "backend_names",
    "get_backend",
    "register_backend",
]
