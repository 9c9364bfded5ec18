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
* complementarity ``α_i ⟂ u_i`` and ``(C − α_i) ⟂ v_i`` is *declared* as
  ``pyomo.mpec.Complementarity`` components ``comp_zero[i]``/``comp_full[i]`` and then
  reformulated by a named step (:func:`reformulate_complementarity`):

  ``"bigm"`` — binaries ``s_i`` (``α_i = 0``) and ``t_i`` (``α_i = C``):
  ``u_i ≤ M_u,i s_i``, ``α_i ≤ C(1 − s_i)``, ``v_i ≤ M_v,i t_i``, ``α_i ≥ C t_i`` and the
  valid cut ``s_i + t_i ≤ 1``, with the tight big-M of :mod:`.bigm` (values and their
  provenance also in the Pyomo ``Suffix`` ``BigM`` keyed by the complementarity data);
  ``"sos1"`` — slack ``w_i = C − α_i`` and Pyomo ``SOSConstraint`` sets ``{α_i, u_i}``,
  ``{w_i, v_i}`` (no big-M at all);
  ``"indicator"`` — binaries ``s_i, t_i`` with indicator rows ``s_i = 1 ⇒ α_i ≤ 0``,
  ``s_i = 0 ⇒ u_i ≤ 0``, ``t_i = 1 ⇒ α_i ≥ C``, ``t_i = 0 ⇒ v_i ≤ 0`` (Suffix
  ``indicator``) and the cut ``s_i + t_i ≤ 1``.  The same logic stays in the model as
  active exact bilinear rows ``ind_guard`` (``s_i α_i ≤ 0``, ``(1 − s_i) u_i ≤ 0``, …) and
  the Complementarity components stay active, all listed in Suffix
  ``complementarity_encoded`` (skipped by :func:`~certmodel.standard_form.compile_model`):
  a Pyomo solver interface reading the model directly solves the bilinear rows or refuses
  them — it never drops the complementarity.

  The variable bounds ``u_i ≤ M_u,i``, ``v_i ≤ M_v,i`` are valid (:mod:`.bigm`) and kept in
  every encoding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyomo.environ as pyo
from pyomo.mpec import Complementarity, complements

from certmodel._validation import check_choice
from certmodel.exceptions import FormulationError
from certmodel.milp.blocks.bigm import svm_big_m
from certmodel.milp.blocks.products import add_signed_product

__all__ = ["LINEARIZATIONS", "COMPLEMENTARITY", "add_svm_kkt", "reformulate_complementarity"]

LINEARIZATIONS = ("compact", "reference")
COMPLEMENTARITY = ("bigm", "sos1", "indicator")


def add_svm_kkt(parent: pyo.Block, name: str, K: np.ndarray, C: float, y: Callable, *,
                linearization: str = "compact", g_bounds: tuple | None = None,
                complementarity: str = "bigm") -> pyo.Block:
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
    complementarity : {"bigm", "sos1", "indicator"} or None
        Reformulation applied to the declared complementarity (``None``: leave it declared,
        call :func:`reformulate_complementarity` yourself).

    Returns
    -------
    block : pyomo Block
        With variables ``alpha``, ``z`` (= y∘α), ``u``, ``v`` and, for ``"compact"``, ``h``
        (= y∘Kz), for ``"reference"``, ``R``; ``comp_zero``/``comp_full``
        (Complementarity); the encoding's ``s``, ``t`` (bigm, indicator) or ``w`` (sos1);
        attribute ``big_m`` (:class:`~.bigm.BigM`).
    """
    check_choice(linearization, "linearization", LINEARIZATIONS)
    if complementarity is not None:
        check_choice(complementarity, "complementarity", COMPLEMENTARITY)
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
    b.comp_zero = Complementarity(
        b.I, rule=lambda blk, i: complements(blk.alpha[i] >= 0, blk.u[i] >= 0))
    b.comp_full = Complementarity(
        b.I, rule=lambda blk, i: complements(C - blk.alpha[i] >= 0, blk.v[i] >= 0))
    if complementarity is not None:
        reformulate_complementarity(b, complementarity)
    return b


def reformulate_complementarity(b: pyo.Block, method: str) -> pyo.Block:
    """Replace the declared ``comp_zero``/``comp_full`` of KKT block ``b`` (module docstring).

    ``method`` is ``"bigm"`` (any MILP solver), ``"sos1"`` (backends with SOS1 sets) or
    ``"indicator"`` (backends with indicator constraints); the backend refuses a form it
    cannot load (:meth:`certmodel.backends.base.Backend.check_form`).
    """
    check_choice(method, "complementarity", COMPLEMENTARITY)
    if getattr(b, "complementarity", None) is not None:
        raise FormulationError(f"{b.name}: complementarity already reformulated by "
                               f"{b.complementarity!r}")
    big_m, C = b.big_m, b.C
    b.complementarity = method
    if method == "sos1":
        b.comp_zero.deactivate()
        b.comp_full.deactivate()
        b.w = pyo.Var(b.I, bounds=(0.0, C))
        b.w_def = pyo.Constraint(b.I, rule=lambda blk, i: blk.w[i] == C - blk.alpha[i])
        b.sos_zero = pyo.SOSConstraint(b.I, rule=lambda blk, i: [blk.alpha[i], blk.u[i]], sos=1)
        b.sos_full = pyo.SOSConstraint(b.I, rule=lambda blk, i: [blk.w[i], blk.v[i]], sos=1)
        return b
    b.s = pyo.Var(b.I, domain=pyo.Binary)
    b.t = pyo.Var(b.I, domain=pyo.Binary)
    b.one_side = pyo.Constraint(b.I, rule=lambda blk, i: blk.s[i] + blk.t[i] <= 1)
    if method == "bigm":
        b.comp_zero.deactivate()
        b.comp_full.deactivate()
        b.u_off = pyo.Constraint(
            b.I, rule=lambda blk, i: blk.u[i] <= float(big_m.M_u[i]) * blk.s[i])
        b.alpha_zero = pyo.Constraint(b.I, rule=lambda blk, i: blk.alpha[i] <= C * (1 - blk.s[i]))
        b.v_off = pyo.Constraint(
            b.I, rule=lambda blk, i: blk.v[i] <= float(big_m.M_v[i]) * blk.t[i])
        b.alpha_full = pyo.Constraint(b.I, rule=lambda blk, i: blk.alpha[i] >= C * blk.t[i])
        b.BigM = pyo.Suffix(direction=pyo.Suffix.LOCAL)
        for i in b.I:
            b.BigM[b.comp_zero[i]] = float(big_m.M_u[i])
            b.BigM[b.comp_full[i]] = float(big_m.M_v[i])
        b.BigM_source = big_m.source
        return b
    # indicator rows, kept deactivated (they are read through the Suffix only)
    b.ind_alpha_zero = pyo.Constraint(b.I, rule=lambda blk, i: blk.alpha[i] <= 0)
    b.ind_u_off = pyo.Constraint(b.I, rule=lambda blk, i: blk.u[i] <= 0)
    b.ind_alpha_full = pyo.Constraint(b.I, rule=lambda blk, i: blk.alpha[i] >= C)
    b.ind_v_off = pyo.Constraint(b.I, rule=lambda blk, i: blk.v[i] <= 0)
    b.indicator = pyo.Suffix(direction=pyo.Suffix.LOCAL)
    b.complementarity_encoded = pyo.Suffix(direction=pyo.Suffix.LOCAL)
    # the same logic as exact bilinear rows, active: Pyomo interfaces that read the model
    # directly must solve them as such (or refuse them), never drop the complementarity
    b.ind_guard = pyo.Constraint(b.I, range(4), rule=lambda blk, i, r: (
        blk.s[i] * blk.alpha[i] <= 0, (1 - blk.s[i]) * blk.u[i] <= 0,
        blk.t[i] * (C - blk.alpha[i]) <= 0, (1 - blk.t[i]) * blk.v[i] <= 0)[r])
    for i in b.I:
        for con, var, val in ((b.ind_alpha_zero, b.s, 1), (b.ind_u_off, b.s, 0),
                              (b.ind_alpha_full, b.t, 1), (b.ind_v_off, b.t, 0)):
            con[i].deactivate()
            b.indicator[con[i]] = (var[i], val)
        b.complementarity_encoded[b.comp_zero[i]] = "indicator"
        b.complementarity_encoded[b.comp_full[i]] = "indicator"
        for r in range(4):
            b.complementarity_encoded[b.ind_guard[i, r]] = "indicator"
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
           "t": (atC & ~at0).astype(float), "w": C - alpha}
    if linearization == "compact":
        out["h"] = y_pm * g
    else:
        out["R"] = np.outer(y_pm, z)
    return out
