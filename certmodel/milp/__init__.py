"""The bilevel → KKT → MILP formulation as open Pyomo models.

* :func:`samplewise_model`, :func:`collective_model`, :func:`multiclass_model` — unsolved
  Pyomo models with the real objective (:mod:`certmodel.milp.models`);
* :func:`solve_model` — solve one with a certmodel backend, recompiled after any edit
  (:mod:`certmodel.milp.compiled`);
* :func:`reformulate_complementarity` — the named step turning the declared complementarity
  into ``bigm`` / ``sos1`` / ``indicator`` constraints (:mod:`certmodel.milp.blocks.kkt`);
* :class:`StandardForm`, :func:`compile_model` — the solver-independent arrays backends load
  (:mod:`certmodel.milp.standard_form`, imported by ``certmodel.backends`` without cycles).
"""

from certmodel.milp.blocks.kkt import COMPLEMENTARITY, reformulate_complementarity
from certmodel.milp.compiled import CompiledModel, solve_model
from certmodel.milp.models import (
    collective_model,
    flips_of,
    labels_of,
    multiclass_model,
    samplewise_model,
    set_test_point,
)
from certmodel.standard_form import IndicatorRow, Sense, StandardForm, compile_model

__all__ = [
    "COMPLEMENTARITY",
    "CompiledModel",
    "IndicatorRow",
    "Sense",
    "StandardForm",
    "collective_model",
    "compile_model",
    "flips_of",
    "labels_of",
    "multiclass_model",
    "reformulate_complementarity",
    "samplewise_model",
    "set_test_point",
    "solve_model",
]
