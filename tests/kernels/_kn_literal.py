"""A literal, loop-by-loop transcription of labelcert-spec §3 (in-place clipping, aliasing,
float32 round-trip), written independently of certmodel.kernels, as the parity oracle."""

from __future__ import annotations

import numpy as np


def phi_inplace(M: np.ndarray):
    """Spec §3.1: min-clip M *in place*, then (E, Ė)."""
    d = np.diag(M).copy()
    lo = np.minimum(d[:, None], d[None, :])
    mask = (M > d[:, None]) | (M > d[None, :])
    M[mask] = lo[mask]
    q = np.sqrt(np.outer(d, d))
    u = M / q
    np.fill_diagonal(u, 1.0)
    u = np.clip(u, -1.0, 1.0)
    k0 = (np.pi - np.arccos(u)) / np.pi
    k1 = (u * (np.pi - np.arccos(u)) + np.sqrt(1.0 - u * u)) / np.pi
    return q * k1, k0


def gram(X):
    G = X @ X.T
    return np.tril(G) + np.tril(G, -1).T


def gcn_family(X, S, depth, *, activation="relu", skip=None, alpha=0.2):
    """Spec §3.2; ``skip`` in {None, pc_linear, pc_relu, alpha_linear, alpha_relu}."""
    S = np.asarray(S)
    G = gram(X)
    skip_term = None
    if skip in (None, "pc_linear"):
        sig = S @ G @ S.T
    elif skip == "pc_relu":
        Ex, _ = phi_inplace(G)
        sig = S @ Ex @ S.T
    else:
        Gs = G if skip == "alpha_linear" else phi_inplace(G)[0]
        sig = ((1 - alpha) ** 2 * S @ Gs @ S.T + (1 - alpha) * alpha * (Gs @ S.T + S @ Gs)
               + alpha ** 2 * Gs)
    if skip in ("pc_linear", "pc_relu"):
        skip_term = sig                     # aliased: clipped by the first phi call
    thetas = []
    for _ in range(depth):
        if activation == "relu":
            E, Ed = phi_inplace(sig)
        else:
            E, Ed = sig, np.ones_like(sig)
        theta = S @ (sig * Ed) @ S.T
        thetas = [S @ (t.astype(np.float32).astype(np.float64) * Ed) @ S.T for t in thetas]
        thetas.append(theta)
        if skip in ("pc_linear", "pc_relu"):
            sig = S @ E @ S.T + skip_term
        elif skip in ("alpha_linear", "alpha_relu"):
            sig = (1 - alpha) ** 2 * S @ E @ S.T + alpha ** 2 * Gs
        else:
            sig = S @ E @ S.T
    K = thetas[0]
    for t in thetas[1:]:
        K = K + t
    return K + sig


def appnp(X, S_hat, alpha, iterations=10):
    """Spec §3.3 with explicit Π."""
    n = len(S_hat)
    Pi = np.eye(n)
    for _ in range(iterations):
        Pi = (1 - alpha) * np.asarray(S_hat) @ Pi + alpha * np.eye(n)
    sig = gram(X) + 1.0
    E, Ed = phi_inplace(sig)
    return Pi @ (sig * Ed) @ Pi.T + Pi @ (E + 1.0) @ Pi.T


def gin(X, A):
    """Spec §3.4."""
    S = np.array(A, dtype=float)
    np.fill_diagonal(S, 1.0)
    sig = S @ gram(X) @ S.T
    E, Ed = phi_inplace(sig)
    return sig * Ed + E
