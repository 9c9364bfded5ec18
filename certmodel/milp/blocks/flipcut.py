"""A valid inequality from the label-flip structure: the optimality cut of the retrained SVM.

Primal ``F_y(w) = ½‖w‖² + C Σ_i ℓ(y_i w(x_i))``, hinge ``ℓ(x) = max(0, 1 − x)``, PSD kernel.
Fix any reference ``α⁰ ∈ R^n`` (the clean dual solution in practice), ``w = Σ_j α⁰_j ỹ_j φ(x_j)``,
``g⁰ = K(ỹ∘α⁰)``, ``a_i = ỹ_i g⁰_i`` and ``ρ_i = α⁰_i / C``.  Let ``y'`` flip the clean labels
``ỹ`` on a set ``A`` and let ``w'`` (``g' = K z'``) be the SVM retrained on ``y'``; put
``s_i = ỹ_i (g'_i − g⁰_i)`` and ``δ = w' − w``.  Then

    ‖δ‖² + C Σ_{i∉A} b_i(s_i) + C Σ_{i∈A} c_i(s_i) ≤ 0,                                 (FC)

    b_i(s) = ℓ(a_i + s) − ℓ(a_i) + ρ_i s,     c_i(s) = ℓ(−a_i − s) − ℓ(−a_i) + ρ_i s.

*Proof.*  ``F_ỹ(w') − F_ỹ(w) = ½‖δ‖² + C Σ_i b_i(s_i)`` is an identity (``⟨w, δ⟩ =
Σ_i α⁰_i ỹ_i δ(x_i) = C Σ_i ρ_i s_i``); ``F_{y'}(w) − F_{y'}(w') ≥ ½‖δ‖²`` because ``w'``
minimises the 1-strongly convex ``F_{y'}``.  Adding both, the left-hand sides differ only in
the terms of ``A``: ``C Σ_{i∈A} [ℓ(a_i + s_i) − ℓ(−a_i − s_i) + ℓ(−a_i) − ℓ(a_i)]``, and moving
them to the right turns ``b_i`` into ``c_i`` for ``i ∈ A``. ∎  (Only the optimality of ``w'``
is used: the cut is valid for *any* reference ``α⁰``; with the exact clean optimum,
``b_i ≥ 0`` and (FC) is tight at ``A = ∅``.)

**MILP form.**  ``‖δ‖² ≥ 0`` is dropped (the MILP stays linear).  ``b_i`` and ``c_i`` are
maxima of two affine functions, and "``i ∈ A``" is the flip binary ``f_i``; the disjunction
is written in its convex-hull (perspective) form with valid ranges ``lo_i ≤ s_i ≤ hi_i``
(from the model's bounds on ``g = K z``):

    s_i = s⁰_i + s¹_i,  lo_i(1 − f_i) ≤ s⁰_i ≤ hi_i(1 − f_i),  lo_i f_i ≤ s¹_i ≤ hi_i f_i,
    e⁰_i ≥ p s⁰_i + q (1 − f_i)  for each piece (p, q) of b_i,
    e¹_i ≥ p s¹_i + q f_i        for each piece (p, q) of c_i,
    Σ_i (e⁰_i + e¹_i) ≤ τ.

At every integer ``f`` this is exactly (FC) without ``‖δ‖²`` (``τ`` — ``tol`` times ``n`` — absorbs
the solver's feasibility tolerance), so no admissible KKT point is cut off; the LP relaxation
gains the comparison with the clean SVM that the big-M KKT rows lose.  Binary (sample-wise and
collective) models only.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from certmodel.exceptions import FormulationError

__all__ = ["add_flip_optimality_cut", "flip_cut_pieces"]


def _hinge(x):
    return np.maximum(0.0, 1.0 - x)


def flip_cut_pieces(a: np.ndarray, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Affine pieces ``(p, q)`` (arrays of shape (n, 2, 2): point, piece, (p, q)) of ``b_i`` and
    ``c_i``: ``b_i(s) = max_k p s + q`` and the same for ``c_i``."""
    a, rho = np.asarray(a, float), np.asarray(rho, float)
    hb, hc = _hinge(a), _hinge(-a)
    b = np.stack([np.stack([rho, -hb], -1), np.stack([rho - 1.0, 1.0 - a - hb], -1)], 1)
    c = np.stack([np.stack([rho, -hc], -1), np.stack([rho + 1.0, 1.0 + a - hc], -1)], 1)
    return b, c


def _g_ranges(svm: pyo.Block, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Valid bounds on ``g_i = (K z)_i`` held by the KKT block (its ``g_range`` rows if present,
    else ``±G_i`` of its big-M provenance)."""
    G = np.asarray(svm.big_m.g_max, dtype=float)
    lo, hi = -G.copy(), G.copy()
    if hasattr(svm, "g_range"):
        for i in range(n):
            con = svm.g_range[i]
            if con.lower is not None:
                lo[i] = max(lo[i], float(pyo.value(con.lower)))
            if con.upper is not None:
                hi[i] = min(hi[i], float(pyo.value(con.upper)))
    return lo, hi


def add_flip_optimality_cut(model: pyo.Block, K: np.ndarray, *, alpha0: np.ndarray | None = None,
                            name: str = "flip_cut", tol: float = 1e-7) -> pyo.Block:
    """Add the cut (FC) to a binary LabelCert model as block ``model.<name>``.

    Parameters
    ----------
    model : pyomo Block
        A binary model with the blocks ``adversary`` (``flip[i]``, ``y_clean``) and ``svm``
        (:func:`certmodel.milp.samplewise_model`, :func:`certmodel.milp.collective_model`, or
        the model a ``customize=`` function receives in sample-wise binary certification).
    K : ndarray (n, n)
        The model's training kernel (PSD).
    alpha0 : ndarray (n,), optional
        Reference dual point (default: the clean SVM, solved here).
    name : str
    tol : float
        Per-point slack of the summed row (``τ = tol · n``).

    Returns
    -------
    block : pyomo Block with ``s0, s1, e0, e1`` and rows ``split``, ``range0``, ``range1``,
    ``piece_b``, ``piece_c``, ``total``.
    """
    from certmodel.learners._svm_dual import solve_svm_dual

    adv = getattr(model, "adversary", None)
    svm = getattr(model, "svm", None)
    if adv is None or svm is None or not hasattr(adv, "flip") or not hasattr(adv, "y_clean"):
        raise FormulationError(
            "add_flip_optimality_cut needs a binary LabelCert model with blocks 'adversary' "
            "(flip binaries) and 'svm' (one KKT block); multiclass models are not supported")
    if hasattr(model, name):
        raise FormulationError(f"model already has a component named {name!r}")
    K = np.asarray(K, dtype=float)
    n = len(adv.y_clean)
    if K.shape != (n, n):
        raise FormulationError(f"K must have shape ({n}, {n}) for this model, got {K.shape}")
    C = float(svm.C)
    y = np.array([adv.y_clean[i] for i in range(n)], dtype=float)
    if alpha0 is None:
        alpha0 = solve_svm_dual(K, y, C).alpha
    alpha0 = np.asarray(alpha0, dtype=float)
    if alpha0.shape != (n,):
        raise FormulationError(f"alpha0 must have shape ({n},), got {alpha0.shape}")
    g0 = K @ (y * alpha0)
    a, rho = y * g0, alpha0 / C
    glo, ghi = _g_ranges(svm, n)
    s_lo = np.minimum(y * (glo - g0), y * (ghi - g0))
    s_hi = np.maximum(y * (glo - g0), y * (ghi - g0))
    pb, pc = flip_cut_pieces(a, rho)

    b = pyo.Block()
    model.add_component(name, b)
    b.I = pyo.RangeSet(0, n - 1)
    b.P = pyo.RangeSet(0, 1)
    b.lo = {i: float(s_lo[i]) for i in range(n)}
    b.hi = {i: float(s_hi[i]) for i in range(n)}
    f = adv.flip
    b.s0 = pyo.Var(b.I)
    b.s1 = pyo.Var(b.I)
    b.e0 = pyo.Var(b.I)
    b.e1 = pyo.Var(b.I)
    b.split = pyo.Constraint(b.I, rule=lambda blk, i: blk.s0[i] + blk.s1[i]
                             == float(y[i]) * (svm.g[i] - float(g0[i])))
    b.range0 = pyo.Constraint(b.I, [0, 1], rule=lambda blk, i, u: (
        blk.s0[i] >= blk.lo[i] * (1 - f[i]) if u == 0 else blk.s0[i] <= blk.hi[i] * (1 - f[i])))
    b.range1 = pyo.Constraint(b.I, [0, 1], rule=lambda blk, i, u: (
        blk.s1[i] >= blk.lo[i] * f[i] if u == 0 else blk.s1[i] <= blk.hi[i] * f[i]))
    b.piece_b = pyo.Constraint(b.I, b.P, rule=lambda blk, i, k: blk.e0[i] >= float(pb[i, k, 0])
                               * blk.s0[i] + float(pb[i, k, 1]) * (1 - f[i]))
    b.piece_c = pyo.Constraint(b.I, b.P, rule=lambda blk, i, k: blk.e1[i] >= float(pc[i, k, 0])
                               * blk.s1[i] + float(pc[i, k, 1]) * f[i])
    b.total = pyo.Constraint(expr=sum(b.e0[i] + b.e1[i] for i in b.I) <= tol * n)
    return b
