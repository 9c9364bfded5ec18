"""Largest-instance study: how large a labelled set can HiGHS certify within the time limit?

For growing labelled-set sizes n (CSBM, GCN NTK, ``C`` with ``C · max row-sum`` fixed, as in
:mod:`benchmarks.instances`) and each linearisation (``reference``: n² products, ``compact``:
n products), build the sample-wise MILP once per budget and solve it for each test point the
way the pipeline does (decision mode, warm start from the clean SVM, 1 thread, HiGHS).  The
time to a verdict of a test point is its solve time, ``inf`` on a time-out; a size counts as
*decided* when the median over its test points is within the limit.  The answer per
linearisation is the largest n decided (sizes are visited in increasing order and a
linearisation stops at its first undecided size, as larger ones only get harder).

This is the MILP alone (no attack / enumeration / saturated shortcut), i.e. the formulation
study of issue 6.

Usage::

    .venv/bin/python -m benchmarks.bench_scaling --quick      # 10 s limit, n <= 40
    .venv/bin/python -m benchmarks.bench_scaling               # 60 s limit, n <= 100
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time

import numpy as np

from benchmarks._timing import Timer
from benchmarks.bench_labelcert import RESULTS, machine
from benchmarks.instances import (
    TARGET_ROWSUM,
    Instance,
    _c_for,
    _graph_instance,
    clean_signs,
    milp_verdict,
)


def csbm_instance(n: int, seed: int, m: int, budget: int, target: float) -> Instance:
    from certmodel import datasets

    g = datasets.load("csbm", n_trn_labeled=n // 2, n_val=n // 2, seed=seed)
    labeled, test = datasets.labelcert_split(g)
    inst = _graph_instance(f"csbm{n}_s{seed}", "csbm", g, labeled, test, None, [budget],
                           4 * m, seed)
    inst.C = _c_for(inst.K, target)
    return inst


def study(sizes, lins, budget, m, time_limit, seed, target, log=print):
    from certmodel.backends.base import DecisionTarget, SolveOptions
    from certmodel.learners import solve_svm_dual
    from certmodel.milp.formulations import BinaryMILP
    from certmodel.milp.standard_form import Sense

    rows, largest, stopped = [], {lin: None for lin in lins}, set()
    for n in sizes:
        inst = csbm_instance(n, seed, m, budget, target)
        y = inst.y.astype(float)
        alpha0 = solve_svm_dual(inst.K, y, inst.C).alpha
        signs = clean_signs(inst)
        margins = signs * (inst.K_test @ (y * alpha0))
        # the first m test points with a positive clean margin (others need no MILP)
        tests = [t for t in range(inst.m) if margins[t] > 0][:m]
        eps = 1e-6 * inst.C * np.abs(inst.K_test).sum(axis=1)
        for lin in lins:
            if lin in stopped:
                continue
            t0 = time.perf_counter()
            mdl = BinaryMILP(inst.K, y, inst.C, budget, linearization=lin,
                             options=SolveOptions(time_limit=time_limit, threads=1))
            build = time.perf_counter() - t0
            times = []
            for t in tests:
                c = mdl.objective(inst.K_test[t], signs[t])
                x0 = mdl.start(np.zeros(inst.n, bool), alpha0)
                with Timer() as tm:
                    res = mdl.solve(c, Sense.MINIMIZE, warm_start=x0,
                                    decision=DecisionTarget(eps[t]))
                dt = tm.wall
                verdict = milp_verdict(res, eps[t])
                times.append(dt if verdict != "unknown" else math.inf)
                cols, nrows, nint = mdl.size
                rows.append(dict(n=n, linearization=lin, budget=budget, C=inst.C,
                                 test=int(inst.test_ids[t]), verdict=verdict,
                                 status=res.termination.value, time=f"{dt:.4g}",
                                 cpu=f"{tm.cpu:.4g}",
                                 build_time=f"{build:.4g}", cols=cols, rows=nrows, ints=nint,
                                 nodes=res.nodes or "", time_limit=time_limit))
                log(f"  n={n:3d} {lin:9s} t={int(inst.test_ids[t]):4d} build {build:6.2f}s "
                    f"solve {dt:7.2f}s ({tm.cpu:7.2f} CPU-s) {res.termination.value:10s} "
                    f"-> {verdict}")
                if sum(math.isinf(x) for x in times) > len(tests) // 2:
                    break  # the median is already beyond the limit
            med = statistics.median(times) if times else math.inf
            if med <= time_limit:
                largest[lin] = n
            else:
                stopped.add(lin)
            log(f"n={n:3d} {lin:9s} size {mdl.size} median time-to-verdict "
                f"{'time-out' if math.isinf(med) else f'{med:.2f}s'}")
        if len(stopped) == len(lins):
            break
    return rows, largest


def summary(rows, largest, meta, time_limit) -> str:
    out = ["# Largest-instance study (HiGHS, sample-wise, MILP alone)", "", meta, "",
           "| n | linearisation | columns / rows / binaries | build s | solves | decided | "
           "median time-to-verdict s |", "|---|---|---|---|---|---|---|"]
    groups = {}
    for r in rows:
        groups.setdefault((int(r["n"]), r["linearization"]), []).append(r)
    for (n, lin), rs in sorted(groups.items()):
        ts = [float(r["time"]) if r["verdict"] != "unknown" else math.inf for r in rs]
        med = statistics.median(ts)
        dec = sum(r["verdict"] != "unknown" for r in rs)
        out.append(f"| {n} | {lin} | {rs[0]['cols']} / {rs[0]['rows']} / {rs[0]['ints']} | "
                   f"{float(rs[0]['build_time']):.2f} | {len(rs)} | {dec}/{len(rs)} | "
                   f"{'> limit' if math.isinf(med) else f'{med:.2f}'} |")
    out += ["", "Largest n decided within the limit (median): " + ", ".join(
        f"**{lin}: {largest[lin] if largest[lin] is not None else 'none'}**" for lin in largest),
        ""]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_scaling",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 s limit, n in 12..40, 3 tests")
    ap.add_argument("--time-limit", type=float)
    ap.add_argument("--sizes", help="comma-separated labelled-set sizes (multiples of 4)")
    ap.add_argument("--budget", type=int, default=2)
    ap.add_argument("--m", type=int, default=3, help="test points per size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", type=float, default=TARGET_ROWSUM,
                    help="C · max row-sum of the labelled kernel")
    ap.add_argument("--lins", default="reference,compact")
    ap.add_argument("--tag")
    a = ap.parse_args(argv)
    tl = a.time_limit or (10.0 if a.quick else 60.0)
    sizes = [int(s) for s in (a.sizes or ("12,20,28,40" if a.quick else
                                          "12,20,28,40,52,60,80,100")).split(",")]
    lins = a.lins.split(",")
    meta = (f"Run `python -m benchmarks.bench_scaling {' '.join(argv or sys.argv[1:])}` on "
            f"{machine()}; CSBM seed {a.seed}, GCN NTK, C·max row-sum = {a.target:g}, budget "
            f"{a.budget}, {a.m} test points per size, decision mode + warm start, 1 thread, "
            f"{tl:g} s per solve; {time.strftime('%Y-%m-%d %H:%M')}.")
    print(meta, flush=True)
    with Timer() as t_run:
        rows, largest = study(sizes, lins, a.budget, a.m, tl, a.seed, a.target,
                              log=lambda *x: print(*x, flush=True))
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = a.tag or f"{'quick' if a.quick else 'full'}-{time.strftime('%Y%m%d-%H%M%S')}"
    csv_path = RESULTS / f"scaling_{tag}.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    md = summary(rows, largest, meta, tl)
    csv_path.with_suffix(".md").write_text(md)
    print()
    print(md)
    print(f"results: {csv_path}")
    print("headline: largest labelled-set size decided by HiGHS within "
          f"{tl:g} s (median), budget {a.budget}: "
          + ", ".join(f"{lin} n = {largest[lin]}" for lin in lins)
          + f" [whole run {t_run.wall:.0f} s wall, {t_run.cpu:.0f} CPU-s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
