"""Time the EnsembleCert knapsack (white-box radius) per test point.

Random votes and integer costs for K = 10 classes; prints ms per test point for the fast
solver and the textbook DP at P = 50 and P = 1000, wall and CPU.  Run:
``python benchmarks/bench_ensemble_dp.py [--quick]``; the last line is the headline.
"""

from __future__ import annotations

import numpy as np

from certmodel.ensemble import whitebox_radius

try:
    from benchmarks._timing import Timer
except ImportError:  # run as a script: python benchmarks/bench_ensemble_dp.py
    from _timing import Timer


def instance(m: int, P: int, K: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    # skewed votes: most partitions vote class 0, like a confident ensemble
    bp = np.where(rng.random((m, P)) < 0.6, 0, rng.integers(0, K, (m, P)))
    costs = rng.integers(1, 40, (m, P, K)).astype(float)
    np.put_along_axis(costs, bp[:, :, None], 0.0, axis=2)
    return bp, costs


def bench(m: int, P: int, K: int, method: str) -> tuple[float, float]:
    """(wall, CPU) milliseconds per test point."""
    bp, costs = instance(m, P, K)
    whitebox_radius(bp[:2], costs[:2], method=method)  # warm-up
    with Timer() as t:
        whitebox_radius(bp, costs, method=method)
    return t.wall / m * 1e3, t.cpu / m * 1e3


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer test points per setting")
    quick = ap.parse_args(argv).quick
    K = 10
    rows = []
    sizes = ((50, 200, 50), (1000, 20, 2)) if quick else ((50, 2000, 500), (1000, 100, 4))
    for P, m_fast, m_dp in sizes:
        fast = bench(m_fast, P, K, "fast")
        dp = bench(m_dp, P, K, "dp")
        rows.append((P, fast, dp))
        print(f"P = {P:5d}  K = {K}  fast: {fast[0]:8.3f} ms ({fast[1]:8.3f} CPU-ms)/test-point"
              f"   dp: {dp[0]:8.3f} ms ({dp[1]:8.3f} CPU-ms)/test-point")
    (P50, _, d50), (P1000, f1000, _) = rows  # the solvers method="auto" picks at each P
    print(f"headline: EnsembleCert knapsack (method=auto) {d50[0]:.3f} ms/test-point "
          f"({d50[1]:.3f} CPU-ms) at P = {P50}, {f1000[0]:.2f} ms/test-point "
          f"({f1000[1]:.2f} CPU-ms) at P = {P1000} (K = {K}, targets 1 ms and 50 ms wall)")


if __name__ == "__main__":
    main()
