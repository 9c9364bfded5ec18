"""Exact SVM retraining: warm-started ``solve_svm_dual`` vs the batched solver, A/B interleaved.

Each problem flips one label of a random labelling and warm-starts from its solution (the
enumeration's situation).  Both solvers get the *same* problems, and the measurement is the
same statistic for both: in each of ``rounds`` rounds, A (a loop of ``solve_svm_dual`` calls)
and B (one ``solve_svm_dual_batch`` call) each solve the whole set, in alternating order, and
the time per problem of that round is recorded; the table shows the median over rounds.
Interleaving cancels drifts in machine load between A and B.  Wall time (perf_counter) and
CPU time (process_time, all threads of this process) are both reported.

Run: ``.venv/bin/python benchmarks/bench_svm_solver.py [--quick]``.  Prints, does not assert;
the last line is the headline (n = 40, C = 10 C_sat).  For stable small-matrix timings set
``OPENBLAS_NUM_THREADS=1``.
"""

from __future__ import annotations

import time

import numpy as np

from certmodel.learners import saturated_C, solve_svm_dual
from certmodel.learners._svm_batch import solve_svm_dual_batch


def _problems(n: int, rank: int | None, C_rel: float, reps: int, seed: int):
    rng = np.random.default_rng(seed)
    r = rank or n
    X = rng.normal(size=(n, r))
    K = X @ X.T / r
    C = C_rel * saturated_C(K)
    y = rng.choice([-1.0, 1.0], n)
    alpha0 = solve_svm_dual(K, y, C).alpha
    Y = np.tile(y, (reps, 1))
    Y[np.arange(reps), rng.integers(n, size=reps)] *= -1
    return K, Y, C, alpha0


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def bench(n: int, rank: int | None, C_rel: float, reps: int = 300, rounds: int = 5,
          seed: int = 0) -> dict:
    """Median per-problem µs (wall and CPU) of scalar and batched solves, A/B interleaved."""
    K, Y, C, alpha0 = _problems(n, rank, C_rel, reps, seed)

    def scalar():
        sols = [solve_svm_dual(K, y, C, alpha0=alpha0, check_input=False) for y in Y]
        return np.mean([s.converged for s in sols]), np.mean([s.iterations for s in sols])

    def batch():
        return solve_svm_dual_batch(K, Y, C, alpha0)[1].mean()

    res = {"scalar_wall": [], "scalar_cpu": [], "batch_wall": [], "batch_cpu": []}
    conv = conv_b = iters = 0.0
    for i in range(rounds):
        for name in (("scalar", "batch") if i % 2 == 0 else ("batch", "scalar")):
            out, wall, cpu = _timed(scalar if name == "scalar" else batch)
            res[f"{name}_wall"].append(wall / reps * 1e6)
            res[f"{name}_cpu"].append(cpu / reps * 1e6)
            if name == "scalar":
                conv, iters = out
            else:
                conv_b = out
    out = {k: float(np.median(v)) for k, v in res.items()}
    out.update(conv=float(conv), conv_b=float(conv_b), iters=float(iters))
    return out


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 40 only, 200 problems, 3 rounds")
    a = ap.parse_args(argv)
    sizes = (40,) if a.quick else (20, 40, 80)
    reps, rounds = (200, 3) if a.quick else (1000, 5)
    print(f"{'n':>4} {'rank':>5} {'C/C_sat':>8} {'scalar µs':>10} {'(cpu)':>7} "
          f"{'batch µs':>9} {'(cpu)':>7} {'speed-up':>8} {'mean it':>8} {'conv':>5} "
          f"{'conv b':>6}")
    head = None
    for rank in (None, 7):
        for C_rel in (0.5, 10.0, 100.0):
            for n in sizes:
                r = bench(n, rank, C_rel, reps=reps, rounds=rounds)
                sp = r["scalar_wall"] / r["batch_wall"]
                print(f"{n:>4} {str(rank or 'full'):>5} {C_rel:>8g} {r['scalar_wall']:>10.0f} "
                      f"{r['scalar_cpu']:>7.0f} {r['batch_wall']:>9.0f} {r['batch_cpu']:>7.0f} "
                      f"{sp:>7.1f}x {r['iters']:>8.2f} {r['conv']:>5.2f} {r['conv_b']:>6.2f}")
                if n == 40 and rank is None and C_rel == 10.0:
                    head = r
    print(f"headline: SVM retraining n = 40, C = 10 C_sat, A/B interleaved medians: scalar "
          f"{head['scalar_wall']:.0f} µs (cpu {head['scalar_cpu']:.0f}), batched "
          f"{head['batch_wall']:.0f} µs (cpu {head['batch_cpu']:.0f}) per problem "
          f"({head['scalar_wall'] / head['batch_wall']:.1f}x wall, "
          f"{head['scalar_cpu'] / head['batch_cpu']:.1f}x cpu)")


if __name__ == "__main__":
    main()
