"""Bias-free kernel SVM on a precomputed kernel (binary, and one-vs-rest for K ≥ 3 classes)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from certmodel._validation import check_array, check_kernel_matrix, check_scalar, check_test_kernel
from certmodel.exceptions import InvalidParameterError
from certmodel.learners._base import BaseLearner, encode_labels
from certmodel.learners._svm_dual import _saturated_C, solve_svm_dual

__all__ = ["KernelSVM", "svm_label_linear_weights"]


class KernelSVM(BaseLearner):
    """Kernel SVM without bias, trained through its dual (``labelcert-spec.md`` §4).

    For labels ``y ∈ {±1}^n`` the dual is ``min ½αᵀQα − 1ᵀα`` s.t. ``0 ≤ α ≤ C`` with
    ``Q = (yyᵀ)∘K`` (solved exactly by :func:`~certmodel.learners.solve_svm_dual`), and the
    logit of a test point ``t`` is ``f_t = Σ_i y_i α_i K_ti`` with the *full* ``α`` (no
    threshold; the reference's ``α > 1e-4`` rule is available as ``parity=True``).

    **Labels.**  ``y`` holds integers; ``classes_`` are the sorted distinct values.  Two classes:
    ``classes_[1]`` ↦ ``+1`` and ``classes_[0]`` ↦ ``−1`` (so ``{0, 1}`` and ``{−1, +1}`` both map
    ``1`` to ``+1``).  ``K ≥ 3`` classes: one-vs-rest, ``K`` independent binary duals with
    ``y^k_i = +1`` if ``y_i = classes_[k]`` else ``−1`` and the same ``C``.

    **Ties.**  Binary: ``f ≥ 0`` predicts ``classes_[1]`` (the certificates treat ``f = 0`` as
    not robust).  Multiclass: ``argmax_k f_k`` with ties going to the smaller class index.

    Parameters
    ----------
    C : float, default=1.0
        Box bound of the dual, ``C > 0``.
    tol : float, default=1e-10
        KKT tolerance of the dual solver (relative to ``max(1, C · max_i Σ_j |K_ij|)``).
    parity : bool, default=False
        Reference prediction semantics: drop ``α_i ≤ alpha_tol`` from the logits.
    alpha_tol : float, default=1e-4
        Threshold used only when ``parity=True``.
    max_iter : int, optional
        Iteration cap of the dual solver.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
    y_pm_ : ndarray of shape (n,) or (K, n)
        ``±1`` labels of the binary problem(s).
    alpha_ : ndarray of shape (n,) or (K, n)
        Dual solution(s), exactly in ``[0, C]``.
    dual_coef_ : ndarray of shape (n,) or (K, n)
        ``y_pm_ * alpha_``.
    kkt_residual_ : float
        Largest absolute KKT residual over the binary problems.
    converged_ : bool
    n_iter_ : int
    C_saturated_ : float
        ``1 / max_i Σ_j |K_ij|``; for ``C < C_saturated_`` the dual solution is ``α ≡ C``.
    saturated_ : bool
        ``C < C_saturated_``.

    Examples
    --------
    >>> K = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 1.0]])
    >>> svm = KernelSVM(C=10.0).fit(K, [0, 0, 1])
    >>> svm.predict(K).tolist()
    [0, 0, 1]
    """

    def __init__(self, C: float = 1.0, *, tol: float = 1e-10, parity: bool = False,
                 alpha_tol: float = 1e-4, max_iter: int | None = None):
        self.C = C
        self.tol = tol
        self.parity = parity
        self.alpha_tol = alpha_tol
        self.max_iter = max_iter

    def _validate_params(self) -> None:
        check_scalar(self.C, "C", numbers.Real, min_val=0, include_min=False)
        check_scalar(self.tol, "tol", numbers.Real, min_val=0)
        check_scalar(self.alpha_tol, "alpha_tol", numbers.Real, min_val=0)
        if not isinstance(self.parity, bool | np.bool_):
            raise InvalidParameterError(f"parity must be a bool, got {self.parity!r}")
        if self.max_iter is not None:
            check_scalar(self.max_iter, "max_iter", numbers.Integral, min_val=1)

    def fit(self, K, y, *, alpha0=None):
        """Fit on the training kernel ``K`` (n, n) and integer labels ``y`` (n,).

        Parameters
        ----------
        K : ndarray of shape (n, n)
            Symmetric training kernel.
        y : array-like of shape (n,)
            Integer class labels (at least two classes).
        alpha0 : ndarray of shape (n,) or (K, n), optional
            Warm start for the dual solver(s).

        Returns
        -------
        self
        """
        self._validate_params()
        K = check_kernel_matrix(K, "K")
        n = K.shape[0]
        classes, codes = encode_labels(y, n)
        C = float(self.C)
        n_cls = classes.size
        if n_cls == 2:
            Y = (2.0 * codes - 1.0)[None, :]
        else:
            Y = np.where(codes[None, :] == np.arange(n_cls)[:, None], 1.0, -1.0)
        if alpha0 is not None:
            alpha0 = check_array(alpha0, "alpha0")
            expected = (n,) if n_cls == 2 else (n_cls, n)
            if alpha0.shape != expected:
                raise InvalidParameterError(
                    f"alpha0 must have shape {expected}, got {alpha0.shape}")
            alpha0 = alpha0.reshape(Y.shape)
        alphas = np.empty_like(Y)
        res, it, conv = 0.0, 0, True
        for k in range(Y.shape[0]):
            sol = solve_svm_dual(K, Y[k], C, alpha0=None if alpha0 is None else alpha0[k],
                                 tol=float(self.tol), max_iter=self.max_iter, check_input=False)
            alphas[k] = sol.alpha
            res = max(res, sol.kkt_residual)
            it += sol.iterations
            conv = conv and sol.converged
        if not conv:
            warnings.warn(f"KernelSVM: the dual solver did not reach tol={self.tol:g} "
                          f"(KKT residual {res:.3g}); is K indefinite?", RuntimeWarning,
                          stacklevel=2)
        squeeze = (lambda a: a[0]) if n_cls == 2 else (lambda a: a)
        self.classes_ = classes
        self.y_pm_ = squeeze(Y)
        self.alpha_ = squeeze(alphas)
        self.dual_coef_ = squeeze(Y * alphas)
        self.kkt_residual_ = float(res)
        self.converged_ = bool(conv)
        self.n_iter_ = int(it)
        self.C_saturated_ = _saturated_C(K)
        self.saturated_ = bool(C < self.C_saturated_)
        self.n_train_ = n
        return self

    def _coef(self) -> np.ndarray:
        if self.parity:
            return np.where(self.alpha_ > self.alpha_tol, self.dual_coef_, 0.0)
        return self.dual_coef_

    def decision_function(self, K_test) -> np.ndarray:
        """Logits: binary ``f = K_test @ (y_pm ∘ α)`` of shape (m,); multiclass (m, K).

        Parameters
        ----------
        K_test : ndarray of shape (m, n)
            Kernel between test and training points (a 1-D row is one test point).
        """
        self._check_is_fitted()
        K_test = check_test_kernel(K_test, self.n_train_)
        return K_test @ self._coef().T

    def predict(self, K_test) -> np.ndarray:
        """Labels: binary ``classes_[1]`` iff ``f ≥ 0``; multiclass ``argmax`` (ties → first)."""
        f = self.decision_function(K_test)
        if f.ndim == 1:
            return self.classes_[(f >= 0).astype(np.int64)]
        return self.classes_[np.argmax(f, axis=1)]


def svm_label_linear_weights(K_test, C) -> np.ndarray:
    """Label-linear weights of the saturated SVM: ``W = C · K_test``.

    In the saturated regime (``C < 1 / max_i Σ_j |K_ij|``, see
    :func:`~certmodel.learners.is_saturated`) the dual solution is ``α ≡ C`` for every labelling,
    so ``f_t = C Σ_i K_ti y_i`` (binary, ``y ∈ {±1}``) and the one-vs-rest logits are
    ``f_{t,k} = C Σ_i K_ti (2 Y_ik − 1)``.  The caller is responsible for checking the regime.

    Parameters
    ----------
    K_test : ndarray of shape (m, n)
    C : float

    Returns
    -------
    W : ndarray of shape (m, n)

    Examples
    --------
    >>> svm_label_linear_weights([[1.0, 2.0]], 0.5).tolist()
    [[0.5, 1.0]]
    """
    K_test = check_array(K_test, "K_test")
    if K_test.ndim == 1:
        K_test = K_test[None, :]
    if K_test.ndim != 2:
        raise InvalidParameterError(f"K_test must be a 2-D array, got shape {K_test.shape}")
    C = check_scalar(C, "C", numbers.Real, min_val=0, include_min=False)
    return float(C) * K_test
