"""One run's configuration (:class:`CertifyConfig`) and the hashes that key its stored results.

``config_hash = sha256(canonical_json({"config": config, "version": package_version}))``;
``point_hash`` is the same without the budget list and the time limit, so a later run with
more budgets reuses the records stored for the budgets in common, and one with a larger time
limit can re-run only the ``unknown`` records.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from certmodel._validation import check_choice
from certmodel.exceptions import InvalidParameterError

__all__ = ["CertifyConfig", "package_version", "METHODS", "MODES", "LEARNERS", "SOLVERS"]

METHODS = ("labelcert", "scalabel")
MODES = ("samplewise", "collective", "multiclass", "multiclass-inexact")
LEARNERS = ("svm", "krr")
SOLVERS = ("highs", "gurobi", "scip")  # the built-in backends; any registered name is valid


def package_version() -> str:
    """The installed certmodel version (``0+unknown`` when not installed)."""
    try:
        return version("certmodel")
    except PackageNotFoundError:
        return "0+unknown"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


@dataclasses.dataclass(frozen=True)
class CertifyConfig:
    """Everything that determines a certificate run (and so its stored results).

    Attributes
    ----------
    dataset : str
        A name of :func:`certmodel.datasets.dataset_names` (graphs only here).
    dataset_options : dict
        Loader options (e.g. ``{"n": 100}`` for ``csbm``).  Synthetic graphs are sampled with
        ``seed`` unless a ``seed`` option is given.
    arch : str
        A name of :func:`certmodel.kernels.architectures`.
    normalization : str or None
        Graph normalisation (``row``, ``sym`` ...); None = the architecture's default.
    depth : int
        Hidden layers of the network whose NTK is used.
    arch_options : dict
        Architecture options (e.g. ``{"alpha": 0.1}`` for ``appnp``).
    C : float or None
        SVM box bound; None = the reference's value for the dataset (spec §6.2) or ``cv``.
    cv : bool
        Choose C by 4-fold stratified cross-validation on the labelled set.
    labelled_per_class : int or None
        Train (and again val) nodes per class; None = the generator's split for CSBM/CBA,
        2 for karate, 5 otherwise.  Labelled = train ∪ val; test = every other node.
    seed : int
        Data seed (synthetic graphs), split seed and test-subsample seed.
    budgets : tuple of int or None
        Integer budgets.  Exactly one of ``budgets`` / ``budget_fractions``.
    budget_fractions : tuple of float or None
        Budgets as fractions δ of the labelled set: ``int(δ·n)`` (spec §5.6).
    method : {"labelcert", "scalabel"}
    mode : {"samplewise", "collective", "multiclass", "multiclass-inexact"}
    learner : {"svm", "krr"}
        ``krr`` (kernel ridge, ridge ``ridge``) needs ``method="scalabel"``.
    ridge : float
        Ridge λ of kernel ridge regression.
    solver : str
        MILP backend: a registered name (``highs``, ``gurobi``, ``scip``, a plug-in) or
        ``pyomo:<solver>``; must be installed (see ``certmodel solvers``).
    time_limit : float or None
        Seconds per MILP solve (time-outs give ``unknown``).
    max_test : int or None
        Certify a random subset of this many test nodes (``PCG64(seed)``).
    parity : bool
        Reproduce the reference numerically (NTK clipping rules, ε = 0).
    search_workers : int
        Local processes each of LabelCert's exact relabelling searches is split over
        (``LabelCertOptions.search_workers``; ``method="labelcert"`` only).  Like
        ``time_limit`` it decides only how long a record takes (and so which records end
        ``unknown``), never a decided verdict: it is not part of the record keys.  A run
        uses up to ``workers × search_workers`` processes.
    cut_bound : bool or None
        LabelCert's optimality-cut bound (B4) in the exact searches
        (``LabelCertOptions.cut_bound``; None: on, as by default; ``method="labelcert"``
        only).  It prunes only provably harmless subtrees, so it too changes only the time
        a record takes and is not part of the record keys.
    """

    dataset: str = "csbm"
    dataset_options: dict = dataclasses.field(default_factory=dict)
    arch: str = "gcn"
    normalization: str | None = None
    depth: int = 1
    arch_options: dict = dataclasses.field(default_factory=dict)
    C: float | None = None
    cv: bool = False
    labelled_per_class: int | None = None
    seed: int = 0
    budgets: tuple[int, ...] | None = None
    budget_fractions: tuple[float, ...] | None = None
    method: str = "labelcert"
    mode: str = "samplewise"
    learner: str = "svm"
    ridge: float = 1.0
    solver: str = "highs"
    time_limit: float | None = None
    max_test: int | None = None
    parity: bool = False
    search_workers: int = 1
    cut_bound: bool | None = None

    def __post_init__(self):
        check_choice(self.method, "--method", METHODS)
        check_choice(self.mode, "--mode", MODES)
        check_choice(self.learner, "--learner", LEARNERS)
        if self.learner == "krr" and self.method != "scalabel":
            raise InvalidParameterError("--learner krr needs --method scalabel "
                                        "(LabelCert certifies the SVM)")
        if (self.budgets is None) == (self.budget_fractions is None):
            raise InvalidParameterError("give exactly one of --budget and --budget-fraction")
        if self.budgets is not None:
            b = tuple(int(v) for v in self.budgets)
            if not b or any(v < 0 for v in b):
                raise InvalidParameterError(f"--budget must be non-negative integers, got {b}")
            object.__setattr__(self, "budgets", tuple(sorted(set(b))))
        if self.budget_fractions is not None:
            f = tuple(float(v) for v in self.budget_fractions)
            if not f or any(not 0 <= v <= 1 for v in f):
                raise InvalidParameterError(
                    f"--budget-fraction values must lie in [0, 1], got {list(f)}")
            object.__setattr__(self, "budget_fractions", tuple(sorted(set(f))))
        if self.C is not None and not (math.isfinite(self.C) and self.C > 0):
            raise InvalidParameterError(f"--C must be a positive number, got {self.C}")
        if self.C is not None and self.cv:
            raise InvalidParameterError("give either --C or --cv, not both")
        if self.depth < 1:
            raise InvalidParameterError(f"--depth must be >= 1, got {self.depth}")
        if self.max_test is not None and self.max_test < 1:
            raise InvalidParameterError(f"--max-test must be >= 1, got {self.max_test}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise InvalidParameterError(f"--time-limit must be > 0, got {self.time_limit}")
        from certmodel.backends.base import check_backend_name

        check_backend_name(self.solver, "solver")  # registered and installed (or pyomo:NAME)
        if self.labelled_per_class is not None and self.labelled_per_class < 1:
            raise InvalidParameterError(
                f"--labelled-per-class must be >= 1, got {self.labelled_per_class}")
        if not self.ridge > 0:
            raise InvalidParameterError(f"--ridge must be > 0, got {self.ridge}")
        if (not isinstance(self.search_workers, int) or isinstance(self.search_workers, bool)
                or self.search_workers < 1):
            raise InvalidParameterError(
                f"--search-workers must be an integer >= 1, got {self.search_workers!r}")
        if self.search_workers > 1 and self.method != "labelcert":
            raise InvalidParameterError(
                f"--search-workers {self.search_workers} splits LabelCert's exact search; "
                f"--method {self.method} has none (give --method labelcert or drop it)")
        if self.cut_bound is not None and not isinstance(self.cut_bound, bool):
            raise InvalidParameterError(
                f"cut_bound must be true, false or null, got {self.cut_bound!r}")
        if self.cut_bound is not None and self.method != "labelcert":
            flag = "--cut-bound" if self.cut_bound else "--no-cut-bound"
            raise InvalidParameterError(
                f"{flag} tunes LabelCert's exact search; --method {self.method} has none "
                "(give --method labelcert or drop it)")

    def to_dict(self) -> dict:
        """Plain JSON-able dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        for k in ("budgets", "budget_fractions"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CertifyConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise InvalidParameterError(
                f"unknown configuration key(s) {', '.join(unknown)}; valid keys: "
                f"{', '.join(sorted(names))}")
        d = dict(d)
        for k in ("budgets", "budget_fractions"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the configuration plus the package version."""
        return hashlib.sha256(
            _canonical({"config": self.to_dict(), "version": package_version()}).encode()
        ).hexdigest()

    def point_hash(self) -> str:
        """Hash of everything but the budget list, the time limit and the search workers:
        records are keyed by it + point + budget.

        A later run with more budgets reuses the records stored for the budgets in common.  The
        time limit only decides which records end ``unknown`` (a decided verdict is exact under
        any limit), so a run with a larger limit shares the records and can re-run just the
        ``unknown`` ones (``run_certify(..., rerun_unknown=True)``).  ``search_workers``
        and ``cut_bound`` likewise change only the time a record takes.
        """
        d = self.to_dict()
        d.pop("budgets")
        d.pop("budget_fractions")
        d.pop("time_limit")
        d.pop("search_workers")
        d.pop("cut_bound")
        return hashlib.sha256(
            _canonical({"config": d, "version": package_version()}).encode()).hexdigest()

    def label(self) -> str:
        """Short human-readable name, e.g. ``csbm/gcn(row,L1) seed 0``."""
        norm = self.normalization or "default"
        return f"{self.dataset}/{self.arch}({norm},L{self.depth}) seed {self.seed}"
