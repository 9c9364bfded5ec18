"""Pair conflicts in the collective search: two rows no relabelling below a node changes together.

The collective search (:func:`certmodel.labelcert._search.search_collective`) bounds the
number of predictions a subtree can change by ``#{t : lb_t ≤ 0}``: each row's bound takes its
own worst flips, so rows that need *different* flips are all counted.  A pair of rows ``a, b``
(read-outs ``v_a, v_b``, signed so that the margin is ``v·z``) with scales ``s_a, s_b > 0``
has the read-out

    v_ab = ½ (v_a / s_a + v_b / s_b),        m_ab = ½ (m_a / s_a + m_b / s_b),

a row like any other (a linear read-out of the training features), so the response-ball
bound (B3) of :mod:`certmodel.labelcert._response` bounds ``m_ab`` over the subtree with its
own ``κ(v_ab)`` and ``rest(v_ab)``.  Both predictions changed means ``m_a ≤ 0`` and ``m_b ≤ 0``,
hence ``m_ab ≤ 0``; so ``lb_ab > 0`` proves that ``a`` and ``b`` are never changed together
below the node (a *conflict*).  The flips that help one row hurt the other and cancel in
``v_ab``, and ``κ(v_ab) ≤ ½ (κ_a / s_a + κ_b / s_b)``: the pair's bound sees what the two rows'
bounds, taken apart, cannot.

With the rows that can still change (``lb_t ≤ 0``) as vertices and the conflicts as edges,
the changed rows of any relabelling below the node form an independent set, which holds at
most one vertex of each clique of the conflict graph: any clique cover's size bounds the
count (:func:`cover_bound`, a greedy cover).  ``s_t = C Σ_j |v_tj|``, the largest margin the
row can have, puts the rows on one scale (any positive scales are valid).

Measured (C·rowsum 10, RBF n = 60, the unproven rows of budget 5 and 6): 4–6× fewer nodes,
1.5–1.8× less CPU (docs/benchmarks.md, twentieth session).
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_PAIR_ROWS", "pair_rows", "pair_margins", "cover_bound"]

MAX_PAIR_ROWS = 20  # pairs grow as rows²: above this many rows the search uses none


def pair_rows(V: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(pa, pb, scale, V_pairs)``: every pair ``a < b`` of the rows ``V`` (signed read-outs,
    (rows, n)), the rows' scales ``C Σ_j |v_tj|`` (1 for an all-zero row) and the pairs'
    read-outs ``½ (v_a / s_a + v_b / s_b)`` (pairs, n)."""
    V = np.atleast_2d(np.asarray(V, float))
    pa, pb = np.triu_indices(len(V), 1)
    scale = C * np.abs(V).sum(axis=1)
    scale = np.where(scale > 0, scale, 1.0)
    Vn = V / scale[:, None]
    return pa, pb, scale, 0.5 * (Vn[pa] + Vn[pb])


def pair_margins(M: np.ndarray, pa: np.ndarray, pb: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The pairs' margins ``½ (m_a / s_a + m_b / s_b)`` from the rows' margins ``M`` (rows, p)."""
    Mn = M / scale[:, None]
    return 0.5 * (Mn[pa] + Mn[pb])


def cover_bound(alive: np.ndarray, conflict: np.ndarray, pa: np.ndarray,
                pb: np.ndarray) -> np.ndarray:
    """Per node (column): the size of a clique cover of the rows ``alive`` (rows, q) in the
    graph whose edges are the pairs ``(pa[e], pb[e])`` with ``conflict[e, q]`` (pairs, q).

    Every set of rows with no conflicting pair among them takes at most one row of each
    clique, so the size bounds how many of the alive rows change together.  Greedy: each
    alive row joins the first clique all of whose rows conflict with it, else opens one."""
    R, q = alive.shape
    if R > 62:
        raise ValueError(f"cover_bound: at most 62 rows, got {R}")
    bit = np.left_shift(np.int64(1), np.arange(R, dtype=np.int64))
    # conf[q, v]: the rows conflicting with row v at node q, as bits
    conf = np.zeros((q, R), np.int64)
    np.bitwise_or.at(conf.T, pa, np.where(conflict, bit[pb][:, None], 0))
    np.bitwise_or.at(conf.T, pb, np.where(conflict, bit[pa][:, None], 0))
    member = np.zeros((q, R), np.int64)  # (node, clique): its rows, as bits
    opened = np.zeros(q, np.int64)  # cliques opened per node
    nodes = np.arange(q)
    slots = np.arange(R)[None, :]
    for v in range(R):
        fits = (slots < opened[:, None]) & ((member & ~conf[:, v][:, None]) == 0)
        where = np.where(fits.any(axis=1), fits.argmax(axis=1), opened)
        at = alive[v]
        member[nodes[at], where[at]] |= bit[v]
        opened[at] += (where[at] == opened[at])
    return opened
