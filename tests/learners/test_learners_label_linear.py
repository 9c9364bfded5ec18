import numpy as np
import pytest

from certmodel.exceptions import InvalidParameterError, NotFittedError
from certmodel.learners import KernelRidge, NTKGradientFlow

from ._helpers import random_psd


def _data(seed=0, n=20, m=5, n_classes=3, rank=None):
    rng = np.random.default_rng(seed)
    K_all = random_psd(rng, n + m, rank=rank)
    y = np.resize(np.arange(n_classes), n)
    rng.shuffle(y)
    return K_all[:n, :n], K_all[n:, :n], y


@pytest.mark.parametrize("lam", [0.0, 1e-3, 1.0])
def test_krr_weights_match_solve_and_predictions(lam):
    K, Kt, y = _data()
    krr = KernelRidge(lam=lam).fit(K, y)
    W = krr.weights(Kt)
    assert np.allclose(W, np.linalg.solve(K + lam * np.eye(20), Kt.T).T, atol=1e-8)
    Y = np.eye(3)[y]
    F = krr.decision_function(Kt)
    assert F.shape == (5, 3) and np.allclose(F, W @ Y)
    assert np.array_equal(krr.predict(Kt), np.argmax(F, axis=1))


def test_krr_binary_convention():
    K, Kt, y = _data(1, n_classes=2)
    krr = KernelRidge(lam=0.1).fit(K, y)
    W = krr.weights(Kt)
    f = krr.decision_function(Kt)
    ypm = np.where(y == 1, 1.0, -1.0)
    assert f.shape == (5,) and np.allclose(f, W @ ypm)
    Y = np.eye(2)[y]
    assert np.allclose(f, W @ Y[:, 1] - W @ Y[:, 0])
    assert np.array_equal(krr.predict(Kt), np.where(f >= 0, 1, 0))


def test_krr_singular_needs_lambda():
    K, Kt, y = _data(2, rank=4)
    with pytest.raises(InvalidParameterError, match="singular"):
        KernelRidge(lam=0.0).fit(K, y)
    KernelRidge(lam=1e-2).fit(K, y)  # fine


def test_gradient_flow_limits():
    K, Kt, y = _data(3)
    Kt2 = Kt.copy()
    krr = KernelRidge(lam=0.0).fit(K, y)
    gf = NTKGradientFlow(time=1e6).fit(K, y)
    assert np.allclose(gf.weights(Kt2), krr.weights(Kt2), atol=1e-6)
    gf0 = NTKGradientFlow(time=0.0).fit(K, y)
    assert np.allclose(gf0.weights(Kt), 0.0)
    # small time: W ≈ η t K_test
    gfs = NTKGradientFlow(time=1e-9, lr=2.0).fit(K, y)
    assert np.allclose(gfs.weights(Kt), 2e-9 * Kt, rtol=1e-6)


def test_gradient_flow_matches_expm_formula_and_singular_ok():
    import scipy.linalg
    K, Kt, y = _data(4)
    t, lr = 0.7, 1.3
    W = NTKGradientFlow(time=t, lr=lr).fit(K, y).weights(Kt)
    ref = Kt @ np.linalg.solve(K, np.eye(20) - scipy.linalg.expm(-lr * t * K))
    assert np.allclose(W, ref, atol=1e-8)
    Ks, Kts, ys = _data(5, rank=3)
    Ws = NTKGradientFlow(time=2.0).fit(Ks, ys).weights(Kts)
    assert np.all(np.isfinite(Ws))


def test_label_linear_bad_inputs_and_unchanged():
    K, Kt, y = _data(6)
    with pytest.raises(NotFittedError):
        KernelRidge().weights(Kt)
    with pytest.raises(InvalidParameterError, match="lam == -1"):
        KernelRidge(lam=-1.0).fit(K, y)
    with pytest.raises(InvalidParameterError, match="time == -1"):
        NTKGradientFlow(time=-1.0).fit(K, y)
    with pytest.raises(InvalidParameterError, match="lr == 0"):
        NTKGradientFlow(time=1.0, lr=0.0).fit(K, y)
    with pytest.raises(InvalidParameterError, match="square"):
        KernelRidge().fit(K[:, :-1], y)
    with pytest.raises(InvalidParameterError, match="finite"):
        KernelRidge().fit(np.full_like(K, np.nan), y)
    with pytest.raises(InvalidParameterError, match="K_test"):
        KernelRidge().fit(K, y).weights(np.ones((2, 3)))
    K0, Kt0, y0 = K.copy(), Kt.copy(), y.copy()
    for est in (KernelRidge(lam=0.5), NTKGradientFlow(time=1.0)):
        est.fit(K, y).predict(Kt)
        est.weights(Kt)
    assert np.array_equal(K, K0) and np.array_equal(Kt, Kt0) and np.array_equal(y, y0)
