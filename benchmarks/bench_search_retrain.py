"""Retrain throughput of the multiclass relabelling search (#12): nodes per CPU-second.

Runs :func:`certmodel.labelcert._search.search_multiclass` alone on the Citeseer instance of
:mod:`benchmarks.bench_hard_regime` (GCN NTK, 120 labelled, C = 1e-2, first ``--targets``
class-balanced targets, every budget open) and prints the nodes retrained per CPU-second, the
one-vs-rest retrains, how many of them the batched solver handed to the scalar solver
(``solve_svm_dual``), and the free-block solves per retrain.  ``--solver-rev REV`` runs the
same search with ``certmodel/learners/_svm_batch.py`` as of git revision ``REV`` (a
before/after comparison of the batched solver; the rest of the code is the working tree's).

CPU seconds: :func:`benchmarks._timing.cpu_seconds` (this process and its children, all
threads).  On a loaded machine multi-threaded OpenBLAS spin-waits for busy cores; set
``OPENBLAS_NUM_THREADS=1`` for stable numbers (the docs quote both).

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_search_retrain --quick
    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_search_retrain --quick \\
        --solver-rev b2b376d          # the batched solver before #12's rework
    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_search_retrain  # B ≤ 3, 240 s
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._timing import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent


def _solver_module(rev: str | None):
    """The batched-solver module: the working tree's, or ``_svm_batch.py`` at git ``rev``."""
    if rev is None:
        from certmodel.learners import _svm_batch
        return _svm_batch
    src = subprocess.run(["git", "show", f"{rev}:certmodel/learners/_svm_batch.py"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / f"svm_batch_{rev}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"svm_batch_{rev}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _instrument(mod, counts: dict):
    """Count retrains, scalar fall-backs and free-block solves (rows) of ``mod``."""
    scalar = mod.solve_svm_dual

    def counted_scalar(*a, **k):
        counts["fallbacks"] += 1
        return scalar(*a, **k)

    mod.solve_svm_dual = counted_scalar
    free_solve = mod._free_solve
    pos = list(inspect.signature(free_solve).parameters).index("free")

    def counted_free_solve(*a, **k):
        counts["block_rows"] += len(a[pos])
        return free_solve(*a, **k)

    mod._free_solve = counted_free_solve
    batch = mod.solve_svm_dual_batch

    def counted_batch(K, Y, *a, **k):
        counts["retrains"] += len(Y)
        return batch(K, Y, *a, **k)

    return counted_batch


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=3)
    ap.add_argument("--budgets", default="1,2,3")
    ap.add_argument("--time-limit", type=float, default=240.0)
    ap.add_argument("--solver-rev", default=None,
                    help="git revision of certmodel/learners/_svm_batch.py (default: working tree)")
    ap.add_argument("--data-dir", default="/work/shared/data")
    ap.add_argument("--quick", action="store_true", help="budgets 1, 2 and a 60 s cap")
    args = ap.parse_args(argv)
    if args.quick:
        args.budgets, args.time_limit = "1,2", 60.0
    budgets = [int(b) for b in args.budgets.split(",")]

    from benchmarks.bench_hard_regime import multiclass_instance
    from certmodel.labelcert import LabelCertOptions, _search
    from certmodel.labelcert._multiclass import _clean
    from certmodel.labelcert._problem import Problem
    from certmodel.labelcert._stability import KernelGeometry

    prep, idx, _, _ = multiclass_instance("citeseer", args.targets, args.data_dir)
    prob = Problem.create(prep.K_train, prep.y_train, prep.K_test[idx], prep.C,
                          prep.test_index[idx]).canonical()
    alphas, _, tops, _ = _clean(prob)
    eps = LabelCertOptions().eps * prob.logit_bounds() * 2.0
    geo = KernelGeometry(prob.K)
    rows = np.arange(prob.m)
    counts = {"fallbacks": 0, "block_rows": 0, "retrains": 0}
    _search.solve_svm_dual_batch = _instrument(_solver_module(args.solver_rev), counts)
    c0, w0 = cpu_seconds(), time.perf_counter()
    res = _search.search_multiclass(prob, alphas, tops, rows, budgets,
                                    np.ones((len(rows), len(budgets)), bool), eps, geo,
                                    time_limit=args.time_limit)
    cpu, wall = cpu_seconds() - c0, time.perf_counter() - w0
    solver = args.solver_rev or "working tree"
    print(f"citeseer, {prob.m} targets, budgets {budgets}, solver {solver}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print(f"HEADLINE search retrain: {res.nodes} nodes in {cpu:.1f} CPU-s / {wall:.1f} s wall "
          f"= {res.nodes / max(cpu, 1e-9):.0f} nodes per CPU-s; {counts['retrains']} "
          f"one-vs-rest retrains, {counts['fallbacks']} scalar fall-backs, "
          f"{counts['block_rows'] / max(counts['retrains'], 1):.2f} free-block solves per "
          f"retrain; finished: {bool(res.complete.all())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
