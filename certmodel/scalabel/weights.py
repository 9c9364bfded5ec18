"""Label-independent weights ``W`` (m, n) of label-linear learners (spec §2).

Every learner below predicts ``f_c(x_t) = Σ_i W[t, i] 1[y_i = c]`` up to a class-independent
offset and a positive scale (which change neither the argmax nor the sign of margins), and
``f = W @ y_pm`` in the binary case:

* kernel ridge / NTK regression: ``W = K_test (K + λI)^{-1}``;
* NTK gradient flow for time ``τ`` with learning rate ``η`` from zero output:
  ``W = K_test K^{-1}(I − exp(−η τ K))`` (eigendecomposition; ``λ → 0`` limit ``η τ``);
* bias-free kernel SVM in the saturated regime ``C < 1 / max_i Σ_j |K_ij|`` (``α ≡ C``):
  ``W = C K_test`` (binary) and ``W = 2C K_test`` (one-vs-rest, ``f_a − f_b =
  2C Σ_i K_ti (1[y_i=a] − 1[y_i=b])``).  Outside that regime the SVM is not label-linear and
  is refused: use the LabelCert MILP (:mod:`certmodel.labelcert`);
* least squares on fixed features ``Φ`` (n, d): ``W = Φ_test (ΦᵀΦ + λI)^{-1} Φᵀ``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.linalg

from certmodel._validation import (
    check_array,
    check_choice,
    check_kernel_matrix,
    check_scalar,
    check_test_kernel,
)
from certmodel.exceptions import InvalidParameterError
from certmodel.scalabel._inputs import encode_labels

__all__ = ["weights_for", "krr_weights", "ntk_flow_weights", "svm_weights",
           "least_squares_weights", "LEARNERS"]

LEARNERS = ("krr", "ntk_flow", "svm", "least_squares")


def krr_weights(K, K_test, lam: float = 0.0) -> np.ndarray:
    """``W = K_test (K + λI)^{-1}`` (Cholesky when positive definite, else a dense solve)."""
    K = check_kernel_matrix(K, "K_train")
    K_test = check_test_kernel(K_test, K.shape[0])
    lam = check_scalar(lam, "lam", numbers.Real, min_val=0.0)
    A = K + lam * np.eye(K.shape[0])
    try:
        cf = scipy.linalg.cho_factor(A, lower=True, check_finite=False)
        return scipy.linalg.cho_solve(cf, K_test.T, check_finite=False).T
    except np.linalg.LinAlgError:
        pass
    try:
        return np.linalg.solve(A, K_test.T).T
    except np.linalg.LinAlgError as e:
        raise InvalidParameterError(
            f"K_train + lam*I is singular (lam = {lam}); use lam > 0") from e


def ntk_flow_weights(K, K_test, time: float, lr: float = 1.0) -> np.ndarray:
    """``W = K_test V diag((1 − e^{−η τ λ_j}) / λ_j) Vᵀ`` with ``K = V diag(λ) Vᵀ``."""
    K = check_kernel_matrix(K, "K_train")
    K_test = check_test_kernel(K_test, K.shape[0])
    time = check_scalar(time, "time", numbers.Real, min_val=0.0)
    lr = check_scalar(lr, "lr", numbers.Real, min_val=0.0, include_min=False)
    lam, V = np.linalg.eigh(K)
    lam = np.clip(lam, 0.0, None)  # PSD kernel: negative eigenvalues are round-off
    s = lr * time
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(lam * s > 1e-12, -np.expm1(-s * lam) / np.where(lam > 0, lam, 1.0), s)
    return ((K_test @ V) * g) @ V.T


def svm_weights(K, K_test, C: float, n_classes: int = 2) -> np.ndarray:
    """``W = C K_test`` (binary) or ``2C K_test`` (one-vs-rest) — saturated regime only."""
    from certmodel.learners import saturated_C

    K = check_kernel_matrix(K, "K_train")
    K_test = check_test_kernel(K_test, K.shape[0])
    C = check_scalar(C, "C", numbers.Real, min_val=0.0, include_min=False)
    c_sat = saturated_C(K)
    if not C < c_sat:
        raise InvalidParameterError(
            f"C == {C} is outside the saturated regime C < 1 / max_i sum_j |K_ij| = {c_sat:.6g}: "
            "the SVM is not label-linear there, so ScaLabelCert does not apply; use the "
            "LabelCert MILP certificate (certmodel.labelcert) instead")
    return (C if n_classes == 2 else 2.0 * C) * K_test


def least_squares_weights(Phi, Phi_test, lam: float = 0.0) -> np.ndarray:
    """``W = Φ_test (ΦᵀΦ + λI)^{-1} Φᵀ`` for fixed features ``Φ`` (n, d), ``Φ_test`` (m, d)."""
    Phi = check_array(Phi, "Phi", ndim=2)
    Phi_test = check_array(Phi_test, "Phi_test")
    if Phi_test.ndim == 1:
        Phi_test = Phi_test[None, :]
    if Phi_test.ndim != 2 or Phi_test.shape[1] != Phi.shape[1]:
        raise InvalidParameterError(
            f"Phi_test must have shape (m, {Phi.shape[1]}) to match Phi, got {Phi_test.shape}")
    lam = check_scalar(lam, "lam", numbers.Real, min_val=0.0)
    A = Phi.T @ Phi + lam * np.eye(Phi.shape[1])
    try:
        return np.linalg.solve(A, Phi_test.T).T @ Phi.T
    except np.linalg.LinAlgError as e:
        raise InvalidParameterError(
            f"Phi^T Phi + lam*I is singular (lam = {lam}); use lam > 0") from e


def weights_for(learner, K_train, y, K_test, *, n_classes=None, lam: float = 0.0,
                C: float | None = None, time: float | None = None,
                lr: float = 1.0) -> np.ndarray:
    """Weights ``W`` (m, n) of a label-linear learner, for :func:`certmodel.scalabel.certify`.

    Parameters
    ----------
    learner : {"krr", "ntk_flow", "svm", "least_squares"} or object
        A name (hyperparameters from the keywords), or an object with ``fit(K, y)`` returning
        a fitted learner with ``weights(K_test) -> (m, n)`` (e.g. the learners of
        :mod:`certmodel.learners`).
    K_train : array of shape (n, n)
        Training kernel; for ``"least_squares"`` the feature matrix ``Φ`` (n, d).
    y : array of shape (n,)
        Training labels (only used to infer the number of classes and by learner objects).
    K_test : array of shape (m, n)
        Test-train kernel; for ``"least_squares"`` the test features (m, d).
    n_classes : int, optional
        Number of classes (default: inferred as in :func:`certmodel.scalabel.certify`).
    lam : float, default=0
        Ridge for ``"krr"`` and ``"least_squares"``.
    C : float
        SVM regularisation (``"svm"``); must satisfy ``C < 1 / max_i Σ_j |K_ij|``.
    time, lr : float
        Training time ``τ`` and learning rate ``η`` of ``"ntk_flow"``.

    Raises
    ------
    InvalidParameterError
        On bad inputs, and for an SVM outside the saturated regime (use LabelCert).
    """
    if not isinstance(learner, str):
        if hasattr(learner, "fit") and hasattr(learner, "weights"):
            fitted = learner.fit(K_train, y)
            return check_array((fitted if fitted is not None else learner).weights(K_test),
                               "learner.weights(K_test)", ndim=2)
        raise InvalidParameterError(
            f"learner must be one of {LEARNERS} or an object with fit(K, y) and weights(K_test), "
            f"got {type(learner).__name__}")
    check_choice(learner, "learner", LEARNERS)
    n = np.shape(K_train)[0] if np.ndim(K_train) >= 1 else 0
    classes, _ = encode_labels(y, n, n_classes)
    if learner == "krr":
        return krr_weights(K_train, K_test, lam)
    if learner == "least_squares":
        return least_squares_weights(K_train, K_test, lam)
    if learner == "ntk_flow":
        if time is None:
            raise InvalidParameterError("learner 'ntk_flow' needs time= (training time τ)")
        return ntk_flow_weights(K_train, K_test, time, lr)
    if C is None:
        raise InvalidParameterError("learner 'svm' needs C=")
    return svm_weights(K_train, K_test, C, classes.size)
