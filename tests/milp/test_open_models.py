"""Open Pyomo models: optimum = brute force, edits after a solve are honoured exactly as
Pyomo's own solver interface (appsi_highs) honours them, the three complementarity
encodings agree, and the hand-written KKT block matches Pyomo's core.kkt conditions."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.backends.base import SolveOptions, backend_class
from certmodel.exceptions import FormulationError, InvalidParameterError
from certmodel.milp import (
    collective_model,
    flips_of,
    multiclass_model,
    samplewise_model,
    set_test_point,
    solve_model,
)
from certmodel.milp.formulations import BinaryMILP
from certmodel.milp.standard_form import Sense
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import (
    brute_binary,
    brute_collective,
    brute_multiclass,
    random_instance,
)
from tests.threat.oracles import brute_binary_threat

TIGHT = SolveOptions(rel_gap=1e-9, abs_gap=1e-10)
SETTINGS = settings(max_examples=4, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def appsi(model) -> float:
    res = pyo.SolverFactory("appsi_highs").solve(model)
    assert str(res.solver.termination_condition) == "optimal"
    return pyo.value(model.objective)


def ours(model, backend="highs") -> float:
    res = solve_model(model, backend, options=TIGHT)
    assert res.termination.value == "optimal", res
    return res.incumbent


def tol(K_test, C):
    return 1e-6 * C * np.abs(K_test).sum() + 1e-9


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 7), B=st.integers(1, 3))
def test_samplewise_model_equals_brute_force_and_appsi(seed, n, B):
    K, y, K_test = random_instance(seed, n)
    worst, _ = brute_binary(K, y, 1.0, K_test, B)
    m = samplewise_model(K, y, 1.0, B, K_test[0])
    assert ours(m) == pytest.approx(worst[0], abs=tol(K_test[0], 1.0))
    assert appsi(m) == pytest.approx(worst[0], abs=tol(K_test[0], 1.0))
    # swapping the test point changes mutable parameters only: no recompilation
    compiled = m._certmodel_compiled["highs"]
    before = compiled.compilations
    set_test_point(m, K_test[1])
    assert ours(m) == pytest.approx(worst[1], abs=tol(K_test[1], 1.0))
    assert compiled.compilations == before


def test_edits_after_solve_are_honoured_like_appsi():
    K, y, K_test = random_instance(7, 7)
    m = samplewise_model(K, y, 1.0, 2, K_test[0])
    base = ours(m)
    assert appsi(m) == pytest.approx(base, abs=1e-7)
    edits = [
        # only class +1 may be flipped: a new constraint
        lambda: setattr(m, "only_pos", pyo.Constraint(
            expr=sum(m.adversary.flip[i] for i in range(len(y)) if y[i] < 0) == 0)),
        lambda: m.adversary.flip[int(np.flatnonzero(flips_of(m))[0])].fix(0)
        if flips_of(m).any() else m.adversary.flip[0].fix(0),  # a fixed variable
        lambda: m.adversary.B.set_value(1),  # a mutable budget
        lambda: m.only_pos.deactivate(),  # a deactivated constraint
        lambda: m.svm.alpha[1].setub(0.5 * m.svm.C),  # a changed bound
        lambda: m.adversary.budget.set_value(m.adversary.total_cost <= 0),  # new expression
    ]
    for edit in edits:
        edit()
        got = ours(m)
        want = appsi(m)
        assert got == pytest.approx(want, abs=1e-6), edit
    # the budget-0 model is the clean margin (up to the changed bound on alpha[1])


def test_binary_milp_class_honours_edits():
    """The issue's trap: BinaryMILP(...).model edits after construction must not be ignored."""
    K, y, K_test = random_instance(11, 7)
    yf = y.astype(float)
    model = BinaryMILP(K, yf, 1.0, 2, options=TIGHT)
    c = model.objective(K_test[0], 1.0)
    r0 = model.solve(c, Sense.MINIMIZE)
    neg = [i for i in range(len(y)) if y[i] < 0]
    model.model.only_pos = pyo.Constraint(expr=sum(model.adv.flip[i] for i in neg) == 0)
    r1 = model.solve(c, Sense.MINIMIZE)  # the same (old-layout) objective vector
    flips = model.flips_of(r1.x)
    assert not flips[neg].any()
    threat = ThreatModel(flippable=yf > 0).resolve(len(y), 2)
    worst, s, _ = brute_binary_threat(K, yf, 1.0, K_test[:1], 2, threat)
    assert r1.incumbent == pytest.approx(worst[0], abs=tol(K_test[0], 1.0))
    assert r1.incumbent >= r0.incumbent - 1e-9
    # fixing a flip variable removes its column; decoding still works
    model.model.adversary.flip[neg[0]].fix(0)
    r2 = model.solve(model.objective(K_test[0], 1.0), Sense.MINIMIZE)
    assert r2.incumbent == pytest.approx(r1.incumbent, abs=1e-6)
    assert len(model.flips_of(r2.x)) == len(y)


def test_declared_complementarity_is_refused_until_reformulated():
    K, y, K_test = random_instance(2, 5)
    m = samplewise_model(K, y, 1.0, 1, K_test[0], complementarity="indicator")
    from pyomo.common.errors import PyomoException

    with pytest.raises(PyomoException):  # appsi_highs refuses the bilinear guard rows
        pyo.SolverFactory("appsi_highs").solve(m)
    with pytest.raises(InvalidParameterError, match="indicator"):
        solve_model(m, "highs")
    from certmodel.milp.blocks import add_svm_kkt

    mm = pyo.ConcreteModel()
    mm.y = pyo.Param(range(5), initialize=dict(enumerate(y.astype(float))))
    add_svm_kkt(mm, "svm", K, 1.0, lambda i: mm.y[i], complementarity=None)
    mm.obj = pyo.Objective(expr=mm.svm.z[0])
    with pytest.raises(FormulationError, match="reformulate_complementarity"):
        solve_model(mm, "highs")


def _backends_with(feature):
    out = []
    for name in ("highs", "gurobi", "scip"):
        try:
            cls = backend_class(name)
        except Exception:
            continue
        if cls.available() and (feature is None or feature in {f.value for f in cls.features}):
            out.append(name)
    return out


ENCODINGS = [(enc, be) for enc, feat in (("bigm", None), ("sos1", "sos1"),
                                         ("indicator", "indicator"))
             for be in _backends_with(feat)]


@pytest.mark.parametrize("encoding,backend", ENCODINGS)
def test_encodings_equal_brute_force(encoding, backend):
    for seed in range(3):
        K, y, K_test = random_instance(100 + seed, 6)
        rng = np.random.default_rng(seed)
        threat = ThreatModel(flippable=rng.random(6) < 0.7, cost=rng.choice([0.5, 1, 2], 6))
        worst, _, _ = brute_binary_threat(K, y, 1.0, K_test[:1], 2,
                                          threat.resolve(6, 2))
        m = samplewise_model(K, y, 1.0, 2, K_test[0], threat=threat, complementarity=encoding)
        assert ours(m, backend) == pytest.approx(worst[0], abs=tol(K_test[0], 1.0))


def test_unsupported_encoding_names_the_backends():
    K, y, K_test = random_instance(1, 5)
    m = samplewise_model(K, y, 1.0, 1, K_test[0], complementarity="sos1")
    with pytest.raises(InvalidParameterError, match="cannot load sos1"):
        solve_model(m, "highs")


def test_collective_and_multiclass_models_equal_brute_force():
    K, y, K_test = random_instance(5, 6)
    m = collective_model(K, y, 1.0, 2, K_test)
    assert round(ours(m)) == brute_collective(K, y, 1.0, K_test, 2)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 6)
    labels[:3] = [0, 1, 2]
    worst, _ = brute_multiclass(K, labels, 3, 1.0, K_test, 1)
    mc = multiclass_model(K, labels, 1.0, 1, K_test[0])
    assert ours(mc) == pytest.approx(worst[0], abs=2 * tol(K_test[0], 1.0))
    set_test_point(mc, K_test[2])
    assert ours(mc) == pytest.approx(worst[2], abs=2 * tol(K_test[2], 1.0))
    assert appsi(mc) == pytest.approx(worst[2], abs=2 * tol(K_test[2], 1.0))


def test_kkt_block_matches_pyomo_core_kkt():
    """Our hand-written KKT block vs the conditions Pyomo's core.kkt derives from the declared
    lower-level QP (labels as fixed variables, ``parameterize_wrt``): at the solution of our
    model (flips fixed to a labelling), with our multipliers u, v as core.kkt's bound
    multipliers, every core.kkt stationarity row and complementarity holds."""
    K, y, K_test = random_instance(3, 6)
    C = 1.0
    rng = np.random.default_rng(1)
    flips = rng.random(6) < 0.4
    m = samplewise_model(K, y, C, 6, K_test[0])
    for i in range(6):
        m.adversary.flip[i].fix(int(flips[i]))
    ours(m)
    alpha = np.array([m.svm.alpha[i].value for i in range(6)])
    u = np.array([m.svm.u[i].value for i in range(6)])
    v = np.array([m.svm.v[i].value for i in range(6)])
    y2 = np.where(flips, -y, y).astype(float)
    qp = pyo.ConcreteModel()
    qp.alpha = pyo.Var(range(6), bounds=(0, C))
    qp.y = pyo.Var(range(6))
    for i in range(6):
        qp.y[i].fix(y2[i])
    qp.obj = pyo.Objective(expr=0.5 * sum(qp.y[i] * qp.y[j] * float(K[i, j]) * qp.alpha[i]
                                          * qp.alpha[j] for i in range(6) for j in range(6))
                           - sum(qp.alpha[i] for i in range(6)))
    kkt = pyo.TransformationFactory("core.kkt")
    kkt.apply_to(qp, parameterize_wrt=[qp.y[i] for i in range(6)])
    for i in range(6):
        qp.alpha[i].set_value(alpha[i])
        lo, up = kkt.get_multiplier_from_object(qp, qp.alpha[i])
        lo.set_value(u[i])
        up.set_value(v[i])
    scale = C * np.abs(K).sum()
    for con in qp.kkt.stationarity_conditions.values():
        assert abs(pyo.value(con.body) - pyo.value(con.upper)) <= 1e-6 * scale
    def slack(rel):  # lhs <= rhs  ->  rhs - lhs >= 0
        return pyo.value(rel.args[1]) - pyo.value(rel.args[0])

    for comp in qp.kkt.complements.values():
        a, b = comp._args
        assert slack(a) >= -1e-7 * scale and slack(b) >= -1e-7 * scale
        assert abs(slack(a) * slack(b)) <= 1e-6 * scale


def test_collective_and_multiclass_classes_honour_edits():
    from certmodel.milp.formulations import CollectiveMILP, MulticlassMILP
    from tests.threat.oracles import brute_collective_threat

    K, y, K_test = random_instance(12, 6, m=4)
    yf = y.astype(float)
    from certmodel.learners import solve_svm_dual

    alpha = solve_svm_dual(K, yf, 1.0).alpha
    signs = np.where(K_test @ (yf * alpha) >= 0, 1.0, -1.0)
    model = CollectiveMILP(K, yf, 1.0, 2, K_test, signs, options=TIGHT)
    model.solve_count()
    neg = [i for i in range(6) if y[i] < 0]
    model.model.only_pos = pyo.Constraint(expr=sum(model.adv.flip[i] for i in neg) == 0)
    res = model.solve_count()
    want = brute_collective_threat(K, yf, 1.0, K_test, 2,
                                   ThreatModel(flippable=yf > 0).resolve(6, 2))
    assert round(res.incumbent) == want and not model.flips_of(res.x)[neg].any()

    labels = np.array([0, 1, 2, 0, 1, 2])
    mc = MulticlassMILP(K, labels, 3, 1.0, 1, options=TIGHT)
    c = mc.objective(K_test[0], 0, 1)
    r0 = mc.solve(c, Sense.MINIMIZE)
    mc.model.frozen = pyo.Constraint(expr=mc.adv.onehot[0, 0] == 1)  # point 0 keeps class 0
    r1 = mc.solve(c, Sense.MINIMIZE)
    assert mc.labels_of(r1.x)[0] == 0 and r1.incumbent >= r0.incumbent - 1e-9
