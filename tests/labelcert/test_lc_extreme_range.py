"""LabelCert verdicts against an independent brute force at any C and kernel scale (#13).

C in [1e-6, 1e13] and kernels scaled by 1e-12 … 1e20 (positive definite kernels, whose exact
SVM the partition oracle computes without certmodel's solver).  Every verdict is checked:
``robust`` needs the oracle's worst margin ``≥ 0``, ``not_robust`` needs its relabelling to
flip the prediction under the oracle's exact retraining (witness replay).  Points whose clean
logit or worst margin lies within ``1e-7`` of the logit scale are ties and skipped.
The default run is small; ``-m slow`` runs the big sweep (also through the MILP path).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel import labelcert
from certmodel.labelcert import LabelCertOptions
from certmodel.results import Verdict
from tests.labelcert.oracles import random_instance
from tests.labelcert.partition_oracle import oracle_alpha, oracle_logits, oracle_worst

MILP_ONLY = LabelCertOptions(enumeration="never", attack=False)


def _instance(seed, n, log_ridge, log_scale):
    K, y, Kt = random_instance(seed, n, m=4, ridge=10.0 ** log_ridge)
    s = 10.0 ** log_scale
    return K * s, y, Kt * s


def check_samplewise(K, y, Kt, C, B, options=None) -> dict:
    """Certify and check every record against the oracle; returns verdict counts."""
    worst, sign, f0 = oracle_worst(K, y, C, Kt, B)
    tol = 1e-7 * np.abs(Kt).sum(axis=1) * max(oracle_alpha(K, y.astype(float), C).max(),
                                              1e-300)
    recs = labelcert.certify(K, y, Kt, C, [B], options=options)
    counts = {v: 0 for v in Verdict}
    for r in recs:
        t = r.test_index
        counts[r.verdict] += 1
        if abs(f0[t]) <= tol[t]:
            continue
        if r.verdict is Verdict.ROBUST:
            assert worst[t] >= -tol[t], (r, worst[t])
        elif r.verdict is Verdict.NOT_ROBUST:
            yy = y.astype(float).copy()
            for i, v in r.relabelling.items():
                yy[i] = v
            assert len(r.relabelling) <= B
            assert sign[t] * oracle_logits(K, yy, C, Kt)[t] <= tol[t], r  # witness replays
        if abs(worst[t]) > 1e3 * tol[t] and options is None:
            assert r.verdict is not Verdict.UNKNOWN, r  # enumeration is exact here
    return counts


def check_collective(K, y, Kt, C, B, options=None) -> None:
    """certified_count never exceeds the points that no relabelling can flip."""
    import itertools

    y = y.astype(float)
    f0 = oracle_logits(K, y, C, Kt)
    s = np.where(f0 >= 0, 1.0, -1.0)
    tol = 1e-7 * np.abs(Kt).sum(axis=1) * max(oracle_alpha(K, y, C).max(), 1e-300)
    most = int(np.sum(s * f0 < -tol))
    for b in range(1, B + 1):
        for S in itertools.combinations(range(len(y)), b):
            yy = y.copy()
            yy[list(S)] *= -1
            most = max(most, int(np.sum(s * oracle_logits(K, yy, C, Kt) < -tol)))
    (rec,) = labelcert.certify(K, y, Kt, C, [B], mode="collective", options=options)
    assert rec.certified_count <= len(Kt) - most, (rec, most)
    if rec.relabelling is not None:
        yy = y.copy()
        for i, v in rec.relabelling.items():
            yy[i] = v
        flipped = np.sum(s * oracle_logits(K, yy, C, Kt) <= np.abs(tol))
        assert flipped >= len(Kt) - rec.certified_count - np.sum(np.abs(f0) <= tol)


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CASE = dict(seed=st.integers(0, 10_000), n=st.integers(3, 6), B=st.integers(1, 2),
            log_ridge=st.floats(-3, 0), log_scale=st.floats(-12, 20), logC=st.floats(-6, 13))


@FAST
@given(**CASE)
def test_samplewise_any_scale(seed, n, B, log_ridge, log_scale, logC):
    K, y, Kt = _instance(seed, n, log_ridge, log_scale)
    check_samplewise(K, y, Kt, 10.0 ** logC, B)


@pytest.mark.parametrize("C, scale", [(1e13, 1.0), (0.5, 1e20), (1e9, 1.0), (1e-6, 1e-12)])
def test_issue_cases(C, scale):
    """The reported failures: C = 1e13, K×1e20 with C = 0.5, C = 1e9 (and the tiny end)."""
    K, y, Kt = _instance(11, 6, -1.0, np.log10(scale))
    counts = check_samplewise(K, y, Kt, C, 2)
    assert counts[Verdict.UNKNOWN] == 0
    check_samplewise(K, y, Kt, C, 1, options=MILP_ONLY)
    check_collective(K, y, Kt, C, 1)


@pytest.mark.slow
@SLOW
@given(**CASE)
def test_samplewise_any_scale_big_sweep(seed, n, B, log_ridge, log_scale, logC):
    K, y, Kt = _instance(seed, n, log_ridge, log_scale)
    check_samplewise(K, y, Kt, 10.0 ** logC, B)


@pytest.mark.slow
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**CASE)
def test_milp_and_collective_any_scale_big_sweep(seed, n, B, log_ridge, log_scale, logC):
    K, y, Kt = _instance(seed, n, log_ridge, log_scale)
    check_samplewise(K, y, Kt, 10.0 ** logC, B, options=MILP_ONLY)
    check_collective(K, y, Kt, 10.0 ** logC, B)
