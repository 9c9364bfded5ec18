"""The order in which the relabelling searches consider flips: most harmful first.

The searches of :mod:`certmodel.labelcert._search` enumerate each flip set once, as an
increasing index sequence: below a node whose last flip is ``i`` only points ``j > i`` are
flipped, and a subtree's bound is the node's exact margin plus the ``r`` most negative
(B3) terms ``τ_j`` over that *suffix* ``j > i`` (:func:`~certmodel.labelcert._response.
suffix_smallest_sums`).  Indexing the points by increasing root term ``τ_j`` (the point that
can lower the margin most gets index 0) makes every suffix consist of the less harmful
points only, so the deep subtrees below late indices close at once; in data order each
suffix still holds some of the most harmful points.  The set of relabellings searched, the
bounds and hence every verdict are unchanged — the order only changes which subtrees the
(valid) bounds can close (CBA n = 80, C·rowsum 10, budget 6: 92 596 → 33 684 retrained
nodes; the reverse order gives 366 108).

With several test rows the key of point ``j`` is its largest share ``τ_{t,j} / min_i τ_{t,i}``
of a row's most harmful term, so every row's harmful points come early.

The binary search goes one step further and orders each node's remaining candidates by the
node's *own* terms (:func:`node_ranks`): a set ``A`` below node ``p`` (flips ``A ⊆ allowed_p``)
belongs to the child of its first element in ``p``'s order, whose allowed set is
``{j ∈ allowed_p : rank_p(j) > rank_p(i)}`` (:func:`child_masks`) — again every set exactly
once.  Four flips deep the ten most harmful points of a node share only 3–5 with the root's
ten (CBA n = 80), so the suffixes the bounds sum over follow the node.
"""

from __future__ import annotations

import numpy as np

from certmodel.labelcert._response import Readout, flip_terms

__all__ = ["harm_order", "permute_readout", "harm_keys", "node_ranks", "node_ranks_ovr",
           "node_keys", "ranks_from_keys", "child_masks"]


def harm_keys(ro: Readout, z: np.ndarray, y_pm: np.ndarray, C: float) -> np.ndarray:
    """Per point ``j``: ``max_t τ_{t,j} / min_i τ_{t,i}`` (1 for a row's most harmful flip,
    ``≤ 0`` for a flip that cannot lower that row's margin), from the root's (B3) terms."""
    T = flip_terms(ro.V, np.asarray(z, float)[None], np.asarray(y_pm, float)[None], C,
                   ro.kappa, ro.k, pin=ro.pin)[:, 0, :]  # (rows, n)
    worst = np.minimum(T.min(axis=1, initial=0.0), -1e-300)
    return (T / worst[:, None]).max(axis=0, initial=-np.inf)


def harm_order(keys: np.ndarray, flippable: np.ndarray) -> np.ndarray:
    """Permutation (new index → point) putting flippable points by decreasing ``keys``
    first, the points that cannot be flipped last (ties keep data order)."""
    keys = np.where(np.asarray(flippable, bool), np.asarray(keys, float), -np.inf)
    return np.argsort(-keys, kind="stable")


def permute_readout(ro: Readout, perm: np.ndarray) -> Readout:
    """The same read-out with the training points renumbered by ``perm``."""
    pin = None if ro.pin is None else ro.pin[perm]
    return Readout(ro.V[:, perm], ro.kappa, ro.k[perm], ro.rest, pin)


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
                   class_allowed: list, rows: np.ndarray, tops: np.ndarray) -> np.ndarray:
    """:func:`node_ranks` for the one-vs-rest problems (``Z``/``Y`` (P, K, n), read-outs
    ``ros[k]``, predicted classes ``tops`` of ``rows``): a point's key is its largest share
    of a harmful logit move — the decrease of the row's top class, the increase of a rival —
    each class over the flips it sees (``class_allowed[k]`` (n,))."""
    keys = np.full((Z.shape[0], Z.shape[2]), -np.inf)
    for k, ro in enumerate(ros):
        al = allowed & class_allowed[k][None, :]
        for r_, sel in ((ro, tops == k),
                        (Readout(-ro.V, ro.kappa, ro.k, ro.rest, ro.pin), tops != k)):
            if sel.any():
                kk = node_keys(r_, Z[:, k], Y[:, k], C, al, rows[sel])
                keys = np.maximum(keys, np.where(al, kk, -np.inf))
    return ranks_from_keys(keys, allowed)


def child_masks(allowed: np.ndarray, rank: np.ndarray, par: np.ndarray,
                idx: np.ndarray) -> np.ndarray:
    """Allowed flips below the children ``(par[q], idx[q])``: the parent's allowed points
    after ``idx[q]`` in the parent's order.  (q, n) bool."""
    return allowed[par] & (rank[par] > rank[par, idx][:, None])
