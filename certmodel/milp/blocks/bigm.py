"""Provably valid big-M values for the SVM's complementary slackness (spec §5.1 item 4).

With ``r_i = Σ_j |K_ij|`` over the labelled columns (diagonal included) and any labels
``y ∈ {±1}^n`` and ``α ∈ [0, C]^n``, the stationarity gradient satisfies
``|(Qα)_i| = |y_i Σ_j K_ij y_j α_j| ≤ C r_i``.  Hence the multipliers of ``α_i ≥ 0`` and
``α_i ≤ C`` obey

    u_i = (Qα)_i − 1 ≤ C r_i − 1  (α_i = 0),    v_i = 1 − (Qα)_i ≤ C r_i + 1  (α_i = C),

so ``M_u,i = max(C r_i − 1, 0)`` and ``M_v,i = C r_i + 1`` are valid — never the
reference's unjustified 1000.  When valid bounds ``L_i ≤ (K z)_i ≤ U_i`` over every admissible
labelling are known (bound tightening, e.g. the stability bound of
:mod:`certmodel.labelcert._stability`), ``C r_i`` is replaced by
``G_i = min(C r_i, max(U_i, −L_i)) ≥ |(Qα)_i|``.  Each value keeps its provenance (Pyomo
``bigm_src`` style).
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
    g_max: np.ndarray | None = None

    def as_dict(self) -> dict:
        return {"M_u": self.M_u.tolist(), "M_v": self.M_v.tolist(), "source": self.source}


def svm_big_m(K: np.ndarray, C: float, g_bounds: tuple | None = None) -> BigM:
    """``M_u,i = max(G_i − 1, 0)``, ``M_v,i = G_i + 1`` with ``G_i = C r_i``, ``r_i = Σ_j |K_ij|``
    (or the tighter ``G_i = min(C r_i, max(U_i, −L_i))`` from ``g_bounds = (L, U)``)."""
    r = np.abs(np.asarray(K, dtype=float)).sum(axis=1)
    if not np.all(np.isfinite(r)):
        raise FormulationError("cannot bound the SVM multipliers: the kernel is not finite")
    G = C * r
    source = "C*sum_j|K_ij| -/+ 1 (|(Q alpha)_i| <= C r_i)"
    if g_bounds is not None:
        L, U = (np.asarray(b, dtype=float) for b in g_bounds)
        if L.shape != r.shape or U.shape != r.shape or not np.all(L <= U):
            raise FormulationError("g_bounds must be two arrays of length n with L <= U")
        G = np.minimum(G, np.maximum(U, -L))
        source += "; tightened by valid bounds L <= (Kz)_i <= U"
    return BigM(M_u=np.maximum(G - 1.0, 0.0), M_v=G + 1.0, row_abs_sum=r, source=source,
                g_max=G)
