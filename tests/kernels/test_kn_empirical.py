"""Closed-form NTKs against empirical NTKs of finite jax networks (independent of the reference).

For each width h we measure the root-mean-square relative error of the single-initialisation
empirical NTKs (a low-noise estimate of the finite-width fluctuation, which decays ~ 1/√h), and
the error of their average at the largest width.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from certmodel.kernels import ntk

CASES = [
    ("gcn", {}),
    ("sgc", {}),
    ("gin", {}),
    ("appnp", {"alpha": 0.3, "iterations": 5}),
    ("mlp", {}),
    ("fc", {"bias_var": 0.5}),
]


@pytest.fixture(scope="module")
def graph():
    rng = np.random.default_rng(0)
    n, d = 12, 4
    X = rng.normal(size=(n, d))
    A = np.triu((rng.random((n, n)) < 0.3).astype(float), 1)
    return X, A + A.T


def _errors(arch, opts, X, A, widths, n_init, depth=1):
    from certmodel.kernels.empirical import empirical_ntk

    graph = arch not in ("mlp", "fc", "linear")
    A = A if graph else None
    K = ntk(arch, X, A, depth=depth, **opts)
    norm = np.linalg.norm(K)
    rms, mean_err = [], None
    for h in widths:
        samples = empirical_ntk(arch, X, A, width=h, n_init=n_init, depth=depth, seed=h,
                                average=False, **opts)
        errs = np.linalg.norm(samples - K, axis=(1, 2)) / norm
        rms.append(float(np.sqrt(np.mean(errs ** 2))))
        mean_err = float(np.linalg.norm(samples.mean(0) - K) / norm)
    return rms, mean_err


@pytest.mark.parametrize("arch,opts", CASES, ids=[c[0] for c in CASES])
def test_empirical_ntk_converges(graph, arch, opts):
    X, A = graph
    rms, mean_err = _errors(arch, opts, X, A, (512, 2048, 8192), n_init=8)
    print(arch, "rms", [f"{e:.4f}" for e in rms], "mean@8192", f"{mean_err:.4f}")
    assert rms[0] > rms[1] > rms[2]
    assert rms[2] < 0.5 * rms[0]            # ~1/√h: a factor 4 expected over 16× width
    assert mean_err < 0.02


def test_linear_empirical_is_exact(graph):
    from certmodel.kernels.empirical import empirical_ntk

    X, _ = graph
    assert np.allclose(empirical_ntk("linear", X, width=1, n_init=1), X @ X.T, rtol=1e-12)


def test_jax_not_imported_by_kernels():
    import subprocess

    code = ("import sys, certmodel.kernels, certmodel.kernels.empirical; "
            "print('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_global_x64_flag_untouched(graph):
    import jax

    from certmodel.kernels.empirical import empirical_ntk

    before = jax.config.jax_enable_x64
    K = empirical_ntk("mlp", graph[0], width=16, n_init=1)
    assert K.dtype == np.float64
    assert jax.config.jax_enable_x64 == before


@pytest.mark.slow
@pytest.mark.parametrize("arch,opts", CASES + [("graphsage", {})],
                         ids=[c[0] for c in CASES] + ["graphsage"])
@pytest.mark.parametrize("depth", [1, 2])
def test_empirical_ntk_converges_large(graph, arch, opts, depth):
    X, A = graph
    widths = (512, 4096, 32768) if depth == 1 else (128, 512, 2048)
    rms, mean_err = _errors(arch, opts, X, A, widths, n_init=16, depth=depth)
    print(arch, depth, "rms", [f"{e:.4f}" for e in rms], "mean", f"{mean_err:.4f}")
    assert rms[0] > rms[1] > rms[2]
    assert rms[2] < 0.4 * rms[0]
    assert mean_err < (0.01 if depth == 1 else 0.03)
