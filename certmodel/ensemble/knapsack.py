"""EnsembleCert: the white-box radius as a multiple-choice knapsack over partitions.

For test point ``t`` with ensemble vote ``a`` and rival ``b``, the adversary needs the gain
``G_b = v_a − v_b + 1[b > a]`` in ``v_b − v_a``.  Per partition ``p`` (with base vote ``c_p``)
at most one option:

* ``c_p = a``: switch to ``b`` (gain 2, cost ``x_p = r_p(b)``) or to a third class
  (gain 1, cost ``y_p = min_{c∉{a,b}} r_p(c)``);
* ``c_p ∉ {a, b}``: switch to ``b`` (gain 1, cost ``z_p = r_p(b)``);
* ``c_p = b``: nothing useful.

The certified radius is ``min_b F_b(G_b) − 1`` with ``F_b(G)`` the least total cost reaching
gain ``≥ G`` (flips in different partitions are different points, so costs add).  Costs are
lower bounds on integer flip counts, so they are rounded up and raised to at least 1 off the
own vote first (with no flip a base model keeps its vote); the radius is sound for lower
bounds and exact for exact costs.

Two exact solvers, both vectorised over test points and rivals:

* ``method="dp"``: the textbook dynamic programme over partitions × gain, ``O(P·G)``
  (``F[g] ← min(F[g], F[g−1] + gain-1 cost, F[g−2] + gain-2 cost)``);
* ``method="fast"`` (default): ``O(P log P)``.  With ``y_p ← min(y_p, x_p)`` a partition is
  *convex* if ``x_p − y_p ≥ y_p`` and splits into two unit items ``y_p ≤ x_p − y_p``;
  type-``C`` partitions are unit items ``z_p``; the unit group's best cost for gain ``k`` is
  the sum ``U(k)`` of the ``k`` cheapest units.  Among *concave* partitions (``x_p < 2 y_p``)
  an optimum uses at most one gain-1 option (two gain-1 options ``y_p + y_q ≥
  min(x_p, x_q)``), so with ``x`` sorted and prefix sums ``X_j`` the concave group's best cost
  for gain exactly ``2j`` is ``X_j`` and for ``2j + 1`` it is
  ``min(X_{j+1} + min_{r≤j+1}(y_r − x_r), X_j + min_{r>j} y_r)``.  Then
  ``F(G) = min_g h(g) + U(max(G − g, 0))``.
"""

from __future__ import annotations

import numpy as np

from certmodel._validation import check_array, check_choice
from certmodel.ensemble.votes import check_base_pred
from certmodel.exceptions import InvalidParameterError

__all__ = ["whitebox_radius", "rival_options", "min_cost"]

_ROW_BLOCK = 1 << 22  # option-tensor entries per chunk of test points in whitebox_radius


def _check_costs(base_pred, costs) -> tuple[np.ndarray, np.ndarray]:
    bp = check_base_pred(base_pred)
    c = check_array(costs, "costs", finite=False)
    if c.ndim == 2 and bp.shape[0] == 1:
        c = c[None]
    if c.ndim != 3 or c.shape[:2] != bp.shape:
        raise InvalidParameterError(
            f"costs must have shape (m, P, K) = ({bp.shape[0]}, {bp.shape[1]}, K) to match "
            f"base_pred of shape {bp.shape}, got {c.shape}")
    K = c.shape[2]
    if K < 2:
        raise InvalidParameterError(f"costs must cover K >= 2 classes, got K = {K}")
    if np.any(np.isnan(c)):
        raise InvalidParameterError("costs must not be NaN (use inf for impossible)")
    if np.any(c < 0):
        raise InvalidParameterError("costs must be non-negative lower bounds on flip counts")
    if bp.size and (bp.min() < 0 or bp.max() >= K):
        raise InvalidParameterError(f"base_pred holds classes outside 0..{K - 1}")
    own = np.take_along_axis(c, bp[:, :, None], axis=2)[:, :, 0]
    if np.any(own != 0):
        raise InvalidParameterError(
            "costs[t, p, base_pred[t, p]] must be 0 (a base model already votes its own class)")
    c = np.maximum(np.ceil(c - 1e-9), 1.0)  # with 0 flips a base model keeps its vote
    np.put_along_axis(c, bp[:, :, None].astype(np.int64), 0.0, axis=2)
    return bp.astype(np.int64), c


def rival_options(base_pred, costs):
    """Options of every (test point, rival) knapsack.

    Returns ``(a, G, c1, c2)``: ensemble vote ``a`` (m,), required gains ``G`` (m, K) (0 at
    ``b = a``), gain-1 costs ``c1`` and gain-2 costs ``c2`` of shape (m, K, P) (``inf`` where
    the option does not exist; ``c1 ≤ c2`` after ``y ← min(y, x)``).  Inputs are validated.
    """
    bp, c = _check_costs(base_pred, costs)
    return _options(bp, c)


def _options(bp, c):
    m, P, K = c.shape
    votes = np.zeros((m, K), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(m), P), bp.ravel()), 1)
    a = np.argmax(votes, axis=1)
    ks = np.arange(K)
    G = votes[np.arange(m), a][:, None] - votes + (ks[None, :] > a[:, None])
    G[np.arange(m), a] = 0
    to_b = np.moveaxis(c, 2, 1)  # (m, K, P): cost for partition p to vote b
    is_a = bp == a[:, None]  # (m, P)
    # third-class cost for partitions voting a: min over c ∉ {a, b}
    c_wo_a = c.copy()
    c_wo_a[np.arange(m), :, a] = np.inf  # exclude a itself
    srt = np.sort(c_wo_a, axis=2)
    first, second = srt[:, :, 0], (srt[:, :, 1] if K > 2 else np.full((m, P), np.inf))
    arg1 = np.argmin(c_wo_a, axis=2)  # (m, P)
    third = np.where(arg1[:, None, :] == ks[None, :, None], second[:, None, :],
                     first[:, None, :])  # (m, K, P)
    inf = np.inf
    c2 = np.where(is_a[:, None, :], to_b, inf)
    c1 = np.where(is_a[:, None, :], np.minimum(third, to_b),
                  np.where(bp[:, None, :] != ks[None, :, None], to_b, inf))
    c1[np.arange(m), a, :] = inf
    c2[np.arange(m), a, :] = inf
    return a, G, c1, c2


def _min_cost_dp(G, c1, c2):
    """Textbook DP: ``F[g]`` = least cost for gain ``≥ g``; rows are (test, rival) pairs."""
    R, P = c1.shape
    Gmax = int(G.max()) if G.size else 0
    F = np.full((R, Gmax + 1), np.inf)
    F[:, 0] = 0.0
    for p in range(P):
        prev1 = np.concatenate([np.zeros((R, 1)), F[:, :-1]], axis=1)
        prev2 = np.concatenate([np.zeros((R, min(2, Gmax + 1))), F[:, :-2]], axis=1)[:, :Gmax + 1]
        F = np.minimum(F, np.minimum(prev1 + c1[:, p:p + 1], prev2 + c2[:, p:p + 1]))
    return F[np.arange(R), G]


def _min_cost_fast(G, c1, c2):
    """``O(P log P)`` exact solver exploiting gains in {1, 2} (see module docstring)."""
    R, P = c1.shape
    y, x = c1, c2  # y <= x already; x = inf for non-a partitions
    has2 = np.isfinite(x)
    concave = has2 & (x < 2 * y)
    with np.errstate(invalid="ignore"):
        second_unit = np.where(has2, x - y, np.inf)
    u1 = np.where(concave, np.inf, y)
    u2 = np.where(concave, np.inf, second_unit)
    units = np.sort(np.concatenate([u1, u2], axis=1), axis=1)
    U = np.concatenate([np.zeros((R, 1)), np.cumsum(units, axis=1)], axis=1)  # (R, 2P+1)
    xc = np.where(concave, x, np.inf)
    yc = np.where(concave, y, np.inf)
    order = np.argsort(xc, axis=1, kind="stable")
    xs = np.take_along_axis(xc, order, axis=1)
    ys = np.take_along_axis(yc, order, axis=1)
    X = np.concatenate([np.zeros((R, 1)), np.cumsum(xs, axis=1)], axis=1)  # X_j, j=0..P
    with np.errstate(invalid="ignore"):
        dyx = np.where(np.isfinite(xs), ys - xs, np.inf)
    pre_min = np.minimum.accumulate(dyx, axis=1)  # min over ranks 1..j+1 -> index j
    suf_min = np.minimum.accumulate(ys[:, ::-1], axis=1)[:, ::-1]  # min over ranks >= j+1
    # odd gain 2j+1, j = 0..P-1
    odd_a = X[:, 1:] + pre_min  # X_{j+1} + min_{r<=j+1}(y_r - x_r)
    odd_b = X[:, :-1] + suf_min  # X_j + min_{r>j} y_r
    h = np.full((R, 2 * P + 2), np.inf)
    h[:, 0::2] = X  # even gains 0..2P
    h[:, 1:2 * P:2] = np.minimum(odd_a, odd_b)
    g = np.arange(2 * P + 2)
    k = np.clip(G[:, None] - g[None, :], 0, 2 * P)
    return np.min(h + np.take_along_axis(U, k, axis=1), axis=1)


def min_cost(G, c1, c2, *, method: str = "fast") -> np.ndarray:
    """Least total cost reaching gain ``≥ G`` per row (``c1``, ``c2``: (R, P) option costs)."""
    check_choice(method, "method", ("fast", "dp"))
    G = np.asarray(G, dtype=np.int64)
    if G.size == 0:
        return np.zeros(0)
    return (_min_cost_fast if method == "fast" else _min_cost_dp)(G, c1, c2)


def whitebox_radius(base_pred, costs, *, method: str = "auto") -> np.ndarray:
    """White-box EnsembleCert radius for every test point.

    Parameters
    ----------
    base_pred : array of int of shape (m, P)
        Vote of each base model for each test point (classes ``0..K-1``).
    costs : array of shape (m, P, K)
        Lower bounds ``r_p(c)`` on the flips inside partition ``p`` that make base model
        ``p`` vote ``c`` (0 at its own vote, ``inf`` if impossible).  Rounded up to integers.
    method : {"auto", "fast", "dp"}, default="auto"
        Exact knapsack solver (see module docstring); all give the same radii.  ``"auto"``
        uses the DP for ``P ≤ 64`` (fastest when vectorised over many rows) and the
        ``O(P log P)`` solver above.

    Returns
    -------
    ndarray of float of shape (m,)
        ``min_{b≠a} F_b(G_b) − 1`` (integer-valued; ``inf`` if no rival can win).
    """
    check_choice(method, "method", ("auto", "fast", "dp"))
    bp = np.asarray(base_pred)
    c = np.asarray(costs)
    if bp.ndim == 1 or c.ndim != 3 or c.shape[0] != (bp.shape[0] if bp.ndim else -1):
        bp, c = _check_costs(base_pred, costs)  # small or malformed input: validate at once
    m, P, K = c.shape
    if method == "auto":
        method = "dp" if P <= 64 else "fast"
    out = np.empty(m)
    # chunks of test points bound the memory of the (rows, K, P) option tensors
    step = max(1, _ROW_BLOCK // max(1, K * (2 * P + 2)))
    for t0 in range(0, m, step):
        t1 = min(m, t0 + step)
        bpc, cc = _check_costs(bp[t0:t1], c[t0:t1])
        a, G, c1, c2 = _options(bpc, cc)
        R = (t1 - t0) * K
        F = min_cost(G.reshape(R), c1.reshape(R, P), c2.reshape(R, P),
                     method=method).reshape(t1 - t0, K)
        F[np.arange(t1 - t0), a] = np.inf
        out[t0:t1] = F.min(axis=1) - 1.0
    return out
