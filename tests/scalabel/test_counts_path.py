"""The counts-only path (class-sorted blocks + top-L merges) equals the full sort exactly."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from certmodel.scalabel import min_flips, worst_margin


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 300), m=st.integers(1, 12),
       K=st.integers(2, 5), ties=st.booleans(), B=st.integers(0, 40), skew=st.booleans())
def test_counts_only_equals_full_sort(seed, n, m, K, ties, B, skew):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(m, n)) * rng.exponential(size=(1, n)) ** 2
    if skew:  # positive weights and a majority class: large margins, many flips (4L redo)
        W = np.abs(rng.normal(size=(m, n))) + 0.5
    if ties:
        W = np.round(W, 1)
    y = rng.integers(0, K, n)
    if skew:
        y[rng.random(n) < 0.5] = 0
    y[:min(K, n)] = np.arange(min(K, n))
    fast = min_flips(W, y, n_classes=K, witnesses=False)
    full = min_flips(W, y, n_classes=K, witnesses=True)
    np.testing.assert_array_equal(fast.per_rival, full.per_rival)
    np.testing.assert_array_equal(fast.min_flips, full.min_flips)
    from certmodel.scalabel.sort import analyse

    B = min(B, n)
    _, an = analyse(W, y, (B,), n_classes=K)  # full-sort worst margin at B
    np.testing.assert_array_equal(worst_margin(W, y, B, n_classes=K), an.worst[B])
