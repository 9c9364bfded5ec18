"""Per-partition white-box costs ``r_p(c)`` from any certificate (spec §4).

``costs[t, p, c]`` is a lower bound on the flips inside partition ``p`` that make base model
``p`` vote ``c`` at test point ``t`` (0 at its own vote, ``inf`` if impossible).

* :func:`costs_from_minflips`: label-linear base models (ScaLabelCert).
  ``r_p(c) = min flips making f_c ≥ f_vote`` — exact for two classes, a lower bound otherwise.
* :func:`costs_from_weights`: label-linear base models under a
  :class:`~certmodel.threat.ThreatModel` (flippable mask, integer per-point costs, target
  classes): ``r_p(c)`` = the minimum *cost* of an admissible relabelling inside the partition
  making ``f_c ≥ f_vote`` — a min-cost covering knapsack, solved exactly as the complementary
  0/1 knapsack (:func:`certmodel.scalabel.restricted.knapsack_max`); the sort for unit costs.
* :func:`costs_from_certifier`: any certificate through the result interface, e.g. the
  LabelCert MILP for SVM base models.  ``certify(p, B)`` returns the records of partition
  ``p`` at budget ``B`` (one per test point, ``test_index`` = test row); the cost of any change
  is ``(largest budget tried before the first verdict that is not robust) + 1`` (``unknown``
  counts as not robust, which keeps the bound sound; with consecutive budgets this is the
  first non-robust budget), or ``max budget tried + 1`` when robust throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from certmodel._validation import check_budgets
from certmodel.exceptions import InvalidParameterError
from certmodel.results import CertificateRecord, Verdict

__all__ = ["costs_from_minflips", "costs_from_certifier", "costs_from_weights"]


def costs_from_minflips(per_rival: np.ndarray, prediction: np.ndarray, n_p: int) -> np.ndarray:
    """(m, K) costs of one partition from :attr:`MinFlips.per_rival` (``n_p + 1`` -> ``inf``)."""
    c = per_rival.astype(np.float64)
    c[c > n_p] = np.inf
    c[np.arange(c.shape[0]), prediction] = 0.0
    return c


def costs_from_weights(W: np.ndarray, codes: np.ndarray, n_classes: int, threat,
                       eps: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """``(prediction, costs)`` of one label-linear base model under a resolved threat model.

    ``costs[t, c]`` is the minimum total cost of an admissible relabelling of this
    partition's points that makes ``f_c ≥ f_a − eps·Σ|W_t|`` (``a`` the vote; a tie counts),
    ``0`` at ``c = a`` and ``inf`` when no admissible relabelling does.  With
    ``D = Σ_i d_i`` over the best decreases ``d_i > 0`` of :func:`~certmodel.scalabel.
    restricted.best_moves` and the gap ``g = M_ac − eps_abs``, the minimum cost of
    ``Σ_i d_i x_i ≥ g`` is ``Σ_i cost_i − max{Σ_i cost_i x̄_i : Σ_i d_i x̄_i ≤ D − g}``
    (``x̄ = 1 − x``, a 0/1 knapsack), exact.  The ensemble's knapsack rounds costs up, which
    is sound only for integer costs, so non-integer costs are refused.
    """
    from certmodel.scalabel.restricted import best_moves, knapsack_max

    if not np.all(np.asarray(threat.cost) == np.round(threat.cost)):
        raise InvalidParameterError(
            "EnsembleCert with per-point costs needs integer costs (the ensemble radius counts "
            f"cost units); got costs {np.unique(threat.cost)[:5]}")
    W = np.atleast_2d(np.asarray(W, dtype=float))
    m = W.shape[0]
    Y = np.zeros((len(codes), n_classes))
    Y[np.arange(len(codes)), codes] = 1.0
    F = W @ Y
    pred = np.argmax(F, axis=1)
    out = np.zeros((m, n_classes))
    for t in range(m):
        a = int(pred[t])
        eps_abs = eps * float(np.abs(W[t]).sum())
        for c in range(n_classes):
            if c == a:
                continue
            gap = float(F[t, a] - F[t, c]) - eps_abs
            if gap <= 0:
                continue
            d, _ = best_moves(W[t], codes, a, c, threat)
            use = np.flatnonzero(d > 0)
            D = float(d[use].sum())
            if D < gap:
                out[t, c] = np.inf
                continue
            cst = threat.cost[use]
            _, keep_upper, _ = knapsack_max(cst, d[use], D - gap)
            # the knapsack's proven upper bound: a lower bound on the cost even if its node
            # limit stopped the search (exact otherwise)
            out[t, c] = max(float(cst.sum()) - keep_upper, 0.0)
    return pred, out


def costs_from_certifier(certify: Callable[[int, int], Sequence[CertificateRecord]],
                         base_pred, n_classes: int, budgets: Sequence[int],
                         partition_sizes: Sequence[int] | None = None) -> np.ndarray:
    """Costs (m, P, K) by increasing budgets through ``certify(p, B) -> records``.

    Parameters
    ----------
    certify : callable
        ``certify(p, B)`` -> sequence of :class:`~certmodel.results.CertificateRecord` for
        every test point (``test_index`` = row of ``base_pred``) for base model ``p``
        (a single record is accepted when there is one test point).
    base_pred : array of int of shape (m, P)
        Votes of the base models (each record's ``prediction`` must agree).
    n_classes : int
    budgets : sequence of int
        Budgets to try, in increasing order (gaps are allowed: the bound is then
        ``largest robust budget + 1``).  Test points stop being queried once decided.
    partition_sizes : sequence of int, optional
        Training points per partition; a partition robust at its size cannot change (``inf``).
    """
    bp = np.asarray(base_pred)
    if bp.ndim != 2 or bp.dtype.kind not in "iu":
        raise InvalidParameterError(f"base_pred must be an integer (m, P) array, got {bp.shape}")
    m, P = bp.shape
    bs = check_budgets(list(budgets), 10**12, name="budgets")
    change = np.full((m, P), np.nan)
    for p in range(P):
        undecided = np.ones(m, dtype=bool)
        lower = 0  # largest budget proven robust so far, + 1 (0 before any budget)
        for B in bs:
            recs = certify(p, B)
            if isinstance(recs, CertificateRecord):
                recs = [recs]
            for r in recs:
                t = int(r.test_index)
                if not 0 <= t < m:
                    raise InvalidParameterError(f"record test_index {t} outside 0..{m - 1}")
                if int(r.prediction) != int(bp[t, p]):
                    raise InvalidParameterError(
                        f"record for partition {p}, test point {t} predicts {r.prediction}, "
                        f"but base_pred says {int(bp[t, p])}")
                if undecided[t] and r.verdict is not Verdict.ROBUST:
                    change[t, p] = lower
                    undecided[t] = False
            lower = B + 1
            if not undecided.any():
                break
        last = bs[-1] + 1
        if partition_sizes is not None and bs[-1] >= partition_sizes[p]:
            last = np.inf
        change[undecided, p] = last
    costs = np.repeat(change[:, :, None], n_classes, axis=2)
    np.put_along_axis(costs, bp[:, :, None].astype(np.int64), 0.0, axis=2)
    return costs
