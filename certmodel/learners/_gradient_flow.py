"""Finite-time NTK gradient flow of the squared loss (a label-linear learner)."""

from __future__ import annotations

import numbers

import numpy as np

from certmodel._validation import check_scalar
from certmodel.learners._label_linear import LabelLinearLearner

__all__ = ["NTKGradientFlow"]


class NTKGradientFlow(LabelLinearLearner):
    """Linearised network trained by gradient flow on ``½‖f − Y‖²`` from zero output.

    ``f(x) = k_L(x)ᵀ K^{-1} (I − e^{−ηtK}) Y`` (``scalabel-ensemble.md`` §2), so
    ``weights(K_test) = K_test V diag(φ(λ_j)) Vᵀ`` with ``K = V diag(λ) Vᵀ`` and
    ``φ(λ) = (1 − e^{−ηtλ}) / λ``, evaluated stably by ``−expm1(−ηtλ)/λ`` and ``φ → ηt`` as
    ``λ → 0`` (no inverse of ``K`` is needed, so singular kernels are fine).  ``t → ∞`` gives
    kernel ridge regression with ``λ = 0`` (for invertible ``K``).  Negative eigenvalues of a
    slightly indefinite kernel are used as they are.  Conventions for labels, logits and ties:
    as :class:`~certmodel.learners.KernelRidge`.

    Parameters
    ----------
    time : float
        Training time ``t ≥ 0`` (``t = 0`` gives zero logits).
    lr : float, default=1.0
        Learning rate ``η > 0``.

    Examples
    --------
    >>> K = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> gf = NTKGradientFlow(time=100.0).fit(K, [0, 1])
    >>> gf.weights(K).round(8).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    def __init__(self, time: float, lr: float = 1.0):
        self.time = time
        self.lr = lr

    def _validate_params(self) -> None:
        check_scalar(self.time, "time", numbers.Real, min_val=0)
        check_scalar(self.lr, "lr", numbers.Real, min_val=0, include_min=False)

    def _fit_operator(self, K: np.ndarray) -> None:
        w, V = np.linalg.eigh(K)
        s = float(self.lr) * float(self.time)
        x = s * w
        small = np.abs(x) < 1e-8
        with np.errstate(divide="ignore", invalid="ignore"):
            phi = np.where(small, s * (1.0 - 0.5 * x), -np.expm1(-x) / np.where(small, 1.0, w))
        self._V = V
        self._phi = phi

    def _apply(self, K_test: np.ndarray) -> np.ndarray:
        return ((K_test @ self._V) * self._phi) @ self._V.T
