"""Many bias-free SVM duals on one kernel at once (one per labelling), vectorised.

For labellings ``Y ∈ {±1}^{b×n}`` and one kernel ``K`` each problem is the box QP of
:func:`~certmodel.learners.solve_svm_dual`, ``min ½αᵀQα − 1ᵀα, 0 ≤ α ≤ C``,
``Q = (yyᵀ)∘K``.  All ``b`` problems run the primal-dual active-set method (Hintermüller,
Ito & Kunisch 2003; the scalar solver's ``_pdas``) in lock step: the partition is predicted
from ``p = α − g/diag(Q)`` (``g = Qα − 1``; ``p ≥ C``: upper bound, ``p ≤ 0``: lower bound,
else free) at the *unclipped* iterate, ``α = C`` / ``α = 0`` is fixed on the bounds and the
free block is solved exactly (the first step of a warm start takes the warm start's own
partition: for a neighbouring labelling's solution, rows that share it share its free set);
in ``z = y∘α`` that is

    ``K_FF z_F = y_F − K_FU z_U``       (the free rows of ``Q α = 1``, multiplied by ``y_F``).

Rows with the same free set ``F`` share one factorisation of ``K_FF`` (one right-hand side
each); the distinct blocks, of different sizes, are padded with identity rows (a
block-diagonal ``diag(K, I)`` gathered by index) and solved by batched ``numpy.linalg.solve``
in chunks.  After every step each row is clipped into the box (snapping as the scalar
solver) and a row is finished when its KKT residual passes the scalar solver's
scale-invariant test, ``≤ min(tol · max(1, max_i Σ_j |K_ij| · max_j α_j), 1e-6)`` at the
row's own ``α`` (never loosened by a large ``C``; see :mod:`certmodel.learners._svm_dual`).
Rows whose block is singular (exactly, non-finite or ``|α| > 10⁶ C``), whose partition
repeats without passing the test, or that exceed
``pdas_steps`` leave the active-set steps; they get ``sweeps`` sweeps of coordinate descent
(which never increases the dual objective) and another round, and after ``rounds`` rounds
they are handed to the scalar solver (which has the robust fall-backs for singular and
indefinite blocks).  Every returned α therefore passes the same exact KKT test as
:func:`solve_svm_dual` or is reported as not converged.
"""

from __future__ import annotations

import numpy as np

from certmodel.learners._svm_dual import _MAX_G_ERROR, _SNAP, solve_svm_dual

__all__ = ["solve_svm_dual_batch"]

_CHUNK = 128  # distinct free sets per batched factorisation


def _snap_clip(A: np.ndarray, C: float) -> np.ndarray:
    """Clip rows into the box; snap onto 0 within ``_SNAP·min(C, max α)``, onto C within
    ``_SNAP·C`` (the scalar solver's rule, row by row)."""
    A = np.clip(A, 0.0, C)
    top = np.minimum(A.max(axis=1, initial=0.0), C)[:, None]
    np.putmask(A, A <= _SNAP * top, 0.0)
    np.putmask(A, A >= C - _SNAP * C, C)
    return A


def _thresholds(A: np.ndarray, rowsum: float, tol: float) -> np.ndarray:
    """Per-row ``min(tol · max(1, rowsum · max α), 1e-6)`` (the scalar solver's test)."""
    s = rowsum * A.max(axis=1, initial=0.0)
    return np.minimum(tol * np.maximum(1.0, s), _MAX_G_ERROR)


def _residuals(A: np.ndarray, G: np.ndarray, C: float) -> np.ndarray:
    """Row-wise KKT residual (α already inside the box): bound-side sign and free |g|."""
    # at 0 only −g counts, at C only g, strictly inside both (|g|)
    low = np.where(A < C, G, 0.0).min(axis=1, initial=0.0)
    high = np.where(A > 0.0, G, 0.0).max(axis=1, initial=0.0)
    return np.maximum(-low, high)


def _block_solve(Kx: np.ndarray, Fs: np.ndarray, R: np.ndarray, grp: np.ndarray,
                 rank: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the free blocks ``K_FF x = R_F`` of one chunk of distinct free sets ``Fs``
    (u, n), each block factorised once for all rows ``r`` with ``grp[r]`` (chunk-local set)
    and right-hand sides ``R[r]``; ``rank[r]``: the row's column among its set's.

    Returns ``(x, cols, solved)``: ``x[r, p]`` belongs to index ``cols[grp[r], p]`` (first
    ``|F|`` entries), ``solved[r]`` is False where the block is exactly singular."""
    u, n = Fs.shape
    f = Fs.sum(axis=1)
    fmax = int(f.max(initial=0))
    cmax = int(rank.max(initial=-1)) + 1
    # cols[s, :f_s]: the free columns of set s in increasing order (pads: column 0)
    rs, cs = np.nonzero(Fs)
    pos = np.arange(len(rs)) - np.repeat(np.cumsum(f) - f, f)
    cols = np.zeros((u, fmax), dtype=np.intp)
    cols[rs, pos] = cs
    mask = np.arange(fmax)[None, :] < f[:, None]
    idx = np.where(mask, cols, n + np.arange(fmax)[None, :]).astype(np.int32)
    # M[s] = Kx[idx[s]][:, idx[s]] (pads: identity rows of Kx), gathered by flat index
    M = np.take(Kx, (idx * np.int32(2 * n))[:, :, None] + idx[:, None, :])
    rhs = np.zeros((u, fmax, cmax))
    rhs[grp, :, rank] = np.take_along_axis(R, cols[grp], axis=1) * mask[grp]
    solved = np.ones(u, dtype=bool)
    try:
        X = np.linalg.solve(M, rhs)
    except np.linalg.LinAlgError:  # some block exactly singular: solve set by set
        X = np.zeros_like(rhs)
        for s in range(u):
            try:
                X[s] = np.linalg.solve(M[s], rhs[s])
            except np.linalg.LinAlgError:
                solved[s] = False
    return X[grp, :, rank], cols, solved[grp]


def _group_rows(mask: np.ndarray):
    """Rows of a boolean matrix grouped by equality: ``(first, grp, cnt, rank)`` — a row of
    each group, each row's group, the group sizes and each row's rank within its group."""
    b = len(mask)
    P = np.packbits(mask, axis=1)
    words = np.zeros((b, -(-P.shape[1] // 8) * 8), dtype=np.uint8)
    words[:, :P.shape[1]] = P
    W = words.view(np.uint64)  # the row as a few 64-bit words: a cheap exact sort key
    order = np.lexsort(W.T[::-1])
    Ws = W[order]
    new = np.ones(b, dtype=bool)
    new[1:] = (Ws[1:] != Ws[:-1]).any(axis=1)
    starts = np.flatnonzero(new)
    gs = np.cumsum(new) - 1
    grp = np.empty(b, dtype=np.intp)
    grp[order] = gs
    rank = np.empty(b, dtype=np.intp)
    rank[order] = np.arange(b) - starts[gs]
    return order[starts], grp, np.diff(np.append(starts, b)), rank


def _free_solve(K: np.ndarray, Kx: np.ndarray, Y: np.ndarray, free: np.ndarray,
                up: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray]:
    """``(α, bad)``: ``α = C`` on ``up``, 0 on the other bounds and the free block solved
    exactly (not clipped), ``K_FF z_F = y_F − K_FU z_U``; rows with the same free set share
    one factorisation (distinct sets in chunks sorted by row count and size).  ``bad``: the
    block is singular (exactly, or non-finite, or ``|α| > 10⁶ C``: the scalar rule)."""
    b, n = Y.shape
    A = np.where(up, C, 0.0)
    bad = np.zeros(b, dtype=bool)
    if not free.any():
        return A, bad
    R = Y - (Y * A) @ K  # y − K z_U (z = y∘α is zero on the free and lower sets)
    first, grp, cnt, rank = _group_rows(free)
    sets = np.lexsort((free[first].sum(axis=1), cnt))  # by row count, then block size
    local = np.empty(len(cnt), dtype=np.intp)
    for lo in range(0, len(sets), _CHUNK):
        us = sets[lo:lo + _CHUNK]
        local[:] = -1
        local[us] = np.arange(len(us))
        rows = np.flatnonzero(local[grp] >= 0)
        g = local[grp[rows]]
        x, cols, solved = _block_solve(Kx, free[first[us]], R[rows], g, rank[rows])
        f = free[first[us]].sum(axis=1)[g]
        m = np.arange(cols.shape[1])[None, :] < f[:, None]
        rr = np.repeat(rows, cols.shape[1])[m.ravel()]
        cc = cols[g][m]
        A[rr, cc] = x[m] * Y[rr, cc]
        bad[rows] = ~solved
    # non-finite or |α| > 10⁶ C in one pass: a NaN row's maximum is NaN (fails the ≤ test)
    bad |= ~(np.abs(A).max(axis=1, initial=0.0) <= 1e6 * C)
    return A, bad


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


def _solve_step(K, Kx, idx, Y, up, free, C):
    """One active-set step, :func:`_free_solve`, for the rows ``idx``; rows whose block is
    singular leave the steps (returned without them)."""
    A, bad = _free_solve(K, Kx, Y, free, up, C)
    if bad.any():
        ok = ~bad
        return idx[ok], Y[ok], A[ok], up[ok], free[ok]
    return idx, Y, A, up, free


def _partition(A: np.ndarray, G: np.ndarray, dinv: np.ndarray, C: float):
    """``(up, free)`` predicted from ``p = α − g / diag(Q)`` (the scalar ``_pdas`` rule)."""
    P = A - dinv * G
    up = P >= C
    return up, ~(up | (P <= 0.0))


def solve_svm_dual_batch(K: np.ndarray, Y: np.ndarray, C: float,
                         alpha0: np.ndarray | None = None, *, tol: float = 1e-10,
                         rounds: int = 3, pdas_steps: int = 10, sweeps: int = 2,
                         check_start: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Solve the SVM dual for every labelling (row) of ``Y`` on the trusted kernel ``K``.

    Each round runs up to ``pdas_steps`` active-set steps from the current iterates (a row
    is accepted as soon as it passes the exact KKT test); rows left over get ``sweeps`` sweeps
    of coordinate descent before the next round, and after ``rounds`` rounds the scalar
    solver (module docstring).

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
    check_start : bool
        Test the warm starts themselves first (``False``: the first step solves on each
        warm start's partition directly — for warm starts known not to be solutions, e.g.
        a neighbour's solution with a flipped point moved to ``C``; the same solutions).

    Returns
    -------
    alpha : ndarray (b, n)
    converged : bool ndarray (b,)
        Whether each row passed the exact KKT test (``False`` only where the scalar solver
        also failed, e.g. indefinite kernels).
    """
    alpha, converged, _ = _solve_batch(K, Y, C, alpha0, tol, rounds, pdas_steps, sweeps,
                                       check_start)
    return alpha, converged


def _solve_batch(K, Y, C, alpha0, tol, rounds, pdas_steps, sweeps, check_start=True):
    """:func:`solve_svm_dual_batch` plus the number of rows handed to the scalar solver."""
    K = np.asarray(K, dtype=float)
    Y = np.asarray(Y, dtype=float)
    b, n = Y.shape
    rowsum = float(np.abs(K).sum(axis=1).max(initial=0.0))
    out = np.zeros((b, n))
    done = np.zeros(b, dtype=bool)
    if C * rowsum < 1.0:  # saturated regime: α ≡ C for every labelling
        out[:] = C
        return out, np.ones(b, dtype=bool), 0
    A = np.zeros((b, n)) if alpha0 is None else np.broadcast_to(
        np.clip(np.asarray(alpha0, dtype=float), 0.0, C), (b, n)).copy()
    d = np.diag(K).copy()
    dinv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 2.0 * C)
    Kx = np.zeros((2 * n, 2 * n))  # diag(K, I): padded free blocks gather identity rows
    Kx[:n, :n] = K
    Kx[n:, n:] = np.eye(n)
    act = np.arange(b)
    for rnd in range(rounds):
        idx, Ya, Ba = act, Y[act], A[act]
        skip = rnd == 0 and alpha0 is not None and not check_start
        G = None if skip else Ya * ((Ya * Ba) @ K) - 1.0
        prev = None
        for step in range(pdas_steps + 1):
            if skip and not step:  # the warm starts are not tested: straight to a solve
                keep = np.ones(len(Ba), dtype=bool)
                up = Ba >= C
                free = ~up & (Ba > 0.0)
                idx, Ya, Ba, up, free = _solve_step(K, Kx, idx, Ya, up, free, C)
                if not len(idx):
                    break
                G = Ya * ((Ya * Ba) @ K) - 1.0
                prev = (up, free)
                continue
            # the clipped iterate: accepted iff it passes the exact KKT test
            Bc, Gc = Ba, G
            cand = np.ones(len(Ba), dtype=bool)
            if step:
                Bc = _snap_clip(Ba, C)
                # a solution outside the box is no candidate (the next partition moves it);
                # where snapping moved an in-box row, g is re-evaluated at the snapped α;
                # elsewhere G is already Bc's gradient
                cand = (Ba >= 0.0).all(axis=1) & (Ba <= C).all(axis=1)
                moved = cand & (Bc != Ba).any(axis=1)
                if moved.any():
                    Gc = G.copy()
                    Gc[moved] = Ya[moved] * ((Ya[moved] * Bc[moved]) @ K) - 1.0
            ok = cand & (_residuals(Bc, Gc, C) <= _thresholds(Bc, rowsum, tol))
            out[idx[ok]], done[idx[ok]] = Bc[ok], True
            keep = ~ok
            if step == pdas_steps or not keep.any():
                break
            if rnd == step == 0 and alpha0 is not None:  # the warm start's own partition
                up = Ba[keep] >= C
                free = ~up & (Ba[keep] > 0.0)
            else:
                up, free = _partition(Ba[keep], G[keep], dinv, C)
            if prev is not None:  # partition repeated without passing: leave the steps
                same = (up == prev[0][keep]).all(axis=1) & (free == prev[1][keep]).all(axis=1)
                keep[np.flatnonzero(keep)[same]] = False
                up, free = up[~same], free[~same]
            idx, Ya = idx[keep], Ya[keep]
            if not len(idx):
                break
            idx, Ya, Ba, up, free = _solve_step(K, Kx, idx, Ya, up, free, C)
            if not len(idx):
                break
            G = Ya * ((Ya * Ba) @ K) - 1.0
            prev = (up, free)
        act = act[~done[act]]
        if not len(act):
            break
        if rnd < rounds - 1:
            Aa = A[act]
            _cd_sweeps(K, Y[act], Aa, C, d, sweeps)
            A[act] = Aa
    rest = np.flatnonzero(~done)
    converged = done.copy()
    for i in rest:  # robust scalar fall-backs (singular / indefinite blocks, slow problems)
        sol = solve_svm_dual(K, Y[i], C, alpha0=A[i], tol=tol, check_input=False)
        out[i] = sol.alpha
        converged[i] = sol.converged
    return out, converged, len(rest)
