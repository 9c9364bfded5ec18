"""Per-partition white-box costs ``r_p(c)`` from any certificate (spec §4).

``costs[t, p, c]`` is a lower bound on the flips inside partition ``p`` that make base model
``p`` vote ``c`` at test point ``t`` (0 at its own vote, ``inf`` if impossible).

* :func:`costs_from_minflips`: label-linear base models (ScaLabelCert).
  ``r_p(c) = min flips making f_c ≥ f_vote`` — exact for two classes, a lower bound otherwise.
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

__all__ = ["costs_from_minflips", "costs_from_certifier"]


def costs_from_minflips(per_rival: np.ndarray, prediction: np.ndarray, n_p: int) -> np.ndarray:
    """(m, K) costs of one partition from :attr:`MinFlips.per_rival` (``n_p + 1`` -> ``inf``)."""
    c = per_rival.astype(np.float64)
    c[c > n_p] = np.inf
    c[np.arange(c.shape[0]), prediction] = 0.0
    return c


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
