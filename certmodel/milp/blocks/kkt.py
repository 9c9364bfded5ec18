"""The lower level: KKT conditions of the bias-free kernel SVM for labels ``y`` (spec §5.1).

The dual ``min_α ½ αᵀQα − 1ᵀα, 0 ≤ α ≤ C, Q = (yyᵀ)∘K`` has the KKT system

    y_i (K z)_i − 1 = u_i − v_i,   z = y∘α,   u, v ≥ 0,   u_i α_i = 0,   v_i (C − α_i) = 0,

which for a PSD kernel characterises the optimum exactly.  Linearisation:

* ``z_j = y_j α_j`` by :func:`~certmodel.milp.blocks.products.add_signed_product`
  (bound C, with ``|z_j| ≤ α_j``);
* the stationarity products, two ways with identical integer feasible sets:
  ``"reference"`` — ``R_ij = y_i z_j`` (n² products, bound C) and ``Σ_j K_ij R_ij``;
  ``"compact"`` — ``g_i = Σ_j K_ij z_j`` with ``|g_i| ≤ C r_i`` and one product
  ``h_i = y_i g_i`` per row (n products, spec §8);
* optional valid bounds ``L ≤ g = K z ≤ U`` over every admissible labelling (bound
  tightening): added as rows, used for the product ``h`` and for the big-M values;
* complementarity by indicators ``s_i`` (``α_i = 0``) and ``t_i`` (``α_i = C``):
  ``u_i ≤ M_u,i s_i``, ``α_i ≤ C(1 − s_i)``, ``v_i ≤ M_v,i t_i``, ``α_i ≥ C t_i`` and the
  valid cut ``s_i + t_i ≤ 1``, with the tight big-M of :mod:`.bigm`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyomo.environ as pyo

from certmodel._validation import check_choice
from certmodel.milp.blocks.bigm import svm_big_m
from certmodel.milp.blocks.products import add_signed_product

__all__ = ["LINEARIZATIONS", "add_svm_kkt"]

LINEARIZATIONS = ("compact", "reference")


def add_svm_kkt(parent: pyo.Block, name: str, K: np.ndarray, C: float, y: Callable, *,
                linearization: str = "compact", g_bounds: tuple | None = None) -> pyo.Block:
    """Add the KKT block ``𝓑(y)`` of the bias-free SVM on training kernel ``K``.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Training kernel.
    C : float
        Box bound of the dual.
    y : callable
        ``y(i)`` the label expression of training point ``i`` (±1 at integer points).
    linearization : {"compact", "reference"}
    g_bounds : (L, U), optional
        Valid bounds on ``(K z)_i`` for every labelling the adversary may choose.

    Returns
    -------
    block : pyomo Block
        With variables ``alpha``, ``z`` (= y∘α), ``u``, ``v``, ``s``, ``t`` and, for
        ``"compact"``, ``h`` (= y∘Kz), for ``"reference"``, ``R``; attribute ``big_m``.
    """
    check_choice(linearization, "linearization", LINEARIZATIONS)
    K = np.asarray(K, dtype=float)
    n = K.shape[0]
    big_m = svm_big_m(K, C, g_bounds)
    b = pyo.Block()
    parent.add_component(name, b)
    b.big_m = big_m
    b.C = float(C)
    b.linearization = linearization
    b.I = pyo.RangeSet(0, n - 1)
    b.alpha = pyo.Var(b.I, bounds=(0.0, C))
    b.u = pyo.Var(b.I, bounds=lambda _, i: (0.0, float(big_m.M_u[i])))
    b.v = pyo.Var(b.I, bounds=lambda _, i: (0.0, float(big_m.M_v[i])))
    b.s = pyo.Var(b.I, domain=pyo.Binary)
    b.t = pyo.Var(b.I, domain=pyo.Binary)
    b.z = add_signed_product(b, "z", list(range(n)), y=y, x=lambda j: b.alpha[j], bound=C,
                             nonnegative_x=True)
    nz = [np.flatnonzero(K[i]) for i in range(n)]
    b.g = pyo.Expression(b.I, rule=lambda blk, i: sum(float(K[i, j]) * blk.z[j] for j in nz[i]))
    G = big_m.g_max
    lo, up = -G, G
    if g_bounds is not None:
        lo, up = np.maximum(g_bounds[0], -G), np.minimum(g_bounds[1], G)
        b.g_range = pyo.Constraint(b.I, rule=lambda blk, i: (float(lo[i]), blk.g[i],
                                                              float(up[i])))
    if linearization == "compact":
        b.h = add_signed_product(b, "h", list(range(n)), y=y, x=lambda i: b.g[i], bound=up,
                                 lower=lo)
        b.stationarity = pyo.Constraint(
            b.I, rule=lambda blk, i: blk.h[i] - blk.u[i] + blk.v[i] == 1)
    else:
        pairs = [(i, j) for i in range(n) for j in nz[i]]
        b.R = add_signed_product(b, "R", pairs, y=lambda k: y(k[0]),
                                 x=lambda k: b.z[k[1]], bound=C)
        b.stationarity = pyo.Constraint(
            b.I, rule=lambda blk, i: sum(float(K[i, j]) * blk.R[i, j] for j in nz[i])
            - blk.u[i] + blk.v[i] == 1)
    b.u_off = pyo.Constraint(b.I, rule=lambda blk, i: blk.u[i] <= float(big_m.M_u[i]) * blk.s[i])
    b.alpha_zero = pyo.Constraint(b.I, rule=lambda blk, i: blk.alpha[i] <= C * (1 - blk.s[i]))
    b.v_off = pyo.Constraint(b.I, rule=lambda blk, i: blk.v[i] <= float(big_m.M_v[i]) * blk.t[i])
    b.alpha_full = pyo.Constraint(b.I, rule=lambda blk, i: blk.alpha[i] >= C * blk.t[i])
    b.one_side = pyo.Constraint(b.I, rule=lambda blk, i: blk.s[i] + blk.t[i] <= 1)
    return b


def kkt_point(K: np.ndarray, C: float, y_pm: np.ndarray, alpha: np.ndarray,
              linearization: str, g_bounds: tuple | None = None) -> dict[str, np.ndarray]:
    """Values of every KKT-block variable at the SVM solution ``alpha`` for labels ``y_pm``.

    Used as a MIP start.  Multipliers follow from the residual
    ``e_i = y_i (K(y∘α))_i − 1``: ``u = max(e, 0)`` where ``α = 0``, ``v = max(−e, 0)`` where
    ``α = C``; indicators ``s = [α = 0]``, ``t = [α = C]`` (free points get ``s = t = 0``).
    """
    K = np.asarray(K, dtype=float)
    y_pm = np.asarray(y_pm, dtype=float)
    alpha = np.clip(np.asarray(alpha, dtype=float), 0.0, C)
    tol = 1e-9 * max(C, 1e-300)
    at0 = alpha <= tol
    atC = alpha >= C - tol
    alpha = np.where(at0, 0.0, np.where(atC, C, alpha))
    z = y_pm * alpha
    g = K @ z
    e = y_pm * g - 1.0
    u = np.where(at0, np.maximum(e, 0.0), 0.0)
    v = np.where(atC & ~at0, np.maximum(-e, 0.0), 0.0)
    big_m = svm_big_m(K, C, g_bounds)
    u = np.minimum(u, big_m.M_u)
    v = np.minimum(v, big_m.M_v)
    out = {"alpha": alpha, "z": z, "u": u, "v": v, "s": at0.astype(float),
           "t": (atC & ~at0).astype(float)}
    if linearization == "compact":
        out["h"] = y_pm * g
    else:
        out["R"] = np.outer(y_pm, z)
    return out
