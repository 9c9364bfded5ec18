"""Exact multiclass search one rival at a time, over the moves that rival can see.

The exact multiclass margin of test point ``t`` (clean top class ``a``) splits over rivals,

    min_L (f_a − max_{k≠a} f_k) = min_{k≠a} min_L (f_a − f_k),

and ``f_a − f_k`` depends on a relabelling ``L`` only through the two one-vs-rest problems
``a`` and ``k``, i.e. through which points carry label ``a`` and which carry ``k``.  So for
rival ``k`` a move of point ``j`` from ``b`` to ``c``

* with ``b, c ∉ {a, k}`` changes neither problem: it is never needed (dropping it keeps
  ``f_a − f_k`` and lowers the cost);
* with ``b ∈ {a, k}`` and ``c ∉ {a, k}`` gives the same ``f_a`` and ``f_k`` for every such
  ``c``: one representative ``c`` suffices;
* to ``a`` or to ``k`` is kept as it is.

Every relabelling within the threat model maps to one in this reduced move set with the same
``f_a − f_k`` and at most its cost, so :func:`~certmodel.labelcert._search.search_multiclass`
with ``moves`` = :func:`rival_moves` and the margin against ``k`` alone
(``rivals``) finds ``min_L (f_a − f_k)`` exactly — with two moves per point instead of
``K − 1`` and bounds on ``f_a − f_k`` alone, not on the worst of all rivals at once.  A
witness for any rival changes the prediction (``f_a ≤ f_k``), and settles its budget and every
larger one for the row's other rivals (budget monotonicity).  Rivals are searched nearest first
(smallest clean ``f_a − f_k``), one search per (top class, rival) serving every row that
shares them.  With ``workers`` (or a dask ``scheduler``) the (top class, rival) searches run
as parallel tasks (:func:`certmodel.parallel.run_tasks`) under one deadline — the same exact
result, merged the same way; a witness then no longer closes budgets for the searches already
running, and a task that crashes leaves its rows incomplete (``unknown``).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import time

import numpy as np

from certmodel.blas import blas_threads, current
from certmodel.labelcert._problem import Problem, retrain_ovr
from certmodel.labelcert._search import SearchResult, move_mask, search_multiclass

__all__ = ["rival_moves", "search_multiclass_rivals"]


def rival_moves(prob: Problem, top: int, rival: int) -> np.ndarray:
    """(n, K) bool: the moves searched for the margin ``f_top − f_rival`` (module docstring):
    every admissible move to ``top`` or ``rival``, and for points of those two classes one
    admissible move to a class outside them (the first such target)."""
    mv = move_mask(prob)
    out = np.zeros_like(mv)
    out[:, top] = mv[:, top]
    out[:, rival] = mv[:, rival]
    others = np.ones(prob.n_classes, bool)
    others[[top, rival]] = False
    away = mv & others[None, :]
    own = np.isin(prob.codes, [top, rival]) & away.any(axis=1)
    j = np.flatnonzero(own)
    out[j, np.argmax(away[j], axis=1)] = True
    return out


@dataclasses.dataclass
class _RivalTask:
    """One (top class, rival) search (picklable: sent to a process or a dask worker)."""

    prob: object
    alphas: np.ndarray
    tops: np.ndarray
    rows: np.ndarray  # test rows (indices into prob.K_test)
    budgets: list
    open_mask: np.ndarray
    eps: np.ndarray
    geo: object
    top: int
    rival: int
    deadline: float | None  # time.time() epoch seconds
    order: bool = True
    blas: int | None = None


def _run_rival(task: _RivalTask) -> SearchResult:
    """Task entry point: one rival's search up to the deadline."""
    limit = None if task.deadline is None else max(task.deadline - time.time(), 0.0)
    with blas_threads(task.blas):
        return search_multiclass(task.prob, task.alphas, task.tops, task.rows, task.budgets,
                                 task.open_mask, task.eps, task.geo, time_limit=limit,
                                 order=task.order, rivals=np.full(len(task.tops), task.rival),
                                 moves=rival_moves(task.prob, task.top, task.rival))


def search_multiclass_rivals(prob: Problem, alphas: np.ndarray, tops: np.ndarray,
                             rows: np.ndarray, budgets: list, open_mask: np.ndarray,
                             eps: np.ndarray, geo, time_limit: float | None = None,
                             order: bool = True, workers: int | None = None,
                             scheduler: str | None = None) -> SearchResult:
    """:func:`~certmodel.labelcert._search.search_multiclass`'s result (same arguments and
    meaning), found one (top class, rival) pair at a time (module docstring).

    ``visited``/``witness`` — the smallest ``f_a − f_k`` attained over rivals (a witness
    ``≤ 0`` changes the prediction); ``pruned`` — the smallest pruning bound of any rival's
    search; ``complete[r]`` — every rival search of row ``r`` finished for the budgets still
    open when it started.  The time limit covers all the rival searches together.
    ``workers`` / ``scheduler``: run the (top class, rival) searches as tasks on that many
    local processes (``1``: tasks in this process) or the dask cluster (module docstring);
    ``None`` (default): one after the other, witnesses closing budgets for the next."""
    t_start, c_start = time.perf_counter(), time.process_time()
    rows = np.asarray(rows, dtype=int)
    bud = np.asarray(sorted(budgets), dtype=float)
    R, J = len(rows), len(bud)
    nK = prob.n_classes
    visited = np.full((R, J), np.inf)
    pruned = np.full((R, J), np.inf)
    witness = [[None] * J for _ in range(R)]
    complete = np.ones(R, bool)
    open_ = np.asarray(open_mask, bool).copy()
    nodes = pruned_nodes = 0
    tops = np.asarray(tops, dtype=int)
    Z0 = np.where(prob.codes[None, :] == np.arange(nK)[:, None], 1.0, -1.0) * \
        np.asarray(alphas, float)
    F0 = prob.K_test[rows] @ Z0.T  # (R, K) clean logits
    top_r = tops[rows]
    gap = F0[np.arange(R), top_r][:, None] - F0  # (R, K): clean f_a − f_k
    pairs = {}
    for r in range(R):
        for k in range(nK):
            if k != top_r[r]:
                pairs.setdefault((int(top_r[r]), k), []).append(r)
    # nearest rivals first: witnesses early close budgets for the other rivals
    order_ = sorted(pairs, key=lambda ak: min(gap[r, ak[1]] for r in pairs[ak]))

    def merge(sel, res):
        nonlocal nodes, pruned_nodes
        if res is None:  # a crashed task: its rows are not complete
            complete[sel] = False
            return
        nodes += res.nodes
        pruned_nodes += res.pruned_nodes
        for i, r in enumerate(sel):
            for j in range(J):
                if res.visited[i, j] < visited[r, j]:
                    visited[r, j] = res.visited[i, j]
                    witness[r][j] = res.witness[i][j]
            pruned[r] = np.minimum(pruned[r], res.pruned[i])
        complete[sel] &= res.complete

    if workers is not None or scheduler is not None:
        from certmodel.parallel import run_tasks

        deadline = None if time_limit is None else time.time() + time_limit
        sent = dataclasses.replace(prob, customize=None) if dataclasses.is_dataclass(prob) \
            and getattr(prob, "customize", None) is not None else prob
        groups = [np.array(pairs[ak], dtype=int) for ak in order_]
        tasks = [_RivalTask(sent, np.asarray(alphas, float), tops, rows[g], list(bud),
                            open_[g], np.asarray(eps, float), geo, a, k, deadline, order,
                            current()) for (a, k), g in zip(order_, groups)]
        elsewhere = scheduler is not None or \
            ((workers or 1) > 1 and not multiprocessing.current_process().daemon)
        task_cpu = 0.0  # the tasks' CPU seconds where they ran in other processes
        for out in run_tasks(_run_rival, tasks, workers=workers or 1, scheduler=scheduler):
            merge(groups[out.index], out.value if out.ok else None)
            if out.ok and elsewhere:
                task_cpu += out.value.cpu
        _exact_witness_margins(prob, rows, tops, visited, witness)
        return SearchResult(bud, visited, pruned, witness, complete, nodes, pruned_nodes,
                            time.perf_counter() - t_start,
                            task_cpu + time.process_time() - c_start)
    for (a, k) in order_:
        sel = np.array([r for r in pairs[(a, k)] if open_[r].any()], dtype=int)
        if not len(sel):
            continue
        left = None
        if time_limit is not None:
            left = time_limit - (time.perf_counter() - t_start)
            if left <= 0:
                complete[sel] = False
                continue
        rivals = np.full(len(tops), k)
        res = search_multiclass(prob, alphas, tops, rows[sel], list(bud), open_[sel], eps,
                                geo, time_limit=left, order=order, rivals=rivals,
                                moves=rival_moves(prob, a, k))
        merge(sel, res)
        open_ &= ~(visited <= 0)
    _exact_witness_margins(prob, rows, tops, visited, witness)
    return SearchResult(bud, visited, pruned, witness, complete, nodes, pruned_nodes,
                        time.perf_counter() - t_start, time.process_time() - c_start)


def _exact_witness_margins(prob, rows, tops, visited, witness) -> None:
    """A witness's ``visited`` entry is ``f_a − f_k`` for the rival that found it; report the
    prediction margin ``f_a − max_{c≠a} f_c`` of its relabelling (retrained; ``≤`` that),
    in place."""
    seen = {}
    for r, j in zip(*np.nonzero(visited <= 0)):
        pairs = witness[r][j]
        if pairs not in seen:
            labels = prob.codes.copy()
            for i, c in pairs:
                labels[i] = c
            seen[pairs] = prob.K_test @ retrain_ovr(prob.K, labels, prob.n_classes, prob.C).T
        f = seen[pairs][rows[r]]
        a = int(tops[rows[r]])
        visited[r, j] = min(visited[r, j], f[a] - np.delete(f, a).max())

