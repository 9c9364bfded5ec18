"""Synthetic two-class graphs: CSBM and contextual Barabási–Albert (spec §1.2).

Both follow the reference's random call order, so the same seed gives the same labels,
features and edges. Nodes are then ordered by label with a **stable** sort (the reference's
default ``argsort`` is not stable, spec §7 item 11), so class 0 is ``0..n0-1``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import scipy.sparse as sp

from certmodel._validation import check_scalar
from certmodel.datasets._containers import GraphData
from certmodel.exceptions import InvalidParameterError

__all__ = ["csbm_parameters", "load_csbm", "load_cba"]


def csbm_parameters(n: int, deg_in: float, deg_out: float, K: float, sigma: float) -> dict:
    """Derived CSBM quantities: ``p``, ``q``, ``d`` and the class mean ``mu`` (float32 values).

    ``p = 2 deg_in/(n-1)``, ``q = 2 deg_out/(n-1)``, ``d = round(n / ln(n)^2)`` and
    ``mu = K sigma / (2 sqrt d) * 1_d``, rounded to float32 like the reference.
    """
    d = round(n / math.log(n) ** 2)
    mu = np.full(d, K * sigma / (2 * d ** 0.5), dtype=np.float32)
    return {"p": 2 * deg_in / (n - 1), "q": 2 * deg_out / (n - 1), "d": int(d), "mu": mu}


def _check_common(K, sigma, deg_in, deg_out, seed):
    check_scalar(K, "K", min_val=0)
    check_scalar(sigma, "sigma", min_val=0, include_min=False)
    check_scalar(deg_in, "deg_in", min_val=0)
    check_scalar(deg_out, "deg_out", min_val=0)
    check_scalar(seed, "seed", numbers.Integral, min_val=0)


def _sorted_graph(name, X, A, y, meta) -> GraphData:
    order = np.argsort(y, kind="stable")
    A = sp.csr_matrix(A, dtype=np.float64)[order][:, order].tocsr()
    A.sort_indices()
    meta["node_ids"] = order.astype(np.int64)
    return GraphData(X=np.ascontiguousarray(X[order], dtype=np.float64), A=A,
                     y=y[order].astype(np.int64), name=name, n_classes=2, meta=meta)


def _split_counts(n, n_trn_labeled, n_trn_unlabeled, n_val, n_test):
    for key, value in (("n_trn_labeled", n_trn_labeled), ("n_trn_unlabeled", n_trn_unlabeled),
                       ("n_val", n_val), ("n_test", n_test)):
        check_scalar(value, key, numbers.Integral, min_val=0)
    fixed = n_trn_labeled + n_trn_unlabeled + n_val
    if n is None:
        n = fixed + n_test
    else:
        check_scalar(n, "n", numbers.Integral, min_val=2)
        if n < fixed:
            raise InvalidParameterError(
                f"n == {n} is smaller than n_trn_labeled + n_trn_unlabeled + n_val == {fixed}")
        n_test = n - fixed
    if n < 2:
        raise InvalidParameterError(f"the graph needs at least 2 nodes, got n == {n}")
    return int(n), {"n_trn_labeled": int(n_trn_labeled), "n_trn_unlabeled": int(n_trn_unlabeled),
                    "n_val": int(n_val), "n_test": int(n_test)}


def load_csbm(data_dir=None, *, name="csbm", n=None, n_trn_labeled=20, n_trn_unlabeled=0,
              n_val=20, n_test=160, deg_in=3.16, deg_out=0.74, K=1.5, sigma=1.0,
              seed=0) -> GraphData:
    """Sample a two-class contextual stochastic block model.

    Parameters
    ----------
    n : int, optional
        Number of nodes; default ``n_trn_labeled + n_trn_unlabeled + n_val + n_test``
        (200). When given, ``n_test`` becomes ``n`` minus the other counts.
    n_trn_labeled, n_trn_unlabeled, n_val, n_test : int
        Split sizes of the reference config (kept in ``meta`` for :func:`split_csbm`).
    deg_in, deg_out : float
        Expected within-/between-class degree: ``p = 2 deg_in/(n-1)``, ``q = 2 deg_out/(n-1)``.
    K, sigma : float
        Class means ``±mu`` are ``K sigma`` apart; feature noise ``N(0, sigma^2 I)``.
    seed : int
        Seed of ``numpy.random.Generator(PCG64(seed))``.
    """
    n, counts = _split_counts(n, n_trn_labeled, n_trn_unlabeled, n_val, n_test)
    _check_common(K, sigma, deg_in, deg_out, seed)
    par = csbm_parameters(n, deg_in, deg_out, K, sigma)
    d, mu = par["d"], par["mu"]
    cov = sigma ** 2 * np.identity(d, dtype=np.float32)
    rng = np.random.Generator(np.random.PCG64(seed))
    y = rng.integers(0, 2, size=n)
    n1 = int(y.sum())
    X = np.zeros((n, d))
    X[y == 0] = rng.multivariate_normal(-mu, cov, n - n1).astype(np.float32)
    X[y == 1] = rng.multivariate_normal(mu, cov, n1).astype(np.float32)
    P = np.where(y[:, None] == y[None, :], par["p"], par["q"])
    P = np.triu(P, k=1)
    A = rng.binomial(1, P)
    A = A + A.T
    meta = {"source": "csbm", "generator": "csbm", "seed": int(seed), "n": n, **counts,
            "deg_in": float(deg_in), "deg_out": float(deg_out), "K": float(K),
            "sigma": float(sigma), "p": par["p"], "q": par["q"], "d": d,
            "mu": mu.astype(np.float64)}
    return _sorted_graph(name, X, A, y, meta)


def load_cba(data_dir=None, *, name="cba", n=None, n_trn_labeled=10, n_trn_unlabeled=0,
             n_val=10, n_test=180, m=2, deg_in=3.16, deg_out=0.74, K=1.5, sigma=1.0,
             seed=0) -> GraphData:
    """Sample a two-class contextual Barabási–Albert graph.

    Node ``i`` attaches to earlier nodes ``j`` with ``multinomial(m, w)`` where
    ``w_j ∝ deg_j · (deg_in if same class else deg_out)`` (degrees start at 1); repeated
    draws merge, so a node adds at most ``m`` edges. Features as in :func:`load_csbm`.
    Uses ``numpy.random.RandomState(seed)``, the stream of the reference's legacy
    ``np.random.seed`` (the global state is not touched).
    """
    n, counts = _split_counts(n, n_trn_labeled, n_trn_unlabeled, n_val, n_test)
    _check_common(K, sigma, deg_in, deg_out, seed)
    check_scalar(m, "m", numbers.Integral, min_val=1)
    if deg_in + deg_out <= 0:
        raise InvalidParameterError("deg_in and deg_out must not both be 0")
    par = csbm_parameters(n, deg_in, deg_out, K, sigma)
    d, mu = par["d"], par["mu"]
    cov = sigma ** 2 * np.identity(d, dtype=np.float32)
    rs = np.random.RandomState(seed)
    y = rs.randint(0, 2, size=n)
    n1 = int(y.sum())
    X = np.zeros((n, d))
    X[y == 0] = rs.multivariate_normal(-mu, cov, n - n1).astype(np.float32)
    X[y == 1] = rs.multivariate_normal(mu, cov, n1).astype(np.float32)
    A = np.zeros((n, n))
    deg = np.ones(n)
    for i in range(1, n):
        w = deg[:i] * np.where(y[:i] == y[i], deg_in, deg_out)
        draw = rs.multinomial(m, w / w.sum()) > 0
        deg[:i] += draw
        deg[i] += draw.sum()
        A[:i, i] = draw
    A = A + A.T
    meta = {"source": "cba", "generator": "cba", "seed": int(seed), "n": n, **counts, "m": int(m),
            "deg_in": float(deg_in), "deg_out": float(deg_out), "K": float(K),
            "sigma": float(sigma), "d": d, "mu": mu.astype(np.float64)}
    return _sorted_graph(name, X, A, y, meta)
