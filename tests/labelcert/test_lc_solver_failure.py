"""A failing backend never aborts a certificate call (#13.3): only its records become unknown.

A backend registered inside the test raises on chosen solves; every other record of the call
must equal the one a healthy backend gives, and the failed ones are ``unknown`` with the error.
"""

import numpy as np
import pytest

from certmodel import labelcert
from certmodel.backends import base
from certmodel.backends.highs import HighsBackend
from certmodel.labelcert import LabelCertOptions
from certmodel.results import Verdict
from tests.labelcert.oracles import random_instance

MILP = dict(enumeration="never", attack=False, bound_tightening=False)


class _Failing(HighsBackend):
    """HiGHS, except that solve number k (1-based, counted across the test) raises if
    ``fail(k)``."""

    calls = 0
    fail = staticmethod(lambda k: True)

    def solve(self, **kw):
        type(self).calls += 1
        if type(self).fail(type(self).calls):
            raise RuntimeError(f"injected failure in solve #{type(self).calls}")
        return super().solve(**kw)


@pytest.fixture
def failing_backend():
    name = "failing-test-backend"
    base.register_backend(name)(_Failing)
    _Failing.calls = 0
    _Failing.fail = staticmethod(lambda k: True)
    yield _Failing
    base._REGISTRY.pop(name, None)
    _Failing.name = "highs"


def _instance():
    K, y, Kt = random_instance(5, 8, m=4)
    return K, y, Kt, 1.0


def test_every_solve_fails_records_unknown_with_reason(failing_backend):
    K, y, Kt, C = _instance()
    opts = LabelCertOptions(backend=failing_backend.name, **MILP)
    recs = labelcert.certify(K, y, Kt, C, [0, 1, 2], options=opts)
    assert [(r.test_index, r.budget) for r in recs] == [(t, b) for t in range(4)
                                                        for b in (0, 1, 2)]
    healthy = labelcert.certify(K, y, Kt, C, [0, 1, 2], options=LabelCertOptions(**MILP))
    for r, h in zip(recs, healthy):
        if r.verdict is Verdict.UNKNOWN and r.solver_status == "error":
            assert "injected failure" in r.extra["error"]
            assert r.prediction == h.prediction
        else:  # decided without the solver (budget 0, trivial): unchanged
            assert r.budget == 0 or r.path.value == "trivial"
            assert r.verdict is h.verdict
    assert any(r.solver_status == "error" for r in recs)


def test_some_solves_fail_others_survive(failing_backend):
    K, y, Kt, C = _instance()
    healthy = labelcert.certify(K, y, Kt, C, [1, 2], options=LabelCertOptions(**MILP))
    failing_backend.fail = staticmethod(lambda k: k % 3 == 1)
    opts = LabelCertOptions(backend=failing_backend.name, **MILP)
    recs = labelcert.certify(K, y, Kt, C, [1, 2], options=opts)
    assert len(recs) == len(healthy)
    n_err = 0
    for r, h in zip(recs, healthy):
        assert (r.test_index, r.budget) == (h.test_index, h.budget)
        if r.solver_status == "error":
            n_err += 1
            assert r.verdict is Verdict.UNKNOWN and "injected failure" in r.extra["error"]
        elif h.verdict is not Verdict.UNKNOWN:
            assert r.verdict is h.verdict
    assert 0 < n_err < len(recs)


@pytest.mark.parametrize("mode", ["collective", "multiclass"])
def test_other_modes_survive_failures(failing_backend, mode):
    K, y, Kt, C = _instance()
    if mode == "multiclass":
        y = np.arange(len(y)) % 3
    opts = LabelCertOptions(backend=failing_backend.name, **MILP)
    recs = labelcert.certify(K, y, Kt, C, [1, 2], mode=mode, options=opts)
    if mode == "collective":
        assert [r.budget for r in recs] == [1, 2]
        healthy = labelcert.certify(K, y, Kt, C, [1, 2], mode=mode,
                                    options=LabelCertOptions(**MILP))
        for r, h in zip(recs, healthy):
            assert r.solver_status == "error", r  # sound: certifies nothing
            assert r.certified_count == 0 and "injected failure" in r.extra["error"]
            assert h.solver_status != "error"
        # a transient failure (the first solve only): the isolated re-run decides everything
        failing_backend.calls = 0
        failing_backend.fail = staticmethod(lambda k: k == 1)
        recs = labelcert.certify(K, y, Kt, C, [1, 2], mode=mode, options=opts)
        assert [r.certified_count for r in recs] == [h.certified_count for h in healthy]
        assert all(r.solver_status != "error" for r in recs)
    else:
        assert len(recs) == 4 * 2
        assert all(r.verdict is not Verdict.ROBUST or r.solver_status != "error" for r in recs)
        assert any(r.solver_status == "error" for r in recs)


def test_min_flips_survives_failures(failing_backend):
    K, y, Kt, C = _instance()
    opts = LabelCertOptions(backend=failing_backend.name, **MILP)
    recs = labelcert.min_flips(K, y, Kt, C, 2, options=opts)
    assert len(recs) == 4


def test_bad_input_still_raises(failing_backend):
    from certmodel.exceptions import InvalidParameterError

    K, y, Kt, C = _instance()
    with pytest.raises(InvalidParameterError):
        labelcert.certify(K, y, Kt, -1.0, [1])


def test_scalabel_collective_survives_failures(failing_backend):
    from certmodel.pipeline import certify_arrays

    K, y, Kt, _ = _instance()
    C = 0.5 / np.abs(K).sum(axis=1).max()  # saturated: ScaLabelCert applies
    recs = certify_arrays(K, y, Kt, C, [1, 2], method="scalabel", mode="collective",
                          solver=failing_backend.name)
    assert [r.budget for r in recs] == [1, 2]
    for r in recs:
        assert r.solver_status == "error"
        assert r.certified_count == 0 and "injected failure" in r.extra["error"]
