"""Graph operators S (labelcert-spec §2).

Row, sym and GraphSAGE normalisation first rebuild A from its strict upper triangle,
``A ← triu(A, 1) + triu(A, 1)ᵀ`` (an existing diagonal or an asymmetric lower triangle is
discarded, as in the reference); ``none``/``gin`` keep A and set its diagonal to 1. To weigh
the adjacency (the reference's ``weigh_adjacency = w``), pass ``w * A``. The caller's A is
never modified.

==============  ================================================
normalization   S
==============  ================================================
``row``         ``D⁻¹(A + I)``,  D = row sums of A + I
``sym``         ``D^{-1/2}(A + I)D^{-1/2}``
``graphsage``   ``I + D_A⁻¹A`` (zero-degree rows of ``D_A⁻¹A`` stay 0)
``none``        A with unit diagonal (alias ``gin``)
==============  ================================================
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

__all__ = ["NORMALIZATIONS", "normalization_name", "make_operator", "appnp_operator"]

NORMALIZATIONS = ("row", "sym", "graphsage", "none")
_ALIASES = {
    "gin": "none",
    "row_normalization": "row",
    "sym_normalization": "sym",
    "graph_sage_normalization": "graphsage",
}


def normalization_name(name: str) -> str | None:
    """Canonical name of a normalisation (reference aliases accepted), or None if unknown."""
    if not isinstance(name, str):
        return None
    if name in NORMALIZATIONS:
        return name
    return _ALIASES.get(name)


def _upper_rebuilt(A: sp.csr_array) -> sp.csr_array:
    U = sp.triu(A, k=1, format="csr")
    return sp.csr_array(U + U.T)


def _diag_scale(v: np.ndarray) -> sp.dia_array:
    return sp.diags_array(v, format="csr")


def make_operator(A: sp.csr_array, normalization: str) -> sp.csr_array:
    """S for a validated float64 sparse ``A`` and a canonical ``normalization`` (table above)."""
    n = A.shape[0]
    eye = sp.eye_array(n, format="csr")
    if normalization == "none":
        S = sp.lil_array(A)
        S.setdiag(1.0)
        return sp.csr_array(S)
    A = _upper_rebuilt(A)
    if normalization == "graphsage":
        deg = np.asarray(A.sum(axis=1)).ravel()
        inv = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
        return sp.csr_array(_diag_scale(inv) @ A + eye)
    At = A + eye
    deg = np.asarray(At.sum(axis=1)).ravel()          # ≥ 1 (self loop)
    if normalization == "row":
        return sp.csr_array(_diag_scale(1.0 / deg) @ At)
    if normalization == "sym":
        r = 1.0 / np.sqrt(deg)
        return sp.csr_array(_diag_scale(r) @ At @ _diag_scale(r))
    raise ValueError(f"unknown normalization {normalization!r}")  # pragma: no cover


def appnp_operator(S_hat, alpha: float, iterations: int = 10) -> LinearOperator:
    """The APPNP propagation Π as a linear operator (labelcert-spec §2).

    ``Π`` is the result of ``iterations`` steps of ``Π ← (1 − α) Ŝ Π + α I`` from ``Π = I``;
    applied to a matrix M the same recursion runs on ``Y = Π M``:
    ``Y ← (1 − α) Ŝ Y + α M`` from ``Y = M``. ``α = 1`` gives ``Π = I``, ``α = 0`` gives
    ``Π = Ŝ^iterations``. ``Ŝ`` is the sym-normalised operator in the reference.
    """
    n = S_hat.shape[0]

    def matmat(M):
        M = np.asarray(M, dtype=np.float64)
        Y = M
        for _ in range(iterations):
            Y = (1.0 - alpha) * (S_hat @ Y) + alpha * M
        return np.array(Y, dtype=np.float64)

    return LinearOperator((n, n), matvec=lambda v: matmat(v.reshape(n, -1)).ravel(),
                          matmat=matmat, dtype=np.float64)
