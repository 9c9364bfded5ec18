"""The backend protocol: solve a compiled MILP with common options, return a :class:`SolveResult`.

A backend is one class in one file (``backends/highs.py``, ``backends/gurobi.py``) registered
under a name.  Third-party backends register through the entry-point group
``certmodel.backends`` (``name = "package.module:Class"``) without touching this package.

Life cycle (build once, re-solve many times)::

    backend = get_backend("highs")(SolveOptions(time_limit=60))
    backend.load(form)                    # StandardForm from certmodel.milp.compile_model
    backend.set_objective(c, c0, Sense.MINIMIZE)
    res = backend.solve(warm_start=x0, decision=DecisionTarget(0.0))

Soundness contract for implementers:

* ``SolveResult.bound`` is a *proven* dual bound in the objective's sense (a lower bound for
  minimisation, an upper bound for maximisation) or ``None``; never an incumbent value.
* ``SolveResult.incumbent`` / ``x`` are a feasible solution (within tolerances) or ``None``.
* A non-optimal end (time limit, interrupt, licence, numerical trouble) is *returned*, never
  raised; only misuse (bad options, no model loaded) raises.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
import importlib
import importlib.util
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from certmodel.exceptions import BackendUnavailableError, InvalidParameterError
from certmodel.standard_form import Sense, StandardForm

__all__ = [
    "Feature",
    "Termination",
    "SolveOptions",
    "DecisionTarget",
    "SolveResult",
    "Backend",
    "register_backend",
    "get_backend",
    "available_backends",
    "backend_names",
    "backend_class",
    "check_backend_name",
]


class Feature(str, enum.Enum):
    """Capabilities a backend may declare."""

    MIP_START = "mip_start"
    """Accepts a full warm-start solution."""
    DUAL_BOUND = "dual_bound"
    """Reports a proven dual bound on time-out."""
    DECISION_STOP = "decision_stop"
    """Stops as soon as a :class:`DecisionTarget` is decided (callback / BestObjStop)."""
    OBJECTIVE_SWAP = "objective_swap"
    """Changes the objective of a loaded model without rebuilding it."""
    WRITE_MPS = "write_mps"
    """Writes the loaded model to MPS / LP files."""
    SOS1 = "sos1"
    """Loads the SOS1 sets of a :class:`StandardForm` (the ``sos1`` complementarity encoding)."""
    INDICATOR = "indicator"
    """Loads the indicator rows of a :class:`StandardForm` (the ``indicator`` encoding)."""


class Termination(str, enum.Enum):
    """Why the solver stopped."""

    OPTIMAL = "optimal"
    """Proven optimal within the gap tolerances."""
    DECIDED = "decided"
    """Stopped early because the decision target was decided (see :class:`DecisionTarget`)."""
    INFEASIBLE = "infeasible"
    """Proven infeasible."""
    UNBOUNDED = "unbounded"
    """Proven unbounded (or infeasible-or-unbounded)."""
    TIME_LIMIT = "time_limit"
    """Stopped at the time limit."""
    OTHER_LIMIT = "other_limit"
    """Stopped at a node / iteration / memory limit."""
    LICENSE = "license"
    """The solver's licence does not cover this model (e.g. size-limited Gurobi)."""
    ERROR = "error"
    """The solver failed (numerical trouble, internal error)."""
    UNKNOWN = "unknown"
    """Anything else (unmapped native status)."""

    def __str__(self) -> str:
        return self.value


def _env_verbose() -> bool:
    import os

    return os.environ.get("CERTMODEL_SOLVER_LOG") == "1"


@dataclasses.dataclass(frozen=True)
class SolveOptions:
    """Solver-independent options, translated by each backend through an explicit name table.

    Attributes
    ----------
    time_limit : float or None
        Seconds of wall time per solve (``None``: no limit).
    threads : int or None
        Solver threads (default 1: certificates parallelise over test points instead).
    rel_gap, abs_gap : float or None
        Relative / absolute MIP gap at which the solver stops (``None``: solver default).
    feasibility_tol, int_feas_tol : float or None
        Primal feasibility and integrality tolerances.
    verbose : bool
        Copy the solver log to stderr (never stdout).  Default: on when the environment
        variable ``CERTMODEL_SOLVER_LOG=1`` (what ``certmodel certify --verbose`` sets, so
        worker processes inherit it).
    native : mapping
        Pass-through options in the solver's own names (applied last).
    """

    time_limit: float | None = None
    threads: int | None = 1
    rel_gap: float | None = 1e-6
    abs_gap: float | None = 1e-9
    feasibility_tol: float | None = 1e-7
    int_feas_tol: float | None = 1e-7
    verbose: bool = dataclasses.field(default_factory=lambda: _env_verbose())
    native: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.time_limit is not None and not (self.time_limit > 0):
            raise InvalidParameterError(f"time_limit == {self.time_limit}, must be > 0 or None")
        if self.threads is not None and (int(self.threads) != self.threads or self.threads < 1):
            raise InvalidParameterError(f"threads == {self.threads}, must be a positive integer")
        for name in ("rel_gap", "abs_gap", "feasibility_tol", "int_feas_tol"):
            v = getattr(self, name)
            if v is not None and not (v >= 0 and math.isfinite(v)):
                raise InvalidParameterError(f"{name} == {v}, must be a finite number >= 0")
        object.__setattr__(self, "native", dict(self.native))

    def replace(self, **changes) -> SolveOptions:
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class DecisionTarget:
    """Decision mode: only the side of ``threshold`` on which the optimum lies is wanted.

    For a minimisation the solver may stop as soon as an incumbent ``<= threshold`` exists
    (answer "below") or the dual bound is ``> threshold`` (answer "above"); mirrored for a
    maximisation (incumbent ``>= threshold`` or bound ``< threshold``).  Gurobi maps this to
    ``BestObjStop``/``BestBdStop``; HiGHS to a MIP callback that interrupts the search.  The
    returned incumbent and bound stay valid (proven), only not optimal.
    """

    threshold: float


@dataclasses.dataclass(frozen=True)
class SolveResult:
    """What one solve returned (see the soundness contract in the module docstring)."""

    termination: Termination
    incumbent: float | None
    bound: float | None
    x: np.ndarray | None
    sense: Sense
    runtime: float
    solver_name: str
    solver_version: str = ""
    nodes: int | None = None
    log: str = ""
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def has_solution(self) -> bool:
        return self.x is not None and self.incumbent is not None

    @property
    def gap(self) -> float | None:
        """Relative gap |incumbent - bound| / max(1, |incumbent|)."""
        if self.incumbent is None or self.bound is None:
            return None
        return abs(self.incumbent - self.bound) / max(1.0, abs(self.incumbent))

    def decided_below(self, threshold: float) -> bool | None:
        """For a minimisation: True if proven optimum <= threshold (by incumbent), False if proven
        optimum > threshold (by bound), None if undecided.  Mirrored for a maximisation
        (True means >= threshold, False means < threshold)."""
        if self.sense is Sense.MINIMIZE:
            if self.incumbent is not None and self.incumbent <= threshold:
                return True
            if self.bound is not None and self.bound > threshold:
                return False
        else:
            if self.incumbent is not None and self.incumbent >= threshold:
                return True
            if self.bound is not None and self.bound < threshold:
                return False
        return None


class Backend(abc.ABC):
    """Base class of solver backends (one subclass per solver, one file each)."""

    name: ClassVar[str] = ""
    features: ClassVar[frozenset[Feature]] = frozenset()
    max_size: ClassVar[tuple[int, int] | None] = None  # (columns, rows) licence cap, if known

    def __init__(self, options: SolveOptions | None = None):
        self.options = options or SolveOptions()
        self.form: StandardForm | None = None

    @classmethod
    @abc.abstractmethod
    def available(cls) -> bool:
        """True if the solver can be imported (must not take a licence)."""

    @classmethod
    def version(cls) -> str:
        return ""

    @abc.abstractmethod
    def load(self, form: StandardForm) -> None:
        """Build the native model once from a compiled :class:`StandardForm`."""

    @abc.abstractmethod
    def set_objective(self, c: np.ndarray, c0: float, sense: Sense) -> None:
        """Replace the objective of the loaded model (no rebuild)."""

    @abc.abstractmethod
    def solve(self, *, warm_start: np.ndarray | None = None,
              decision: DecisionTarget | None = None,
              options: SolveOptions | None = None) -> SolveResult:
        """Solve the loaded model; ``options`` override the constructor's for this call."""

    def write(self, path: str | Path) -> Path:
        """Write the loaded model to ``path`` (format from the suffix: .mps or .lp)."""
        raise NotImplementedError(f"{type(self).__name__} cannot write model files")

    def set_column_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Replace column bounds of the loaded model (used for bound tightening)."""
        raise NotImplementedError(f"{type(self).__name__} cannot change column bounds")

    @classmethod
    def licence_limit(cls) -> tuple[int, int] | None:
        """(columns, rows) the licence in use allows, when known in advance (else None)."""
        return cls.max_size

    @classmethod
    def model_size(cls, form: StandardForm) -> tuple[int, int]:
        """(columns, rows) of ``form`` as this solver counts them for its licence."""
        return form.n_cols, form.n_rows

    @classmethod
    def check_form(cls, form: StandardForm) -> None:
        """Refuse a form that needs a feature this backend lacks (SOS1 sets, indicator rows).

        Every backend's :meth:`load` calls this first, so an encoding the solver cannot load
        is an error naming the backend, never silently dropped constraints.
        """
        needs = []
        if getattr(form, "sos1", None):
            needs.append(Feature.SOS1)
        if getattr(form, "indicators", None):
            needs.append(Feature.INDICATOR)
        missing = [f.value for f in needs if f not in cls.features]
        if missing:
            have = [n for n in backend_names() if _has_features(n, needs)]
            raise InvalidParameterError(
                f"solver backend {cls.name!r} cannot load {' and '.join(missing)} constraints "
                f"(complementarity encoding {'/'.join(missing)}); use the 'bigm' encoding or "
                f"a backend with these features: {', '.join(have) or 'none installed'}")

    def _require_loaded(self) -> StandardForm:
        if self.form is None:
            raise InvalidParameterError(f"{type(self).__name__}: call load(form) before solving")
        return self.form

    def _checked_objective(self, c, c0: float) -> np.ndarray:
        """``c`` as a finite float vector of the loaded form's width (``c0`` finite too)."""
        form = self._require_loaded()
        c = np.asarray(c, dtype=float)
        if c.shape != (form.n_cols,) or not np.all(np.isfinite(c)) or not math.isfinite(c0):
            raise InvalidParameterError(
                f"objective must be finite of shape ({form.n_cols},), got shape {c.shape}")
        return c

    def _checked_bounds(self, lower, upper) -> tuple[np.ndarray, np.ndarray]:
        """Column bounds as float vectors of the loaded form's width."""
        form = self._require_loaded()
        lower = np.asarray(lower, dtype=float)
        upper = np.asarray(upper, dtype=float)
        if lower.shape != (form.n_cols,) or upper.shape != (form.n_cols,):
            raise InvalidParameterError(f"bounds must have shape ({form.n_cols},)")
        return lower, upper

    def _checked_write_path(self, path: str | Path) -> Path:
        """A ``.mps`` / ``.lp`` path for :meth:`write` (a model must be loaded)."""
        self._require_loaded()
        path = Path(path)
        if path.suffix.lower() not in (".mps", ".lp"):
            raise InvalidParameterError(f"cannot write {path.name!r}: use a .mps or .lp suffix")
        return path


_REGISTRY: dict[str, type[Backend] | str] = {
    "highs": "certmodel.backends.highs:HighsBackend",
    "gurobi": "certmodel.backends.gurobi:GurobiBackend",
    "scip": "certmodel.backends.scip:ScipBackend",
}
_ENTRY_POINTS_LOADED = False


def register_backend(name: str):
    """Class decorator registering a backend under ``name``."""

    def deco(cls: type[Backend]) -> type[Backend]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="certmodel.backends"):
        _REGISTRY.setdefault(ep.name, ep.value)


def backend_names() -> list[str]:
    """Every registered backend name (installed or not)."""
    _load_entry_points()
    return sorted(_REGISTRY)


def _resolve(name: str) -> type[Backend]:
    target = _REGISTRY[name]
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise BackendUnavailableError(f"backend {name!r} ({target}) cannot be loaded: {e}") \
                from e
        _REGISTRY[name] = cls
        target = cls
    return target


PYOMO_PREFIX = "pyomo:"
_INSTALL_HINTS = {"gurobi": " (pip install 'certmodel[gurobi]')",
                  "scip": " (pip install 'certmodel[scip]')"}


def backend_class(name: str) -> type[Backend]:
    """The class registered as ``name`` (or made for ``pyomo:<solver>``), installed or not.

    Raises :class:`InvalidParameterError` for an unknown name (listing the registered and
    installed ones) and :class:`BackendUnavailableError` when its module cannot be imported.
    """
    if not isinstance(name, str) or not name:
        raise InvalidParameterError(f"solver backend name must be a non-empty string, "
                                    f"got {name!r}")
    if name.startswith(PYOMO_PREFIX):
        from certmodel.backends.pyomo_solvers import pyomo_backend

        return pyomo_backend(name)
    _load_entry_points()
    if name not in _REGISTRY:
        raise InvalidParameterError(
            f"unknown solver backend {name!r}; registered: {', '.join(sorted(_REGISTRY))}; "
            f"installed here: {', '.join(available_backends()) or 'none'} (or any Pyomo "
            f"solver as 'pyomo:<name>', e.g. pyomo:cbc; see `certmodel solvers`)")
    return _resolve(name)


def get_backend(name: str) -> type[Backend]:
    """The backend class registered as ``name``; raises if unknown or not installed."""
    cls = backend_class(name)
    if not cls.available():
        raise BackendUnavailableError(
            f"solver backend {name!r} is not installed{_INSTALL_HINTS.get(name, '')}; "
            f"installed here: {', '.join(available_backends()) or 'none'} "
            "(see `certmodel solvers`)")
    return cls


def check_backend_name(name: str, what: str = "solver") -> str:
    """Validate a backend name at an input boundary (CLI, sweep file, options).

    Returns ``name``; raises :class:`InvalidParameterError` (unknown) or
    :class:`BackendUnavailableError` (not installed), each naming ``what`` and listing the
    installed backends.
    """
    try:
        get_backend(name)
    except InvalidParameterError as e:
        raise InvalidParameterError(f"{what}: {e}") from None
    except BackendUnavailableError as e:
        raise BackendUnavailableError(f"{what}: {e}") from None
    return name


def _has_features(name: str, needs) -> bool:
    try:
        cls = _resolve(name)
    except BackendUnavailableError:
        return False
    return cls.available() and all(f in cls.features for f in needs)


def available_backends() -> list[str]:
    """Names of the backends whose solver imports here."""
    out = []
    for name in backend_names():
        try:
            cls = _resolve(name)
        except BackendUnavailableError:
            continue
        if cls.available():
            out.append(name)
    return out


def module_available(module: str) -> bool:
    """``importlib.util.find_spec`` without importing (never takes a licence)."""
    return importlib.util.find_spec(module) is not None
