"""The collective beam attack: its relabelling is admissible, its count is what retraining
on that relabelling really changes, and never more than the brute-force maximum; through
``certify(mode="collective")`` the record's incumbent is at least the beam's count."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.labelcert import LabelCertOptions, certify
from certmodel.labelcert._collective_beam import collective_beam
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import check_collective_record, random_rows, threat_problem
from tests.threat.oracles import admissible_sets, retrain_logits

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _setup(seed, n, m, scale, C, restricted):
    return threat_problem(seed, n, m, scale, C, restricted, costs=(0.5, 1.0, 2.0))


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(4, 8), B=st.sampled_from([1, 2, 2.5, 3]),
       scale=st.sampled_from([1e-3, 1.0, 1e3]), C=st.sampled_from([0.3, 3.0, 30.0]),
       restricted=st.booleans(), width=st.sampled_from([1, 4, 32]))
def test_beam_count_is_replayed_and_never_above_brute_force(seed, n, B, scale, C, restricted,
                                                            width):
    prob, a0, s = _setup(seed, n, 6, scale, C, restricted)
    U = random_rows(seed + 1, prob.m)
    count, flips = collective_beam(prob, a0, s, U, B, width=width, candidates=width)
    assert prob.threat.admissible(flips, B)
    f = retrain_logits(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C, prob.K_test)
    assert int(np.sum(s[U] * f[U] <= 0)) == count
    truth = 0
    for S in admissible_sets(prob.threat, B):
        yy = prob.y_pm.copy()
        yy[list(S)] *= -1
        g = retrain_logits(prob.K, yy, prob.C, prob.K_test)
        truth = max(truth, int(np.sum(s[U] * g[U] <= 0)))
    assert count <= truth


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(5, 8), C=st.sampled_from([1.0, 20.0]),
       restricted=st.booleans())
def test_collective_records_keep_at_least_the_beams_count(seed, n, C, restricted):
    """Every record's bound covers the brute-force count, its incumbent is at least the count
    of the screen's beam (its relabelling competes there) and replays to its count."""
    import certmodel.labelcert._collective as coll

    prob, a0, s = _setup(seed, n, 5, 1.0, C, restricted)
    threat = None if not restricted else ThreatModel(flippable=prob.threat.mask,
                                                     cost=prob.threat.cost)
    beams = {}
    orig = coll.collective_beam

    def spy(prob_, alpha0, signs, U, B, **kw):
        out = orig(prob_, alpha0, signs, U, B, **kw)
        beams[B] = out[0]
        return out

    opts = LabelCertOptions(enumeration="never", search="never", time_limit=30)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coll, "collective_beam", spy)
        recs = certify(prob.K, prob.y_pm, prob.K_test, prob.C, [1, 2], mode="collective",
                       options=opts, threat=threat)
    for rec in recs:
        truth = 0
        for S in admissible_sets(prob.threat, rec.budget):
            yy = prob.y_pm.copy()
            yy[list(S)] *= -1
            g = retrain_logits(prob.K, yy, prob.C, prob.K_test)
            truth = max(truth, int(np.sum(s * g <= 0)))
        check_collective_record(prob, s, rec, truth, beams.get(rec.budget))


def test_the_screen_runs_the_beam(monkeypatch):
    """Not vacuous: over a few instances the screen calls the beam and keeps its count."""
    import certmodel.labelcert._collective as coll

    calls = []
    orig = coll.collective_beam

    def spy(*a, **kw):
        calls.append(orig(*a, **kw)[0])
        return orig(*a, **kw)

    monkeypatch.setattr(coll, "collective_beam", spy)
    for seed in range(6):
        prob, a0, s = _setup(seed, 8, 5, 1.0, 20.0, False)
        certify(prob.K, prob.y_pm, prob.K_test, prob.C, [2], mode="collective",
                options=LabelCertOptions(enumeration="never", search="never", time_limit=30))
    assert calls and max(calls) >= 1
