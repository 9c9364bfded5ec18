"""Finite networks: NTK at initialisation tends to the closed form, shapes, seeds, training.

Small graphs and widths only (seconds); the width study itself is benchmarks/bench_finite_width.py.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

from certmodel.exceptions import InvalidParameterError  # noqa: E402
from certmodel.finite import (  # noqa: E402
    FINITE_ARCHS,
    FiniteNetwork,
    empirical_ntk,
    fit_hinge,
    fit_squared,
)
from certmodel.kernels import ntk  # noqa: E402
from certmodel.learners import KernelRidge, KernelSVM, NTKGradientFlow  # noqa: E402

OPTS = {"appnp": {"alpha": 0.3, "iterations": 5}, "fc": {"bias_var": 0.5}}
POINT_ARCHS = ("mlp", "fc", "linear")


@pytest.fixture(scope="module")
def graph():
    rng = np.random.default_rng(0)
    n, d = 10, 4
    X = rng.normal(size=(n, d))
    A = np.triu((rng.random((n, n)) < 0.3).astype(float), 1)
    return X, A + A.T


def _net(arch, X, A, width, seed=0, depth=1, dtype="float64", **opts):
    graph = arch not in POINT_ARCHS
    return FiniteNetwork(arch, X, A if graph else None, width=width, depth=depth, seed=seed,
                         dtype=dtype, **{**OPTS.get(arch, {}), **opts})


def _kernel(arch, X, A, depth=1, **opts):
    graph = arch not in POINT_ARCHS
    return ntk(arch, X, A if graph else None, depth=depth, **{**OPTS.get(arch, {}), **opts})


def _ntk_error(arch, X, A, width, depth=1, seeds=(0, 1), **opts):
    K = _kernel(arch, X, A, depth, **opts)
    errs = [np.linalg.norm(empirical_ntk(_net(arch, X, A, width, s, depth, **opts)) - K)
            / np.linalg.norm(K) for s in seeds]
    return float(np.mean(errs))


@pytest.mark.parametrize("arch", [a for a in FINITE_ARCHS if a != "linear"])
def test_empirical_ntk_tends_to_closed_form(graph, arch):
    X, A = graph
    small, large = _ntk_error(arch, X, A, 64), _ntk_error(arch, X, A, 4096)
    # fluctuations ~ 1/√h: a factor 8 from 64 to 4096; ask for a clear trend
    assert large < 0.09
    assert large < small / 2.5


@pytest.mark.parametrize("arch,opts", [("gcn_skip_pc", {"skip_branch": "relu"}),
                                       ("gcn_skip_alpha", {"skip_branch": "relu"}),
                                       ("gcn", {"depth": 2}), ("gcn_skip_alpha", {"depth": 2})])
def test_empirical_ntk_variants(graph, arch, opts):
    X, A = graph
    opts = dict(opts)
    depth = opts.pop("depth", 1)
    # hidden h×h layers: stop at h = 1024 (a factor 4 in 1/√h from h = 64)
    small = _ntk_error(arch, X, A, 64, depth, **opts)
    large = _ntk_error(arch, X, A, 1024, depth, seeds=(0, 1, 2), **opts)
    assert large < 0.12
    assert large < small / 1.8


def test_linear_network_is_exact(graph):
    X, A = graph
    assert np.allclose(empirical_ntk(_net("linear", X, A, 1)), X @ X.T)


@pytest.mark.parametrize("arch", FINITE_ARCHS)
def test_shapes_and_seeds(graph, arch):
    X, A = graph
    net = _net(arch, X, A, 16, seed=3, dtype="float32")
    f = net.logits()
    assert f.shape == (X.shape[0],) and f.dtype == np.float64
    assert np.all(np.isfinite(f))
    assert np.array_equal(f, _net(arch, X, A, 16, seed=3, dtype="float32").logits())
    if arch != "linear":
        assert not np.allclose(f, _net(arch, X, A, 16, seed=4, dtype="float32").logits())
    assert net.n_params > 0 and "width=16" in repr(net)


def test_receptive_field(graph):
    X, A = graph
    net = _net("gcn", X, A, 8)
    R = net.receptive_field([0])
    two_hop = np.flatnonzero(np.linalg.matrix_power(A + np.eye(len(A)), 2)[0] > 0)
    assert np.array_equal(R, two_hop)
    assert np.array_equal(_net("mlp", X, A, 8).receptive_field([2, 0]), [0, 2])
    assert _net("appnp", X, A, 8).receptive_field([0]).size == len(A)


def test_validation(graph):
    X, A = graph
    with pytest.raises(InvalidParameterError, match="width"):
        FiniteNetwork("gcn", X, A, width=0)
    with pytest.raises(InvalidParameterError, match="arch"):
        FiniteNetwork("nope", X, A, width=4)
    with pytest.raises(InvalidParameterError, match="pass A"):
        FiniteNetwork("gcn", X, None, width=4)
    with pytest.raises(InvalidParameterError, match="dtype"):
        FiniteNetwork("gcn", X, A, width=4, dtype="int8")
    net = _net("gcn", X, A, 4)
    with pytest.raises(InvalidParameterError, match="train_idx"):
        fit_hinge(net, [0, 0], [0, 1], 1.0)
    with pytest.raises(InvalidParameterError, match="two classes"):
        fit_hinge(net, [0, 1], [1, 1], 1.0)
    with pytest.raises(InvalidParameterError, match="C"):
        fit_hinge(net, [0, 1], [0, 1], 0.0)


@pytest.fixture(scope="module")
def task():
    rng = np.random.default_rng(1)
    n, d = 24, 30                      # d > receptive field: the SVD reparameterisation is used
    y = np.repeat([0, 1], n // 2)
    X = rng.normal(size=(n, d)) + 0.8 * (2 * y[:, None] - 1)
    A = np.triu((rng.random((n, n)) < 0.12).astype(float), 1)
    train = np.array([0, 1, 2, 3, 12, 13, 14, 15])
    test = np.setdiff1d(np.arange(n), train)
    return X, A + A.T, y, train, test


def _svm_logits(arch, X, A, y, train, test, C):
    K = _kernel(arch, X, A)
    svm = KernelSVM(C=C).fit(K[np.ix_(train, train)], y[train])
    return svm.decision_function(K[np.ix_(test, train)])


def test_hinge_training_reproducible_and_reparameterisation_exact(task):
    X, A, y, train, test = task
    fits = [fit_hinge(_net("gcn", X, A, 32, seed=5), train, y[train], 0.05, max_steps=60,
                      reparameterise=r) for r in (True, True, False)]
    assert fits[0].logits.shape == (len(y),) and fits[0].steps <= 60
    assert np.array_equal(fits[0].logits, fits[1].logits)
    assert np.allclose(fits[0].logits, fits[2].logits, rtol=1e-7, atol=1e-9)
    assert np.all(np.diff(fits[0].loss[5:]) <= 1e-6 * np.abs(fits[0].loss[5:-1]) + 1e-9) or \
        fits[0].loss[-1] <= fits[0].loss[0]


@pytest.mark.parametrize("arch,C", [("gcn", 0.05), ("sgc", 0.05), ("mlp", 0.01)])
def test_hinge_agreement_trend(task, arch, C):
    """Wider networks trained on the hinge objective approach the kernel SVM's logits."""
    X, A, y, train, test = task
    fk = _svm_logits(arch, X, A, y, train, test, C)

    def rel(width):
        errs = []
        for seed in (0, 1):
            fit = fit_hinge(_net(arch, X, A, width, seed), train, y[train], C, max_steps=200)
            errs.append(np.linalg.norm(fit.logits[test] - fk) / np.linalg.norm(fk))
        return np.mean(errs)

    small, large = rel(32), rel(2048)
    assert large < small / 2
    assert large < 0.15


def test_squared_loss_tends_to_kernel_ridge(task):
    X, A, y, train, test = task
    K = _kernel("gcn", X, A)
    ypm = np.where(y == 1, 1.0, -1.0)
    kr = KernelRidge(lam=0.5).fit(K[np.ix_(train, train)], y[train])
    fk = kr.decision_function(K[np.ix_(test, train)])
    errs = {}
    for width in (32, 2048):
        fit = fit_squared(_net("gcn", X, A, width, 0), train, y[train], lam=0.5, max_steps=3000)
        errs[width] = np.linalg.norm(fit.logits[test] - fk) / np.linalg.norm(fk)
    assert errs[2048] < errs[32] / 2 and errs[2048] < 0.15
    assert np.isfinite(ypm).all()


@pytest.mark.slow
def test_squared_flow_tends_to_ntk_gradient_flow(task):
    X, A, y, train, test = task
    K = _kernel("sgc", X, A)
    gf = NTKGradientFlow(time=0.05, lr=1.0).fit(K[np.ix_(train, train)], y[train])
    fk = gf.decision_function(K[np.ix_(test, train)])
    errs = {}
    for width in (32, 2048):
        fit = fit_squared(_net("sgc", X, A, width, 0), train, y[train], flow_time=0.05,
                          max_steps=2000)
        assert fit.converged
        errs[width] = np.linalg.norm(fit.logits[test] - fk) / np.linalg.norm(fk)
    assert errs[2048] < errs[32] / 2 and errs[2048] < 0.15
    with pytest.raises(InvalidParameterError, match="not both"):
        fit_squared(_net("sgc", X, A, 8, 0), train, y[train], lam=1.0, flow_time=0.1)


@pytest.mark.parametrize("arch", FINITE_ARCHS)
def test_every_architecture_trains(task, arch):
    X, A, y, train, test = task
    net = _net(arch, X, A, 16, seed=1, dtype="float32")
    fit = fit_hinge(net, train, y[train], 0.05, max_steps=3)
    assert fit.logits.shape == (len(y),) and np.all(np.isfinite(fit.logits))
    assert fit.steps == 3 and not fit.converged and fit.loss.shape == (3,)
    assert set(np.unique(fit.predict(test))) <= {-1, 1}


@pytest.mark.parametrize("arch,opts", [("gcn", {}), ("gin", {"depth": 2}), ("gcn_skip_pc", {}),
                                       ("gcn_skip_alpha", {"depth": 2}), ("mlp", {})])
def test_receptive_field_and_svd_give_exact_logits(task, arch, opts):
    """Logits of the labelled nodes on the restricted, reparameterised context are exact."""
    X, A, y, train, test = task
    opts = dict(opts)
    net = _net(arch, X, A, 16, seed=2, depth=opts.pop("depth", 1))
    rows = net.receptive_field(train)
    from certmodel.finite._network import _x64

    with _x64("float64"):
        ctx, p, _ = net.context(rows)
        sub = np.asarray(net.apply_fn()(p, net.jax_consts(), ctx))
    full = net.logits()
    assert np.allclose(sub[np.searchsorted(rows, train)], full[train], rtol=1e-10, atol=1e-10)
