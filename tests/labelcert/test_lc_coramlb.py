"""Cora-MLb GCN (20 labelled, the spec's split, C = 0.075): HiGHS decides budgets 1–2."""

from __future__ import annotations

import numpy as np
import pytest

from certmodel import datasets
from certmodel.datasets.splits import labelcert_split
from certmodel.kernels import ntk
from certmodel.labelcert import LabelCertOptions, certify
from certmodel.learners import saturated_C
from certmodel.results import Path, Verdict


@pytest.fixture(scope="module")
def coramlb(data_dir):
    data = datasets.load("cora_ml_binary", data_dir=data_dir)
    K = ntk("gcn", data.X, data.A)
    L, T = labelcert_split(data, n_per_class=5, seed=0)
    return K, data.y, L, T


def test_coramlb_gcn_decided_by_highs(coramlb):
    K, y, L, T = coramlb
    assert len(L) == 20 and len(T) == 1215
    K_LL, C = K[np.ix_(L, L)], 0.075
    assert C > saturated_C(K_LL)  # the MILP regime, not the closed form
    rows = T[:2]
    milp = LabelCertOptions(attack=False, enumeration="never", time_limit=120)
    recs = certify(K_LL, y[L], K[np.ix_(rows, L)], C, [1, 2], options=milp, test_indices=rows)
    fast = certify(K_LL, y[L], K[np.ix_(rows, L)], C, [1, 2], test_indices=rows)
    for a, b in zip(recs, fast):
        assert a.verdict is not Verdict.UNKNOWN
        assert a.path in (Path.MILP, Path.MONOTONE, Path.TRIVIAL)
        if a.path is Path.MILP:
            assert a.backend == "highs" and a.solver_status in ("decided", "optimal")
        assert a.verdict == b.verdict, (a, b)
