"""Binary sample-wise LabelCert under restricted / cost threat models equals brute force,
on every decision path (each forced on by switching the others off)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel import labelcert
from certmodel.backends.base import SolveOptions
from certmodel.labelcert import LabelCertOptions
from certmodel.learners import solve_svm_dual
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import random_instance
from tests.threat.oracles import brute_binary_threat

SETTINGS = settings(max_examples=6, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
TIGHT = SolveOptions(rel_gap=1e-9, abs_gap=1e-10)

PATHS = {
    "milp": LabelCertOptions(saturated=False, attack=False, enumeration="never", search="never",
                             bound_tightening=False, monotone=False, solve_options=TIGHT),
    "milp_tightened": LabelCertOptions(saturated=False, attack=False, enumeration="never",
                                       search="never", solve_options=TIGHT),
    "enumeration": LabelCertOptions(saturated=False, attack=False, enumeration="always",
                                    bound_tightening=False),
    "search": LabelCertOptions(saturated=False, attack=False, enumeration="never",
                               search="always"),
    "attack_bound_milp": LabelCertOptions(saturated=False, enumeration="never", search="never",
                                          solve_options=TIGHT),
    "default": LabelCertOptions(solve_options=TIGHT),
}


def random_threat(rng, n, costs: bool):
    mask = rng.random(n) < 0.6
    mask[rng.integers(n)] = True
    cost = rng.choice([0.5, 1.0, 1.5, 2.0, 0.7], size=n) if costs else None
    return ThreatModel(flippable=mask, cost=cost)


def check_records(recs, K, y, C, K_test, budgets, threat, recorded=None):
    res = threat.resolve(len(y), 2)
    scale = C * np.abs(K_test).sum(axis=1)
    by = {(r.test_index, r.budget): r for r in recs}
    for B in budgets:
        worst, s, _ = brute_binary_threat(K, y, C, K_test, B, res)
        for t in range(K_test.shape[0]):
            r = by[(t, B)]
            tol = 1e-5 * scale[t] + 1e-9
            if r.verdict.value == "robust":
                assert worst[t] > -tol, (t, B, r, worst[t])
            elif r.verdict.value == "not_robust":
                assert worst[t] <= tol, (t, B, r, worst[t])
                S = sorted(r.relabelling)
                assert res.admissible(np.array(S, dtype=int), B), (S, B)
                y2 = np.asarray(y, float).copy()
                y2[S] *= -1
                a = solve_svm_dual(K, y2, C).alpha
                assert s[t] * (K_test[t] @ (y2 * a)) <= tol
            else:
                assert abs(worst[t]) <= 1e-4 * scale[t] + 1e-9, (t, B, r, worst[t])
            assert r.extra["threat"] == (recorded or threat).to_dict()


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("costs", [False, True])
@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 7), C=st.sampled_from([0.3, 1.0, 4.0]))
def test_binary_threat_equals_brute_force(path, costs, seed, n, C):
    K, y, K_test = random_instance(seed, n)
    rng = np.random.default_rng(seed)
    threat = random_threat(rng, n, costs)
    budgets = [0, 1, 2] if not costs else [0, 0.7, 1.5, 2.5]
    recs = labelcert.certify(K, y, K_test, C, budgets, options=PATHS[path], threat=threat)
    check_records(recs, K, y, C, K_test, budgets, threat)


@pytest.mark.parametrize("costs", [False, True])
@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 8))
def test_binary_threat_saturated_equals_brute_force(costs, seed, n):
    K, y, K_test = random_instance(seed, n)
    C = 0.5 / np.abs(K).sum(axis=1).max()  # saturated: the closed form (masked sort/knapsack)
    rng = np.random.default_rng(seed)
    threat = random_threat(rng, n, costs)
    budgets = [0, 1, 2] if not costs else [0, 0.7, 1.5, 2.5]
    recs = labelcert.certify(K, y, K_test, C, budgets, threat=threat)
    assert all(r.path.value in ("saturated", "trivial") for r in recs)
    check_records(recs, K, y, C, K_test, budgets, threat)


@pytest.mark.parametrize("target", [0, 1])
def test_binary_targets_act_as_a_mask(target):
    K, y, K_test = random_instance(9, 6)
    codes = (y == 1).astype(int)
    threat = ThreatModel(targets=[target])
    recs = labelcert.certify(K, y, K_test, 1.0, [1, 2], options=PATHS["milp"], threat=threat)
    same = ThreatModel(flippable=codes != target)  # moving *to* target = leaving the other
    check_records(recs, K, y, 1.0, K_test, [1, 2], same, recorded=threat)
    for r in recs:
        if r.verdict.value == "not_robust":
            assert all(codes[i] != target for i in r.relabelling)
