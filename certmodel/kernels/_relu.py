"""Arc-cosine expectations of the (normalised) ReLU: the operator Φ(Σ) → (E, Ė).

For a centred Gaussian pair (a, b) with covariance ``[[d_i, Σ_ij], [Σ_ij, d_j]]`` and
``q_ij = √(d_i d_j)``, ``u_ij = Σ_ij / q_ij``, the ReLU with the c_σ = 2 normalisation of the
reference (labelcert-spec §3.1) has

    E_ij = 2 E[relu(a) relu(b)]   = q_ij κ1(u_ij),   κ1(u) = (u (π − arccos u) + √(1 − u²)) / π
    Ė_ij = 2 E[relu'(a) relu'(b)] = κ0(u_ij),        κ0(u) = (π − arccos u) / π

so that ``E_ii = d_i`` and ``Ė_ii = 1`` (the normalised ReLU ``√2·max(x, 0)`` preserves variance).
"""

from __future__ import annotations

import numpy as np

__all__ = ["relu_expectations", "min_clip"]


def min_clip(M: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """The reference's covariance clipping (spec §3.1 step 2, bug §7.1).

    Every entry with ``M_ij > d1_i`` or ``M_ij > d2_j`` is replaced by ``min(d1_i, d2_j)``.
    The intended invariant is Cauchy–Schwarz ``M_ij ≤ √(d1_i d2_j)``; clipping at the minimum
    also changes legitimate entries. Returns a new array (the caller's ``M`` is untouched).
    """
    lo = np.minimum(d1[:, None], d2[None, :])
    mask = (M > d1[:, None]) | (M > d2[None, :])
    return np.where(mask, lo, M)


def relu_expectations(M: np.ndarray, d1: np.ndarray, d2: np.ndarray, *,
                      square: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(E, Ė)`` of the normalised ReLU for the covariance ``M`` (module docstring).

    Parameters
    ----------
    M : ndarray of shape (m, n)
        Cross-covariance of the pre-activations.
    d1, d2 : ndarray of shape (m,) and (n,)
        Variances of the row and column points (``diag(M)`` twice when ``square``).
    square : bool
        ``M`` is the covariance of a set with itself: ``u_ii`` is set to exactly 1
        (as the reference does), so ``E_ii = d_i`` and ``Ė_ii = 1``.

    Notes
    -----
    ``u = M / √(d1_i d2_j)`` is clipped to ``[-1, 1]`` (round-off only, for a valid covariance).
    A point of zero variance (``q_ij = 0``) is treated as orthogonal to every other point
    (``u_ij = 0``), which keeps ``Ė`` positive semi-definite; the reference would give NaN.
    """
    q = np.sqrt(np.multiply.outer(d1, d2))
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.divide(M, q, out=np.zeros_like(M), where=q > 0)
    np.clip(u, -1.0, 1.0, out=u)
    if square:
        np.fill_diagonal(u, 1.0)
    theta = np.arccos(u)                      # θ = arccos u ∈ [0, π]
    np.subtract(np.pi, theta, out=theta)      # π − θ
    E = u * theta
    np.subtract(1.0, np.square(u, out=u), out=u)
    np.maximum(u, 0.0, out=u)
    np.sqrt(u, out=u)                         # √(1 − u²)
    E += u
    E *= q
    E /= np.pi
    theta /= np.pi                            # κ0(u)
    return E, theta
