"""Backend registry: built-in names, third-party entry points, lazy imports, errors."""

from __future__ import annotations

import builtins
import importlib.util
import sys
import types
from importlib.metadata import EntryPoint

import pytest

import certmodel.backends.base as base
from certmodel.backends.base import (
    Backend,
    available_backends,
    backend_names,
    get_backend,
    register_backend,
)
from certmodel.exceptions import BackendUnavailableError, InvalidParameterError


@pytest.fixture
def isolated_registry(monkeypatch):
    """A private copy of the registry, entry points not yet loaded."""
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    monkeypatch.setattr(base, "_ENTRY_POINTS_LOADED", False)
    return base._REGISTRY


class _Fake(Backend):
    """A do-nothing backend standing in for a third-party plug-in."""

    @classmethod
    def available(cls) -> bool:
        return True

    def load(self, form):
        self.form = form

    def set_objective(self, c, c0, sense):
        pass

    def solve(self, *, warm_start=None, decision=None, options=None):
        raise NotImplementedError


def test_builtin_names_and_lazy_strings_agree_with_decorators():
    assert {"highs", "gurobi"} <= set(backend_names())
    cls = get_backend("highs")
    assert cls.__name__ == "HighsBackend" and cls.name == "highs"
    assert base._REGISTRY["highs"] is cls  # the lazy string was replaced by the class
    assert "highs" in available_backends()


def test_unknown_backend_lists_names():
    with pytest.raises(InvalidParameterError, match=r"no_such_solver.*highs.*installed here"):
        get_backend("no_such_solver")


def test_pyomo_names_resolve_to_one_class_per_solver():
    from certmodel.backends.base import backend_class, check_backend_name

    cls = backend_class("pyomo:appsi_highs")
    assert cls is backend_class("pyomo:appsi_highs") and cls.name == "pyomo:appsi_highs"
    assert cls.available()
    assert check_backend_name("pyomo:appsi_highs") == "pyomo:appsi_highs"
    missing = backend_class("pyomo:no_such_solver_xyz")
    assert not missing.available()
    with pytest.raises(BackendUnavailableError, match="no_such_solver_xyz.*installed here"):
        check_backend_name("pyomo:no_such_solver_xyz", "--solver")
    with pytest.raises(InvalidParameterError, match="pyomo:<solver>"):
        backend_class("pyomo:")
    with pytest.raises(InvalidParameterError, match="--solver.*nosuch"):
        check_backend_name("nosuch", "--solver")


def test_register_backend_decorator(isolated_registry):
    @register_backend("fake_deco")
    class FakeDeco(_Fake):
        pass

    assert FakeDeco.name == "fake_deco"
    assert get_backend("fake_deco") is FakeDeco
    assert "fake_deco" in available_backends()


def test_unavailable_backend_is_listed_but_not_available(isolated_registry):
    @register_backend("fake_missing")
    class Missing(_Fake):
        @classmethod
        def available(cls) -> bool:
            return False

    assert "fake_missing" in backend_names()
    assert "fake_missing" not in available_backends()
    with pytest.raises(BackendUnavailableError, match="fake_missing"):
        get_backend("fake_missing")


def test_entry_point_registers_third_party_backend(isolated_registry, monkeypatch):
    module = types.ModuleType("certmodel_fake_plugin")

    class PluginBackend(_Fake):
        pass

    module.PluginBackend = PluginBackend
    monkeypatch.setitem(sys.modules, "certmodel_fake_plugin", module)
    ep = EntryPoint(name="fake_plugin", value="certmodel_fake_plugin:PluginBackend",
                    group="certmodel.backends")
    broken = EntryPoint(name="fake_broken", value="certmodel_no_such_module:X",
                        group="certmodel.backends")

    def entry_points(group=None, **kw):
        assert group == "certmodel.backends"
        return [ep, broken]

    monkeypatch.setattr("importlib.metadata.entry_points", entry_points)
    assert {"fake_plugin", "fake_broken"} <= set(backend_names())
    assert get_backend("fake_plugin") is PluginBackend
    assert "fake_plugin" in available_backends()
    assert "fake_broken" not in available_backends()  # skipped, not raised
    with pytest.raises(BackendUnavailableError, match="fake_broken"):
        get_backend("fake_broken")


@pytest.mark.parametrize("backend, module, cls", [("highs", "highspy", "HighsBackend"),
                                                  ("gurobi", "gurobipy", "GurobiBackend"),
                                                  ("scip", "pyscipopt", "ScipBackend")])
def test_module_import_and_availability_probe_import_no_solver(
        isolated_registry, monkeypatch, backend, module, cls):
    """Importing a backend module and ``available()`` never import the solver (no licence
    is taken at probe time); the solver is imported inside load/solve only."""
    real_import = builtins.__import__

    def guarded_import(name, *args, **kw):
        if name.split(".")[0] == module:
            raise AssertionError(f"{module} imported at probe time")
        return real_import(name, *args, **kw)

    monkeypatch.delitem(sys.modules, f"certmodel.backends.{backend}", raising=False)
    monkeypatch.setitem(isolated_registry, backend, f"certmodel.backends.{backend}:{cls}")
    monkeypatch.setattr(builtins, "__import__", guarded_import)
    cls = base._resolve(backend)
    available = cls.available()
    monkeypatch.undo()  # restore the real import (and the original module) first
    assert available is (importlib.util.find_spec(module) is not None)
