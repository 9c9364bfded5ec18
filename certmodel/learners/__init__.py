"""Learners on precomputed kernels: the bias-free kernel SVM and label-linear learners.

* :func:`solve_svm_dual` — exact box-QP solver for the bias-free SVM dual (warm starts).
* :class:`KernelSVM` — binary / one-vs-rest SVM, sklearn-style, precomputed kernels.
* :class:`KernelRidge`, :class:`NTKGradientFlow` — label-linear learners exposing
  ``weights(K_test)`` (``f_c = W @ Y[:, c]``), the interface of ScaLabelCert.
* :func:`svm_label_linear_weights` — ``C · K_test`` for the saturated SVM.
* :func:`cross_validate` — stratified k-fold grid search.
"""

from certmodel.learners._cv import CVResult, cross_validate, stratified_kfold
from certmodel.learners._gradient_flow import NTKGradientFlow
from certmodel.learners._ridge import KernelRidge
from certmodel.learners._svm import KernelSVM, svm_label_linear_weights
from certmodel.learners._svm_dual import (
    SVMSolution,
    effective_C,
    hard_margin_C,
    is_saturated,
    saturated_C,
    solve_svm_dual,
    svm_dual_objective,
    svm_kkt_residual,
    unit_scale,
)

__all__ = [
    "SVMSolution",
    "solve_svm_dual",
    "saturated_C",
    "is_saturated",
    "hard_margin_C",
    "effective_C",
    "unit_scale",
    "svm_kkt_residual",
    "svm_dual_objective",
    "KernelSVM",
    "svm_label_linear_weights",
    "KernelRidge",
    "NTKGradientFlow",
    "cross_validate",
    "CVResult",
    "stratified_kfold",
]
