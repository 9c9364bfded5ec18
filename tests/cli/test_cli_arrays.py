"""``certify_arrays`` (the pipeline's array entry point) for every method/mode pair."""

import numpy as np

from certmodel.pipeline import certify_arrays
from certmodel.results import CollectiveRecord


def test_scalabel_collective_one_record_per_budget():
    K = np.eye(4) * 2 + 0.1
    K_test = np.ones((3, 4)) * 0.1 + np.eye(3, 4)
    y = np.array([1, 1, -1, -1])
    recs = certify_arrays(K, y, K_test, 0.01, [1, 2], method="scalabel", mode="collective")
    assert [r.budget for r in recs] == [1, 2]
    assert all(isinstance(r, CollectiveRecord) for r in recs)
    assert recs[0].certified_count >= recs[1].certified_count
