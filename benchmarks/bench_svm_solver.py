"""Exact SVM retraining: warm-started ``solve_svm_dual`` vs the batched solver, side by side.

Each problem flips one label of a random labelling and warm-starts from its solution (the
enumeration's situation).  ``scalar`` = median µs of one ``solve_svm_dual`` call; ``batch`` =
µs per problem of one ``solve_svm_dual_batch`` call on all of them.

Run: ``.venv/bin/python benchmarks/bench_svm_solver.py [--quick]``.  Prints, does not assert;
the last line is the headline (n = 40, C = 10 C_sat).  For stable small-matrix timings set
``OPENBLAS_NUM_THREADS=1``.
"""

from __future__ import annotations

import time

import numpy as np

from certmodel.learners import saturated_C, solve_svm_dual
from certmodel.learners._svm_batch import solve_svm_dual_batch


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
    Y = np.tile(y, (reps, 1))
    Y[np.arange(reps), rng.integers(n, size=reps)] *= -1
    t0 = time.perf_counter()
    _, ok = solve_svm_dual_batch(K, Y, C, sol.alpha)
    batch = (time.perf_counter() - t0) / reps * 1e6
    return np.median(times) * 1e6, batch, np.mean(iters), conv / reps, ok.mean()


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 40 only, 200 problems")
    a = ap.parse_args(argv)
    sizes = (40,) if a.quick else (20, 40, 80)
    reps = 200 if a.quick else 1000
    print(f"{'n':>4} {'rank':>5} {'C/C_sat':>8} {'scalar µs':>10} {'batch µs':>9} "
          f"{'mean it':>8} {'conv':>5} {'conv b':>6}")
    head = None
    for rank in (None, 7):
        for C_rel in (0.5, 10.0, 100.0):
            for n in sizes:
                us, bus, it, cv, cb = bench(n, rank, C_rel, reps=reps)
                print(f"{n:>4} {str(rank or 'full'):>5} {C_rel:>8g} {us:>10.0f} {bus:>9.0f} "
                      f"{it:>8.2f} {cv:>5.2f} {cb:>6.2f}")
                if n == 40 and rank is None and C_rel == 10.0:
                    head = (us, bus)
    print(f"headline: SVM retraining n = 40, C = 10 C_sat: scalar {head[0]:.0f} µs, batched "
          f"{head[1]:.0f} µs per problem ({head[0] / head[1]:.1f}x)")


if __name__ == "__main__":
    main()
