"""Licence caps known in advance are checked before any solver round trip."""

from __future__ import annotations

import time

import numpy as np
import pytest

from certmodel.backends.base import SolveOptions, Termination, available_backends
from certmodel.backends.factory import RefusedBackend, licence_refusal, make_backend
from certmodel.backends.testing import _oversize_form, tiny_form

needs_pip_gurobi = pytest.mark.skipif(
    "gurobi" not in available_backends(), reason="gurobipy not installed")


@pytest.fixture
def capped(monkeypatch):
    from certmodel.backends import gurobi

    monkeypatch.setattr(gurobi, "full_licence_configured", lambda: False)
    return gurobi.GurobiBackend


@needs_pip_gurobi
def test_oversize_model_refused_without_solving(capped, tmp_path):
    form = _oversize_form(2100)
    b = make_backend("gurobi", SolveOptions(), form)
    assert isinstance(b, RefusedBackend)
    b.load(form)
    t0 = time.perf_counter()
    res = b.solve()
    assert time.perf_counter() - t0 < 0.1
    assert res.termination is Termination.LICENSE
    assert res.x is None and res.bound is None and res.incumbent is None
    assert "2100 variables" in res.log and "2000" in res.log
    assert res.extra["checked_before_solve"]
    assert b.write(tmp_path / "big.mps").exists()  # writing needs no licence
    assert licence_refusal(capped, tiny_form()) is None
    assert not isinstance(make_backend("gurobi", SolveOptions(), tiny_form()), RefusedBackend)


@needs_pip_gurobi
def test_ranged_rows_count_twice_for_gurobi(capped):
    """The default pipeline's bound-tightened model at n = 112 has 1905 rows but 2017 as
    Gurobi counts them (ranged rows become two): refused, with the count in the reason."""
    from certmodel.milp.formulations import BinaryMILP

    n = 112
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    K = X @ X.T + 0.3 * np.eye(n)
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    model = BinaryMILP(K, y, 1.0, 4, backend="gurobi", g_bounds=(-np.ones(n), np.ones(n)))
    assert model.form.n_rows == 1905
    res = model.solve(model.objective(K[0], 1.0), "min")
    assert res.termination is Termination.LICENSE and "2017 rows" in res.log


def test_full_licence_lifts_the_cap(monkeypatch):
    from certmodel.backends import gurobi

    monkeypatch.setenv("GRB_LICENSE_FILE", "/somewhere/gurobi.lic")
    assert gurobi.full_licence_configured()
    assert gurobi.GurobiBackend.licence_limit() is None


def test_decision_mode_without_decision_stop_warns_once():
    import warnings

    from certmodel.backends import factory
    from certmodel.backends.base import DecisionTarget
    from certmodel.backends.testing import BlockingBackend
    from certmodel.milp.compiled import CompiledModel

    class NoStop(BlockingBackend):
        name = "nostop_test"

        def solve(self, **kw):
            from certmodel.backends.highs import HighsBackend

            b = HighsBackend()
            b.load(self.form)
            return b.solve()

    factory._WARNED_NO_STOP.discard("nostop_test")
    cm = CompiledModel(tiny_form().model, NoStop())
    with pytest.warns(RuntimeWarning, match="nostop_test.*no decision stop"):
        cm.solve(decision=DecisionTarget(20.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cm.solve(decision=DecisionTarget(20.0))  # once only
