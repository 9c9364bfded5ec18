"""The whole certificate pipeline: data → split → NTK → learner → certificates → store.

>>> from certmodel.pipeline import CertifyConfig, run_certify
>>> config = CertifyConfig(dataset="csbm", arch="gcn", budgets=(1, 2, 4))
>>> result = run_certify(config)  # doctest: +SKIP
>>> result.summary()  # doctest: +SKIP

Sample-wise certificates are independent per test point, so the test set is cut into tasks
(chunks of test points) that run in this process, in local processes or on a
dask.distributed cluster (:mod:`certmodel.parallel`).  Each task's records go to the results
store (:mod:`certmodel.store`) in one transaction; what is stored is never computed again.
A task whose worker crashes or times out yields ``unknown`` records carrying the error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from certmodel._validation import check_choice
from certmodel.exceptions import InvalidParameterError
from certmodel.results import (
    CertificateRecord,
    CollectiveRecord,
    Path,
    ValueKind,
    Verdict,
    summarize,
)

__all__ = ["CertifyConfig", "RunResult", "Prepared", "prepare", "run_certify",
           "certify_arrays", "package_version", "read_sweep", "sweep_configs",
           "METHODS", "MODES", "LEARNERS"]

METHODS = ("labelcert", "scalabel")
MODES = ("samplewise", "collective", "multiclass", "multiclass-inexact")
LEARNERS = ("svm", "krr")
SOLVERS = ("highs", "gurobi")

_SYNTHETIC = ("csbm", "cba")
_DEFAULT_C = {  # spec §6.2: the C of the reference's certification configs
    "csbm": 0.001, "cba": 0.001, "karate": 0.01,
    ("cora_ml_binary", "gcn"): 0.075, ("cora_ml_binary", "sgc"): 0.075,
    ("cora_ml_binary", "mlp"): 0.025, ("cora_ml_binary", "gin"): 0.025,
    ("cora_ml_binary", "graphsage"): 0.0075,
    ("citeseer_binary", "gcn"): 0.75, ("citeseer_binary", "sgc"): 2.5,
}
_DEFAULT_PER_CLASS = {"karate": 2}
_CV_GRID = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75,
            1.0, 2.5, 5.0, 7.5, 10.0)


def package_version() -> str:
    """The installed certmodel version (``0+unknown`` when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("certmodel")
    except PackageNotFoundError:
        return "0+unknown"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------

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
        MILP backend (``highs`` or ``gurobi``).
    time_limit : float or None
        Seconds per MILP solve (time-outs give ``unknown``).
    max_test : int or None
        Certify a random subset of this many test nodes (``PCG64(seed)``).
    parity : bool
        Reproduce the reference numerically (NTK clipping rules, ε = 0).
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
        if self.labelled_per_class is not None and self.labelled_per_class < 1:
            raise InvalidParameterError(
                f"--labelled-per-class must be >= 1, got {self.labelled_per_class}")
        if not self.ridge > 0:
            raise InvalidParameterError(f"--ridge must be > 0, got {self.ridge}")

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
        """Hash of everything but the budget list: records are keyed by it + point + budget.

        A later run with more budgets reuses the records stored for the budgets in common.
        """
        d = self.to_dict()
        d.pop("budgets")
        d.pop("budget_fractions")
        return hashlib.sha256(
            _canonical({"config": d, "version": package_version()}).encode()).hexdigest()

    def label(self) -> str:
        """Short human-readable name, e.g. ``csbm/gcn(row,L1) seed 0``."""
        norm = self.normalization or "default"
        return f"{self.dataset}/{self.arch}({norm},L{self.depth}) seed {self.seed}"


# ----------------------------------------------------------------------------------------------
# data → split → kernel → learner
# ----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Prepared:
    """The certification problem of one configuration (kernel slices, labels, C, budgets)."""

    K_train: np.ndarray
    y_train: np.ndarray
    K_test: np.ndarray
    test_index: np.ndarray
    y_test: np.ndarray
    C: float
    budgets: list[int]
    n_classes: int
    prediction: np.ndarray
    clean_margin: np.ndarray
    timings: dict = dataclasses.field(default_factory=dict)

    @property
    def n_labelled(self) -> int:
        return int(self.y_train.shape[0])

    @property
    def clean_accuracy(self) -> float:
        return float(np.mean(self.prediction == self.y_test)) if self.y_test.size else math.nan


def _load(config: CertifyConfig, data_dir):
    from certmodel import datasets

    check_choice(config.dataset, "--dataset", datasets.dataset_names())
    options = dict(config.dataset_options)
    if config.dataset in _SYNTHETIC:
        options.setdefault("seed", config.seed)
    data = datasets.load(config.dataset, data_dir=data_dir, **options)
    if not hasattr(data, "A"):
        raise InvalidParameterError(
            f"--dataset {config.dataset} is not a graph; certify works on graphs "
            "(use `certmodel ensemble` for image data sets)")
    return data


def _split(config: CertifyConfig, data) -> tuple[np.ndarray, np.ndarray]:
    from certmodel.datasets import labelcert_split

    per_class = config.labelled_per_class
    if per_class is None and config.dataset not in _SYNTHETIC:
        per_class = _DEFAULT_PER_CLASS.get(config.dataset, 5)
    labelled, test = labelcert_split(data, n_per_class=per_class, seed=config.seed)
    labelled, test = np.asarray(labelled), np.asarray(test)
    if config.max_test is not None and test.size > config.max_test:
        rng = np.random.Generator(np.random.PCG64(config.seed))
        test = rng.choice(test, config.max_test, replace=False)
    return labelled, test


def _default_C(config: CertifyConfig) -> float | None:
    return _DEFAULT_C.get((config.dataset, config.arch), _DEFAULT_C.get(config.dataset))


def _svm_logits(K_train, y, K_test, C, n_classes) -> np.ndarray:
    """Clean logits of the bias-free SVM: (m,) binary (y in ±1), (m, K) one-vs-rest."""
    from certmodel.learners import solve_svm_dual

    if n_classes == 2:
        alpha = solve_svm_dual(K_train, y, C).alpha
        return K_test @ (alpha * y)
    out = np.empty((K_test.shape[0], n_classes))
    for k in range(n_classes):
        yk = np.where(y == k, 1.0, -1.0)
        out[:, k] = K_test @ (solve_svm_dual(K_train, yk, C).alpha * yk)
    return out


def _predictions(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if logits.ndim == 1:  # reference: class +1 iff f >= 0
        return np.where(logits >= 0, 1, -1), np.abs(logits)
    order = np.sort(logits, axis=1)
    return np.argmax(logits, axis=1), order[:, -1] - order[:, -2]


def _cv_select_C(K, y, seed: int, folds: int = 4) -> float:
    """Stratified k-fold CV of the SVM over the spec's C grid (spec §6.3; first best wins)."""
    from certmodel.learners import KernelSVM, cross_validate

    result = cross_validate(lambda C: KernelSVM(C=C), K, y, _CV_GRID, folds=folds,
                            seeds=(seed,))
    return float(result.best)


def prepare(config: CertifyConfig, data_dir=None) -> Prepared:
    """Load, split, compute the NTK and fit the clean learner of one configuration."""
    from certmodel import kernels
    from certmodel.datasets import budget_from_fraction

    t0 = time.perf_counter()
    data = _load(config, data_dir)
    n_classes = int(data.n_classes)
    binary = config.mode in ("samplewise", "collective")
    if binary and n_classes != 2:
        raise InvalidParameterError(
            f"--mode {config.mode} needs a binary dataset, but {config.dataset} has "
            f"{n_classes} classes; use --mode multiclass or a *_binary dataset")
    labelled, test = _split(config, data)
    t1 = time.perf_counter()
    check_choice(config.arch, "--arch", kernels.architectures())
    from certmodel.kernels._architectures import REGISTRY

    uses_graph = getattr(REGISTRY.get(config.arch), "graph", True)
    K = kernels.ntk(config.arch, data.X, data.A if uses_graph else None,
                    normalization=config.normalization if uses_graph else None,
                    depth=config.depth, parity=config.parity, **config.arch_options)
    t2 = time.perf_counter()
    K = np.asarray(K, dtype=np.float64)
    K_train = K[np.ix_(labelled, labelled)]
    K_train = 0.5 * (K_train + K_train.T)  # round-off asymmetry only (|K − Kᵀ| ~ 1e-14)
    K_test = K[np.ix_(test, labelled)]
    y = np.asarray(data.y, dtype=np.int64)
    if binary:
        y = 2 * y - 1  # {0, 1} -> {-1, +1} (spec: ỹ = 2y − 1)
    y_train, y_test = y[labelled], y[test]
    n = labelled.size
    if config.budgets is not None:
        budgets = list(config.budgets)
        if max(budgets) > n:
            raise InvalidParameterError(
                f"--budget {max(budgets)} exceeds the {n} labelled nodes")
    else:
        budgets = sorted(set(budget_from_fraction(list(config.budget_fractions), n)))
    if config.cv:
        C = _cv_select_C(K_train, y_train, config.seed)
    else:
        C = config.C if config.C is not None else _default_C(config)
        if C is None:
            raise InvalidParameterError(
                f"no default C for --dataset {config.dataset} --arch {config.arch}; "
                "give --C VALUE or --cv")
    k_classes = 2 if binary else n_classes
    if config.learner == "krr":
        logits = _weights(K_train, K_test, y_train, C, "krr", config.ridge, k_classes) @ \
            (y_train if k_classes == 2 else np.eye(k_classes)[y_train])
    else:
        logits = _svm_logits(K_train, y_train, K_test, C, k_classes)
    prediction, margin = _predictions(logits)
    t3 = time.perf_counter()
    return Prepared(K_train=K_train, y_train=y_train, K_test=K_test, test_index=test,
                    y_test=y_test, C=float(C), budgets=budgets, n_classes=k_classes,
                    prediction=prediction, clean_margin=margin,
                    timings={"data": t1 - t0, "kernel": t2 - t1, "learner": t3 - t2})


# ----------------------------------------------------------------------------------------------
# certificates on arrays (one task; also `certmodel certify --instance`)
# ----------------------------------------------------------------------------------------------

def _weights(K_train, K_test, y, C, learner, ridge, n_classes) -> np.ndarray:
    """Label-independent weights W of a label-linear learner (ScaLabelCert's input)."""
    if learner == "krr":
        n = K_train.shape[0]
        return np.linalg.solve(K_train + ridge * np.eye(n), K_test.T).T
    from certmodel.learners import is_saturated

    if not is_saturated(K_train, C):
        raise InvalidParameterError(
            f"the SVM with C = {C:g} is outside the saturated regime (C must be < "
            f"1 / max_i Σ_j |K_ij|), so it is not label-linear and ScaLabelCert cannot "
            "certify it exactly; use --method labelcert")
    # saturated: α ≡ C, f = C K_test y (binary ±1); one-vs-rest margins equal 2C K_test 1[y=c]
    return C * K_test if n_classes == 2 else 2.0 * C * K_test


def certify_arrays(K_train, y, K_test, C, budgets, *, method="labelcert", mode="samplewise",
                   learner="svm", ridge=1.0, solver="highs", time_limit=None,
                   eps: float | None = None, test_indices=None, labelcert_options=None,
                   ) -> list[CertificateRecord | CollectiveRecord]:
    """Certificates for a precomputed kernel problem (one task of a run, or an instance file).

    Parameters
    ----------
    K_train : ndarray (n, n)
    y : ndarray (n,)
        ``±1`` (binary) or ``0..K-1`` labels.
    K_test : ndarray (m, n)
    C : float
        SVM box bound (``learner="svm"``).
    budgets : sequence of int
    method, mode, learner, ridge, solver, time_limit
        As in :class:`CertifyConfig`.
    eps : float, optional
        Soundness margin of LabelCert (default: its own, 1e-6 relative).
    test_indices : sequence of int, optional
        ``test_index`` of each row of ``K_test``.
    labelcert_options : LabelCertOptions, optional
        Base options of LabelCert (e.g. ``max_enumeration``); ``solver``, ``time_limit`` and
        ``eps`` above override its fields.
    """
    check_choice(method, "--method", METHODS)
    check_choice(mode, "--mode", MODES)
    check_choice(learner, "--learner", LEARNERS)
    if method == "labelcert":
        if learner != "svm":
            raise InvalidParameterError("--method labelcert certifies the SVM: use --learner svm")
        try:
            from certmodel import labelcert
            from certmodel.labelcert import LabelCertOptions
        except ImportError as e:
            raise NotImplementedError(f"certmodel.labelcert is not available: {e}") from e
        kw: dict[str, Any] = {"backend": solver, "time_limit": time_limit}
        if eps is not None:
            kw["eps"] = eps
        base = labelcert_options or LabelCertOptions()
        return labelcert.certify(K_train, y, K_test, C, list(budgets), mode=mode,
                                 options=base.replace(**kw), test_indices=test_indices)
    from certmodel import scalabel

    classes = np.unique(y)
    binary = classes.size <= 2 and set(classes.tolist()) <= {-1, 1}
    n_classes = 2 if binary else int(np.max(y)) + 1
    W = _weights(np.asarray(K_train, float), np.asarray(K_test, float), y, C, learner, ridge,
                 n_classes)
    if mode == "collective":
        return [scalabel.certify_collective(W, y, int(B), backend=solver, time_limit=time_limit,
                                            test_indices=test_indices) for B in budgets]
    if mode == "samplewise" and not binary:
        raise InvalidParameterError("--mode samplewise needs binary labels (±1); "
                                    "use --mode multiclass")
    return scalabel.certify(W, y, list(budgets), test_indices=test_indices)


def _certify_task(payload: dict) -> list:
    """Worker entry point: one chunk of test points (module-level, picklable)."""
    return certify_arrays(**payload)


# ----------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class RunResult:
    """Outcome of :func:`run_certify`.

    Attributes
    ----------
    records : list
        Sample-wise records ordered by test point, then budget (or collective records, one
        per budget).
    y_true : dict
        ``test_index`` -> true label (±1 for binary tasks).
    clean_accuracy : float
    C : float
        The C used (given, default or cross-validated).
    n_labelled, n_test : int
    budgets : list of int
    wall_time : float
    n_computed, n_reused : int
        Records computed in this run / taken from the store.
    errors : list of str
        One line per failed task.
    timings : dict
        Seconds spent on data, kernel, learner and certificates.
    """

    config: CertifyConfig
    records: list
    y_true: dict
    clean_accuracy: float
    C: float
    n_labelled: int
    n_test: int
    budgets: list
    wall_time: float
    n_computed: int = 0
    n_reused: int = 0
    errors: list = dataclasses.field(default_factory=list)
    timings: dict = dataclasses.field(default_factory=dict)

    def summary(self) -> list[dict]:
        """Per-budget rows: counts, certified ratio, certified accuracy (see :func:`summarize`)."""
        if self.records and isinstance(self.records[0], CollectiveRecord):
            return [{"budget": r.budget, "n": r.n_test, "robust": r.certified_count,
                     "not_robust": None, "unknown": None,
                     "certified_ratio": r.certified_ratio, "wall_time": r.wall_time,
                     "accuracy": self.clean_accuracy, "certified_accuracy": None}
                    for r in self.records]
        return summarize(self.records, self.y_true)


def _unknown_records(prep: Prepared, rows: Sequence[int], budgets: Sequence[int], method: str,
                     error: str) -> list[CertificateRecord]:
    status = "timeout" if "timed out" in error else "error"
    path = Path.SORT if method == "scalabel" else Path.MILP
    return [CertificateRecord(
        test_index=int(prep.test_index[r]), budget=int(b), verdict=Verdict.UNKNOWN,
        prediction=int(prep.prediction[r]), clean_margin=float(prep.clean_margin[r]),
        value=None, value_kind=ValueKind.NONE, method=method, path=path,
        solver_status=status, extra={"error": error}) for r in rows for b in budgets]


def _chunks(rows: Sequence[int], size: int) -> list[list[int]]:
    return [list(rows[i:i + size]) for i in range(0, len(rows), size)]


def run_certify(config: CertifyConfig, *, workers: int | None = None,
                scheduler: str | None = None,
                store=None, progress: Callable[[int, int], None] | None = None,
                data_dir=None, chunk_size: int | None = None,
                task_timeout: float | None = None,
                task_fn: Callable[[dict], list] | None = None) -> RunResult:
    """Run one configuration end to end; store and return its records.

    Parameters
    ----------
    config : CertifyConfig
    workers : int, optional
        Local worker processes (1 = in this process).  Default: in this process when every
        certificate has a closed form (ScaLabelCert, or the SVM in the saturated regime),
        else :func:`certmodel.parallel.default_workers` processes.
    scheduler : str, optional
        dask.distributed scheduler address (``tcp://HOST:PORT``); overrides ``workers``.
    store : ResultStore or path, optional
        Results store (a path is opened after the inputs are validated, so a bad input
        creates no file): stored (test point, budget) pairs are skipped, new ones written per
        task in one transaction.
    progress : callable, optional
        ``progress(done, total)`` in test points, called after every task.
    data_dir : path, optional
        Dataset folder (default ``$CERTMODEL_DATA``).
    chunk_size : int, optional
        Test points per task (default: about four tasks per worker, at most 64 points).
    task_timeout : float, optional
        Seconds before a task is abandoned (its records become ``unknown``).
    task_fn : callable, optional
        Replaces the task function (testing hook; must be picklable for processes).

    Returns
    -------
    RunResult
    """
    t_start = time.perf_counter()
    prep = prepare(config, data_dir)
    if workers is None:
        workers = _auto_workers(config, prep)
    done: set[tuple[int, int]] = set()
    own_store = store is not None and not hasattr(store, "write_task")
    if own_store:
        from certmodel.store import ResultStore

        store = ResultStore(store)
    try:
        return _run_prepared(config, prep, store, done, workers=workers, scheduler=scheduler,
                             progress=progress, chunk_size=chunk_size,
                             task_timeout=task_timeout, task_fn=task_fn, t_start=t_start)
    finally:
        if own_store:
            store.close()


def _auto_workers(config: CertifyConfig, prep: Prepared) -> int:
    from certmodel.learners import is_saturated
    from certmodel.parallel import default_workers

    closed_form = config.method == "scalabel" or is_saturated(prep.K_train, prep.C)
    return 1 if closed_form or prep.test_index.size < 2 else default_workers()


def _run_prepared(config, prep, store, done, *, workers, scheduler, progress, chunk_size,
                  task_timeout, task_fn, t_start) -> RunResult:
    from certmodel.parallel import run_tasks

    version = package_version()
    key = config.point_hash()
    run_id = uuid.uuid4().hex
    collective = config.mode == "collective"
    if store is not None:
        cfg = config.to_dict()
        cfg.pop("budgets")
        cfg.pop("budget_fractions")
        store.register_config(key, cfg, version)
        done = store.stored_keys(key)
    m = prep.test_index.size
    y_true = {int(t): int(v) for t, v in zip(prep.test_index, prep.y_test)}
    base = {"K_train": prep.K_train, "y": prep.y_train, "C": prep.C, "method": config.method,
            "mode": config.mode, "learner": config.learner, "ridge": config.ridge,
            "solver": config.solver, "time_limit": config.time_limit,
            "eps": 0.0 if config.parity and config.method == "labelcert" else None}

    # what is left to do: group test points by their missing budgets
    tasks: list[tuple[list[int], list[int]]] = []
    if collective:
        missing = [b for b in prep.budgets if (-1, b) not in done]
        if missing:
            tasks.append((list(range(m)), missing))
    else:
        groups: dict[tuple[int, ...], list[int]] = {}
        for r, t in enumerate(prep.test_index):
            miss = tuple(b for b in prep.budgets if (int(t), b) not in done)
            if miss:
                groups.setdefault(miss, []).append(r)
        w = 1 if scheduler is None and workers <= 1 else max(workers, 2)
        size = chunk_size or max(1, min(64, math.ceil(m / (4 * w))))
        for miss, rows in groups.items():
            tasks.extend((chunk, list(miss)) for chunk in _chunks(rows, size))
    payloads = [dict(base, K_test=prep.K_test[rows], budgets=budgets,
                     test_indices=prep.test_index[rows]) for rows, budgets in tasks]

    new: list = []
    errors: list[str] = []
    n_computed = 0
    total = m
    finished = m - sum(len(rows) for rows, _ in tasks) if not collective else (0 if tasks else m)
    if progress is not None:
        progress(finished, total)
    t_cert = time.perf_counter()
    for outcome in run_tasks(task_fn or _certify_task, payloads, workers=workers,
                             scheduler=scheduler, timeout=task_timeout):
        rows, budgets = tasks[outcome.index]
        if outcome.ok:
            recs = list(outcome.value)
        else:
            errors.append(outcome.error)
            if collective:
                recs = [CollectiveRecord(
                    budget=b, n_test=m, certified_count=0, bound=float(m), incumbent=None,
                    method=config.method, path=Path.MILP, test_indices=tuple(prep.test_index),
                    solver_status="error", extra={"error": outcome.error}) for b in budgets]
            else:
                recs = _unknown_records(prep, rows, budgets, config.method, outcome.error)
        n_computed += len(recs)
        if store is not None:
            store.write_task(key, run_id, version,
                             [(r, None if collective else y_true.get(r.test_index))
                              for r in recs], error=outcome.error)
        new.extend(recs)
        finished += len(rows) if not collective else m
        if progress is not None:
            progress(finished, total)
    t_end = time.perf_counter()

    if store is not None:
        records = [s.record for s in store.records(key)
                   if s.record.budget in prep.budgets
                   and (collective == isinstance(s.record, CollectiveRecord))
                   and (collective or s.record.test_index in y_true)]
    else:
        records = new
    if collective:
        records.sort(key=lambda r: r.budget)
    else:
        records.sort(key=lambda r: (r.test_index, r.budget))
    n_reused = len(records) - n_computed
    timings = dict(prep.timings, certificates=t_end - t_cert)
    return RunResult(config=config, records=records, y_true=y_true,
                     clean_accuracy=prep.clean_accuracy, C=prep.C, n_labelled=prep.n_labelled,
                     n_test=m, budgets=prep.budgets, wall_time=t_end - t_start,
                     n_computed=n_computed, n_reused=max(0, n_reused), errors=errors,
                     timings=timings)


# ----------------------------------------------------------------------------------------------
# sweeps (a grid of configurations from a TOML file)
# ----------------------------------------------------------------------------------------------

_GRID_KEYS = {"datasets": "dataset", "architectures": "arch", "seeds": "seed",
              "modes": "mode", "methods": "method", "normalizations": "normalization",
              "depths": "depth"}


def sweep_configs(doc: dict) -> list[CertifyConfig]:
    """Expand a sweep document into configurations (the grid's cartesian product).

    Keys: grid lists ``datasets``, ``architectures``, ``seeds`` (required) and optional
    ``modes``, ``methods``, ``normalizations``, ``depths``; ``budgets`` or
    ``budget_fractions`` (the budgets of every run); tables ``[options]`` (any
    :class:`CertifyConfig` field for every run), ``[arch_options.ARCH]`` and
    ``[dataset_options.DATASET]``.
    """
    import itertools

    doc = dict(doc)
    known = set(_GRID_KEYS) | {"budgets", "budget_fractions", "options", "arch_options",
                               "dataset_options", "name"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise InvalidParameterError(
            f"unknown sweep key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(known))}")
    for req in ("datasets", "architectures"):
        if req not in doc:
            raise InvalidParameterError(f"the sweep needs a list {req} = [...]")
    axes = []
    for key, field in _GRID_KEYS.items():
        values = doc.get(key, [0] if key == "seeds" else None)
        if values is None:
            continue
        if not isinstance(values, list) or not values:
            raise InvalidParameterError(f"sweep key {key} must be a non-empty list")
        axes.append([(field, v) for v in values])
    options = dict(doc.get("options", {}))
    arch_opts = doc.get("arch_options", {})
    data_opts = doc.get("dataset_options", {})
    configs = []
    for combo in itertools.product(*axes):
        d = dict(options)
        d.update(combo)
        d["budgets"] = doc.get("budgets")
        d["budget_fractions"] = doc.get("budget_fractions")
        d["arch_options"] = dict(arch_opts.get(d["arch"], {}))
        d["dataset_options"] = dict(data_opts.get(d["dataset"], {}))
        configs.append(CertifyConfig.from_dict(d))
    return configs


def read_sweep(path) -> list[CertifyConfig]:
    """Read a sweep TOML file (see :func:`sweep_configs`)."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise InvalidParameterError(f"sweep file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise InvalidParameterError(f"sweep file {path} is not valid TOML: {e}") from None
    return sweep_configs(doc)
