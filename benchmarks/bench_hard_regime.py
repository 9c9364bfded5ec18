"""Hard-regime LabelCert benchmark (#12): the relabelling search vs the current pipeline.

Same instances, same process, configurations side by side:

* ``search`` — the defaults (``search="auto"``: the cost model of
  :mod:`certmodel.labelcert._searchpath` runs the branch-and-bound of
  :mod:`certmodel.labelcert._search` where it is cheaper than the MILP time it replaces);
* ``split2`` (only when asked for) — the defaults with ``search_workers=2``: binary searches
  the cost model expects to take ≥ 2 s run split over two processes
  (:mod:`certmodel.labelcert._split_search`; their processes' CPU seconds are counted);
* ``nopairs`` (only when asked for) — the defaults without the collective pair separation
  (``pair_separation=False``, :mod:`certmodel.labelcert._pairs`);
* ``old`` — the previous dispatch (``search="never"``, ``samplewise_screen=False``,
  ``beam_width=0``: greedy attack only — for multiclass (``--multiclass-old``) that greedy
  attack is itself new, the dispatch before it had none; enumeration up to
  ``max_enumeration``, then the MILP; collective: one MILP over every test point).

Binary grid: CSBM, CBA (GCN NTK of the graph generators, labelled nodes ``n``), random RBF and
random ReLU-NTK instances, ``n ∈ {60, 80, 120}``, ``C · max_i Σ_j |K_ij| ∈ {2, 10}``, budgets
4 and 8, ``m`` test points each, data seed 7 (never used by the tests).  Multiclass: Citeseer
(exact, GCN, 10 labelled per class = 120, C = 1e-2, budgets 1, 2, 3, 6) and Cora-ML (inexact,
SGC, 5 per class = 70, C = 0.004, budgets 1, 2, 3, 7) on class-balanced targets.

Per record: verdict, path, wall seconds (the record's ``wall_time``) and CPU seconds (the
instance's CPU time attributed to its records in proportion to their wall time).  The CPU
time includes the isolated child processes the MILPs run in
(:mod:`certmodel.backends.isolated`), via :func:`benchmarks._timing.cpu_seconds`; tables in
docs/benchmarks.md measured before that change count in-process CPU only.

Usage::

    .venv/bin/python -m benchmarks.bench_hard_regime --quick
    .venv/bin/python -m benchmarks.bench_hard_regime --families csbm,cba,rbf,ntk \\
        --n 60,80,120 --rowsum 2,10 --budgets 4,8 --m 10 --time-limit 60
    .venv/bin/python -m benchmarks.bench_hard_regime --multiclass citeseer,coraml --targets 6
    .venv/bin/python -m benchmarks.bench_hard_regime --no-binary --collective 0.05,0.1
"""

from __future__ import annotations

import os

# one BLAS thread: the search's products are small (n ≤ 120), and on a shared 2-core machine
# OpenBLAS's spinning second thread doubles CPU and wall time (measured on the Citeseer search)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks._timing import cpu_seconds  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 7
CONFIGS = ("search", "old", "split2", "nopairs", "cut", "nocut")
DEFAULT_CONFIGS = ("search", "old")


def _say(*a):
    print(*a, flush=True)


# ------------------------------------------------------------------------------------------
# instances
# ------------------------------------------------------------------------------------------

def _graph(family: str, n: int, m: int, rowsum: float):
    from benchmarks.instances import _c_for, _graph_instance
    from certmodel import datasets

    g = datasets.load(family, n_trn_labeled=n // 2, n_val=n // 2, seed=SEED)
    labeled, test = datasets.labelcert_split(g)
    inst = _graph_instance(f"{family}{n}", family, g, labeled, test, None, [], m, SEED,
                           note="GCN NTK")
    inst.C = _c_for(inst.K, rowsum)
    return inst


def binary_instance(family: str, n: int, m: int, rowsum: float):
    from benchmarks.instances import _c_for, _random_ntk, _rbf

    if family in ("csbm", "cba"):
        inst = _graph(family, n, m, rowsum)
    elif family == "rbf":
        inst = _rbf(n, SEED, m, [])
    elif family == "ntk":
        inst = _random_ntk(n, SEED, m, [])
    else:
        raise SystemExit(f"unknown family {family!r} (csbm, cba, rbf, ntk)")
    inst.C = _c_for(inst.K, rowsum)
    inst.name = f"{family}{n}_r{rowsum:g}"
    return inst


MULTICLASS = {
    # key: (dataset, arch, labelled per class, C, budgets, mode)
    "citeseer": ("citeseer", "gcn", 10, 1e-2, (1, 2, 3, 6), "multiclass"),
    "coraml": ("cora_ml", "sgc", 5, 0.004, (1, 2, 3, 7), "multiclass-inexact"),
}


def multiclass_instance(key: str, n_targets: int, data_dir: str):
    from benchmarks.reproduce_labelcert import multiclass_targets
    from certmodel.pipeline import CertifyConfig, prepare

    dataset, arch, per_class, C, budgets, mode = MULTICLASS[key]
    config = CertifyConfig(dataset=dataset, arch=arch, C=C, labelled_per_class=per_class,
                           seed=0, budgets=budgets, mode=mode, parity=True)
    prep = prepare(config, data_dir)
    rows = multiclass_targets(prep.test_index, prep.y_test, prep.n_classes, n_targets, 0)
    return prep, rows, list(budgets), mode


# ------------------------------------------------------------------------------------------
# runs
# ------------------------------------------------------------------------------------------

def _options(config: str, time_limit: float):
    from certmodel.labelcert import LabelCertOptions

    if config == "search":
        return LabelCertOptions(time_limit=time_limit)
    if config == "split2":
        return LabelCertOptions(time_limit=time_limit, search_workers=2)
    if config == "cut":  # the optimality-cut dual bound (B4) asked for explicitly
        return LabelCertOptions(time_limit=time_limit, cut_bound=True)
    if config == "nocut":  # without (B4): the default before the sixteenth session
        return LabelCertOptions(time_limit=time_limit, cut_bound=False)
    if config == "nopairs":
        return LabelCertOptions(time_limit=time_limit, pair_separation=False)
    return LabelCertOptions(time_limit=time_limit, search="never", samplewise_screen=False,
                            beam_width=0)


def _cpu() -> float:
    """CPU seconds of this process tree: the parts of split searches (``split2``) run in
    processes forked by the multiprocessing forkserver, which reaps them, so
    :func:`cpu_seconds` counts them (with their start-up) in the forkserver's ``cutime``."""
    return cpu_seconds()


def _certify(K, y, K_test, C, budgets, mode, config, time_limit, test_indices=None):
    from certmodel.labelcert import certify

    c0, w0 = _cpu(), time.perf_counter()
    recs = certify(K, y, K_test, C, budgets, mode=mode, options=_options(config, time_limit),
                   test_indices=test_indices)
    cpu, wall = _cpu() - c0, time.perf_counter() - w0
    total = sum(r.wall_time for r in recs) or 1.0
    rows = [dict(test=int(r.test_index), budget=r.budget, verdict=str(r.verdict),
                 path=str(r.path), cpu=cpu * r.wall_time / total, wall=r.wall_time)
            for r in recs]
    return rows, cpu, wall


def run_binary(args, writer) -> list[dict]:
    out = []
    for fam in args.families:
        for n in args.n:
            for rs in args.rowsum:
                inst = binary_instance(fam, n, args.m, rs)
                for config in args.configs:
                    rows, cpu, wall = _certify(inst.K, inst.y, inst.K_test, inst.C,
                                               args.budgets, "samplewise", config,
                                               args.time_limit)
                    for r in rows:
                        r.update(instance=inst.name, family=fam, n=n, rowsum=rs,
                                 config=config, inst_cpu=cpu, inst_wall=wall)
                        writer.writerow(r)
                        out.append(r)
                    dec = sum(r["verdict"] != "unknown" for r in rows)
                    _say(f"[hard] {inst.name:14s} {config:6s} decided {dec}/{len(rows)}  "
                         f"cpu {cpu:7.1f} s  wall {wall:7.1f} s  paths "
                         f"{sorted({r['path'] for r in rows})}")
    return out


def run_collective(args) -> list[dict]:
    """Collective certificates (Thm 2) on the binary grid, budgets ``⌈f·n⌉`` for the papers'
    budget fractions ``f`` (``--collective 0.05,0.1``), both configurations.  A record is
    *exact* when its proven bound on the number of changed predictions equals the count its
    replayed relabelling achieves (``bound == incumbent``)."""
    import math

    out = []
    for fam in args.families:
        for n in args.n:
            for rs in args.rowsum:
                inst = binary_instance(fam, n, args.m, rs)
                budgets = sorted({max(1, math.ceil(f * n)) for f in args.collective})
                for config in args.configs:
                    from certmodel.labelcert import certify

                    c0 = _cpu()
                    recs = certify(inst.K, inst.y, inst.K_test, inst.C, budgets,
                                   mode="collective",
                                   options=_options(config, args.time_limit))
                    cpu = _cpu() - c0
                    total = sum(r.wall_time for r in recs) or 1.0
                    for r in recs:
                        row = dict(instance=inst.name, family=fam, n=n, rowsum=rs,
                                   config=config, budget=r.budget, m=r.n_test,
                                   bound=r.bound, incumbent=r.incumbent,
                                   exact=r.incumbent is not None
                                   and math.floor(r.bound + 1e-6) == r.incumbent,
                                   path=str(r.path), cpu=cpu * r.wall_time / total,
                                   wall=r.wall_time)
                        out.append(row)
                        _say(f"[hard-collective] {inst.name:14s} {config:6s} B={r.budget:<3d} "
                             f"changed ≤ {r.bound:g} (found {r.incumbent}) "
                             f"{'exact' if row['exact'] else 'open'}  {row['path']}  "
                             f"cpu {row['cpu']:.1f} s  wall {row['wall']:.1f} s")
    return out


def _side_by_side(rows: list[dict], columns: list[str], cells) -> list[str]:
    """Markdown table, one line per (family, n, C·rowsum, budget), the configurations side by
    side: ``columns`` per configuration, ``cells(rows of one configuration)`` fills them."""
    groups: dict[tuple, dict[str, list]] = {}
    for r in rows:
        key = (r["family"], int(r["n"]), float(r["rowsum"]), int(r["budget"]))
        groups.setdefault(key, {}).setdefault(r["config"], []).append(r)
    head = ["instance", "n", "C·rowsum", "budget"]
    present = [c for c in CONFIGS if any(r["config"] == c for r in rows)]
    for config in present:
        head += [f"{config}: {columns[0]}"] + columns[1:]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in sorted(groups):
        out = []
        for config in present:
            rs = groups[key].get(config)
            out += cells(rs) if rs else ["–"] * len(columns)
        fam, n, rs_, B = key
        lines.append(f"| {fam} | {n} | {rs_:.3g} | {B} | " + " | ".join(out) + " |")
    return lines


def summarize_collective(rows: list[dict]) -> list[str]:
    """Markdown table of :func:`run_collective` rows, the two configurations side by side."""
    def cells(rs):
        r = rs[0]
        return [f"{float(r['bound']):g} ({r['incumbent']})",
                "yes" if str(r["exact"]) == "True" else "no", r["path"], f"{float(r['cpu']):.2f}"]

    return _side_by_side(rows, ["changed ≤ (found)", "exact", "path", "CPU-s"], cells)


def run_multiclass(args, writer) -> list[dict]:
    out = []
    for key in args.multiclass:
        prep, rows_idx, budgets, mode = multiclass_instance(key, args.targets, args.data_dir)
        K_test = prep.K_test[rows_idx]
        tests = prep.test_index[rows_idx]
        for config in CONFIGS if args.multiclass_old else ("search",):
            rows, cpu, wall = _certify(prep.K_train, prep.y_train, K_test, prep.C, budgets,
                                       mode, config, args.time_limit, tests)
            for r in rows:
                r.update(instance=key, family=mode, n=int(prep.n_labelled), rowsum=float(
                    prep.C * np.abs(prep.K_train).sum(axis=1).max()), config=config,
                    inst_cpu=cpu, inst_wall=wall)
                writer.writerow(r)
                out.append(r)
            dec = sum(r["verdict"] != "unknown" for r in rows)
            _say(f"[hard] {key:14s} {config:6s} decided {dec}/{len(rows)}  cpu {cpu:7.1f} s "
                 f"wall {wall:7.1f} s  ({len(rows_idx)} targets: {cpu / len(rows_idx):.1f} "
                 f"CPU-s per target)  paths {sorted({r['path'] for r in rows})}")
    return out


# ------------------------------------------------------------------------------------------
# summary
# ------------------------------------------------------------------------------------------

def summarize(rows: list[dict]) -> list[str]:
    """Markdown table: per (family, n, rowsum, budget) × config, decided, median/max CPU-s."""
    def cells(rs):
        dec = sum(r["verdict"] != "unknown" for r in rs)
        cpu = [float(r["cpu"]) for r in rs]
        wall = [float(r["wall"]) for r in rs if r.get("wall") not in (None, "")]
        return [f"{dec}/{len(rs)}", f"{statistics.median(cpu):.2f} / {max(cpu):.2f}",
                f"{statistics.median(wall):.2f} / {max(wall):.2f}" if wall else "–"]

    return _side_by_side(rows, ["decided", "CPU-s med / max", "wall-s med / max"], cells)


def _csv(s: str) -> list:
    return [x for x in s.split(",") if x]


def main(argv=None) -> int:
    from benchmarks.instances import DEFAULT_DATA_DIR

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--families", default="csbm,cba,rbf,ntk")
    ap.add_argument("--n", default="60,80,120")
    ap.add_argument("--rowsum", default="2,10")
    ap.add_argument("--budgets", default="4,8")
    ap.add_argument("--m", type=int, default=10)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--multiclass", default="", help="citeseer,coraml")
    ap.add_argument("--multiclass-old", action="store_true",
                    help="also run the old dispatch on the multiclass settings")
    ap.add_argument("--targets", type=int, default=6)
    ap.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    ap.add_argument("--no-binary", action="store_true")
    ap.add_argument("--collective", default="",
                    help="budget fractions of n for collective certificates on the binary "
                         "grid, e.g. 0.05,0.1 (the papers' smallest)")
    ap.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                    help="dispatches to run side by side (search: the default pipeline; old: "
                         "MILP only, no search / screen / beam; split2: the default pipeline "
                         "with search_workers=2; nopairs: without the pair bound; cut: "
                         "(B4) asked for, cut_bound=True; nocut: without (B4), "
                         "cut_bound=False)")
    ap.add_argument("--tag", default=None)
    ap.add_argument("--summarize", nargs="+", default=None, metavar="CSV",
                    help="print the table of earlier result files and exit")
    args = ap.parse_args(argv)
    if args.summarize:
        rows = []
        for p in args.summarize:
            with open(p) as fh:
                rows += list(csv.DictReader(fh))
        _say("\n".join(summarize(rows)))
        return 0
    if args.quick:
        args.families, args.n, args.rowsum, args.budgets = "csbm", "60", "10", "4"
        args.m, args.time_limit = 10, 20.0
    args.families = _csv(args.families)
    args.n = [int(x) for x in _csv(args.n)]
    args.rowsum = [float(x) for x in _csv(args.rowsum)]
    args.budgets = [int(x) for x in _csv(args.budgets)]
    args.multiclass = _csv(args.multiclass)
    args.configs = _csv(args.configs)
    bad = [c for c in args.configs if c not in CONFIGS]
    if bad:
        ap.error(f"--configs: unknown {bad!r}; expected a subset of {list(CONFIGS)}")
    args.collective = [float(x) for x in _csv(args.collective)]
    RESULTS.mkdir(exist_ok=True)
    tag = args.tag or ("quick" if args.quick else time.strftime("%Y%m%d-%H%M%S"))
    path = RESULTS / f"hard_regime_{tag}.csv"
    fields = ["instance", "family", "n", "rowsum", "config", "test", "budget", "verdict",
              "path", "cpu", "wall", "inst_cpu", "inst_wall"]
    c0, w0 = _cpu(), time.perf_counter()
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        rows = [] if args.no_binary else run_binary(args, writer)
        rows += run_multiclass(args, writer)
    coll = run_collective(args) if args.collective else []
    if rows:  # (none with --no-binary and no multiclass settings)
        _say("\n".join(summarize(rows)))
    if coll:
        cpath = RESULTS / f"hard_regime_collective_{tag}.csv"
        with open(cpath, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(coll[0]))
            writer.writeheader()
            writer.writerows(coll)
        _say("\n".join(summarize_collective(coll)))
        _say(f"[hard] collective results in {cpath}")
    _say(f"[hard] results in {path}")
    cpu, wall = _cpu() - c0, time.perf_counter() - w0
    bin_rows = [r for r in rows if r["family"] in ("csbm", "cba", "rbf", "ntk")]
    head = []
    for config in CONFIGS:
        rs = [r for r in bin_rows if r["config"] == config]
        if rs:
            dec = sum(r["verdict"] != "unknown" for r in rs)
            head.append(f"{config}: {dec}/{len(rs)} decided, median "
                        f"{statistics.median(float(r['cpu']) for r in rs):.2f} CPU-s "
                        f"/ {statistics.median(float(r['wall']) for r in rs):.2f}"
                        " wall-s per record")
    for key in args.multiclass:
        for config in CONFIGS:
            ms = [r for r in rows if r["instance"] == key and r["config"] == config]
            if ms:
                per_target: dict = {}
                for r in ms:
                    per_target[r["test"]] = per_target.get(r["test"], 0.0) + float(r["cpu"])
                head.append(f"{key} {config}: {sum(r['verdict'] != 'unknown' for r in ms)}/"
                            f"{len(ms)} decided, median "
                            f"{statistics.median(per_target.values()):.2f} CPU-s per target "
                            f"(max {max(per_target.values()):.2f})")
    for config in CONFIGS:
        cs = [r for r in coll if r["config"] == config]
        if cs:
            head.append(f"collective {config}: {sum(bool(r['exact']) for r in cs)}/{len(cs)} "
                        f"exact, median {statistics.median(r['cpu'] for r in cs):.2f} CPU-s")
    _say(f"HEADLINE hard regime: {'; '.join(head) or 'no binary rows'} "
         f"(total {cpu:.0f} CPU-s, {wall:.0f} s wall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
