import numpy as np
import pytest

from certmodel.exceptions import InvalidParameterError, NotFittedError
from certmodel.learners import KernelSVM, saturated_C, solve_svm_dual, svm_label_linear_weights

from ._helpers import random_psd


def _data(seed=0, n=24, m=6, n_classes=2):
    rng = np.random.default_rng(seed)
    K_all = random_psd(rng, n + m, rank=min(n + m, 12))
    y = np.resize(np.arange(n_classes), n)
    rng.shuffle(y)
    return K_all[:n, :n], K_all[n:, :n], y


def test_binary_fit_attributes_and_logits():
    K, Kt, y = _data()
    svm = KernelSVM(C=2.0).fit(K, y)
    assert svm.classes_.tolist() == [0, 1]
    assert np.array_equal(svm.y_pm_, np.where(y == 1, 1.0, -1.0))
    sol = solve_svm_dual(K, svm.y_pm_, 2.0)
    assert np.allclose(svm.alpha_, sol.alpha)
    assert np.allclose(svm.dual_coef_, svm.y_pm_ * svm.alpha_)
    f = svm.decision_function(Kt)
    assert f.shape == (6,)
    assert np.allclose(f, Kt @ svm.dual_coef_)
    assert np.array_equal(svm.predict(Kt), np.where(f >= 0, 1, 0))
    assert svm.kkt_residual_ <= 1e-9 * max(1, 2.0 / svm.C_saturated_)
    assert svm.converged_ and not svm.saturated_


def test_label_mapping_pm1_and_arbitrary_integers():
    K, Kt, y = _data(1)
    a = KernelSVM(C=1.0).fit(K, y).decision_function(Kt)
    b = KernelSVM(C=1.0).fit(K, 2 * y - 1).decision_function(Kt)
    c = KernelSVM(C=1.0).fit(K, np.where(y == 1, 7, 3))
    assert np.allclose(a, b) and np.allclose(a, c.decision_function(Kt))
    assert set(c.predict(Kt).tolist()) <= {3, 7}


def test_tie_rule_binary_zero_is_positive_class():
    K = np.eye(2)
    svm = KernelSVM(C=1.0).fit(K, [0, 1])
    assert svm.predict(np.zeros((1, 2))).tolist() == [1]


def test_multiclass_is_independent_binary_fits():
    K, Kt, y = _data(2, n=30, n_classes=3)
    svm = KernelSVM(C=1.5).fit(K, y)
    assert svm.alpha_.shape == (3, 30)
    F = svm.decision_function(Kt)
    assert F.shape == (6, 3)
    for k in range(3):
        yk = np.where(y == k, 1.0, -1.0)
        bk = KernelSVM(C=1.5).fit(K, (y == k).astype(int))
        assert np.allclose(svm.y_pm_[k], yk)
        assert np.allclose(F[:, k], bk.decision_function(Kt), atol=1e-8)
    assert np.array_equal(svm.predict(Kt), np.argmax(F, axis=1))


def test_multiclass_ties_go_to_smaller_index():
    K = np.eye(3)
    svm = KernelSVM(C=1.0).fit(K, [0, 1, 2])
    assert svm.predict(np.zeros((1, 3))).tolist() == [0]


def test_warm_start_fit():
    K, Kt, y = _data(3)
    base = KernelSVM(C=3.0).fit(K, y)
    y2 = y.copy()
    y2[0] = 1 - y2[0]
    warm = KernelSVM(C=3.0).fit(K, y2, alpha0=base.alpha_)
    cold = KernelSVM(C=3.0).fit(K, y2)
    assert np.allclose(warm.decision_function(Kt), cold.decision_function(Kt), atol=1e-8)
    with pytest.raises(InvalidParameterError, match="alpha0"):
        KernelSVM().fit(K, y, alpha0=np.ones(3))


def test_saturated_svm_is_label_linear():
    K, Kt, y = _data(4)
    C = 0.5 * saturated_C(K)
    svm = KernelSVM(C=C).fit(K, y)
    assert svm.saturated_ and np.allclose(svm.alpha_, C)
    assert svm.C_saturated_ == pytest.approx(1 / np.abs(K).sum(1).max())
    W = svm_label_linear_weights(Kt, C)
    assert np.allclose(svm.decision_function(Kt), W @ svm.y_pm_)


def test_parity_threshold():
    K, Kt, y = _data(5)
    svm = KernelSVM(C=2.0, parity=True, alpha_tol=1e-4).fit(K, y)
    coef = np.where(svm.alpha_ > 1e-4, svm.dual_coef_, 0.0)
    assert np.allclose(svm.decision_function(Kt), Kt @ coef)


def test_not_fitted_and_bad_inputs():
    K, Kt, y = _data(6)
    with pytest.raises(NotFittedError):
        KernelSVM().predict(Kt)
    with pytest.raises(InvalidParameterError, match="C == 0"):
        KernelSVM(C=0).fit(K, y)
    with pytest.raises(InvalidParameterError, match="two classes"):
        KernelSVM().fit(K, np.zeros(24, dtype=int))
    with pytest.raises(InvalidParameterError, match="integer"):
        KernelSVM().fit(K, y + 0.5)
    with pytest.raises(InvalidParameterError, match="24 entries"):
        KernelSVM().fit(K, y[:-1])
    with pytest.raises(InvalidParameterError, match="symmetric"):
        KernelSVM().fit(K + np.triu(np.ones_like(K), 1) * 1e-3, y)
    with pytest.raises(InvalidParameterError, match="multiclass"):
        KernelSVM().fit(K, np.resize([-1, 0, 1], 24))
    svm = KernelSVM().fit(K, y)
    with pytest.raises(InvalidParameterError, match="K_test"):
        svm.decision_function(Kt[:, :-1])
    with pytest.raises(InvalidParameterError, match="finite"):
        svm.decision_function(np.full_like(Kt, np.inf))
    with pytest.raises(InvalidParameterError, match="invalid parameter"):
        svm.set_params(gamma=1)


def test_arrays_unchanged():
    K, Kt, y = _data(7)
    K0, Kt0, y0 = K.copy(), Kt.copy(), y.copy()
    svm = KernelSVM(C=1.0).fit(K, y)
    svm.predict(Kt)
    a0 = svm.alpha_.copy()
    KernelSVM(C=1.0).fit(K, y, alpha0=a0)
    assert np.array_equal(K, K0) and np.array_equal(Kt, Kt0) and np.array_equal(y, y0)
    assert np.array_equal(a0, svm.alpha_)
