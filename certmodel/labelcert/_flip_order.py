"""The order in which the relabelling searches consider flips: most harmful first, per node.

The searches of :mod:`certmodel.labelcert._search` reach each flip set once: a node ``p``
holds the set ``allowed_p`` of points it may still flip, orders it, and its child adding
``i`` may flip only the points of ``allowed_p`` after ``i`` in that order
(:func:`child_masks`) — a set ``A ⊆ allowed_p`` belongs to the child of its first element,
so every set is reached exactly once whatever order each node picks.  A subtree's bound is the
node's exact margin plus the ``r`` most negative (B3) terms ``τ_j`` over the child's allowed
set (:func:`~certmodel.labelcert._response.suffix_smallest_sums`).  Ordering each node's
points by its *own* terms, most harmful first (:func:`node_ranks`), makes every late child's
allowed set hold only that node's least harmful flips, so those subtrees close at once; in
data order each of them still holds some of the most harmful points.  The relabellings
searched, the bounds and the verdicts are unchanged — the order only changes which subtrees
the (valid) bounds can close (CBA n = 80, C·rowsum 10, budget 6, test 3: 92 596 retrained
nodes in data order, 33 684 with the root's order for every node, 3 053 per node; four flips
deep a node's ten most harmful points share only 3–5 with the root's ten).

The key of point ``j`` at a node is its largest share ``τ_{t,j} / min_i τ_{t,i}`` of a row's
most harmful term, over the rows still open at the node (those its subtree is searched
for), so every such row's harmful points come early.
"""

from __future__ import annotations

import numpy as np

from certmodel.labelcert._response import Readout, flip_terms

__all__ = ["node_ranks", "node_ranks_ovr", "node_keys", "ranks_from_keys", "child_masks",
           "has_later"]


def node_ranks(ro: Readout, Z: np.ndarray, Y: np.ndarray, C: float, allowed: np.ndarray,
               rows: np.ndarray | None = None, margins: np.ndarray | None = None,
               flips: np.ndarray | None = None, thresh: np.ndarray | None = None,
               ) -> np.ndarray:
    """Per node ``p`` (``Z``/``Y`` (P, n) exact ``z`` and labels): ``rank[p, j]``, the position
    of point ``j`` in ``p``'s order — its ``allowed`` points by decreasing key (the key of
    :func:`harm_keys`, from ``p``'s own (B3) terms over the read-out ``rows``), then the rest.
    With ``margins`` (len(rows), P), ``flips`` (P,) and ``thresh`` (len(rows),) only the rows
    still open at the node count (``margin + Σ of the flips most negative terms − rest ≤
    thresh``: the rows its subtree is searched for); a node with none uses every row.
    Returns (P, n) int."""
    return ranks_from_keys(node_keys(ro, Z, Y, C, allowed, rows, margins, flips, thresh),
                           allowed)


def ranks_from_keys(keys: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """(P, n) ranks: ``allowed`` points by decreasing ``keys`` (ties in data order) first."""
    keys = np.where(allowed, keys, -np.inf)
    order = np.argsort(-keys, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(keys.shape[1])[None, :], axis=1)
    return rank


def node_keys(ro: Readout, Z: np.ndarray, Y: np.ndarray, C: float, allowed: np.ndarray,
              rows: np.ndarray | None = None, margins: np.ndarray | None = None,
              flips: np.ndarray | None = None, thresh: np.ndarray | None = None,
              ) -> np.ndarray:
    """The keys :func:`node_ranks` sorts by, (P, n)."""
    from certmodel.labelcert._response import smallest_sums

    V, kap, rest = (ro.V, ro.kappa, ro.rest) if rows is None else \
        (ro.V[rows], ro.kappa[rows], ro.rest[rows])
    keys = np.full(Z.shape, -np.inf)
    keys_all = np.full(Z.shape, -np.inf)
    step = max(1, (1 << 22) // max(1, Z.size))
    for s_ in range(0, len(V), step):
        b = slice(s_, s_ + step)
        T = flip_terms(V[b], Z, Y, C, kap[b], ro.k, pin=ro.pin)
        worst = np.minimum(T.min(axis=2, keepdims=True), -1e-300)
        share = T / worst
        keys_all = np.maximum(keys_all, share.max(axis=0))
        if margins is not None:
            lb = margins[b] + smallest_sums(T, allowed, flips) - rest[b, None]
            share = np.where((lb <= thresh[b, None])[:, :, None], share, -np.inf)
            keys = np.maximum(keys, share.max(axis=0))
    if margins is None:
        keys = keys_all
    else:
        none = ~np.isfinite(keys).any(axis=1)
        keys[none] = keys_all[none]
    return keys


def node_ranks_ovr(ros: list, Z: np.ndarray, Y: np.ndarray, C: float, allowed: np.ndarray,
                   class_allowed: list, rows: np.ndarray, tops: np.ndarray,
                   rivals: np.ndarray | None = None) -> np.ndarray:
    """:func:`node_ranks` for the one-vs-rest problems (``Z``/``Y`` (P, K, n), read-outs
    ``ros[k]``, predicted classes ``tops`` of ``rows``): a point's key is its largest share
    of a harmful logit move — the decrease of the row's top class, the increase of a rival —
    each class over the flips it sees (``class_allowed[k]`` (n,)); ``rivals`` (len(rows), K)
    bool, optional: the classes each row's margin is taken against (default: all but its
    top)."""
    keys = np.full((Z.shape[0], Z.shape[2]), -np.inf)
    for k, ro in enumerate(ros):
        al = allowed & class_allowed[k][None, :]
        up = tops != k if rivals is None else rivals[:, k]
        for r_, sel in ((ro, tops == k),
                        (Readout(-ro.V, ro.kappa, ro.k, ro.rest, ro.pin), up)):
            if sel.any():
                kk = node_keys(r_, Z[:, k], Y[:, k], C, al, rows[sel])
                keys = np.maximum(keys, np.where(al, kk, -np.inf))
    return ranks_from_keys(keys, allowed)


def child_masks(allowed: np.ndarray, rank: np.ndarray, par: np.ndarray,
                idx: np.ndarray) -> np.ndarray:
    """Allowed flips below the children ``(par[q], idx[q])``: the parent's allowed points
    after ``idx[q]`` in the parent's order.  (q, n) bool."""
    return allowed[par] & (rank[par] > rank[par, idx][:, None])


def has_later(allowed: np.ndarray, rank: np.ndarray, par: np.ndarray,
              idx: np.ndarray) -> np.ndarray:
    """Whether each child ``(par[q], idx[q])`` may still flip a point: ``child_masks(…)
    .any(axis=1)`` without building the (q, n) masks — the child's point is not the last of
    its parent's allowed points in the parent's order.  (q,) bool."""
    last = np.where(allowed, rank, -1).max(axis=1, initial=-1)
    return rank[par, idx] < last[par]

