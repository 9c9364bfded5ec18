"""Run one configuration: cut the test set into tasks, run them, store and collect records.

Sample-wise certificates are independent per test point, so the test set is cut into tasks
(chunks of test points) that run in this process, in local processes or on a
dask.distributed cluster (:mod:`certmodel.parallel`).  Each task's records go to the results
store (:mod:`certmodel.store`) in one transaction; what is stored is never computed again.
A task whose worker crashes or times out yields ``unknown`` records carrying the error.
"""

from __future__ import annotations

import dataclasses
import math
import time
import uuid
from collections.abc import Callable, Sequence

from certmodel.learners import is_saturated
from certmodel.parallel import default_workers, run_tasks
from certmodel.pipeline.arrays import certify_task
from certmodel.pipeline.config import CertifyConfig, package_version
from certmodel.pipeline.prepare import Prepared, prepare
from certmodel.results import (
    CertificateRecord,
    CollectiveRecord,
    Path,
    ValueKind,
    Verdict,
    summarize,
)
from certmodel.store import ResultStore

__all__ = ["RunResult", "run_certify", "Interrupted"]


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C / SIGTERM; ``records`` holds what it finished (also stored)."""

    def __init__(self, records: list, total: int):
        super().__init__(f"interrupted after {len(records)} of {total} records")
        self.records = records
        self.total = total


def _by_node_id(rec, labelled_index):
    """Relabelling keyed by node id instead of the position in the labelled set."""
    if labelled_index is None or rec.relabelling is None:
        return rec
    relab = {int(labelled_index[k]): v for k, v in rec.relabelling.items()}
    return dataclasses.replace(rec, relabelling=relab)


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
    labelled_index : list of int
        Node ids of the labelled set (relabellings are keyed by these node ids).
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
    labelled_index: list = dataclasses.field(default_factory=list)

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
                task_fn: Callable[[dict], list] | None = None,
                rerun_unknown: bool = False) -> RunResult:
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
        ``progress(done, total)`` in records (test point × budget; collective: budgets),
        called after every task.
    data_dir : path, optional
        Dataset folder (default ``$CERTMODEL_DATA``).
    chunk_size : int, optional
        Test points per task (default: about four tasks per worker, at most 64 points).
    task_timeout : float, optional
        Seconds before a task is abandoned (its records become ``unknown``).
    task_fn : callable, optional
        Replaces the task function (testing hook; must be picklable for processes).
    rerun_unknown : bool
        Compute the stored ``unknown`` records again (e.g. with a larger ``time_limit``, which
        is not part of the record keys) and replace them.  Records of failed tasks (errors,
        crashes, task time-outs) are always computed again.

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
        store = ResultStore(store)
    try:
        return _run_prepared(config, prep, store, done, workers=workers, scheduler=scheduler,
                             progress=progress, chunk_size=chunk_size,
                             task_timeout=task_timeout, task_fn=task_fn, t_start=t_start,
                             rerun_unknown=rerun_unknown)
    finally:
        if own_store:
            store.close()


def _auto_workers(config: CertifyConfig, prep: Prepared) -> int:
    closed_form = config.method == "scalabel" or is_saturated(prep.K_train, prep.C)
    return 1 if closed_form or prep.test_index.size < 2 else default_workers()


def _run_prepared(config, prep, store, done, *, workers, scheduler, progress, chunk_size,
                  task_timeout, task_fn, t_start, rerun_unknown=False) -> RunResult:
    version = package_version()
    key = config.point_hash()
    run_id = uuid.uuid4().hex
    collective = config.mode == "collective"
    if store is not None:
        cfg = config.to_dict()
        cfg.pop("budgets")
        cfg.pop("budget_fractions")
        store.register_config(key, cfg, version)
        done = store.stored_keys(key, rerun_unknown=rerun_unknown)
    m = prep.test_index.size
    y_true = {int(t): int(v) for t, v in zip(prep.test_index, prep.y_test)}
    base = {"K_train": prep.K_train, "y": prep.y_train, "C": prep.C, "method": config.method,
            "mode": config.mode, "learner": config.learner, "ridge": config.ridge,
            "solver": config.solver, "time_limit": config.time_limit,
            "eps": 0.0 if config.parity and config.method == "labelcert" else None}
    if config.search_workers > 1 or config.cut_bound is not None:  # method labelcert
        from certmodel.labelcert import LabelCertOptions  # (checked by CertifyConfig)

        base["labelcert_options"] = LabelCertOptions(search_workers=config.search_workers,
                                                     cut_bound=config.cut_bound)

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
    per_row = 1 if collective else len(prep.budgets)
    total = len(prep.budgets) if collective else m * per_row
    finished = total - sum(len(b) if collective else len(rows) * len(b) for rows, b in tasks)
    if progress is not None:
        progress(finished, total)
    t_cert = time.perf_counter()
    outcomes = run_tasks(task_fn or certify_task, payloads, workers=workers,
                         scheduler=scheduler, timeout=task_timeout)
    while True:
        try:
            outcome = next(outcomes, None)
        except KeyboardInterrupt:
            raise Interrupted(new, total) from None
        if outcome is None:
            break
        rows, budgets = tasks[outcome.index]
        if outcome.ok:
            recs = [_by_node_id(r, prep.labelled_index) for r in outcome.value]
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
                              for r in recs], error=outcome.error,
                             replace_unknown=rerun_unknown)
        new.extend(recs)
        finished += len(recs)
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
                     timings=timings,
                     labelled_index=[] if prep.labelled_index is None
                     else [int(i) for i in prep.labelled_index])
