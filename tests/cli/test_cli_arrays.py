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


def test_labelcert_options_pass_through():
    from certmodel.labelcert import LabelCertOptions
    from certmodel.results import Path

    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 3))
    Kf = X @ X.T + 0.3 * np.eye(9)
    K, K_test = Kf[:6, :6], Kf[6:, :6]
    y = np.array([1, -1, 1, -1, 1, -1])
    never = certify_arrays(K, y, K_test, 2.0, [1], labelcert_options=LabelCertOptions(
        enumeration="never", attack=False, bound_tightening=False))
    assert all(r.path in (Path.MILP, Path.TRIVIAL) for r in never)
    default = certify_arrays(K, y, K_test, 2.0, [1])
    assert [r.verdict for r in never] == [r.verdict for r in default]
