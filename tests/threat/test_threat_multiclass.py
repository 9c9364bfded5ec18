"""Exact and inexact multiclass LabelCert under restricted / cost / target threat models:
exact paths equal brute force; the inexact certificate is sound (robust only if brute force
says robust; not_robust witnesses admissible and replayed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel import labelcert
from certmodel.backends.base import SolveOptions
from certmodel.labelcert import LabelCertOptions
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import ovr_logits, random_instance
from tests.threat.oracles import brute_multiclass_threat

SETTINGS = settings(max_examples=3, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
TIGHT = SolveOptions(rel_gap=1e-9, abs_gap=1e-10)
PATHS = {
    "milp": LabelCertOptions(saturated=False, attack=False, enumeration="never", search="never",
                             bound_tightening=False, monotone=False, solve_options=TIGHT),
    "enumeration": LabelCertOptions(saturated=False, attack=False, enumeration="always"),
    "search": LabelCertOptions(saturated=False, attack=False, enumeration="never",
                               search="always"),
    "default": LabelCertOptions(solve_options=TIGHT),
}


def instance(seed, n, n_classes=3):
    K, _, K_test = random_instance(seed, n)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    labels[:n_classes] = np.arange(n_classes)
    mask = rng.random(n) < 0.7
    cost = rng.choice([0.5, 1.0, 1.5], n)
    targets = sorted(rng.choice(n_classes, 2, replace=False).tolist())
    return K, labels, K_test[:2], mask, cost, targets


def check(recs, K, labels, C, K_test, budgets, threat, exact=True):
    res = threat.resolve(len(labels), 3)
    scale = 2 * C * np.abs(K_test).sum(axis=1)
    by = {(r.test_index, r.budget): r for r in recs}
    for B in budgets:
        worst, top = brute_multiclass_threat(K, labels, 3, C, K_test, B, res)
        for t in range(K_test.shape[0]):
            r = by[(t, B)]
            tol = 1e-5 * scale[t] + 1e-9
            if r.verdict.value == "robust":
                assert worst[t] > -tol, (t, B, r, worst[t])
            elif r.verdict.value == "not_robust":
                assert worst[t] <= tol, (t, B, r, worst[t])
                lab = labels.copy()
                for i, c in r.relabelling.items():
                    lab[i] = c
                changed = lab != labels
                assert res.admissible(changed, B, lab)
                F = ovr_logits(K, lab, 3, C, K_test[t:t + 1])[0]
                assert F[top[t]] - np.max(np.delete(F, top[t])) <= tol
            elif exact:
                assert abs(worst[t]) <= 1e-4 * scale[t] + 1e-9, (t, B, r, worst[t])


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("costs", [False, True])
@SETTINGS
@given(seed=st.integers(0, 10_000), C=st.sampled_from([0.5, 2.0]))
def test_exact_multiclass_threat_equals_brute_force(path, costs, seed, C):
    K, labels, K_test, mask, cost, targets = instance(seed, 5)
    threat = ThreatModel(flippable=mask, cost=cost if costs else None, targets=targets)
    budgets = [1, 2] if not costs else [1.0, 2.0]
    recs = labelcert.certify(K, labels, K_test, C, budgets, mode="multiclass",
                             options=PATHS[path], threat=threat)
    check(recs, K, labels, C, K_test, budgets, threat)


@pytest.mark.parametrize("costs", [False, True])
def test_saturated_multiclass_threat_equals_brute_force(costs):
    K, labels, K_test, mask, cost, targets = instance(3, 6)
    C = 0.4 / np.abs(K).sum(axis=1).max()
    threat = ThreatModel(flippable=mask, cost=cost if costs else None, targets=targets)
    budgets = [1, 2]
    recs = labelcert.certify(K, labels, K_test, C, budgets, mode="multiclass", threat=threat)
    check(recs, K, labels, C, K_test, budgets, threat)


def test_inexact_multiclass_threat_is_sound():
    K, labels, K_test, mask, cost, targets = instance(5, 6)
    threat = ThreatModel(flippable=mask, cost=cost, targets=targets)
    opts = LabelCertOptions(enumeration="never", solve_options=TIGHT)
    recs = labelcert.certify(K, labels, K_test, 1.0, [1.0, 2.0], mode="multiclass-inexact",
                             options=opts, threat=threat)
    check(recs, K, labels, 1.0, K_test, [1.0, 2.0], threat, exact=False)
