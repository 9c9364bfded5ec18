"""Shared test fixtures.

The datasets live outside the project (``../shared/data`` beside the checkout); the
environment variable ``CERTMODEL_DATA`` overrides that path.  Tests that need a file skip
cleanly when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    env = os.environ.get("CERTMODEL_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"dataset folder {path} not found (set CERTMODEL_DATA)")
    return path


def gurobi_usable() -> bool:
    try:
        import gurobipy  # noqa: F401
    except Exception:
        return False
    return True


requires_gurobi = pytest.mark.skipif(not gurobi_usable(), reason="gurobipy not installed")


def pytest_report_header(config):
    """Print the solver and modelling versions this run used (a fresh install may differ)."""
    from importlib import metadata

    parts = []
    for dist in ("pyomo", "highspy", "gurobipy", "pyscipopt", "numpy", "scipy", "jax"):
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return "certmodel solvers and libraries: " + ", ".join(parts)
