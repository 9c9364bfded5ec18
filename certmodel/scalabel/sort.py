"""ScaLabelCert's sort: exact worst margins and minimum flip counts for label-linear learners.

For logits ``f_c(x_t) = Σ_i W[t, i] · 1[y_i = c]``, clean prediction ``a = argmax_c f_c``
(ties to the smaller class index) and rival ``b ≠ a``, relabelling point ``i`` decreases the
margin ``M_ab = f_a − f_b`` by at most

    d_i(b) = max(0, W_ti (1[y_i = a] − 1[y_i = b]) + |W_ti|)

(new label ``b`` if ``W_ti > 0``, ``a`` if ``W_ti < 0``).  Decreases add up, so with
``S_b(B)`` the sum of the ``B`` largest ``d_i(b)``:

    worst margin at B   = min_{b≠a} (M_ab − S_b(B))
    min flips           = min_{b≠a} min {k : M_ab − S_b(k) ≤ eps_abs}

Binary tasks are the case ``K = 2`` (``f_1 − f_0 = W @ y_pm``).  All test points are handled
at once.  With witnesses: one ``argsort`` of the (m, K, n) decrease tensor, in chunks of test
points.  Counts only (``witnesses=False``, what EnsembleCert uses): the decreases against ``b``
are ``2·max(w, 0)`` on class ``a``, ``2·max(−w, 0)`` on class ``b`` and ``|w|`` elsewhere, so
the ``L`` largest are merged from per-class top-``L`` lists (read off class blocks sorted
once per row) and their cumulative sums are bit-identical to the full sort's first
``L + 1``; rows still above the tolerance after ``L`` decreases are redone with ``4L`` (a
full sort once ``K·L ≥ n``).
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from certmodel._validation import check_scalar
from certmodel.scalabel._inputs import Problem, prepare

__all__ = ["MinFlips", "min_flips", "worst_margin", "analyse"]

_CHUNK_ELEMENTS = 1 << 21  # ~16 MB of float64 per (chunk, K, n) tensor


@dataclasses.dataclass(frozen=True)
class MinFlips:
    """Per-test-point result of the sort (arrays indexed by test row ``t``).

    Attributes
    ----------
    prediction : ndarray of shape (m,)
        Clean prediction in the caller's label values.
    clean_margin : ndarray of shape (m,)
        ``f_a − max_{b≠a} f_b``.
    min_flips : ndarray of int of shape (m,)
        Minimum number of relabels making some rival tie or win (0 if the clean margin is
        already ``≤ eps_abs``); ``n + 1`` means impossible.  Certified radius = ``min_flips − 1``.
    rival : ndarray of shape (m,)
        The rival (label value) reached with ``min_flips`` relabels.
    per_rival : ndarray of int of shape (m, K)
        ``per_rival[t, c]`` = minimum relabels making ``f_c ≥ f_a`` (0 at ``c = a``,
        ``n + 1`` if impossible), columns in the order of ``classes``.
    relabellings : list of dict
        For each test point, training index -> new label value achieving ``min_flips``
        (``None`` where impossible).
    eps_abs : ndarray of shape (m,)
        The absolute tie tolerance used: ``eps · Σ_i |W_ti|``.
    classes : ndarray of shape (K,)
        Class values (column order of ``per_rival``).
    """

    prediction: np.ndarray
    clean_margin: np.ndarray
    min_flips: np.ndarray
    rival: np.ndarray
    per_rival: np.ndarray
    relabellings: list
    eps_abs: np.ndarray
    classes: np.ndarray

    @property
    def radius(self) -> np.ndarray:
        """Certified radius ``min_flips − 1`` (−1: not robust even at budget 0)."""
        return self.min_flips - 1


@dataclasses.dataclass
class _Analysis:
    """Internal: everything the record builder needs (codes, not label values)."""

    pred: np.ndarray  # (m,) class code a
    clean_margin: np.ndarray  # (m,)
    eps_abs: np.ndarray  # (m,)
    per_rival: np.ndarray  # (m, K) int, 0 at a
    min_flips: np.ndarray  # (m,) int, n + 1 if impossible
    rival: np.ndarray  # (m,) code of the rival reached with min_flips
    min_relabel: list  # (m,) dict code-free: index -> new label value, or None
    worst: dict  # budget -> (m,) worst margin
    worst_rival: dict  # budget -> (m,) rival code attaining it
    worst_relabel: dict  # budget -> list of dict (only where worst <= eps_abs, else None)


def _decreases(W: np.ndarray, codes: np.ndarray, pred: np.ndarray, K: int) -> np.ndarray:
    """``d[t, b, i] = max(0, W_ti (1[y_i=a_t] − 1[y_i=b]) + |W_ti|)``, zero at ``b = a_t``."""
    is_a = (codes[None, :] == pred[:, None]).astype(np.float64)  # (m, n)
    is_b = (codes[None, :] == np.arange(K)[:, None]).astype(np.float64)  # (K, n)
    d = W[:, None, :] * (is_a[:, None, :] - is_b[None, :, :]) + np.abs(W)[:, None, :]
    np.maximum(d, 0.0, out=d)
    d[np.arange(W.shape[0]), pred, :] = 0.0
    return d


_TOP_L = 8  # first top-k tried by the counts-only path (x4 for unresolved rows)


def _class_sorted(W: np.ndarray, codes: np.ndarray, K: int):
    """Columns of ``W`` grouped by class, each class block sorted ascending per row.

    Returns ``(Ws, off)``: ``Ws[:, off[c]:off[c+1]]`` holds row ``t``'s weights on class ``c``
    in increasing order.  One gather plus a per-block ``np.sort`` (vectorised, several times
    faster than ``np.partition`` on rows of ~100 entries); a redo with a larger top-``L`` then
    only slices.
    """
    order = np.argsort(codes, kind="stable")
    Ws = np.take(W, order, axis=1)
    off = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=K))])
    for c in range(K):
        if off[c + 1] - off[c] > 1:
            Ws[:, off[c]:off[c + 1]].sort(axis=1)
    return Ws, off


def _class_tops(Ws: np.ndarray, off: np.ndarray, K: int, L: int):
    """Per class ``c``: the ``L`` largest of ``2·max(w, 0)``, ``2·max(−w, 0)`` and ``|w|``.

    ``(Ws, off)`` from :func:`_class_sorted`.  Arrays of shape (m, K, L), descending,
    zero-padded (zeros are what the full decrease vectors hold beyond their positive
    entries, so padding never changes a top-``L``).
    """
    m = Ws.shape[0]
    TP = np.zeros((m, K, L))
    TN = np.zeros((m, K, L))
    TA = np.zeros((m, K, L))
    for c in range(K):
        blk = Ws[:, off[c]:off[c + 1]]
        nc = blk.shape[1]
        if nc == 0:
            continue
        k = min(L, nc)
        hs = blk[:, nc - k:][:, ::-1]  # the k largest, descending
        ls = blk[:, :k]  # the k smallest, ascending
        # the L largest |w| lie among the L largest and the L smallest w
        cand = np.concatenate([hs, ls], axis=1) if nc > 2 * L else blk
        ab = -np.sort(-np.abs(cand), axis=1)[:, :L]
        TP[:, c, :k] = np.maximum(hs, 0.0) * 2.0
        TN[:, c, :k] = np.maximum(-ls, 0.0) * 2.0
        TA[:, c, :ab.shape[1]] = ab
    return TP, TN, TA


def _topk_counts(Ws, off, pred, M, M_rival, eps_abs, K, budgets, L):
    """Counts-only sort via top-``L`` merges (exact; same sums as the full sort).

    ``(Ws, off)`` from :func:`_class_sorted`.  For rival ``b`` the decreases are
    ``2·max(w, 0)`` on class ``a``, ``2·max(−w, 0)`` on class ``b`` and ``|w|`` elsewhere, so
    the ``L`` largest are among the per-class top-``L`` lists.  Their cumulative sums equal
    the first ``L + 1`` entries of the full sort's; a row whose gap is still above
    ``eps_abs`` after ``L`` decreases is redone with a larger ``L``.
    Returns ``(cnt (m, K), {B: cs[:, :, B]})``.
    """
    m, n = Ws.shape
    L = min(n, max([L] + [int(B) for B in budgets]))
    if K * L >= n:  # merging K lists of L costs more than sorting all n decreases
        codes_s = np.repeat(np.arange(K), np.diff(off))
        return _full_counts(Ws, codes_s, pred, M, eps_abs, K, budgets)
    cnt = np.zeros((m, K), dtype=np.int64)
    csB = {B: np.zeros((m, K)) for B in budgets}
    step = max(1, (1 << 22) // (K * K * L))
    ks = np.arange(K)
    todo = []
    for t0 in range(0, m, step):
        t1 = min(m, t0 + step)
        mc = t1 - t0
        TP, TN, TA = _class_tops(Ws[t0:t1], off, K, L)
        C = np.broadcast_to(TA[:, None, :, :], (mc, K, K, L)).copy()
        C[:, ks, ks, :] = TN
        rows = np.arange(mc)
        C[rows, :, pred[t0:t1], :] = TP[rows, pred[t0:t1], :][:, None, :]
        C = C.reshape(mc, K, K * L)
        if K * L > 2 * L:
            C = np.partition(C, K * L - L, axis=2)[:, :, K * L - L:]
        top = -np.sort(-C, axis=2)
        cs = np.concatenate([np.zeros((mc, K, 1)), np.cumsum(top, axis=2)], axis=2)
        gap = M[t0:t1, :, None] - cs
        e = eps_abs[t0:t1, None, None]
        c = np.sum(gap > e, axis=2)
        c[rows, pred[t0:t1]] = 0
        cnt[t0:t1] = c
        for B in budgets:
            csB[B][t0:t1] = cs[:, :, B]
        if L < n:
            open_ = gap[:, :, L] > e[:, :, 0]
            open_[rows, pred[t0:t1]] = False
            todo.append(t0 + np.flatnonzero(open_.any(axis=1)))
    todo = np.concatenate(todo) if todo else np.zeros(0, dtype=np.int64)
    if todo.size:
        c2, cs2 = _topk_counts(Ws[todo], off, pred[todo], M[todo], M_rival[todo],
                               eps_abs[todo], K, budgets, min(n, 4 * L))
        cnt[todo] = c2
        for B in budgets:
            csB[B][todo] = cs2[B]
    return cnt, csB


def _full_counts(W, codes, pred, M, eps_abs, K, budgets):
    """Counts-only full sort of the (m, K, n) decreases (small ``n``); as :func:`_topk_counts`."""
    m, n = W.shape
    cnt = np.zeros((m, K), dtype=np.int64)
    csB = {B: np.zeros((m, K)) for B in budgets}
    step = max(1, _CHUNK_ELEMENTS // max(1, K * n))
    for t0 in range(0, m, step):
        t1 = min(m, t0 + step)
        d = _decreases(W[t0:t1], codes, pred[t0:t1], K)
        ds = -np.sort(-d, axis=2)
        cs = np.concatenate([np.zeros(ds.shape[:2] + (1,)), np.cumsum(ds, axis=2)], axis=2)
        c = np.sum(M[t0:t1, :, None] - cs > eps_abs[t0:t1, None, None], axis=2)
        c[np.arange(t1 - t0), pred[t0:t1]] = 0
        cnt[t0:t1] = c
        for B in budgets:
            csB[B][t0:t1] = cs[:, :, B]
    return cnt, csB


def _witness(classes, w_row, idx_row, ds_row, a: int, b: int, k: int) -> dict[int, int]:
    """The ``k`` largest positive decreases against rival ``b``: index -> new label value."""
    sel = idx_row[b, :k][ds_row[b, :k] > 0]
    new = np.where(w_row[sel] > 0, b, a)
    return {int(i): int(classes[c]) for i, c in zip(sel, new)}


def _analyse(prob: Problem, budgets=(), *, witnesses: bool = True) -> _Analysis:
    W, codes, K, n, m = prob.W, prob.codes, prob.n_classes, prob.n, prob.m
    Y = np.zeros((n, K))
    Y[np.arange(n), codes] = 1.0
    F = W @ Y  # (m, K)
    pred = np.argmax(F, axis=1)
    M = F[np.arange(m), pred][:, None] - F  # (m, K) margin against each class
    M_rival = M.copy()
    M_rival[np.arange(m), pred] = np.inf
    clean = M_rival.min(axis=1)
    eps_abs = prob.eps * np.abs(W).sum(axis=1)
    per_rival = np.zeros((m, K), dtype=np.int64)
    worst = {B: np.empty(m) for B in budgets}
    worst_rival = {B: np.empty(m, dtype=np.int64) for B in budgets}
    worst_relabel = {B: [None] * m for B in budgets}
    min_relabel = [None] * m
    if not witnesses:  # counts only: top-k merges instead of the full (m, K, n) sort
        Ws, off = _class_sorted(W, codes, K)
        per_rival, csB = _topk_counts(Ws, off, pred, M, M_rival, eps_abs, K, budgets, _TOP_L)
        for B in budgets:
            g = M_rival - csB[B]
            worst_rival[B][:] = np.argmin(g, axis=1)
            worst[B][:] = np.min(g, axis=1)
    step = max(1, _CHUNK_ELEMENTS // max(1, K * n))
    for t0 in range(0, m if witnesses else 0, step):  # full sort: witnesses need indices
        t1 = min(m, t0 + step)
        rows = np.arange(t1 - t0)
        d = _decreases(W[t0:t1], codes, pred[t0:t1], K)
        if witnesses:
            idx = np.argsort(-d, axis=2, kind="stable")
            ds = np.take_along_axis(d, idx, axis=2)
        else:  # counts only: a plain sort is about twice as fast as argsort
            ds = -np.sort(-d, axis=2)
        cs = np.concatenate([np.zeros(ds.shape[:2] + (1,)), np.cumsum(ds, axis=2)], axis=2)
        gap = M[t0:t1, :, None] - cs  # (mc, K, n+1), nonincreasing in the last axis
        cnt = np.sum(gap > eps_abs[t0:t1, None, None], axis=2)
        cnt[rows, pred[t0:t1]] = 0
        per_rival[t0:t1] = cnt
        for B in budgets:
            g = M_rival[t0:t1] - cs[:, :, B]
            worst_rival[B][t0:t1] = np.argmin(g, axis=1)
            worst[B][t0:t1] = np.min(g, axis=1)
        if not witnesses:
            continue
        masked = np.where(np.arange(K)[None, :] == pred[t0:t1, None], n + 2, cnt)
        riv = np.argmin(masked, axis=1)
        for r in rows:
            t = t0 + r
            k = masked[r, riv[r]]
            if k <= n:
                min_relabel[t] = _witness(prob.classes, W[t], idx[r], ds[r], pred[t], riv[r], k)
            for B in budgets:
                if worst[B][t] <= eps_abs[t]:
                    worst_relabel[B][t] = _witness(prob.classes, W[t], idx[r], ds[r], pred[t],
                                                   worst_rival[B][t], B)
    masked = per_rival.copy()
    masked[np.arange(m), pred] = n + 2
    rival = np.argmin(masked, axis=1)
    mf = np.minimum(masked[np.arange(m), rival], n + 1)
    return _Analysis(pred=pred, clean_margin=clean, eps_abs=eps_abs, per_rival=per_rival,
                     min_flips=mf, rival=rival, min_relabel=min_relabel, worst=worst,
                     worst_rival=worst_rival, worst_relabel=worst_relabel)


def _min_flips_from(prob: Problem, an: _Analysis) -> MinFlips:
    return MinFlips(prediction=prob.classes[an.pred], clean_margin=an.clean_margin,
                    min_flips=an.min_flips, rival=prob.classes[an.rival],
                    per_rival=an.per_rival, relabellings=an.min_relabel, eps_abs=an.eps_abs,
                    classes=prob.classes)


def analyse(W, y, budgets=(), *, n_classes=None, eps=1e-12):
    """Validated ``(Problem, _Analysis)`` pair (used by :func:`certify`; internal)."""
    prob = prepare(W, y, n_classes=n_classes, eps=eps)
    return prob, _analyse(prob, budgets)


def min_flips(W, y, *, n_classes=None, eps=1e-12, witnesses: bool = True) -> MinFlips:
    """Minimum number of relabels that changes (or ties) each test prediction.

    Parameters
    ----------
    W : array of shape (m, n)
        Label-independent weights, ``f_c(x_t) = Σ_i W[t, i] 1[y_i = c]``.
    y : array of shape (n,)
        Labels ``0..K-1``, or ``±1`` for a binary task.
    n_classes : int, optional
        Number of classes (default: inferred, see :func:`certmodel.scalabel.certify`).
    eps : float, default=1e-12
        Relative tie tolerance: a margin ``≤ eps · Σ_i |W_ti|`` counts as changed (sound
        against float64 round-off; ``eps=0`` is the plain strict comparison).
    witnesses : bool, default=True
        Also build the relabellings (``False``: counts only, ``relabellings`` all ``None``;
        faster for large ``m·K·n``).

    Returns
    -------
    MinFlips
    """
    prob = prepare(W, y, n_classes=n_classes, eps=eps)
    return _min_flips_from(prob, _analyse(prob, witnesses=bool(witnesses)))


def worst_margin(W, y, budget: int, *, n_classes=None) -> np.ndarray:
    """Exact worst margin ``min_{b≠a} (M_ab − S_b(B))`` at ``budget`` for every test point.

    Returns an array of shape (m,); the prediction is robust at ``budget`` iff it is ``> 0``
    (see :func:`certify` for the tolerance used in verdicts).
    """
    prob = prepare(W, y, n_classes=n_classes, eps=0.0)
    B = check_scalar(budget, "budget", numbers.Integral, min_val=0, max_val=prob.n)
    return _analyse(prob, (int(B),), witnesses=False).worst[int(B)]
