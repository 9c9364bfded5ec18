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
