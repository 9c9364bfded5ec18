"""Provably valid big-M values for the SVM's complementary slackness (spec §5.1 item 4).

With ``r_i = Σ_j |K_ij|`` over the labelled columns (diagonal included) and any labels
``y ∈ {±1}^n`` and ``α ∈ [0, C]^n``, the stationarity gradient satisfies
``|(Qα)_i| = |y_i Σ_j K_ij y_j α_j| ≤ C r_i``.  Hence the multipliers of ``α_i ≥ 0`` and
``α_i ≤ C`` obey

    u_i = (Qα)_i − 1 ≤ C r_i − 1  (α_i = 0),    v_i = 1 − (Qα)_i ≤ C r_i + 1  (α_i = C),

so ``M_u,i = max(C r_i − 1, 0)`` and ``M_v,i = C r_i + 1`` are valid — never the
reference's unjustified 1000.  Each value keeps its provenance (Pyomo ``bigm_src`` style).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from certmodel.exceptions import FormulationError

__all__ = ["BigM", "svm_big_m"]


@dataclasses.dataclass(frozen=True)
class BigM:
    """Big-M values per training point with their provenance."""

    M_u: np.ndarray
    M_v: np.ndarray
    row_abs_sum: np.ndarray
    source: str

    def as_dict(self) -> dict:
        return {"M_u": self.M_u.tolist(), "M_v": self.M_v.tolist(), "source": self.source}


def svm_big_m(K: np.ndarray, C: float) -> BigM:
    """``M_u,i = max(C r_i − 1, 0)``, ``M_v,i = C r_i + 1`` with ``r_i = Σ_j |K_ij|``."""
    r = np.abs(np.asarray(K, dtype=float)).sum(axis=1)
    if not np.all(np.isfinite(r)):
        raise FormulationError("cannot bound the SVM multipliers: the kernel is not finite")
    return BigM(M_u=np.maximum(C * r - 1.0, 0.0), M_v=C * r + 1.0, row_abs_sum=r,
                source="C*sum_j|K_ij| -/+ 1 (|(Q alpha)_i| <= C r_i)")
