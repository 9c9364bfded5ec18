"""Median time of a warm-started ``solve_svm_dual`` (one label flipped from the last solve).

Run: ``.venv/bin/python benchmarks/bench_svm_solver.py``.  Prints, does not assert.
For stable small-matrix timings set ``OPENBLAS_NUM_THREADS=1``.
"""

from __future__ import annotations

import time

import numpy as np

from certmodel.learners import saturated_C, solve_svm_dual


def bench(n: int, rank: int | None, C_rel: float, reps: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    r = rank or n
    X = rng.normal(size=(n, r))
    K = X @ X.T / r
    C = C_rel * saturated_C(K)
    y = rng.choice([-1.0, 1.0], n)
    sol = solve_svm_dual(K, y, C)
    times, iters, conv = [], [], 0
    for _ in range(reps):
        y2 = y.copy()
        y2[rng.integers(n)] *= -1
        t0 = time.perf_counter()
        s = solve_svm_dual(K, y2, C, alpha0=sol.alpha, check_input=False)
        times.append(time.perf_counter() - t0)
        iters.append(s.iterations)
        conv += s.converged
    return np.median(times) * 1e6, np.mean(iters), conv / reps


if __name__ == "__main__":
    print(f"{'n':>4} {'rank':>5} {'C/C_sat':>8} {'median µs':>10} {'mean it':>8} {'conv':>5}")
    for rank in (None, 7):
        for C_rel in (0.5, 10.0, 100.0):
            for n in (20, 40, 80):
                us, it, cv = bench(n, rank, C_rel)
                print(f"{n:>4} {str(rank or 'full'):>5} {C_rel:>8g} {us:>10.0f} "
                      f"{it:>8.2f} {cv:>5.2f}")
