"""Stability of the bias-free SVM under label flips: a solver-free bound on how far it moves.

Primal: ``F_y(w) = ½‖w‖² + C Σ_i ℓ(y_i w(x_i))`` with the hinge ``ℓ(a) = max(0, 1 − a)`` in
the RKHS of a PSD kernel; ``F_y`` is 1-strongly convex.  Let ``w`` minimise ``F_y`` and
``w'`` minimise ``F_{y'}`` where ``y'`` flips the labels of a set ``A``.  Adding the two
strong-convexity inequalities ``F_y(w') − F_y(w) ≥ ½‖w' − w‖²`` and
``F_{y'}(w) − F_{y'}(w') ≥ ½‖w' − w‖²`` gives, with ``d(a) = ℓ(a) − ℓ(−a)`` (decreasing,
2-Lipschitz), ``a_i = y_i w(x_i)``, ``k_i = √K_ii`` and ``Δ = ‖w' − w‖``:

    Δ² ≤ C Σ_{i∈A} [d(y_i w'(x_i)) − d(a_i)] ≤ C Σ_{i∈A} φ_i(Δ),
    φ_i(Δ) = d(a_i − k_i Δ) − d(a_i) ∈ [0, 2 k_i Δ]                                   (S1)

because ``|w'(x_i) − w(x_i)| ≤ k_i Δ``.  Over every ``A`` of at most ``r`` allowed points the
largest consistent ``Δ`` is bounded by ``Δ₀ = 2C Σ_{top r} k_i`` and by the iteration
``Δ ← √(C Σ_{top r} φ_i(Δ))`` (each iterate stays an upper bound since ``φ`` is
non-decreasing).  Any linear read-out ``v·z`` (``w = Σ_j z_j φ(x_j)``) then moves by at most

    |v·(z' − z)| ≤ κ(v) Δ + ρ(v) ‖z' − z‖₂,   κ(v)² = Σ_{λ_k>τ} (u_kᵀv)²/λ_k,
    ρ(v) = ‖(u_kᵀv)_{λ_k≤τ}‖,   ‖z' − z‖₂ ≤ 2C√n                                      (S2)

(Cauchy–Schwarz in the metric of ``K = Σ λ_k u_k u_kᵀ``; for a training row ``v = K_i``,
``κ = k_i`` and ``ρ = 0``).  A prediction whose margin exceeds that movement cannot be
flipped by ``r`` more label flips — a proof of robustness without any solver.  Valid only
for a PSD kernel (checked); the bound is applied to exact KKT solutions of the retrained SVM.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KernelGeometry", "hinge_gap", "stability_radius", "budget_bounds", "readout_radius"]

_ITERATIONS = 30


def hinge_gap(a: np.ndarray) -> np.ndarray:
    """``d(a) = ℓ(a) − ℓ(−a) = max(0, 1 − a) − max(0, 1 + a)`` (decreasing in ``a``)."""
    return np.maximum(0.0, 1.0 - a) - np.maximum(0.0, 1.0 + a)


def stability_radius(a: np.ndarray, k: np.ndarray, C: float, r: int,
                     allowed: np.ndarray | None = None) -> float:
    """Upper bound on ``Δ = ‖w' − w‖`` over every flip set of ≤ ``r`` allowed points (S1).

    Parameters
    ----------
    a : ndarray (n,)
        Functional margins ``y_i w(x_i)`` of the current solution.
    k : ndarray (n,)
        ``√K_ii``.
    C : float
    r : int
        Number of further flips.
    allowed : bool ndarray (n,), optional
        Points that may be flipped (default: all).
    """
    if r <= 0:
        return 0.0
    if allowed is not None:
        a, k = a[allowed], k[allowed]
    if len(a) == 0:
        return 0.0
    r = min(r, len(a))
    base = hinge_gap(a)

    def top_sum(values: np.ndarray) -> float:
        if r >= len(values):
            return float(values.sum())
        return float(np.partition(values, len(values) - r)[len(values) - r:].sum())

    delta = 2.0 * C * top_sum(k)
    for _ in range(_ITERATIONS):
        phi = np.maximum(hinge_gap(a - k * delta) - base, 0.0)
        new = float(np.sqrt(C * top_sum(phi)))
        if new >= delta * (1.0 - 1e-6):
            delta = min(delta, new)
            break
        delta = new
    # guard against rounding in the iteration: a relative and an absolute slack
    return delta * (1.0 + 1e-9) + 1e-12 * C * float(k.max())


class KernelGeometry:
    """Eigen-decomposition of a PSD training kernel for the read-out bound (S2).

    ``psd`` is False when ``K`` has an eigenvalue below ``−1e-9·λ_max`` (e.g. parity-mode
    kernels): the strong-convexity argument needs a PSD kernel, so callers must not use
    the bound then.
    """

    def __init__(self, K: np.ndarray):
        K = np.asarray(K, dtype=float)
        self.n = K.shape[0]
        # the relabelling searches also prune by (B4) (LabelCertOptions.cut_bound)
        self.cut_bound = False
        lam, U = np.linalg.eigh(0.5 * (K + K.T))
        lam_max = float(max(lam.max(), 0.0))
        self.psd = bool(lam.min() >= -1e-9 * max(lam_max, 1e-300)) and lam_max > 0
        self.diag_sqrt = np.sqrt(np.maximum(np.diag(K), 0.0))
        tau = 1e-10 * lam_max
        keep = lam > tau
        self._U_keep = U[:, keep] / np.sqrt(lam[keep])
        self._U_null = U[:, ~keep]

    def range_part(self, V: np.ndarray) -> np.ndarray:
        """Rows of ``V`` without their component in the dropped eigenspace: for ``v =
        K_test[t]``, ``(Pφ_t)·φ_j`` with ``P`` the projection onto the kept features."""
        V = np.atleast_2d(np.asarray(V, dtype=float))
        Un = self._U_null
        return V - (V @ Un) @ Un.T if Un.shape[1] else V.copy()

    def readout(self, V: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray]:
        """Per row ``v`` of ``V``: ``(κ(v), 2C√n·ρ(v))`` so that ``|v·δ| ≤ κΔ + that``."""
        V = np.atleast_2d(np.asarray(V, dtype=float))
        kappa = np.linalg.norm(V @ self._U_keep, axis=1)
        rho = np.linalg.norm(V @ self._U_null, axis=1) if self._U_null.shape[1] else \
            np.zeros(len(V))
        scale = np.abs(V).sum(axis=1)
        slack = 1e-12 * C * scale  # eigen-decomposition rounding
        return kappa * (1.0 + 1e-9), 2.0 * C * np.sqrt(self.n) * rho + slack


def budget_bounds(geo: KernelGeometry, K: np.ndarray, y_pm: np.ndarray, C: float,
                  alpha: np.ndarray, budget: int, allowed: np.ndarray | None = None):
    """Valid bounds under every relabelling of ≤ ``budget`` points, from the clean SVM ``α``.

    ``allowed`` restricts the flipped points to a mask (threat model; with per-point costs
    pass ``budget = max_flips(cost budget)``, the most points any admissible set holds).

    Returns ``(g_lo, g_hi, delta)`` with ``g_lo ≤ (K z')_i ≤ g_hi`` and ``Δ`` the radius of
    (S1), or ``None`` when the kernel is not PSD.  Each interval is the intersection of
    ``g_i ± √K_ii Δ`` and the response-ball interval (B3) of
    :mod:`certmodel.labelcert._response` for the read-out ``v = K_i`` (``κ = √K_ii``).
    """
    from certmodel.labelcert._response import drop_bounds

    if not geo.psd:
        return None
    z = y_pm * alpha
    g = K @ z
    k = geo.diag_sqrt
    delta = stability_radius(y_pm * g, k, C, budget, allowed)
    slack = 1e-12 * C * np.abs(K).sum(axis=1)
    r = k * delta * (1.0 + 1e-9) + slack
    mask = np.ones((1, len(g)), bool) if allowed is None else np.asarray(allowed, bool)[None]
    flips = np.array([min(int(budget), len(g))])
    down = drop_bounds(K, z[None], y_pm[None], C, k * (1.0 + 1e-9), k, mask, flips)[:, 0]
    up = -drop_bounds(-K, z[None], y_pm[None], C, k * (1.0 + 1e-9), k, mask, flips)[:, 0]
    lo = np.maximum(g - r, g + down * (1.0 + 1e-9) - slack)
    hi = np.minimum(g + r, g + up * (1.0 + 1e-9) + slack)
    return lo, hi, delta


def readout_radius(geo: KernelGeometry, V: np.ndarray, C: float, delta: float) -> np.ndarray:
    """``|v·(z' − z)| ≤ κ(v) Δ + 2C√n ρ(v)`` per row ``v`` of ``V`` (S2)."""
    kappa, rest = geo.readout(V, C)
    return kappa * delta + rest
