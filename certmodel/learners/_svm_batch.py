"""Many bias-free SVM duals on one kernel at once (one per labelling), vectorised.

For labellings ``Y ∈ {±1}^{b×n}`` and one kernel ``K`` each problem is the box QP of
:func:`~certmodel.learners.solve_svm_dual`, ``min ½αᵀQα − 1ᵀα, 0 ≤ α ≤ C``,
``Q = (yyᵀ)∘K``.  All ``b`` problems run the same primal-dual active-set iteration in lock
step: predict the partition from ``α − g/diag(Q)`` (``g = Qα − 1``), fix ``α = 0`` / ``α = C``
on the predicted bounds and solve the free block ``Q_FF α_F = 1 − Q_FU C`` — the free blocks
of different sizes are padded with identity rows so that one batched ``numpy.linalg.solve``
serves them all.  A problem is finished when its KKT residual (the scalar solver's
definition) passes the scalar solver's scale-invariant test,
``≤ min(tol · max(1, max_i Σ_j |K_ij| · max_j α_j), 1e-6)`` at the row's own ``α`` (never
loosened by a large ``C``; see :mod:`certmodel.learners._svm_dual`); problems that cycle, hit a
singular block or the iteration cap are handed to the scalar solver (which has the robust
fall-backs).  Every returned α therefore passes the same exact KKT test as
:func:`solve_svm_dual` or is reported as not converged.
"""

from __future__ import annotations

import numpy as np

from certmodel.learners._svm_dual import _MAX_G_ERROR, _SNAP, solve_svm_dual

__all__ = ["solve_svm_dual_batch"]


def _snap_clip(A: np.ndarray, C: float) -> np.ndarray:
    """Clip rows into the box; snap onto 0 within ``_SNAP·min(C, max α)``, onto C within
    ``_SNAP·C`` (the scalar solver's rule, row by row)."""
    A = np.clip(A, 0.0, C)
    top = np.minimum(A.max(axis=1, initial=0.0), C)[:, None]
    A[A <= _SNAP * top] = 0.0
    A[A >= C - _SNAP * C] = C
    return A


def _thresholds(A: np.ndarray, rowsum: float, tol: float) -> np.ndarray:
    """Per-row ``min(tol · max(1, rowsum · max α), 1e-6)`` (the scalar solver's test)."""
    s = rowsum * A.max(axis=1, initial=0.0)
    return np.minimum(tol * np.maximum(1.0, s), _MAX_G_ERROR)


def _residuals(A: np.ndarray, G: np.ndarray, C: float) -> np.ndarray:
    """Row-wise KKT residual (α already inside the box): bound-side sign and free |g|."""
    viol = np.where(A <= 0.0, -G, np.where(A >= C, G, np.abs(G)))
    return np.maximum(viol.max(axis=1), 0.0)


def _free_solve(K: np.ndarray, Y: np.ndarray, free: np.ndarray, up: np.ndarray, C: float,
                ) -> np.ndarray | None:
    """α with ``α = C`` on ``up``, 0 on the rest, and the free block solved; None if singular."""
    b, n = Y.shape
    A = np.where(up, C, 0.0)
    f = free.sum(axis=1)
    fmax = int(f.max()) if b else 0
    if fmax == 0:
        return A
    order = np.argsort(~free, axis=1, kind="stable")[:, :fmax]
    mask = np.arange(fmax)[None, :] < f[:, None]
    yF = np.take_along_axis(Y, order, axis=1) * mask
    M = K[order[:, :, None], order[:, None, :]] * (yF[:, :, None] * yF[:, None, :])
    pad = ~mask
    M[pad[:, :, None] & np.eye(fmax, dtype=bool)[None]] = 1.0
    KU = (Y * A) @ K  # (b, n): Σ_{j∈U} K_ij y_j C
    rhs = (1.0 - yF * np.take_along_axis(KU, order, axis=1)) * mask
    try:
        sol = np.linalg.solve(M, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        return None
    rows = np.repeat(np.arange(b), fmax)[mask.ravel()]
    A[rows, order[mask]] = sol[mask]
    return A


def _cd_sweeps(K: np.ndarray, Y: np.ndarray, A: np.ndarray, C: float, d: np.ndarray,
               sweeps: int) -> None:
    """Cyclic coordinate descent in place: ``α_i ← clip(α_i − g_i / K_ii, 0, C)`` (exact
    minimisation along each coordinate, so the dual objective never increases)."""
    KZ = (Y * A) @ K
    n = K.shape[0]
    for _ in range(sweeps):
        for i in range(n):
            if d[i] <= 0.0:  # PSD kernel with K_ii = 0: g_i = −1, so α_i = C
                new = np.full(len(A), C)
            else:
                new = np.clip(A[:, i] - (Y[:, i] * KZ[:, i] - 1.0) / d[i], 0.0, C)
            dz = Y[:, i] * (new - A[:, i])
            A[:, i] = new
            KZ += dz[:, None] * K[i][None, :]


def solve_svm_dual_batch(K: np.ndarray, Y: np.ndarray, C: float,
                         alpha0: np.ndarray | None = None, *, tol: float = 1e-10,
                         rounds: int = 12, pdas_steps: int = 3, sweeps: int = 2,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Solve the SVM dual for every labelling (row) of ``Y`` on the trusted kernel ``K``.

    Each round tries ``pdas_steps`` active-set steps from the current iterate (accepted only
    if they reach a KKT point) and otherwise continues with ``sweeps`` sweeps of coordinate
    descent, which identifies the optimal partition for the next round's active-set steps.

    Parameters
    ----------
    K : ndarray (n, n)
        Symmetric float64 kernel (not validated: callers pass checked arrays).
    Y : ndarray (b, n)
        Labellings in ``{−1, +1}``.
    C : float
    alpha0 : ndarray (n,) or (b, n), optional
        Warm start(s), e.g. the clean solution.
    tol : float
        Convergence threshold as in :func:`solve_svm_dual`.

    Returns
    -------
    alpha : ndarray (b, n)
    converged : bool ndarray (b,)
        Whether each row passed the exact KKT test (``False`` only where the scalar solver
        also failed, e.g. indefinite kernels).
    """
    K = np.asarray(K, dtype=float)
    Y = np.asarray(Y, dtype=float)
    b, n = Y.shape
    rowsum = float(np.abs(K).sum(axis=1).max())
    out = np.zeros((b, n))
    done = np.zeros(b, dtype=bool)
    if C * rowsum < 1.0:  # saturated regime: α ≡ C for every labelling
        out[:] = C
        return out, np.ones(b, dtype=bool)
    A = np.zeros((b, n)) if alpha0 is None else np.broadcast_to(
        np.clip(np.asarray(alpha0, dtype=float), 0.0, C), (b, n)).copy()
    d = np.diag(K).copy()
    dinv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 2.0 * C)
    act = np.arange(b)
    for _ in range(rounds):
        # active-set steps from the current iterates; keep only those that reach KKT
        Ya, Ba, idx = Y[act], A[act], act
        for step in range(pdas_steps + 1):
            G = Ya * ((Ya * Ba) @ K) - 1.0
            ok = _residuals(Ba, G, C) <= _thresholds(Ba, rowsum, tol)
            out[idx[ok]], done[idx[ok]] = Ba[ok], True
            idx, Ya, Ba, G = idx[~ok], Ya[~ok], Ba[~ok], G[~ok]
            if not len(idx) or step == pdas_steps:
                break
            Zp = Ba - dinv * G
            up = Zp >= C
            new = _free_solve(K, Ya, ~(up | (Zp <= 0.0)), up, C)
            if new is None:
                break
            Ba = _snap_clip(new, C)
        act = act[~done[act]]
        if not len(act):
            break
        Aa = A[act]
        _cd_sweeps(K, Y[act], Aa, C, d, sweeps)
        A[act] = Aa
    rest = np.flatnonzero(~done)
    converged = done.copy()
    for i in rest:  # robust scalar fall-backs (singular / indefinite blocks, slow problems)
        sol = solve_svm_dual(K, Y[i], C, alpha0=A[i], tol=tol, check_input=False)
        out[i] = sol.alpha
        converged[i] = sol.converged
    return out, converged
