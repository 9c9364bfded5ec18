"""Collective LabelCert under restricted / cost threat models equals brute force."""

from __future__ import annotations

import numpy as np
import pytest

from certmodel import labelcert
from certmodel.backends.base import SolveOptions
from certmodel.labelcert import LabelCertOptions
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import random_instance
from tests.threat.oracles import brute_collective_threat

TIGHT = SolveOptions(rel_gap=1e-9, abs_gap=1e-10)
PATHS = {
    "milp": LabelCertOptions(saturated=False, attack=False, enumeration="never", search="never",
                             solve_options=TIGHT),
    "enumeration": LabelCertOptions(enumeration="always"),
    "search": LabelCertOptions(enumeration="never", search="always"),
    "default": LabelCertOptions(solve_options=TIGHT),
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("costs", [False, True])
@pytest.mark.parametrize("saturated", [False, True])
def test_collective_threat_equals_brute_force(path, costs, saturated):
    for seed in range(2):
        K, y, K_test = random_instance(seed + 20, 6, m=5)
        C = 0.4 / np.abs(K).sum(axis=1).max() if saturated else 1.0
        rng = np.random.default_rng(seed)
        threat = ThreatModel(flippable=rng.random(6) < 0.7,
                             cost=rng.choice([0.5, 1.0, 1.5], 6) if costs else None)
        budgets = [1, 2] if not costs else [0.5, 1.5, 2.5]
        recs = labelcert.certify(K, y, K_test, C, budgets, mode="collective",
                                 options=PATHS[path], threat=threat)
        res = threat.resolve(6, 2)
        for r in recs:
            want = brute_collective_threat(K, y, C, K_test, r.budget, res)
            assert r.bound >= want - 1e-6
            assert r.certified_count == len(K_test) - want, (r, want)
            if r.relabelling:
                assert res.admissible(np.array(sorted(r.relabelling)), r.budget)
            assert r.extra["threat"] == threat.to_dict()
