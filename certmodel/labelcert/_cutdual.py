"""Optimality-cut dual bound (B4): the retrained SVM's own optimality, read out per flip.

Base node: labels ``ỹ`` and its dual solution ``α`` (``z = ỹ∘α``, ``g = Kz``, ``a_j = ỹ_j g_j``,
``ρ_j = α_j / C``).  Relabel a set ``A`` of further points and retrain: ``w'``; write
``δ = w' − w`` and ``s_j = ỹ_j ⟨φ_j, δ⟩``.  The flip optimality cut of
:mod:`certmodel.milp.blocks.flipcut` (valid for any reference ``α``) says

    ‖δ‖² + C Σ_j e_j(s_j) ≤ 0,   e_j = b_j (j ∉ A),  c_j (j ∈ A),                     (FC)

``b_j``, ``c_j`` maxima of two affine pieces ``p s + q``.  For a test read-out ``φ_t`` (``v =
K_test[t]`` signed by the prediction) and any ``μ > 0`` and convex weights ``θ_j`` of the
pieces (slope ``π_j``, intercept ``κ_j``), Lagrangian duality gives

    ⟨φ_t, δ⟩ ≥ min_δ ⟨φ_t, δ⟩ + μ(‖δ‖² + C Σ_j (π_j s_j + κ_j))
             = −‖w_A‖² / (4μ) + μC Σ_j κ_j,      w_A = Pφ_t + μC Σ_j ỹ_j π_j φ_j

(``P`` the projection onto the training span: ``δ`` lies in it).  Fix ``θ`` on the points that
are not flipped (``π⁰``, ``κ⁰``: the piece active at ``s = 0``, slope 0 at ``α ∈ {0, C}``; on
the free points the slope in ``[ρ_j − 1, ρ_j]`` that best cancels ``Pφ_t``, a clipped least
squares; then ``WEIGHT_SWEEPS`` sweeps of coordinate descent on ``−D₀`` over every point's
weight, where a point off the margin may take a slope at the price ``λ|κ⁰_j|``) and write
``w₀`` for ``A = ∅``; a flipped point ``j`` moves ``w`` by ``u_j = μC ỹ_j Δπ_j
φ_j``.  With ``‖Σ_{j∈A} u_j‖² ≤ r Σ_{j∈A} ‖u_j‖²`` (``|A| ≤ r``, Cauchy–Schwarz) the bound
separates, with ``λ = μC``:

    s_t Δf_t ≥ D₀ + Σ_{j∈A} β_j − rest,
    D₀ = −C ‖w₀‖² / (4λ) + λ Σ_j κ⁰_j,
    β_j = max_{θ∈[0,1]} [−½ C Δπ_j ω_j + λ Δκ_j − ¼ r λ C k_j² Δπ_j²],               (B4)

``ω_j = ỹ_j ⟨w₀, φ_j⟩``, ``Δπ_j = π^c_j(θ) − π⁰_j``, ``Δκ_j = κ^c_j(θ) − κ⁰_j`` (``c_j``'s pieces
at weight ``θ``), ``k_j = √K_jj``, ``rest`` the read-out of ``v`` outside the kept eigenspace
(as in (B3)).  Over flip sets of at most ``r`` allowed points the worst case is ``D₀`` plus
the ``r`` most negative ``β_j`` — (B3)'s structure, but the non-flipped points' response
(their hinge terms in ``b_j``) is priced in: on the C·rowsum-10 CBA instance (n = 120) the
worst single flip's bound is −0.16 against (B3)'s −0.33 (exact −0.12), two flips −0.36
against −0.64 (exact −0.22; −0.46 without the weights' descent), four −0.73 (−1.06 without).
Every ``μ`` and ``θ`` gives a valid bound; ``λ`` is chosen per test row and
set size at the search's root (:meth:`OptimalityCutBound.tune`).
"""

from __future__ import annotations

import numpy as np

from certmodel.labelcert._response import row_blocks, smallest_sums

__all__ = ["OptimalityCutBound"]

_LAMBDAS = np.geomspace(1e-3, 10.0, 25)  # λ = μC tried at the root
_SLACK = 1e-9  # relative floating-point slack of D₀ and β
WEIGHT_SWEEPS = 1  # coordinate-descent sweeps on the node's piece weights θ (0: the start)


class OptimalityCutBound:
    """(B4) for the read-out rows ``V`` (signed ``K_test`` rows) of one search.

    ``geo`` the :class:`~certmodel.labelcert._stability.KernelGeometry` of ``K`` (its kept
    eigenspace gives ``‖Pφ_t‖ ≤ kappa`` and the read-out ``v_keep`` of ``Pφ_t``; the
    dropped eigenspace is the caller's ``rest``, as in (B3))."""

    def __init__(self, K: np.ndarray, C: float, V: np.ndarray, kappa: np.ndarray, geo,
                 max_r: int):
        self.K, self.C = K, float(C)
        V = np.atleast_2d(np.asarray(V, float))
        self.Vk = geo.range_part(V)  # ⟨Pφ_t, φ_j⟩
        self.kappa2 = np.asarray(kappa, float) ** 2
        self.k2 = np.maximum(np.diag(K), 0.0)
        self.scale = self.C * np.abs(V).sum(axis=1)  # P_t: the size of a margin
        self.lam = np.ones((len(V), max(int(max_r), 0) + 1))
        self.sweeps = WEIGHT_SWEEPS

    # ----------------------------------------------------------------------------------
    def tune(self, Z: np.ndarray, Y: np.ndarray, allowed: np.ndarray, max_r: int) -> None:
        """Pick ``λ`` per row and set size ``r ≤ max_r`` maximising the bound at one node
        (the root: ``Z``, ``Y`` (n,), ``allowed`` (n,)): one evaluation per ``λ`` of the
        grid, every ``r`` at once."""
        if max_r < 1:
            return
        rows = np.arange(len(self.Vk))
        r = np.arange(1, max_r + 1)
        Zs, Ys = np.repeat(Z[None], max_r, 0), np.repeat(Y[None], max_r, 0)
        G = np.repeat((Z @ self.K)[None], max_r, 0)
        best = np.full((len(rows), max_r), -np.inf)
        for lam in _LAMBDAS:
            D0, beta = self.terms(rows, Zs, Ys, r, np.full((len(rows), max_r), lam), G)
            b = D0 + smallest_sums(beta, np.repeat(allowed[None], max_r, 0), r)
            better = b > best
            best = np.where(better, b, best)
            self.lam[:, 1:max_r + 1] = np.where(better, lam, self.lam[:, 1:max_r + 1])

    def lambdas(self, rows: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``λ`` (rows, p) for set sizes ``r`` (p,)."""
        r = np.clip(np.asarray(r, int), 0, self.lam.shape[1] - 1)
        return self.lam[np.asarray(rows)[:, None], r[None, :]]

    # ----------------------------------------------------------------------------------
    def terms(self, rows: np.ndarray, Z: np.ndarray, Y: np.ndarray, r: np.ndarray,
              lam: np.ndarray | None = None, G: np.ndarray | None = None):
        """``(D₀ (rows, p), β (rows, p, n))`` of (B4) at nodes with exact ``Z``, labels
        ``Y`` (p, n), for flip sets of at most ``r`` (p,) points, with ``λ`` (rows, p)
        (default: the tuned values).  ``G`` (p, n), optional: ``Z @ K``.  Each includes its
        floating-point slack (the bound is ``m + D₀ + Σ β − rest``)."""
        p, n = Z.shape
        rows = np.asarray(rows, int)
        D0 = np.empty((len(rows), p))
        beta = np.empty((len(rows), p, n))
        for blk, d0, b, _, _, _ in self.node_terms(rows, Z, Y, r, lam, G=G):
            D0[blk], beta[blk] = d0, self._slack(b, rows[blk], n)
        return D0, beta

    def child_bounds(self, rows, Z, Y, inv, ic, further, allowed, lam=None, parts=None):
        """(B4) for the subtrees of children ``(inv[q], ic[q])`` of the nodes ``Z``, ``Y``
        (P, n): sets ``{i} ∪ A'``, ``A' ⊆ allowed[q]``, ``|A'| ≤ further[q]``.  The forced
        flip ``i`` gets its own ``θ`` and the exact Gram terms with every other point:
        ``‖u_i + Σ_{A'} u_j‖² ≤ ‖u_i‖² + 2 Σ_{A'} ⟨u_i, u_j⟩ + |A'| Σ_{A'} ‖u_j‖²``; the
        other points keep the ``θ_j`` of the node's own ``β_j`` (any ``θ`` is valid), so
        their terms are ``β_j`` with the factor ``|A'|`` for ``r`` and the cross term
        ``−½ λ C Δπ_i Δπ_j ỹ_i ỹ_j K_ij``.  Returns ``D₀ + β_i + Σ`` of the ``further``
        most negative of them (rows, q).  ``parts``: :meth:`node_terms` of these nodes
        (with set sizes at least ``1 + further`` and row blocks of ``q · n``), reused."""
        rows = np.asarray(rows, int)
        q = len(inv)
        n = Z.shape[1]
        further = np.asarray(further, int)
        if parts is None:
            size = np.zeros(len(Z), int)
            np.maximum.at(size, inv, 1 + further)
            parts = self.node_terms(rows, Z, Y, size, lam, per_row=q * n)
        out = np.empty((len(rows), q))
        Ki = self.K[ic] * Y[inv, ic][:, None] * Y[inv]  # (q, n): ỹ_i ỹ_j K_ij
        aq = np.arange(q)
        for blk, d0, beta, dp, size, (om, pi0, ka0, nodes, L) in parts:
            quad = 0.25 * L * self.C * self.k2[None, None, :] * dp * dp  # per unit of r
            base = beta + size[None, :, None] * quad  # β without its Gram term
            own, dpi = _flip_terms(om[:, inv, ic][:, :, None], pi0[:, inv, ic][:, :, None],
                                   ka0[:, inv, ic][:, :, None],
                                   tuple(x[inv, ic][:, None] for x in nodes), L[:, inv],
                                   np.ones(q), self.C, self.k2[ic][:, None])
            cross = (0.5 * self.C) * L[:, inv] * dpi * dp[:, inv] * Ki[None]
            bq = base[:, inv] - further[None, :, None] * quad[:, inv] - cross
            bq = self._slack(bq, rows[blk], n)
            own = self._slack(own[:, aq, 0], rows[blk], n)
            out[blk] = d0[:, inv] + own + smallest_sums(bq, allowed, further)
        return out

    def node_terms(self, rows, Z, Y, size, lam=None, per_row=None, G=None) -> list:
        """Per row block ``(blk, D₀, β (no slack), Δπ, size, internals)`` of the nodes for
        sets of at most ``size`` (p,) points: what :meth:`terms` returns (``β`` before its
        slack, :meth:`slacked`) and :meth:`child_bounds` reuses.  ``G`` (p, n), optional:
        ``Z @ K`` when the caller has it."""
        size = np.broadcast_to(np.asarray(size, float), (Z.shape[0],))
        out = []
        for blk, (d0, om, pi0, ka0, nodes, L) in self._parts(rows, Z, Y, size, lam, G,
                                                            per_row=per_row):
            beta, dp = _flip_terms(om, pi0, ka0, nodes, L, size, self.C, self.k2)
            out.append((blk, d0, beta, dp, size, (om, pi0, ka0, nodes, L)))
        return out

    def slacked(self, beta, rows):
        """``β`` of :meth:`node_terms` with its floating-point slack."""
        return self._slack(beta, np.asarray(rows, int), beta.shape[-1])

    def _slack(self, beta, rows, n):
        return beta - _SLACK * (np.abs(beta) + (self.scale[rows] / max(n, 1)).reshape(
            (-1,) + (1,) * (beta.ndim - 1)))

    def _parts(self, rows, Z, Y, r, lam, G, per_row=None):
        """Per row block: ``(blk, (D₀, ω, π⁰, κ⁰, (ρ, q1c, q2c), λ))`` of the nodes."""
        rows = np.asarray(rows, int)
        C, K = self.C, self.K
        p, n = Z.shape
        if lam is None:
            lam = self.lambdas(rows, r)
        lam = np.broadcast_to(lam, (len(rows), p))
        A = Y * Z
        a = Y * (Z @ K if G is None else G)
        rho = A / C
        free = (A > 1e-12 * C) & (A < C * (1.0 - 1e-12))
        hb = np.maximum(0.0, 1.0 - a)
        q1b, q2b = -hb, 1.0 - a - hb  # b_j's pieces: slopes ρ, ρ − 1
        hc = np.maximum(0.0, 1.0 + a)
        q1c, q2c = -hc, 1.0 + a - hc  # c_j's pieces: slopes ρ, ρ + 1
        # non-free points: slope 0 (α = C: piece 2, slope ρ − 1 = 0; α = 0: piece 1)
        top = A >= 0.5 * C
        pi_fix = np.where(top, rho - 1.0, rho)
        Vk = self.Vk[rows]  # (R, n)
        pi1 = self._free_slopes(Vk, Y, free)  # (R, p, n): unconstrained slopes × λ
        for blk in row_blocks(len(rows), max(p * n, per_row or 0)):
            L = lam[blk][:, :, None]  # (b, p, 1)
            pif = np.clip(pi1[blk] / L, rho - 1.0, rho)  # free slopes at this λ
            pi0 = np.where(free[None], pif, pi_fix[None])
            th = pi0 - (rho - 1.0)  # weight of piece 1
            ypi = Y[None] * pi0  # (b, p, n)
            Kyp = ypi @ K
            if self.sweeps:
                th, Kyp = _descend_weights(th, Kyp, Vk[blk], Y, q1b - q2b, K, C,
                                           lam[blk], self.sweeps)
                pi0 = th + (rho - 1.0)
                ypi = Y[None] * pi0
                Kyp = ypi @ K  # afresh: the sweeps' running updates carry rounding
            ka0 = th * q1b + (1.0 - th) * q2b
            # ‖w₀‖² = κ² + 2λ v·(ỹπ) + λ² (ỹπ)ᵀK(ỹπ): its rounding is relative to the terms,
            # which may cancel, so the slack is taken on their magnitudes
            terms = (self.kappa2[rows[blk]][:, None],
                     2.0 * lam[blk] * np.einsum("bn,bpn->bp", Vk[blk], ypi),
                     lam[blk] ** 2 * np.einsum("bpn,bpn->bp", ypi, Kyp))
            w2 = np.maximum(sum(terms), 0.0)
            D0 = -C * w2 / (4.0 * lam[blk]) + lam[blk] * ka0.sum(axis=2)
            mag = C * sum(np.abs(t) for t in terms) / (4.0 * lam[blk]) \
                + lam[blk] * np.abs(ka0).sum(axis=2)
            D0 -= _SLACK * (mag + self.scale[rows[blk]][:, None])
            om = Y[None] * (Vk[blk][:, None, :] + L * Kyp)
            yield blk, (D0, om, pi0, ka0, (rho, q1c, q2c), L)

    def _free_slopes(self, Vk, Y, free):
        """``λ π`` (R, p, n) on each node's free points minimising ``‖Pφ_t + λ Σ ỹ_j π_j
        φ_j‖²`` without the box: ``−M⁻¹ b``, ``M = (ỹỹᵀ∘K)_FF``, ``b = (ỹ∘v_keep)_F``
        (any slope is valid; a singular block gets a small ridge, non-finite → 0)."""
        R = len(Vk)
        p, n = free.shape
        out = np.zeros((R, p, n))
        f = free.sum(axis=1)
        fmax = int(f.max(initial=0))
        if fmax == 0:
            return out
        rs, cs = np.nonzero(free)
        pos = np.arange(len(rs)) - np.repeat(np.cumsum(f) - f, f)
        cols = np.zeros((p, fmax), np.intp)
        cols[rs, pos] = cs
        mask = np.arange(fmax)[None, :] < f[:, None]
        yF = np.where(mask, np.take_along_axis(Y, cols, axis=1), 0.0)
        KF = self.K[cols[:, :, None], cols[:, None, :]] * (yF[:, :, None] * yF[:, None, :])
        eye = np.eye(fmax)[None]
        KF = np.where(mask[:, :, None] & mask[:, None, :], KF, 0.0) + eye * (~mask)[:, :, None]
        tr = np.trace(KF, axis1=1, axis2=2)[:, None, None]
        KF = KF + 1e-12 * tr * eye
        rhs = (yF[:, :, None] * np.where(mask[:, :, None], Vk.T[cols], 0.0))  # (p, fmax, R)
        try:
            sol = -np.linalg.solve(KF, rhs)
        except np.linalg.LinAlgError:
            sol = np.zeros_like(rhs)
        sol = np.where(np.isfinite(sol) & mask[:, :, None], sol, 0.0)
        pp = np.repeat(np.arange(p), f)
        out[:, pp, cs] = sol[pp, pos, :].T
        return out


def _flip_terms(om, pi0, ka0, nodes, L, r, C, k2):
    """``(β, Δπ)`` of (B4): the concave quadratic in ``θ`` maximised over ``{0, 1, θ*}``
    and the ``Δπ`` where it is attained; ``nodes = (ρ, q1c, q2c)`` (p, n), ``r`` (p,) the
    Cauchy–Schwarz factor."""
    rho, q1c, q2c = nodes
    d0 = rho[None] + 1.0 - pi0  # Δπ at θ = 0 (slope ρ + 1); Δπ(θ) = d0 − θ
    e0 = q2c[None] - ka0  # Δκ at θ = 0; Δκ(θ) = e0 + θ (q1c − q2c)
    e1 = (q1c - q2c)[None]
    quad = 0.25 * np.asarray(r, float)[None, :, None] * L * C * k2[None, None, :] \
        if np.ndim(k2) == 1 else 0.25 * np.asarray(r, float)[None, :, None] * L * C * k2[None]

    # concave in θ (quad ≥ 0): the maximum over [0, 1] is at the clipped stationary point
    # ½ C ω + λ e1 + 2 quad (d0 − θ) = 0 (a linear term: the end its slope points to)
    lin = 0.5 * C * om + L * e1
    with np.errstate(divide="ignore", invalid="ignore"):
        th = np.clip(d0 + lin / (2.0 * quad), 0.0, 1.0)
    th = np.where(quad > 0, th, np.where(lin > 0, 1.0, 0.0))
    dp = d0 - th
    best = dp * (-0.5 * C * om - quad * dp) + L * (e0 + th * e1)
    return best, dp


def _descend_weights(th, Kyp, Vk, Y, dq, K, C, lam, sweeps):
    """Piece weights ``θ`` (b, p, n) of every point improved for ``D₀`` by ``sweeps``
    cyclic coordinate-descent sweeps on the box QP
    ``min_{θ ∈ [0,1]ⁿ} C ‖w₀(θ)‖² / (4λ) − λ Σ_j κ⁰_j(θ_j)`` (``= −D₀``), with
    ``π⁰_j = ρ_j − 1 + θ_j``, ``κ⁰_j = θ_j q1b_j + (1 − θ_j) q2b_j`` (``dq = q1b − q2b``):
    the coordinate's gradient is ``½ C ω_j − λ dq_j`` and its curvature ``½ C λ K_jj``.
    A point off the margin may then take a slope at the price ``λ |κ⁰_j|``: on the
    C·rowsum-10 CBA instance this halves ``D₀`` at the search's open nodes.  Any ``θ``
    keeps (B4) valid, so a sweep is a heuristic step only.  ``Kyp`` = ``(ỹ∘π⁰) K``,
    updated in place alongside ``θ`` (the caller recomputes it for the bound); returns
    both."""
    th = th.copy()
    L = lam  # (b, p)
    for _ in range(int(sweeps)):
        for j in range(th.shape[2]):
            if K[j, j] <= 0:  # no curvature: the coordinate stays
                continue
            h = 0.5 * C * K[j, j] * L
            g = 0.5 * C * Y[None, :, j] * (Vk[:, None, j] + L * Kyp[:, :, j]) - L * dq[None, :, j]
            new = np.clip(th[:, :, j] - g / h, 0.0, 1.0)
            step = new - th[:, :, j]
            th[:, :, j] = new
            Kyp += (Y[None, :, j] * step)[:, :, None] * K[j][None, None, :]
    return th, Kyp
