"""The dependency policy: a tested constraints file pins what the README and CI install."""

from __future__ import annotations

import os
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

packaging = pytest.importorskip("packaging")
from packaging.requirements import Requirement  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else None


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line).groups()
            pins[canonicalize_name(name)] = version
    return pins


def _requirements() -> list[Requirement]:
    if tomllib is None:
        pytest.skip("tomllib needs Python >= 3.11")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in meta["optional-dependencies"].values():
        reqs += extra
    return [Requirement(r) for r in reqs]


def test_readme_and_ci_install_from_the_constraints_file():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme.count("pip install -q -c constraints.txt") == 2
    assert "pip install -q -c constraints.txt" in ci


def test_every_requirement_is_pinned_within_its_specifier():
    pins = _pins()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is required but not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {req.name}=={pins[name]}, outside {req}"


def test_library_metadata_stays_loose():
    """Exact pins belong in constraints.txt, not in the package's own requirements."""
    for req in _requirements():
        assert not any(s.operator == "==" for s in req.specifier), str(req)


def test_installed_solver_versions_match_the_pins():
    """In CI (the README's install) the solvers are exactly the tested ones; elsewhere a
    mismatch only skips (a developer may try a newer release on purpose)."""
    pins = _pins()
    for dist in ("pyomo", "highspy", "numpy", "scipy"):
        installed = metadata.version(dist)
        if installed != pins[dist]:
            msg = f"{dist} {installed} installed, constraints.txt pins {pins[dist]}"
            if os.environ.get("CI"):
                pytest.fail(msg + ": .ci/run must install with -c constraints.txt")
            pytest.skip(msg + ": not the README's install")
