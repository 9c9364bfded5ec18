"""Re-export of :mod:`certmodel.standard_form` (the compiled MILP arrays).

The standard form lives at the package top level so that both ``certmodel.milp`` and
``certmodel.backends`` import it without an import running back up into either.
"""

from certmodel.standard_form import (  # noqa: F401
    IndicatorRow,
    Sense,
    StandardForm,
    compile_model,
    linear_objective,
)

__all__ = ["IndicatorRow", "Sense", "StandardForm", "compile_model", "linear_objective"]
