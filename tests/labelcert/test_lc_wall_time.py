"""record.wall_time adds up to the call's time: the MILP build is charged once (#13)."""

import time

from certmodel import labelcert
from certmodel.labelcert import LabelCertOptions
from tests.labelcert.oracles import random_instance


def test_wall_time_counts_model_build_once(monkeypatch):
    import certmodel.labelcert._samplewise as sw

    real = sw.BinaryMILP

    def slow_build(*args, **kwargs):
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(sw, "BinaryMILP", slow_build)
    K, y, Kt = random_instance(5, 8, m=3)
    opts = LabelCertOptions(enumeration="never", attack=False, bound_tightening=False)
    t0 = time.perf_counter()
    recs = labelcert.certify(K, y, Kt, 1.0, [1, 2], options=opts)
    elapsed = time.perf_counter() - t0
    total = sum(r.wall_time for r in recs)
    assert total >= 0.6  # both budgets' (slow) builds are charged ...
    assert total <= elapsed + 1e-3  # ... once: never more than the call took


def test_wall_time_per_budget(monkeypatch):
    """Each MILP solve is charged to its own budget: the table's time column is per budget."""
    import certmodel.labelcert._samplewise as sw

    real = sw._milp_decide

    def slow(prob, models, opts, t, k_t, sign, budget, *a):
        time.sleep(0.4 * budget)
        return real(prob, models, opts, t, k_t, sign, budget, *a)

    monkeypatch.setattr(sw, "_milp_decide", slow)
    K, y, Kt = random_instance(5, 8, m=1)
    opts = LabelCertOptions(enumeration="never", attack=False, bound_tightening=False,
                            monotone=False)
    recs = labelcert.certify(K, y, Kt, 1.0, [1, 3], options=opts)
    w1, w3 = (r.wall_time for r in recs)
    assert w3 - w1 >= 0.5  # 1.2 s vs 0.4 s of sleeping, not one averaged number
