"""The conformance helper (:mod:`certmodel.backends.testing`) on every installed built-in
backend and on the Pyomo route to every solver installed here (missing ones skip)."""

from __future__ import annotations

import pytest

from certmodel.backends.base import Backend, available_backends, backend_class
from certmodel.backends.testing import CHECKS, ConformanceError, check_backend, run_check

BUILT_IN = ("highs", "gurobi", "scip")
PYOMO = ("pyomo:appsi_highs", "pyomo:scip_direct", "pyomo:cbc", "pyomo:glpk")


def _installed(name: str) -> bool:
    return name in available_backends() if ":" not in name else backend_class(name).available()


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", BUILT_IN + PYOMO)
def test_conformance(name, check):
    if not _installed(name):
        pytest.skip(f"{name} is not installed here")
    run_check(name, check)


def test_check_backend_reports_failures_by_name():
    """A backend that returns an incumbent as its bound after a time-out is caught."""
    from certmodel.backends.highs import HighsBackend

    class Cheating(HighsBackend):
        name = "cheating"

        def solve(self, **kw):
            import dataclasses

            res = super().solve(**kw)
            return dataclasses.replace(res, bound=res.incumbent)  # an incumbent, not a bound

    with pytest.raises(ConformanceError, match="time_limit.*not a dual bound"):
        check_backend(Cheating, ["time_limit_returns_non_optimal_with_proven_bound"])
    report = check_backend(HighsBackend, ["optimum_both_senses", "licence_refusal_returned"])
    assert report["optimum_both_senses"] == "passed"
    assert report["licence_refusal_returned"].startswith("skipped")
    assert issubclass(Cheating, Backend)
