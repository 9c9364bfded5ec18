"""LabelCertOptions(complementarity=...): the certificate pipeline's MILPs with the sos1 and
indicator encodings equal brute force on the backends that load them; others refuse."""

from __future__ import annotations

import numpy as np
import pytest

from certmodel import labelcert
from certmodel.backends.base import SolveOptions, backend_class
from certmodel.labelcert import LabelCertOptions
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import random_instance
from tests.threat.oracles import brute_binary_threat


def _have(name, feature):
    try:
        cls = backend_class(name)
    except Exception:
        return False
    return cls.available() and feature in {f.value for f in cls.features}


CASES = [(enc, be) for enc in ("sos1", "indicator") for be in ("gurobi", "scip")
         if _have(be, enc)]


@pytest.mark.parametrize("encoding,backend", CASES)
def test_pipeline_encodings_equal_brute_force(encoding, backend):
    K, y, K_test = random_instance(31, 6)
    threat = ThreatModel(flippable=np.arange(6) != 2)
    opts = LabelCertOptions(backend=backend, complementarity=encoding, saturated=False,
                            attack=False, enumeration="never", search="never",
                            bound_tightening=False, decision=False,
                            solve_options=SolveOptions(rel_gap=1e-9, abs_gap=1e-10))
    recs = labelcert.certify(K, y, K_test, 1.0, [1, 2], options=opts, threat=threat)
    for B in (1, 2):
        worst, _, _ = brute_binary_threat(K, y, 1.0, K_test, B, threat.resolve(6, 2))
        for t in range(len(K_test)):
            r = next(r for r in recs if r.test_index == t and r.budget == B)
            assert r.path.value in ("milp", "trivial")
            if r.verdict.value == "robust":
                assert worst[t] > -1e-7
            elif r.verdict.value == "not_robust":
                assert worst[t] <= 1e-7


def test_pipeline_encoding_refused_by_highs():
    from certmodel.exceptions import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="backend 'highs' does not"):
        LabelCertOptions(backend="highs", complementarity="sos1")


@pytest.mark.parametrize("encoding,backend", CASES)
def test_formulation_classes_carry_the_encoding(encoding, backend):
    from certmodel.milp.formulations import BinaryMILP
    from certmodel.milp.standard_form import Sense

    K, y, K_test = random_instance(31, 6)
    model = BinaryMILP(K, y.astype(float), 1.0, 2, backend=backend, complementarity=encoding)
    assert (len(model.form.sos1) if encoding == "sos1" else len(model.form.indicators)) > 0
    alpha = np.zeros(6)
    res = model.solve(model.objective(K_test[0], 1.0), Sense.MINIMIZE,
                      warm_start=model.start(np.zeros(6, bool), alpha))
    assert res.has_solution
