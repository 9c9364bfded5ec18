"""One relabelling search (binary, multiclass or collective) split over processes or dask.

The search of :mod:`certmodel.labelcert._search` reaches every admissible flip set once:
with the root's order ``ρ`` of the flippable points, the root's child adding ``i`` covers
exactly the sets whose first point in ``ρ`` is ``i``
(:func:`~certmodel.labelcert._flip_order.child_masks`).  So for any partition
``I_1 ∪ … ∪ I_P`` of the flippable points, the searches that expand only the root's
children in ``I_w`` (:func:`~certmodel.labelcert._search.search_binary` with
``first_flips = I_w`` and the same ``root_ranks = ρ``) together cover every relabelling,
each once.  ``ρ`` is computed here once and handed to every part (a part on another machine
never recomputes it, so rounding there cannot change the partition).  Part ``w`` takes the
points of rank ``≡ w (mod P)``, ``P = PARTS_PER_WORKER × workers``: the root's first
children carry the largest subtrees, and dealing them round-robin into more parts than
workers lets the task runner balance the load.

Merging (:func:`merge_results`) is exact: per test row and budget the smallest visited
margin (with its witness) and the smallest pruning bound over the parts; a row is complete
only if every part finished.  A part that fails (crash, ``RetrainFailed``) or stops at the
deadline leaves every row incomplete — its witnesses (exactly retrained relabellings) are
still kept, nothing is ever proven robust from an unfinished part.  Each part runs its own
bookkeeping (rows closed by a witness in one part are still searched by the others), so
the parts retrain somewhat more nodes in total than one search does; the gain is wall time.

The inexact multiclass relaxation's one-vs-rest searches are binary searches with row
thresholds (``offset``) and split the same way.  The exact multiclass search
(:func:`search_multiclass_split`) splits by the point moved
first (a child moves one point to any target class; its subtree moves only later points)
and merges like the binary one.  The collective search (:func:`search_collective_split`)
splits the same way; its merge takes per budget the largest count over the parts (with that
part's witness), complete only if every part is — a count is exact only when no part left
relabellings unexamined — and it runs in two rounds (see there).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from certmodel.blas import blas_threads, current
from certmodel.labelcert._flip_order import node_ranks, node_ranks_ovr
from certmodel.labelcert._search import (
    SearchResult,
    _flip_cost,
    b3_readout,
    search_binary,
    search_collective,
    search_multiclass,
)

__all__ = ["split_wanted", "root_ranks", "root_ranks_multiclass", "split_parts", "merge_results",
           "search_binary_split", "search_multiclass_split", "search_collective_split"]

PARTS_PER_WORKER = 4
FIRST_ROUND_SHARE = 0.05  # collective: the first round's share of the time (incumbents)
FIRST_ROUND_SECONDS = 10.0  # ... and its seconds when the search has no time limit


def split_wanted(opts) -> bool:
    """Do the options ask for split searches (``search_workers > 1`` or a dask
    ``search_scheduler``)?"""
    return opts.search_workers > 1 or opts.search_scheduler is not None


def root_ranks(prob, alpha0: np.ndarray, signs: np.ndarray, rows: np.ndarray, budget: float,
               geo) -> np.ndarray:
    """(n,) the root's order of the flippable points, most harmful first for the test
    ``rows`` (:func:`~certmodel.labelcert._flip_order.node_ranks` over every row); data
    order without a PSD geometry."""
    flippable, cost, _ = _flip_cost(prob)
    if geo is None or not geo.psd or not flippable.any():
        return np.arange(prob.n)
    rows = np.asarray(rows, int)
    min_cost = float(cost[flippable].min())
    Kt = prob.K_test[rows] * signs[rows, None]
    kappa, rest = geo.readout(prob.K_test[rows], prob.C)
    alpha0 = np.asarray(alpha0, float)
    ro = b3_readout(prob, geo, alpha0, prob.y_pm, Kt, kappa, rest, float(budget), flippable,
                    min_cost)
    Z = (prob.y_pm * alpha0)[None]
    return node_ranks(ro, Z, prob.y_pm[None], prob.C, flippable[None])[0]


def root_ranks_multiclass(prob, alphas: np.ndarray, tops: np.ndarray, rows: np.ndarray,
                          budget: float, geo) -> np.ndarray:
    """(n,) the root's order for the one-vs-rest search
    (:func:`~certmodel.labelcert._flip_order.node_ranks_ovr` over every row); data order
    without a PSD geometry."""
    flippable, cost, targets = _flip_cost(prob)
    if geo is None or not geo.psd or not flippable.any():
        return np.arange(prob.n)
    rows = np.asarray(rows, int)
    codes, nK, C = prob.codes, prob.n_classes, prob.C
    Kt = prob.K_test[rows]
    kappa, rest = geo.readout(Kt, C)
    min_cost = float(cost[flippable].min())
    A0 = np.asarray(alphas, float)
    allowed_k = [(codes == k) | targets[k] for k in range(nK)]
    ros = [b3_readout(prob, geo, A0[k], np.where(codes == k, 1.0, -1.0), Kt, kappa, rest,
                      float(budget), flippable & allowed_k[k], min_cost) for k in range(nK)]
    Y0 = np.where(codes[None, :] == np.arange(nK)[:, None], 1.0, -1.0)
    return node_ranks_ovr(ros, (Y0 * A0)[None], Y0[None], C, flippable[None], allowed_k,
                          np.arange(len(rows)), np.asarray(tops)[rows])[0]


def split_parts(ranks: np.ndarray, flippable: np.ndarray, parts: int) -> list[np.ndarray]:
    """The flippable points dealt round-robin by rank into ``parts`` disjoint masks (empty
    masks dropped); their union is ``flippable``."""
    ranks = np.asarray(ranks, int)
    flippable = np.asarray(flippable, bool)
    order = np.argsort(np.where(flippable, ranks, np.iinfo(np.int64).max), kind="stable")
    order = order[:int(flippable.sum())]
    out = []
    for w in range(max(1, parts)):
        mask = np.zeros(len(ranks), bool)
        mask[order[w::parts]] = True
        if mask.any():
            out.append(mask)
    return out


def merge_results(results: list, n_rows: int, budgets) -> SearchResult:
    """One :class:`~certmodel.labelcert._search.SearchResult` from the parts' results
    (``None`` for a part that failed): element-wise smallest visited margin (its witness)
    and pruning bound; complete only if every part is."""
    bud = np.asarray(sorted(budgets), float)
    J = len(bud)
    visited = np.full((n_rows, J), np.inf)
    pruned = np.full((n_rows, J), np.inf)
    witness = [[None] * J for _ in range(n_rows)]
    complete = np.ones(n_rows, bool)
    nodes = pruned_nodes = 0
    seconds = cpu = 0.0
    for res in results:
        if res is None:
            complete[:] = False
            continue
        better = res.visited < visited
        for r, j in zip(*np.nonzero(better)):
            witness[r][j] = res.witness[r][j]
        visited = np.minimum(visited, res.visited)
        pruned = np.minimum(pruned, res.pruned)
        complete &= np.asarray(res.complete, bool)
        nodes += res.nodes
        pruned_nodes += res.pruned_nodes
        seconds = max(seconds, res.seconds)
        cpu += res.cpu
    return SearchResult(bud, visited, pruned, witness, complete, nodes, pruned_nodes, seconds,
                        cpu)


@dataclasses.dataclass
class _Part:
    """One part of a split sample-wise search (picklable: sent to a process or a dask
    worker).  ``search``: ``"binary"`` (``state`` = α, ``aux`` = signs) or ``"multiclass"``
    (``state`` = the one-vs-rest α's, ``aux`` = the predicted classes)."""

    search: str
    prob: object
    state: np.ndarray
    aux: np.ndarray
    rows: np.ndarray
    budgets: list
    open_mask: np.ndarray
    eps: np.ndarray
    geo: object
    first_flips: np.ndarray
    root_ranks: np.ndarray
    deadline: float | None  # time.time() epoch seconds
    offset: np.ndarray | None = None  # binary: the rows' thresholds (search_binary's offset)
    blas: int | None = None  # the caller's BLAS threads (certmodel.blas.current)


def _run_part(part: _Part) -> SearchResult:
    """Task entry point (module level, picklable): one part's search up to the deadline."""
    limit = None if part.deadline is None else max(part.deadline - time.time(), 0.0)
    extra = {"offset": part.offset} if part.search == "binary" else {}
    fn = search_binary if part.search == "binary" else search_multiclass
    with blas_threads(part.blas):
        return fn(part.prob, part.state, part.aux, part.rows, part.budgets, part.open_mask,
                  part.eps, part.geo, time_limit=limit, first_flips=part.first_flips,
                  root_ranks=part.root_ranks, **extra)


def _split_samplewise(search, prob, state, aux, rows, budgets, open_mask, eps, geo, ranks,
                      time_limit, workers, scheduler, parts, offset=None) -> SearchResult:
    """Run the parts of a sample-wise search (``search`` as in :class:`_Part`) and merge
    them (:func:`merge_results`)."""
    from certmodel.parallel import run_tasks

    t0, c0 = time.perf_counter(), time.process_time()
    fn = search_binary if search == "binary" else search_multiclass
    extra = {"offset": offset} if search == "binary" else {}
    masks = split_parts(ranks, _flip_cost(prob)[0], parts or PARTS_PER_WORKER * max(1, workers))
    if not masks:  # nothing flippable: the root alone
        return fn(prob, state, aux, rows, budgets, open_mask, eps, geo, time_limit=time_limit,
                  **extra)
    deadline = None if time_limit is None else time.time() + time_limit
    sent = dataclasses.replace(prob, customize=None) if dataclasses.is_dataclass(prob) \
        and getattr(prob, "customize", None) is not None else prob
    payloads = [_Part(search, sent, np.asarray(state, float), np.asarray(aux), rows,
                      list(budgets), np.asarray(open_mask, bool), np.asarray(eps, float), geo,
                      m, ranks, deadline,
                      None if offset is None else np.asarray(offset, float), current())
                for m in masks]
    results: list = [None] * len(payloads)
    for out in run_tasks(_run_part, payloads, workers=workers, scheduler=scheduler):
        results[out.index] = out.value if out.ok else None
    merged = merge_results(results, len(rows), budgets)
    merged.seconds = time.perf_counter() - t0
    merged.cpu += time.process_time() - c0  # the parts' CPU plus this process's
    return merged


def search_binary_split(prob, alpha0, signs, rows, budgets, open_mask, eps, geo, *,
                        time_limit: float | None = None, workers: int = 2,
                        scheduler: str | None = None, parts: int | None = None,
                        offset: np.ndarray | None = None) -> SearchResult:
    """:func:`~certmodel.labelcert._search.search_binary` split into ``parts`` (default
    ``PARTS_PER_WORKER × workers``) run on ``workers`` local processes or the dask
    ``scheduler`` (:func:`certmodel.parallel.run_tasks`), merged exactly (module doc).
    ``time_limit``: wall seconds for the whole split search; ``offset``: the rows'
    thresholds, as in ``search_binary``."""
    rows = np.asarray(rows, int)
    ranks = root_ranks(prob, alpha0, signs, rows, float(max(budgets)), geo)
    return _split_samplewise("binary", prob, alpha0, signs, rows, budgets, open_mask, eps,
                             geo, ranks, time_limit, workers, scheduler, parts, offset)


def search_multiclass_split(prob, alphas, tops, rows, budgets, open_mask, eps, geo, *,
                            time_limit: float | None = None, workers: int = 2,
                            scheduler: str | None = None, parts: int | None = None,
                            ) -> SearchResult:
    """:func:`~certmodel.labelcert._search.search_multiclass` split like
    :func:`search_binary_split` (the parts partition the point moved first), merged
    exactly by :func:`merge_results`."""
    rows = np.asarray(rows, int)
    ranks = root_ranks_multiclass(prob, alphas, tops, rows, float(max(budgets)), geo)
    return _split_samplewise("multiclass", prob, alphas, tops, rows, budgets, open_mask, eps,
                             geo, ranks, time_limit, workers, scheduler, parts)


@dataclasses.dataclass
class _CollectivePart:
    """One part of a split collective search (picklable)."""

    prob: object
    alpha0: np.ndarray
    signs: np.ndarray
    budgets: list
    geo: object
    incumbent: tuple | None
    first_flips: np.ndarray
    root_ranks: np.ndarray
    deadline: float | None
    seconds: float | None = None  # at most this long from the part's own start
    blas: int | None = None  # the caller's BLAS threads (certmodel.blas.current)


def _run_collective_part(part: _CollectivePart):
    """Task entry point: one part's collective search up to the deadline (and at most
    ``seconds``): ``(count, witness, complete, nodes)``."""
    limit = None if part.deadline is None else max(part.deadline - time.time(), 0.0)
    if part.seconds is not None:
        limit = part.seconds if limit is None else min(limit, part.seconds)
    with blas_threads(part.blas):
        return search_collective(part.prob, part.alpha0, part.signs, part.budgets, part.geo,
                                 time_limit=limit, incumbent=part.incumbent,
                                 first_flips=part.first_flips, root_ranks=part.root_ranks)


def search_collective_split(prob, alpha0, signs, budgets, geo, *,
                            time_limit: float | None = None, incumbent=None,
                            workers: int = 2, scheduler: str | None = None,
                            parts: int | None = None):
    """:func:`~certmodel.labelcert._search.search_collective` split like
    :func:`search_binary_split`; returns its ``(count, witness, complete, nodes)``: per
    sorted budget the largest count of any part (its witness), complete only if every part
    finished.

    The collective bound prunes against the best count found so far, which the parts do
    not share while they run (with only its own incumbent a part explores several times
    the nodes).  So the parts run in two rounds: in the first each part searches for its
    share of ``FIRST_ROUND_SHARE`` of the time (``FIRST_ROUND_SECONDS`` without a limit) —
    the start of every part's region, where its most harmful flips are; the second restarts
    the unfinished parts from the best replayed count of every part so far, until the
    deadline (a finished part's count is exact for its relabellings whatever incumbent it
    started from)."""
    from certmodel.parallel import run_tasks

    t0 = time.perf_counter()
    flippable = _flip_cost(prob)[0]
    ranks = root_ranks(prob, alpha0, signs, np.arange(prob.m), float(max(budgets)), geo)
    masks = split_parts(ranks, flippable, parts or PARTS_PER_WORKER * max(1, workers))
    if not masks:
        return search_collective(prob, alpha0, signs, budgets, geo, time_limit=time_limit,
                                 incumbent=incumbent)
    sent = dataclasses.replace(prob, customize=None) if dataclasses.is_dataclass(prob) \
        and getattr(prob, "customize", None) is not None else prob
    bud = sorted(budgets)
    J = len(bud)
    cost = _flip_cost(prob)[1]
    count = np.full(J, -1)
    witness: list = [() for _ in range(J)]
    pending = list(range(len(masks)))
    nodes = 0
    for first in (True, False):  # two rounds: find incumbents, then finish from the best
        left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if not pending or (left is not None and left <= 0):
            break
        # round 1: every part its share of the first round's time, counted from its own
        # start (parts queued behind others still get theirs); round 2: until the deadline
        per_part = None
        if first:
            total = FIRST_ROUND_SECONDS if left is None else FIRST_ROUND_SHARE * left
            per_part = total * max(1, workers) / len(pending)
        start = incumbent
        if count.max() >= 0:  # the best replayed count so far (its budget's witness)
            j = int(np.argmax(count))
            if incumbent is None or count[j] > incumbent[0]:
                S = np.asarray(witness[j], int)
                start = (int(count[j]), S, float(cost[S].sum()))
        deadline = None if left is None else time.time() + left
        payloads = [_CollectivePart(sent, np.asarray(alpha0, float), np.asarray(signs, float),
                                    bud, geo, start, masks[w], ranks, deadline, per_part,
                                    current())
                    for w in pending]
        still = []
        for out in run_tasks(_run_collective_part, payloads, workers=workers,
                             scheduler=scheduler):
            if not out.ok:  # a part that crashed is not retried: the counts are not exact
                still.append(-1)
                continue
            cnt, wit, done, n_nodes = out.value
            for jb in range(J):
                if cnt[jb] > count[jb]:
                    count[jb], witness[jb] = int(cnt[jb]), wit[jb]
            nodes += n_nodes
            if not done:
                still.append(pending[out.index])
        if -1 in still:
            pending = still
            break
        pending = still
    if (count < 0).any():  # no part returned: nothing known
        return np.zeros(J, int), [() for _ in range(J)], False, nodes
    return count, witness, not pending, nodes
