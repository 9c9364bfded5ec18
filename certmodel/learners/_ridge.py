"""Kernel ridge regression on one-hot targets (a label-linear learner)."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.linalg

from certmodel._validation import check_scalar
from certmodel.exceptions import InvalidParameterError
from certmodel.learners._label_linear import LabelLinearLearner

__all__ = ["KernelRidge"]


class KernelRidge(LabelLinearLearner):
    """Kernel ridge regression ``f_c(x) = k_L(x)ᵀ (K_LL + λI)^{-1} Y[:, c]``.

    Label-linear (``scalabel-ensemble.md`` §2): ``weights(K_test) = K_test (K_LL + λI)^{-1}``
    does not depend on the labels.  ``λ = 0`` is NTK regression and needs an invertible ``K_LL``.
    The factorisation (Cholesky; symmetric ``eigh`` as a fallback that detects singularity) is
    computed once in ``fit``.  Conventions for labels, logits and ties: see
    :class:`~certmodel.learners._label_linear.LabelLinearLearner` — binary
    ``decision_function`` is ``W @ y_pm`` with ``y_pm = ±1`` for ``classes_[1]``/``classes_[0]``.

    Parameters
    ----------
    lam : float, default=1.0
        Ridge parameter ``λ ≥ 0``.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
    Y_ : ndarray of shape (n, K)
        One-hot training labels.
    y_pm_ : ndarray of shape (n,) or None
        ``±1`` labels (binary only).

    Examples
    --------
    >>> K = np.array([[2.0, 1.0], [1.0, 2.0]])
    >>> (KernelRidge(lam=0.0).fit(K, [0, 1]).weights(K).round(12) + 0.0).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    def __init__(self, lam: float = 1.0):
        self.lam = lam

    def _validate_params(self) -> None:
        check_scalar(self.lam, "lam", numbers.Real, min_val=0)

    def _fit_operator(self, K: np.ndarray) -> None:
        lam = float(self.lam)
        A = K + lam * np.eye(K.shape[0])
        try:
            self._cho = scipy.linalg.cho_factor(A, lower=True, check_finite=False)
            # reject a numerically singular factor
            dg = np.abs(np.diag(self._cho[0]))
            if dg.min() ** 2 <= 1e-13 * dg.max() ** 2:
                raise np.linalg.LinAlgError
            self._inv = None
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            w, V = np.linalg.eigh(A)
            scale = max(float(np.max(np.abs(w))), 1e-300)
            if np.min(np.abs(w)) <= 1e-13 * scale:
                raise InvalidParameterError(
                    f"K + lam*I is singular (lam == {lam}, smallest |eigenvalue| "
                    f"{np.min(np.abs(w)):.3g}); use lam > 0 for a rank-deficient kernel") from None
            self._cho = None
            self._inv = (V / w) @ V.T

    def _apply(self, K_test: np.ndarray) -> np.ndarray:
        if self._cho is not None:
            return scipy.linalg.cho_solve(self._cho, K_test.T, check_finite=False).T
        return K_test @ self._inv
