"""One exact relabelling search in one process vs split over W processes (#12).

Each case is one search of :mod:`certmodel.labelcert._search` on a hard-regime instance of
:mod:`benchmarks.bench_hard_regime` (seed 7, C·rowsum 10), run back to back in this process
(``search_binary`` / ``search_multiclass``) and split over ``--workers`` local processes
(:mod:`certmodel.labelcert._split_search`, ``4 × workers`` parts).  Both give the same exact
result — the benchmark checks that the verdict (smallest proven margin above ``eps`` or a
witness) is the same — and reports nodes, wall seconds and CPU seconds side by side.  CPU
seconds: the search processes' own clocks (``SearchResult.cpu``: the parts' CPU plus the
caller's), next to :class:`benchmarks._timing.Timer` over the whole call (this process and
its live descendants; a finished pool's processes are not counted there).

Cases (``--cases``; ``--quick``: ``cba60b8``):

* ``cba60b8``  — binary CBA n = 60, budget 8, test 5 (robust; ≈ 2.5 s in one process);
* ``cba80b8``  — binary CBA n = 80, budget 8, test 2 (robust; ≈ 25 s in one process);
* ``cba120b8`` — binary CBA n = 120, budget 8, test 6 (robust; ≈ 45 s);
* ``cite400b3`` — exact multiclass, Citeseer GCN (120 labelled, C = 1e-2), target node 400,
  budget 3 (robust; ≈ 5 min in one process).

Usage::

    .venv/bin/python -m benchmarks.bench_split_search --quick
    .venv/bin/python -m benchmarks.bench_split_search --cases cba80b8,cba120b8,cite400b3
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as bench_hard_regime: small products
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks._timing import Timer  # noqa: E402

BINARY = {  # name: (family, n, budget, test row)
    "cba60b8": ("cba", 60, 8, 5),
    "cba80b8": ("cba", 80, 8, 2),
    "cba120b8": ("cba", 120, 8, 6),
}
MULTICLASS = {"cite400b3": ("citeseer", 400, 3)}  # name: (instance key, target node, budget)
QUICK = ("cba60b8",)
ROWSUM = 10.0


def _say(*a):
    print(*a, flush=True)


def _binary_case(name):
    from benchmarks.bench_hard_regime import binary_instance
    from certmodel.labelcert._problem import Problem
    from certmodel.labelcert._search import search_binary
    from certmodel.labelcert._split_search import search_binary_split
    from certmodel.learners import solve_svm_dual

    family, n, B, t = BINARY[name]
    inst = binary_instance(family, n, 10, ROWSUM)
    prob = Problem.create(inst.K, inst.y, inst.K_test[t:t + 1], inst.C)
    a0 = solve_svm_dual(prob.K, prob.y_pm, prob.C).alpha
    s = np.where(prob.K_test @ (prob.y_pm * a0) >= 0, 1.0, -1.0)
    return _case(f"binary {family} n={n} B={B} test {t}", prob, a0, s, B, search_binary,
                 search_binary_split)


def _case(label, prob, state, aux, B, one, split):
    """``(label, eps, run_one(time_limit), run_split(time_limit, workers))`` for the search
    ``one`` / its split ``split`` of the problem's single test row at budget ``B``."""
    from certmodel.labelcert._stability import KernelGeometry

    eps = 1e-6 * prob.C * np.abs(prob.K_test).sum(axis=1)
    args = (prob, state, aux, np.array([0]), [B], np.ones((1, 1), bool), eps,
            KernelGeometry(prob.K))
    return (label, eps[0], lambda tl: one(*args, time_limit=tl),
            lambda tl, w: split(*args, time_limit=tl, workers=w))


def _multiclass_case(name, data_dir):
    from benchmarks.bench_hard_regime import multiclass_instance
    from certmodel.labelcert._problem import Problem
    from certmodel.labelcert._search import search_multiclass
    from certmodel.labelcert._split_search import search_multiclass_split
    from certmodel.learners import solve_svm_dual

    key, node, B = MULTICLASS[name]
    prep, rows_idx, _, _ = multiclass_instance(key, 50, data_dir)
    hit = [r for r in rows_idx if int(prep.test_index[r]) == node]
    if not hit:
        raise SystemExit(f"{name}: node {node} is not among the benchmark's targets")
    prob = Problem.create(prep.K_train, prep.y_train, prep.K_test[hit[:1]], prep.C)
    nK = prob.n_classes
    alphas = np.stack([solve_svm_dual(prob.K, np.where(prob.codes == k, 1.0, -1.0),
                                      prob.C).alpha for k in range(nK)])
    Z = np.where(prob.codes[None] == np.arange(nK)[:, None], 1.0, -1.0) * alphas
    tops = (prob.K_test @ Z.T).argmax(axis=1)
    return _case(f"multiclass {key} target {node} B={B}", prob, alphas, tops, B,
                 search_multiclass, search_multiclass_split)


def _verdict(res, eps) -> str:
    if not res.complete.all():
        return "open"
    low = min(res.visited[0, 0], res.pruned[0, 0])
    return "robust" if low > eps else "not_robust"


def main(argv=None) -> int:
    from benchmarks.instances import DEFAULT_DATA_DIR

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cases", default="cba80b8,cba120b8")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=900.0)
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    args = ap.parse_args(argv)
    names = list(QUICK) if args.quick else [c for c in args.cases.split(",") if c]
    for c in names:
        if c not in BINARY and c not in MULTICLASS:
            ap.error(f"--cases: unknown case {c!r}; expected some of "
                     f"{', '.join([*BINARY, *MULTICLASS])}")
    if args.workers < 2:
        ap.error(f"--workers {args.workers}: expected at least 2 (the split's processes)")
    W = args.workers
    _say(f"| search | verdict | one process: nodes, wall / CPU s | {W} processes: nodes, "
         f"wall / CPU s (Timer CPU) | wall speed-up |")
    _say("|---|---|---|---|---|")
    ratios = []
    for name in names:
        label, eps, one, split = (_binary_case(name) if name in BINARY
                                  else _multiclass_case(name, args.data_dir))
        with Timer() as t1:
            r1 = one(args.time_limit)
        with Timer() as t2:
            r2 = split(args.time_limit, W)
        v1, v2 = _verdict(r1, eps), _verdict(r2, eps)
        if v1 != v2:
            _say(f"MISMATCH {label}: one process {v1}, split {v2}")
            return 1
        ratios.append(t1.wall / t2.wall)
        _say(f"| {label} | {v1} | {r1.nodes}, {t1.wall:.1f} / {r1.cpu:.1f} | {r2.nodes}, "
             f"{t2.wall:.1f} / {r2.cpu:.1f} ({t2.cpu:.1f}) | {ratios[-1]:.2f}× |")
    _say(f"HEADLINE split search: {len(names)} searches, same verdicts, {W} processes "
         f"median wall speed-up {statistics.median(ratios):.2f}× "
         f"(min {min(ratios):.2f}×, max {max(ratios):.2f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
