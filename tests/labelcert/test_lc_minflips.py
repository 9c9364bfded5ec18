"""``labelcert.min_flips`` equals the smallest budget at which brute force breaks the point."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.exceptions import InvalidParameterError
from certmodel.labelcert import LabelCertOptions, min_flips
from tests.labelcert.oracles import brute_binary, brute_multiclass, random_instance


def _brute_min_flips(worst_at):
    """Smallest B with worst margin ≤ 0 (``None`` if none up to the last budget)."""
    for B, w in enumerate(worst_at):
        if np.all(w <= 0):
            return B
    return None


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(4, 7),
       C=st.sampled_from([0.05, 1.0, 5.0]), bisect=st.booleans())
def test_binary_min_flips_equal_brute_force(seed, n, C, bisect):
    K, y, K_test = random_instance(seed, n)
    max_budget = 3
    opts = LabelCertOptions(max_enumeration=0 if bisect else 500_000)
    recs = min_flips(K, y, K_test, C, max_budget, options=opts)
    worst = [brute_binary(K, y, C, K_test, B)[0] for B in range(max_budget + 1)]
    for t, rec in enumerate(recs):
        k = _brute_min_flips([w[t] for w in worst])
        if rec.min_flips is None:  # only when undecided: bracket must contain the truth
            lo, up = rec.extra["min_flips_lower"], rec.extra["min_flips_upper"]
            assert lo <= (max_budget + 1 if k is None else k) <= up
        elif rec.min_flips <= max_budget:
            assert rec.min_flips == k
            assert len(rec.relabelling) == k and rec.verdict.value == "not_robust"
        else:
            assert k is None


def test_multiclass_min_flips_equal_brute_force():
    K, _, K_test = random_instance(11, 6)
    labels = np.array([0, 1, 2, 0, 1, 2])
    recs = min_flips(K, labels, K_test, 1.0, 2)
    worst = [brute_multiclass(K, labels, 3, 1.0, K_test, B)[0] for B in range(3)]
    for t, rec in enumerate(recs):
        k = _brute_min_flips([w[t] for w in worst])
        assert rec.min_flips == (k if k is not None else None) or (
            k is None and rec.extra["min_flips_lower"] > 2)


def test_min_flips_rejects_bad_budget():
    K, y, K_test = random_instance(0, 5)
    with pytest.raises(InvalidParameterError):
        min_flips(K, y, K_test, 1.0, 0)
    with pytest.raises(InvalidParameterError):
        min_flips(K, y, K_test, 1.0, 9)
