"""Exact solver for the dual of the bias-free kernel SVM (a box-constrained QP).

The problem (``labelcert-spec.md`` §4) is

.. math::

    \\min_{\\alpha}\\; \\tfrac12 \\alpha^\\top Q \\alpha - \\mathbf 1^\\top \\alpha
    \\quad\\text{s.t.}\\quad 0 \\le \\alpha \\le C,
    \\qquad Q = (y y^\\top) \\circ K,\\; y \\in \\{\\pm 1\\}^n

(no equality constraint, because there is no bias).  With the gradient
``g = Q α − 1`` a point is a KKT point iff ``α ∈ [0, C]^n`` and

* ``α_i = 0``      ⇒ ``g_i ≥ 0``,
* ``α_i = C``      ⇒ ``g_i ≤ 0``,
* ``0 < α_i < C``  ⇒ ``g_i = 0``.

**KKT residual.**  ``max_i`` of the violation of these conditions, i.e. ``max(−g_i, 0)`` at the
lower bound, ``max(g_i, 0)`` at the upper bound and ``|g_i|`` strictly inside, together with the
box violation ``max(−α_i, α_i − C, 0) / C``.  ``g`` is dimensionless: its unit is the SVM's
margin (the linear term ``1``), so the residual is an *absolute* number.

**Convergence test** (scale-invariant).  A solve counts as converged when

    ``kkt_residual ≤ min(tol · max(1, s), 1e-6)``,  ``s = max_i Σ_j |K_ij| · max_j α_j``;

``s`` bounds ``|Qα|_∞``, the size of the terms summed in ``g`` (floating-point error of ``g``
≈ ``n·u·s``).  ``s`` is measured at the returned ``α``, not at the box bound ``C``: it is
unchanged by ``(K, C, α) → (cK, C/c, α/c)`` and does not grow with ``C`` unless ``α`` does, so
a large ``C`` never loosens the test.  The cap ``10^{-6}`` (one millionth of the margin) keeps the
test meaningful when ``α`` itself is huge: a problem whose ``g`` float64 cannot resolve to that
accuracy is reported ``converged=False`` (callers then fall back or answer ``unknown``), never
passed as converged.

**Hard-margin limit.**  For a positive definite ``K`` (smallest eigenvalue ``λ > 0``) every
labelling's optimum satisfies ``½λ‖α‖² ≤ ½αᵀQα ≤ 1ᵀα ≤ √n‖α‖`` (the objective at the optimum is
``≤ 0``, its value at ``α = 0``), so ``‖α‖_∞ ≤ 2√n/λ`` =: :func:`hard_margin_C`.  For every
``C ≥ hard_margin_C(K)`` the box's upper face is never binding and the solution is the same —
the hard-margin SVM; :func:`effective_C` returns ``min(C, hard_margin_C(K))``, an exact
replacement that keeps big-M bounds and soundness margins finite at any ``C``.  (``λ`` is taken
with the eigensolver error bound ``4n·u·max_i Σ_j|K_ij|`` subtracted; when that leaves ``λ ≤ 0`` —
singular or indefinite ``K`` — no replacement is made: the SVM then genuinely depends on ``C``.)

**Algorithm.**  A primal-dual active-set method (Hintermüller, Ito & Kunisch 2003) on the
partition (α = 0, free, α = C), with exact linear solves on the free block; the partition is
predicted from ``z = α − g / diag(Q)`` (a projected coordinate-Newton step), so a warm start
``alpha0`` from a nearby problem usually converges in 1–3 solves.  If the method cycles, meets a
singular or indefinite free block, or does not reach the tolerance, a primal feasible
active-set method takes over: Newton steps on the current face via an eigendecomposition of
``Q_FF`` (directions of zero or negative curvature are followed to the boundary, so singular
``K`` — e.g. SGC kernels of rank below ``n`` — and slightly indefinite ``K`` are handled), one bound
released at a time.  For a singular PSD ``K`` the minimiser ``α`` is not unique but ``K (y∘α)`` is;
the solver returns one KKT point.  For an indefinite ``K`` it returns a KKT point (a local
solution) when it finds one and reports ``converged=False`` otherwise.

**Saturated regime.**  If ``C < saturated_C(K) = 1 / max_i Σ_j |K_ij|`` then ``α ≡ C`` is the
unique KKT point for every labelling: ``|g_i + 1| = |y_i Σ_j K_ij y_j C| < 1`` so ``g < 0``
everywhere.  The solver returns it immediately.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from certmodel._validation import check_array, check_kernel_matrix, check_scalar
from certmodel.exceptions import InvalidParameterError

__all__ = [
    "SVMSolution",
    "solve_svm_dual",
    "saturated_C",
    "is_saturated",
    "svm_kkt_residual",
    "svm_dual_objective",
    "hard_margin_C",
    "effective_C",
    "unit_scale",
]

_SNAP = 1e-12  # entries within _SNAP·C of C, or _SNAP·max(α) of 0, are snapped onto the bound
_MAX_G_ERROR = 1e-6  # cap of the convergence threshold, in units of the margin (see above)
_U = np.finfo(float).eps


@dataclass(frozen=True)
class SVMSolution:
    """Result of :func:`solve_svm_dual`.

    Attributes
    ----------
    alpha : ndarray of shape (n,)
        Dual variables, exactly inside ``[0, C]`` (entries within ``1e-12 · C`` of a bound are
        snapped onto it).
    kkt_residual : float
        Absolute KKT residual of ``alpha`` (see the module docstring).
    iterations : int
        Linear solves / active-set steps used (0 in the saturated regime).
    converged : bool
        ``kkt_residual <= min(tol · max(1, max_i Σ_j |K_ij| · max_j α_j), 1e-6)``.
    method : str
        ``"saturated"``, ``"pdas"`` (primal-dual active set) or ``"primal-active-set"``.
    """

    alpha: np.ndarray
    kkt_residual: float
    iterations: int
    converged: bool
    method: str = "pdas"


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def saturated_C(K) -> float:
    """Largest C of the saturated regime: ``1 / max_i Σ_j |K_ij|`` (``inf`` for ``K = 0``).

    For ``C < saturated_C(K)`` the unique dual solution is ``α ≡ C`` for every labelling.

    Examples
    --------
    >>> saturated_C([[2.0, -1.0], [-1.0, 1.0]])
    0.3333333333333333
    """
    K = check_kernel_matrix(K, "K")
    return _saturated_C(K)


def _saturated_C(K: np.ndarray) -> float:
    r = float(np.max(np.abs(K).sum(axis=1)))
    return float("inf") if r == 0.0 else 1.0 / r


def is_saturated(K, C) -> bool:
    """``C < saturated_C(K)`` (strict): the SVM dual solution is ``α ≡ C`` for every labelling.

    Examples
    --------
    >>> is_saturated([[2.0, -1.0], [-1.0, 1.0]], 0.3)
    True
    """
    C = check_scalar(C, "C", numbers.Real, min_val=0, include_min=False)
    return C < saturated_C(K)


def hard_margin_C(K) -> float:
    """``2√n / λ`` (``λ``: smallest eigenvalue of ``K`` less its error bound); ``inf`` if ``λ ≤ 0``.

    Every labelling's dual optimum lies in ``[0, hard_margin_C(K)]^n`` (module docstring), so any
    ``C`` at or above it gives the hard-margin SVM.

    Examples
    --------
    >>> round(hard_margin_C(np.eye(4)), 6)  # 2·√4 / 1
    4.0
    >>> hard_margin_C(np.ones((2, 2)))
    inf
    """
    return _hard_margin_C(check_kernel_matrix(K, "K"))


def _hard_margin_C(K: np.ndarray) -> float:
    n = K.shape[0]
    if n == 0:
        return float("inf")
    lam = float(np.linalg.eigvalsh(K)[0]) - 4 * n * _U * float(np.max(np.abs(K).sum(axis=1)))
    return float("inf") if not lam > 0 else float(2.0 * np.sqrt(n) / lam * (1 + 1e-12))


def effective_C(K, C) -> float:
    """``min(C, hard_margin_C(K))``: the same SVM for every labelling, with a finite box.

    Examples
    --------
    >>> round(effective_C(np.eye(4), 1e13), 6)
    4.0
    >>> effective_C(np.eye(4), 0.5)
    0.5
    """
    K = check_kernel_matrix(K, "K")
    C = float(check_scalar(C, "C", numbers.Real, min_val=0, include_min=False))
    if not np.isfinite(C):
        raise InvalidParameterError(f"C must be finite, got {C}")
    n = K.shape[0]
    rowsum = float(np.max(np.abs(K).sum(axis=1), initial=0.0))
    # λ_min ≤ λ_max ≤ rowsum, so hard_margin_C ≥ 2√n / rowsum: no eigensolve below that
    if C * rowsum <= 2.0 * np.sqrt(n):
        return C
    return min(C, _hard_margin_C(K))


def unit_scale(K) -> float:
    """A power of two ``c`` with ``c · max_i Σ_j |K_ij| ∈ [1/√2, √2)`` (``1`` for ``K = 0``).

    Exact rescaling: the SVM on ``(cK, C/c)`` has ``α/c`` where ``(K, C)`` has ``α``, so its
    logits ``cK_test (y∘α/c)`` are the same numbers, and multiplying by a power of two rounds
    nothing.  Callers that build MILPs use it to hand the solver ``O(1)`` coefficients for
    kernels of any scale (1e-12 … 1e20).

    Examples
    --------
    >>> unit_scale(np.array([[3.0, 1.0], [1.0, 3.0]]))
    0.25
    """
    K = np.asarray(K, dtype=float)
    r = float(np.max(np.abs(K).sum(axis=1), initial=0.0)) if K.size else 0.0
    if not (r > 0 and np.isfinite(r)):
        return 1.0
    return float(2.0 ** -round(np.log2(r)))


def _threshold(alpha: np.ndarray, rowsum: float, tol: float) -> float:
    """``min(tol · max(1, rowsum · max α), 1e-6)`` (the scale-invariant convergence test)."""
    s = rowsum * float(np.max(alpha, initial=0.0))
    return min(tol * max(1.0, s), _MAX_G_ERROR)


def _snap_clip(alpha: np.ndarray, C: float) -> np.ndarray:
    alpha = np.clip(alpha, 0.0, C)
    top = float(np.max(alpha, initial=0.0))
    alpha[alpha <= _SNAP * min(C, top)] = 0.0
    alpha[alpha >= C - _SNAP * C] = C
    return alpha


def _residual(alpha: np.ndarray, g: np.ndarray, C: float) -> float:
    lo = alpha <= 0.0
    up = alpha >= C
    viol = np.where(lo, -g, np.where(up, g, np.abs(g)))
    box = np.maximum(np.maximum(-alpha, alpha - C), 0.0) / C
    return float(max(np.max(viol, initial=0.0), np.max(box, initial=0.0), 0.0))


def _labels_pm(y, n: int, name: str = "y") -> np.ndarray:
    y = check_array(y, name, ndim=1)
    if y.shape[0] != n:
        raise InvalidParameterError(
            f"{name} must have {n} entries to match the kernel, got {y.shape[0]}")
    if not np.all(np.abs(y) == 1.0):
        bad = y[np.abs(y) != 1.0][:5].tolist()
        raise InvalidParameterError(f"{name} must hold labels in {{-1, +1}}, got values {bad}")
    return y


def svm_kkt_residual(K, y, alpha, C) -> float:
    """Absolute KKT residual of ``alpha`` for the bias-free SVM dual with labels ``y ∈ {±1}``.

    ``max_i`` of: ``max(−g_i, 0)`` if ``α_i ≤ 0``, ``max(g_i, 0)`` if ``α_i ≥ C``, ``|g_i|``
    otherwise (``g = Qα − 1``, ``Q = (yyᵀ)∘K``), and the relative box violation
    ``max(−α_i, α_i − C, 0) / C``.

    Examples
    --------
    >>> svm_kkt_residual([[1.0]], [1], [1.0], 10.0)
    0.0
    """
    K = check_kernel_matrix(K, "K")
    n = K.shape[0]
    y = _labels_pm(y, n)
    alpha = check_array(alpha, "alpha", ndim=1)
    if alpha.shape[0] != n:
        raise InvalidParameterError(f"alpha must have {n} entries, got {alpha.shape[0]}")
    C = check_scalar(C, "C", numbers.Real, min_val=0, include_min=False)
    g = y * (K @ (y * alpha)) - 1.0
    return _residual(alpha, g, float(C))


def svm_dual_objective(K, y, alpha) -> float:
    """Dual objective ``½ αᵀQα − 1ᵀα`` with ``Q = (yyᵀ)∘K`` (no validation).

    Examples
    --------
    >>> svm_dual_objective(np.eye(2), np.array([1, -1]), np.array([1.0, 1.0]))
    -1.0
    """
    K = np.asarray(K, dtype=float)
    y = np.asarray(y, dtype=float)
    alpha = np.asarray(alpha, dtype=float)
    z = y * alpha
    return float(0.5 * z @ K @ z - alpha.sum())


# ----------------------------------------------------------------------------------------------
# solver
# ----------------------------------------------------------------------------------------------

def solve_svm_dual(K, y, C, *, alpha0=None, tol: float = 1e-10, max_iter: int | None = None,
                   check_input: bool = True) -> SVMSolution:
    """Solve the bias-free SVM dual ``min ½αᵀQα − 1ᵀα, 0 ≤ α ≤ C``, ``Q = (yyᵀ)∘K``.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Symmetric training kernel (PSD for a global optimum; slightly indefinite is tolerated).
    y : ndarray of shape (n,)
        Labels in ``{-1, +1}``.
    C : float
        Box bound, ``C > 0``.
    alpha0 : ndarray of shape (n,), optional
        Warm start (e.g. the solution for a nearby labelling); clipped into ``[0, C]``.
    tol : float, default=1e-10
        Converged iff ``kkt_residual <= min(tol · max(1, max_i Σ_j |K_ij| · max_j α_j), 1e-6)``
        (scale-invariant; see the module docstring).
    max_iter : int, optional
        Cap on active-set steps of each phase; default ``50 + 10 n``.
    check_input : bool, default=True
        Validate the arguments.  Hot loops that pass trusted float64 arrays may skip it.

    Returns
    -------
    SVMSolution
        ``alpha`` (exactly in ``[0, C]``), ``kkt_residual``, ``iterations``, ``converged``.

    Examples
    --------
    >>> sol = solve_svm_dual(np.eye(3), np.array([1, -1, 1]), 0.5)
    >>> sol.alpha.tolist(), sol.converged
    ([0.5, 0.5, 0.5], True)
    >>> solve_svm_dual(np.eye(2), np.array([1, 1]), 10.0).alpha.tolist()
    [1.0, 1.0]
    """
    if check_input:
        K = check_kernel_matrix(K, "K")
        n = K.shape[0]
        y = _labels_pm(y, n)
        C = float(check_scalar(C, "C", numbers.Real, min_val=0, include_min=False))
        tol = float(check_scalar(tol, "tol", numbers.Real, min_val=0))
        if alpha0 is not None:
            alpha0 = check_array(alpha0, "alpha0", ndim=1)
            if alpha0.shape[0] != n:
                raise InvalidParameterError(
                    f"alpha0 must have {n} entries to match the kernel, got {alpha0.shape[0]}")
        if max_iter is not None:
            max_iter = check_scalar(max_iter, "max_iter", numbers.Integral, min_val=1)
    else:
        n = K.shape[0]
        C = float(C)
    absK = np.abs(K)
    rowsum = float(np.max(absK.sum(axis=1)))
    if C * rowsum < 1.0:  # saturated regime: α ≡ C is the unique KKT point
        alpha = np.full(n, C)
        g = y * (K @ (y * alpha)) - 1.0
        res = _residual(alpha, g, C)
        return SVMSolution(alpha, res, 0, True, "saturated")
    Q = (y[:, None] * y[None, :]) * K

    def thr(a: np.ndarray) -> float:
        return _threshold(a, rowsum, tol)

    if max_iter is None:
        max_iter = 50 + 10 * n
    if alpha0 is None:
        alpha = np.zeros(n)
    else:
        alpha = np.clip(np.asarray(alpha0, dtype=float), 0.0, C)
    ones = np.ones(n)
    a, it, ok = _pdas(Q, ones, C, alpha, max_iter, big=1e6 * C)
    if ok:
        a, res = _refine(Q, C, a, thr)
        if res <= thr(a):
            return SVMSolution(a, res, it, True, "pdas")
    # singular (low-rank K) or indefinite free blocks, or a PDAS cycle: projected Newton
    a, res, it2 = _projected_newton(Q, C, a if ok else alpha, thr, max_iter)
    it += it2
    if res <= thr(a):
        return SVMSolution(a, res, it, True, "projected-newton")
    alpha, res2, it2 = _primal_active_set(Q, C, a, thr, max_iter)
    return SVMSolution(alpha, res2, it + it2, res2 <= thr(alpha), "primal-active-set")


def _pdas(Q: np.ndarray, p: np.ndarray, C: float, alpha: np.ndarray, max_iter: int,
          big: float = np.inf):
    """Primal-dual active set for ``min ½αᵀQα − pᵀα`` on the box.

    Returns ``(alpha, iterations, ok)``; ``alpha`` is snapped into the box; ``ok`` is False when
    the method stopped early (cycle, singular block, iteration cap).
    """
    d = np.diag(Q)
    cinv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 2.0 * C)
    g = Q @ alpha - p
    z = alpha - cinv * g
    state = (z >= C).astype(np.int8) - (z <= 0.0).astype(np.int8)  # -1 lower, 0 free, +1 upper
    seen = set()
    it = 0
    ok = False
    while it < max_iter:
        key = state.tobytes()
        if key in seen:
            break
        seen.add(key)
        it += 1
        F = state == 0
        alpha = np.where(state > 0, C, 0.0)
        if F.any():
            b = p[F] - (Q @ alpha)[F]
            QFF = Q[np.ix_(F, F)]
            try:
                aF = np.linalg.solve(QFF, b)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(aF)) or np.max(np.abs(aF)) > big:
                break  # (numerically) singular free block
            alpha[F] = aF
        g = Q @ alpha - p
        z = alpha - cinv * g
        new = (z >= C).astype(np.int8) - (z <= 0.0).astype(np.int8)
        if np.array_equal(new, state):
            ok = True
            break
        state = new
    return _snap_clip(alpha, C), it, ok


def _refine(Q: np.ndarray, C: float, a: np.ndarray, thr):
    """One step of iterative refinement on the free block; returns (alpha, residual).

    ``thr(α)`` is the convergence threshold at ``α``.
    """
    ga = Q @ a - 1.0
    res = _residual(a, ga, C)
    if res > thr(a):
        F = (a > 0) & (a < C)
        if F.any():
            try:
                step = np.linalg.solve(Q[np.ix_(F, F)], ga[F])
            except np.linalg.LinAlgError:
                return a, res
            b = a.copy()
            b[F] -= step
            b = _snap_clip(b, C)
            rb = _residual(b, Q @ b - 1.0, C)
            if rb < res:
                return b, rb
    return a, res


def _projected_newton(Q: np.ndarray, C: float, alpha: np.ndarray, thr, max_iter: int):
    """Projected Newton with an Armijo search along the projection arc (Bertsekas 1982).

    The ε-active bounds are fixed for the step, the rest takes a (Levenberg–Marquardt
    regularised) Newton step ``d_F = −(Q_FF + μI)^{-1} g_F`` with ``μ`` shrinking with the KKT
    residual, so singular and slightly indefinite free blocks are handled; many bounds may
    change per iteration.  Returns (alpha, residual, iterations).
    """
    n = Q.shape[0]
    d = np.diag(Q)
    qscale = max(float(np.max(np.abs(d))), float(np.max(np.abs(Q))) * 1e-3, 1e-300)
    dinv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), C)
    alpha = _snap_clip(np.array(alpha, dtype=float), C)
    g = Q @ alpha - 1.0
    f = 0.5 * alpha @ (g - 1.0)
    res = _residual(alpha, g, C)
    it = 0
    eye = np.eye(n)
    while res > thr(alpha) and it < max_iter:
        it += 1
        w = float(np.max(np.abs(alpha - np.clip(alpha - dinv * g, 0.0, C))))
        eps = min(1e-3 * C, w)
        act = ((alpha <= eps) & (g > 0)) | ((alpha >= C - eps) & (g < 0))
        F = ~act
        step = np.zeros(n)
        step[act] = -dinv[act] * g[act]
        if F.any():
            idx = np.flatnonzero(F)
            H = Q[np.ix_(idx, idx)]
            mu = qscale * max(1e-12, min(1e-6, res))
            I_F = eye[: idx.size, : idx.size]
            for _ in range(12):
                try:
                    L = np.linalg.cholesky(H + mu * I_F)
                    break
                except np.linalg.LinAlgError:  # indefinite block: shift further
                    mu *= 100.0
            else:
                break
            u = np.linalg.solve(L, g[idx])
            step[idx] = -np.linalg.solve(L.T, u)
        # steps longer than the box are cut by the projection anyway: start at ‖t·d‖∞ ≤ 2C
        smax = float(np.max(np.abs(step)))
        t = 1.0 if smax <= 2.0 * C else 2.0 * C / smax
        accepted = False
        Qs = Q @ step
        for _ in range(40):
            a_t = np.clip(alpha + t * step, 0.0, C)
            delta = a_t - alpha
            slope = g @ delta
            # f(α + Δ) − f(α) = gᵀΔ + ½ ΔᵀQΔ; QΔ = t·Q d where the projection is inactive
            if np.array_equal(delta, t * step):
                dq = t * t * (step @ Qs)
            else:
                dq = delta @ (Q @ delta)
            if slope + 0.5 * dq <= 1e-4 * slope + 1e-15 * abs(f):
                accepted = True
                break
            t *= 0.5
        if not accepted:
            break
        a_t = _snap_clip(a_t, C)
        g_t = Q @ a_t - 1.0
        f_t = 0.5 * a_t @ (g_t - 1.0)
        alpha, g, f = a_t, g_t, f_t
        res = _residual(alpha, g, C)
    return alpha, res, it


def _primal_active_set(Q: np.ndarray, C: float, alpha: np.ndarray, thr_of, max_iter: int):
    """Feasible active-set method with eigendecomposition of the free block.

    Returns (snapped α, residual, iterations).  Handles singular and indefinite ``Q_FF``.
    """
    alpha = _snap_clip(np.array(alpha, dtype=float), C)
    g = Q @ alpha - 1.0
    qscale = max(float(np.max(np.abs(Q))), 1e-300)
    it = 0
    while it < max_iter:
        it += 1
        thr = thr_of(alpha)
        lo = alpha <= 0.0
        up = alpha >= C
        F = ~(lo | up)
        gF = g[F]
        if not F.any() or np.max(np.abs(gF)) <= 0.5 * thr:
            # stationary on the face: check the multipliers of the bounds
            viol = np.where(lo, -g, np.where(up, g, 0.0))
            j = int(np.argmax(viol))
            if viol[j] <= thr:
                break
            # release j: move it inside along its own coordinate, then continue on the face
            F[j] = True
            gF = g[F]
        idx = np.flatnonzero(F)
        w, V = np.linalg.eigh(Q[np.ix_(idx, idx)])
        c = V.T @ gF
        wtol = 1e-11 * max(float(np.max(np.abs(w))), qscale * 1e-3)
        pos = w > wtol
        ray = False
        np_mask = ~pos
        if np_mask.any():
            cn = c[np_mask]
            if np.max(np.abs(cn), initial=0.0) > 0.5 * thr:
                dF = -(V[:, np_mask] @ cn)
                ray = True
            elif np.min(w) < -wtol:
                k = int(np.argmin(w))
                v = V[:, k]
                dF = -v if v @ gF > 0 else v
                if v @ gF == 0:  # pick the sign that moves away from the nearest bound
                    a = alpha[idx]
                    dF = v if np.sum(v * (C - 2 * a)) >= 0 else -v
                ray = True
        if not ray:
            dF = -(V[:, pos] @ (c[pos] / w[pos]))
        # ratio test
        a = alpha[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            steps = np.where(dF > 0, (C - a) / dF, np.where(dF < 0, -a / dF, np.inf))
        # a just-released index sits on its bound: if d points outward the step is 0
        k = int(np.argmin(steps))
        tmax = float(steps[k])
        if not ray and tmax >= 1.0:
            alpha[idx] = a + dF
            alpha = _snap_clip(alpha, C)
        else:
            if not np.isfinite(tmax):
                break  # zero direction: nothing to do
            t = max(tmax, 0.0)
            new = a + t * dF
            new[k] = C if dF[k] > 0 else 0.0
            alpha[idx] = new
            alpha = _snap_clip(alpha, C)
            if t == 0.0:
                # blocked immediately: avoid an endless release/add loop by a coordinate step
                i = int(idx[np.argmax(np.abs(gF))])
                qii = Q[i, i]
                step = -g[i] / qii if qii > 0 else (-np.sign(g[i]) * C)
                alpha[i] = min(max(alpha[i] + step, 0.0), C)
                alpha = _snap_clip(alpha, C)
        g = Q @ alpha - 1.0
    return alpha, _residual(alpha, g, C), it
