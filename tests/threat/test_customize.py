"""certify(..., customize=fn): the MILP of the edited open model decides; witnesses satisfy
the user's constraints and replay; every record says a customisation was applied."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from certmodel import labelcert
from certmodel.backends.base import SolveOptions
from certmodel.exceptions import InvalidParameterError
from certmodel.labelcert import LabelCertOptions
from certmodel.learners import solve_svm_dual
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import random_instance
from tests.threat.oracles import brute_binary_threat

OPTS = LabelCertOptions(solve_options=SolveOptions(rel_gap=1e-9, abs_gap=1e-10))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_customize_equals_threat_model_and_brute_force(seed):
    K, y, K_test = random_instance(seed + 60, 7)
    pos = y > 0

    def only_positive(model):
        model.only_pos = pyo.Constraint(
            expr=sum(model.adversary.flip[i] for i in np.flatnonzero(~pos)) == 0)

    budgets = [0, 1, 2]
    recs = labelcert.certify(K, y, K_test, 1.0, budgets, options=OPTS,
                             customize=only_positive)
    threat = ThreatModel(flippable=pos).resolve(7, 2)
    for B in budgets:
        worst, s, _ = brute_binary_threat(K, y, 1.0, K_test, B, threat)
        for t in range(len(K_test)):
            r = next(r for r in recs if r.test_index == t and r.budget == B)
            assert r.path.value == "milp"
            assert r.extra["customized"].endswith("only_positive")
            if r.verdict.value == "robust":
                assert worst[t] > -1e-7
            elif r.verdict.value == "not_robust":
                assert worst[t] <= 1e-7
                S = sorted(r.relabelling)
                assert pos[S].all() and len(S) <= B  # the user's constraint holds
                y2 = y.astype(float).copy()
                y2[S] *= -1
                a = solve_svm_dual(K, y2, 1.0).alpha
                assert s[t] * (K_test[t] @ (y2 * a)) <= 1e-9
            else:
                assert abs(worst[t]) < 1e-5


def test_customize_with_new_variables():
    K, y, K_test = random_instance(5, 6)

    def pairs(model):  # flips come in pairs: (#flips) = 2 * pairs
        model.pairs = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(0, 3))
        model.even = pyo.Constraint(expr=model.adversary.n_flips == 2 * model.pairs)

    recs = labelcert.certify(K, y, K_test, 1.0, [1, 2, 3], options=OPTS, customize=pairs)
    for r in recs:
        if r.verdict.value == "not_robust":
            assert len(r.relabelling) % 2 == 0
        if r.budget == 1:  # one flip is not even: only the clean labelling is feasible
            assert r.verdict.value != "not_robust" or r.relabelling == {}


def test_customize_refuses_other_modes_and_non_callables():
    K, y, K_test = random_instance(1, 5)
    with pytest.raises(InvalidParameterError, match="customize"):
        labelcert.certify(K, y, K_test, 1.0, [1], customize=3)
    with pytest.raises(InvalidParameterError, match="customize"):
        labelcert.certify(K, y, K_test, 1.0, [1], mode="collective", customize=lambda m: None)
