"""The clean learner of a run: SVM / kernel-ridge logits, predictions, C by cross-validation.

Binary (y ∈ ±1): bias-free SVM ``f = K_test (α ∘ y)`` with α the dual solution, predicted
class ``+1`` iff ``f ≥ 0`` (the reference's rule), margin ``|f|``.  Multiclass: one-vs-rest,
``argmax_k f_k``, margin = top logit − runner-up.  Kernel ridge: ``W = K_test (K + λI)^{-1}``.
"""

from __future__ import annotations

import numpy as np

from certmodel.exceptions import InvalidParameterError
from certmodel.learners import KernelSVM, cross_validate, is_saturated, solve_svm_dual

__all__ = ["svm_logits", "predictions", "cv_select_C", "label_linear_weights", "CV_GRID"]

CV_GRID = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75,
           1.0, 2.5, 5.0, 7.5, 10.0)


def svm_logits(K_train, y, K_test, C, n_classes, one_vs_rest: bool | None = None,
               ) -> np.ndarray:
    """Clean logits of the bias-free SVM: (m,) binary (y in ±1), (m, K) one-vs-rest.

    ``one_vs_rest`` (default: ``n_classes > 2``) gives (m, K) logits for labels ``0..K-1``,
    also for two classes (a binary data set certified in a multiclass mode).
    """
    if one_vs_rest is None:
        one_vs_rest = n_classes != 2
    if not one_vs_rest:
        alpha = solve_svm_dual(K_train, y, C).alpha
        return K_test @ (alpha * y)
    out = np.empty((K_test.shape[0], n_classes))
    for k in range(n_classes):
        yk = np.where(y == k, 1.0, -1.0)
        out[:, k] = K_test @ (solve_svm_dual(K_train, yk, C).alpha * yk)
    return out


def predictions(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, margin) from binary (m,) or multiclass (m, K) logits."""
    if logits.ndim == 1:  # reference: class +1 iff f >= 0
        return np.where(logits >= 0, 1, -1), np.abs(logits)
    order = np.sort(logits, axis=1)
    return np.argmax(logits, axis=1), order[:, -1] - order[:, -2]


def cv_select_C(K, y, seed: int, folds: int = 4) -> float:
    """Stratified k-fold CV of the SVM over the spec's C grid (spec §6.3; first best wins)."""
    result = cross_validate(lambda C: KernelSVM(C=C), K, y, CV_GRID, folds=folds,
                            seeds=(seed,))
    return float(result.best)


def label_linear_weights(K_train, K_test, y, C, learner, ridge, n_classes) -> np.ndarray:
    """Label-independent weights W of a label-linear learner (ScaLabelCert's input).

    Kernel ridge: ``W = K_test (K_train + λI)^{-1}``.  SVM only in the saturated regime
    (``C < 1 / max_i Σ_j |K_ij|``, where α ≡ C): ``W = C K_test`` (binary ±1 labels), and
    ``2C K_test`` for one-vs-rest margins over one-hot labels.
    """
    if learner == "krr":
        n = K_train.shape[0]
        return np.linalg.solve(K_train + ridge * np.eye(n), K_test.T).T
    if not is_saturated(K_train, C):
        raise InvalidParameterError(
            f"the SVM with C = {C:g} is outside the saturated regime (C must be < "
            f"1 / max_i Σ_j |K_ij|), so it is not label-linear and ScaLabelCert cannot "
            "certify it exactly; use --method labelcert")
    return C * K_test if n_classes == 2 else 2.0 * C * K_test
