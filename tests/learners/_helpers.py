"""Random kernels and a reference box-QP solver for the learner tests."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def random_psd(rng: np.random.Generator, n: int, rank: int | None = None,
               scale: float = 1.0) -> np.ndarray:
    r = n if rank is None else rank
    X = rng.normal(size=(n, r))
    K = scale * (X @ X.T) / r
    return (K + K.T) / 2


def reference_box_qp(K, y, C):
    """L-BFGS-B on ``½αᵀQα − 1ᵀα`` over ``[0, C]^n`` (looser cross-check)."""
    Q = np.outer(y, y) * K
    n = K.shape[0]
    res = minimize(lambda a: (0.5 * a @ Q @ a - a.sum(), Q @ a - 1.0), np.full(n, C / 2),
                   jac=True, bounds=[(0.0, C)] * n, method="L-BFGS-B",
                   options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
    return res.x, float(res.fun)
