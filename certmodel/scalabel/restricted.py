"""ScaLabelCert under a restricted threat model: masked sort, and an exact knapsack for costs.

For logits ``f_c(x_t) = Σ_i W[t, i] 1[y_i = c]``, clean class ``a`` and rival ``b``, moving
training point ``i`` from ``y_i`` to class ``c`` lowers the margin ``M_ab = f_a − f_b`` by
``W_ti (e(y_i) − e(c))`` with ``e(x) = 1[x = a] − 1[x = b]``.  Under a
:class:`~certmodel.threat.ThreatModel` point ``i`` may move only if it is flippable, and only
to a target class, so its best decrease against ``b`` is

    d_i(b) = max(0, max_{c ∈ targets, c ≠ y_i} W_ti (e(y_i) − e(c)))   (0 if not flippable).

Decreases add up, hence the worst margin at budget ``B`` is ``min_b (M_ab − S_b(B))`` with

* unit costs: ``S_b(B)`` = sum of the ``B`` largest ``d_i(b)`` (the sort, exact);
* per-point costs: ``S_b(B) = max {Σ_i d_i(b) x_i : Σ_i cost_i x_i ≤ B, x ∈ {0,1}^n}``, a 0/1
  knapsack — a sort is *not* exact here.  It is solved exactly by depth-first branch and
  bound with the Dantzig (fractional) bound (:func:`knapsack_max`); if the node limit is hit
  the record keeps the proven upper bound and the verdict may be ``unknown``.
"""

from __future__ import annotations

import numpy as np

from certmodel.results import CertificateRecord, Path, ValueKind, Verdict

__all__ = ["knapsack_max", "best_moves", "certify_restricted"]

NODE_LIMIT = 2_000_000


def knapsack_max(values: np.ndarray, weights: np.ndarray, capacity: float,
                 node_limit: int = NODE_LIMIT) -> tuple[float, float, np.ndarray]:
    """Exact 0/1 knapsack ``max Σ v_i x_i s.t. Σ w_i x_i ≤ capacity`` (``w > 0``).

    Returns ``(best, upper, x)``: the best value found with its selection ``x`` (bool) and a
    proven upper bound ``upper ≥`` optimum (``upper == best`` when the search finished).
    Items with ``v_i ≤ 0`` are never taken.  Capacity comparisons allow the relative float
    slack of :meth:`~certmodel.threat.ResolvedThreat.within`.
    """
    v = np.asarray(values, float)
    w = np.asarray(weights, float)
    n = len(v)
    cap = float(capacity) + 1e-9 * max(1.0, abs(float(capacity)))
    items = np.flatnonzero((v > 0) & (w <= cap))
    if not len(items):
        return 0.0, 0.0, np.zeros(n, bool)
    order = items[np.argsort(-v[items] / w[items], kind="stable")]
    vs, ws = v[order], w[order]
    m = len(order)

    def dantzig(k: int, room: float) -> float:
        total = 0.0
        for j in range(k, m):
            if ws[j] <= room:
                room -= ws[j]
                total += vs[j]
            else:
                return total + vs[j] * room / ws[j]
        return total

    root = dantzig(0, cap)
    best, best_sel = 0.0, np.zeros(m, bool)
    # greedy start
    room, sel = cap, np.zeros(m, bool)
    for j in range(m):
        if ws[j] <= room:
            room -= ws[j]
            sel[j] = True
    best, best_sel = float(vs[sel].sum()), sel.copy()
    nodes = 0
    open_bounds = []  # bounds of subtrees left unexplored when the node limit hit
    stack = [(0, cap, 0.0, ())]
    while stack:
        k, room, val, taken = stack.pop()
        nodes += 1
        if nodes > node_limit:
            open_bounds.append(val + dantzig(k, room))
            open_bounds.extend(s[2] + dantzig(s[0], s[1]) for s in stack)
            break
        if k == m:
            if val > best:
                best, best_sel = val, np.zeros(m, bool)
                best_sel[list(taken)] = True
            continue
        if val + dantzig(k, room) <= best * (1 + 1e-15):
            continue
        stack.append((k + 1, room, val, taken))  # exclude k (explored second)
        if ws[k] <= room:
            stack.append((k + 1, room - ws[k], val + vs[k], taken + (k,)))
    x = np.zeros(n, bool)
    x[order[best_sel]] = True
    upper = max([best] + open_bounds) if open_bounds else best
    return best, min(upper, root), x


def best_moves(w_row: np.ndarray, codes: np.ndarray, a: int, b: int, threat,
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(d, new)``: the largest decrease ``d_i(b)`` of ``M_ab`` per point and its new class."""
    K = len(threat.target_mask)
    e = lambda x: (x == a).astype(float) - (x == b).astype(float)  # noqa: E731
    e_y = e(codes)
    d = np.zeros(len(codes))
    new = codes.copy()
    for c in np.flatnonzero(threat.target_mask):
        dc = w_row * (e_y - float(c == a) + float(c == b))
        dc[codes == c] = -np.inf
        better = dc > d
        d[better], new[better] = dc[better], c
    d[~threat.mask] = 0.0
    new[~threat.mask] = codes[~threat.mask]
    assert K >= 2
    return d, new


def _worst_for_rival(M_ab: float, d: np.ndarray, threat, B):
    """``(worst, lower_bound, selection)`` of ``M_ab − S_b(B)``."""
    if threat.unit_cost:
        k = int(min(B, len(d)))
        idx = np.argsort(-d, kind="stable")[:k]
        idx = idx[d[idx] > 0]
        sel = np.zeros(len(d), bool)
        sel[idx] = True
        s = float(d[idx].sum())
        return M_ab - s, M_ab - s, sel
    best, upper, sel = knapsack_max(d, threat.cost, B)
    return M_ab - best, M_ab - upper, sel


def certify_restricted(W: np.ndarray, codes: np.ndarray, classes: np.ndarray, budgets,
                       threat, test_indices, eps: float) -> list[CertificateRecord]:
    """Records (one per test point and budget) under ``threat`` (module docstring)."""
    m, n = W.shape
    K = len(classes)
    Y = np.zeros((n, K))
    Y[np.arange(n), codes] = 1.0
    F = W @ Y
    out = []
    for t in range(m):
        a = int(np.argmax(F[t]))
        M = F[t, a] - F[t]
        clean = float(np.min(np.delete(M, a)))
        eps_abs = float(eps * np.abs(W[t]).sum())
        moves = {b: best_moves(W[t], codes, a, b, threat) for b in range(K) if b != a}
        for B in budgets:
            worst, lower, sel, rival = np.inf, np.inf, None, None
            for b, (d, new) in moves.items():
                wb, lb, sb = _worst_for_rival(float(M[b]), d, threat, B)
                lower = min(lower, lb)
                if wb < worst:
                    worst, sel, rival = wb, (sb, new), b
            if B == 0:
                worst = lower = clean
            if lower > eps_abs:
                verdict, relab, value, kind = Verdict.ROBUST, None, lower, ValueKind.WORST_MARGIN
                if lower < worst:
                    kind = ValueKind.LOWER_BOUND
            elif worst <= eps_abs:
                sb, new = sel if B > 0 else (np.zeros(n, bool), codes)
                relab = {int(i): int(classes[new[i]]) for i in np.flatnonzero(sb)}
                verdict, value, kind = Verdict.NOT_ROBUST, worst, ValueKind.WORST_MARGIN
            else:  # knapsack node limit: the bound could not decide
                verdict, relab, value, kind = (Verdict.UNKNOWN, None, lower,
                                               ValueKind.LOWER_BOUND)
            out.append(CertificateRecord(
                test_index=int(test_indices[t]), budget=B, verdict=verdict,
                prediction=int(classes[a]), clean_margin=clean, value=float(value),
                value_kind=kind, method="scalabel",
                path=Path.TRIVIAL if (B == 0 or clean <= eps_abs) else Path.SORT,
                relabelling=relab,
                extra={"eps_abs": eps_abs, "threat": threat.model.to_dict(),
                       "exact": "sort" if threat.unit_cost else "knapsack",
                       **({} if rival is None else {"rival": int(classes[rival])})}))
    return out
