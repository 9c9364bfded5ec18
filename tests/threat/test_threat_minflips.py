"""min_flips under a threat model: the minimum number (mask) or minimum cost (costs) of an
admissible relabelling that changes the prediction, against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from certmodel import labelcert
from certmodel.labelcert import LabelCertOptions
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import random_instance
from tests.threat.oracles import brute_binary_threat


@pytest.mark.parametrize("costs", [False, True])
@pytest.mark.parametrize("path", ["default", "milp"])
def test_min_flips_threat_equals_brute_force(costs, path):
    opts = LabelCertOptions() if path == "default" else LabelCertOptions(
        saturated=False, attack=False, enumeration="never", search="never")
    for seed in range(3):
        K, y, K_test = random_instance(seed + 40, 6)
        rng = np.random.default_rng(seed)
        threat = ThreatModel(flippable=rng.random(6) < 0.7,
                             cost=rng.choice([0.5, 1.0, 1.5], 6) if costs else None)
        max_budget = 3.0 if costs else 3
        recs = labelcert.min_flips(K, y, K_test, 1.0, max_budget, options=opts, threat=threat)
        _, _, min_cost = brute_binary_threat(K, y, 1.0, K_test, max_budget,
                                             threat.resolve(6, 2))
        for t, r in enumerate(recs):
            if costs:
                assert r.extra["min_cost"] == pytest.approx(min_cost[t]), (r, min_cost[t])
            else:
                want = min_cost[t] if np.isfinite(min_cost[t]) else None
                if want is None:
                    assert r.min_flips is None or r.min_flips > max_budget, r
                else:
                    assert r.min_flips == int(want), (r, want)
