"""Shared machinery of label-linear learners: logits ``f_c(x) = Σ_i w_i(x) Y_ic``."""

from __future__ import annotations

import numpy as np

from certmodel._validation import check_kernel_matrix, check_test_kernel
from certmodel.learners._base import BaseLearner, encode_labels

__all__ = ["LabelLinearLearner"]


class LabelLinearLearner(BaseLearner):
    """Base class: subclasses implement ``_fit_operator(K)`` and ``_apply(K_test) -> W``.

    **Labels and logits.**  ``classes_`` are the sorted distinct labels, ``Y`` the one-hot
    matrix (n, K).  ``decision_function`` returns ``W @ Y`` of shape (m, K) for ``K ≥ 3``; for two
    classes it returns the (m,) logit ``f = W @ y_pm`` with ``y_pm = −1`` for ``classes_[0]`` and
    ``+1`` for ``classes_[1]`` (``= f_1 − f_0`` of the one-hot logits).  ``predict``: binary
    ``classes_[1]`` iff ``f ≥ 0``; multiclass ``argmax`` with ties to the smaller index.
    """

    def _fit_operator(self, K: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply(self, K_test: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, K, y):
        """Fit on the training kernel ``K`` (n, n) and integer labels ``y`` (n,); returns self."""
        self._validate_params()
        K = check_kernel_matrix(K, "K")
        n = K.shape[0]
        classes, codes = encode_labels(y, n)
        self._fit_operator(K)
        self.classes_ = classes
        self.Y_ = np.eye(classes.size)[codes]
        self.y_pm_ = 2.0 * codes - 1.0 if classes.size == 2 else None
        self.n_train_ = n
        return self

    def weights(self, K_test) -> np.ndarray:
        """Label-independent weights ``W`` (m, n): logits are ``f_c = W @ Y[:, c]``.

        Parameters
        ----------
        K_test : ndarray of shape (m, n)
            Kernel between test and training points (a 1-D row is one test point).
        """
        self._check_is_fitted()
        K_test = check_test_kernel(K_test, self.n_train_)
        return self._apply(K_test)

    def decision_function(self, K_test) -> np.ndarray:
        """Binary: (m,) logits ``W @ y_pm``; multiclass: (m, K) logits ``W @ Y``."""
        W = self.weights(K_test)
        if self.classes_.size == 2:
            return W @ self.y_pm_
        return W @ self.Y_

    def predict(self, K_test) -> np.ndarray:
        """Binary: ``classes_[1]`` iff ``f ≥ 0``; multiclass: ``argmax`` (ties → first)."""
        f = self.decision_function(K_test)
        if f.ndim == 1:
            return self.classes_[(f >= 0).astype(np.int64)]
        return self.classes_[np.argmax(f, axis=1)]
