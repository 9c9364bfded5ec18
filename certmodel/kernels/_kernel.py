"""The immutable state threaded through kernel layers (neural-tangents style).

A :class:`Kernel` describes the current layer's outputs of an infinitely wide network at
initialisation: the NNGP covariance Σ and the neural tangent kernel Θ, between a set of points
and itself (``square``) or between two sets (rows × columns, for inductive test points).
Layers (:mod:`certmodel.kernels._layers`) map a ``Kernel`` to a new ``Kernel``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["Kernel", "input_kernel"]


@dataclass(frozen=True, eq=False)
class Kernel:
    """NNGP and NTK of the current layer.

    Attributes
    ----------
    nngp : ndarray of shape (m, n)
        Σ, the covariance of the layer's outputs (per unit).
    ntk : ndarray of shape (m, n)
        Θ, the neural tangent kernel of the layer's outputs w.r.t. all parameters so far.
    diag1, diag2 : ndarray of shape (m,) and (n,), or None
        Variances ``Σ(x, x)`` of the row and column points; ``None`` for a square kernel of
        one set with itself, where they are ``diag(nngp)``.
    parity : bool
        Reproduce the reference's numerics (min-clipping, in-place aliasing, float32
        round-trip of earlier NTK terms; labelcert-spec §3.1–3.2).
    terms : tuple of ndarray
        Parity mode only: the reference's separate NTK terms ``(Θ_1, …, Θ_l, Σ)``, whose sum is
        ``ntk``; the last one is the very array ``nngp`` right after a dense layer (aliasing).
    """

    nngp: np.ndarray
    ntk: np.ndarray
    diag1: np.ndarray | None = None
    diag2: np.ndarray | None = None
    parity: bool = False
    terms: tuple = ()

    @property
    def square(self) -> bool:
        """Whether this is the kernel of one set of points with itself."""
        return self.diag1 is None

    def variances(self) -> tuple[np.ndarray, np.ndarray]:
        """``(d1, d2)``: the variances of the row and the column points."""
        if self.square:
            d = np.diagonal(self.nngp).copy()
            return d, d
        return self.diag1, self.diag2

    def replace(self, **changes) -> Kernel:
        """A copy with some fields replaced."""
        return dataclasses.replace(self, **changes)


def _gram(X1, X2) -> np.ndarray:
    """Dense ``X1 X2ᵀ`` in float64 (sparse inputs multiply sparsely)."""
    if sp.issparse(X1) or sp.issparse(X2):
        G = X1 @ X2.T
        return G.toarray() if sp.issparse(G) else np.asarray(G)
    return X1 @ X2.T


def _row_sq_norms(X) -> np.ndarray:
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    return np.einsum("ij,ij->i", X, X)


def input_kernel(X, X2=None, *, scale: float = 1.0, parity: bool = False) -> Kernel:
    """The kernel of the raw inputs: ``Σ = scale · X Xᵀ`` (or ``scale · X2 Xᵀ``), ``Θ = 0``.

    ``X`` (and ``X2``) are float64 arrays or scipy.sparse matrices of shape (n, d) / (m, d);
    the Gram matrix is computed once. A square Gram matrix is made exactly symmetric by
    mirroring its lower triangle, as the reference does. With ``X2`` the kernel has rows
    ``X2`` and columns ``X`` (test × train).
    """
    if X2 is None:
        G = _gram(X, X)
        G = np.tril(G) + np.tril(G, -1).T
        if scale != 1.0:
            G *= scale
        return Kernel(nngp=G, ntk=np.zeros_like(G), parity=parity)
    G = _gram(X2, X) * scale
    return Kernel(nngp=G, ntk=np.zeros_like(G), diag1=_row_sq_norms(X2) * scale,
                  diag2=_row_sq_norms(X) * scale, parity=parity)
