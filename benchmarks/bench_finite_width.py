"""Finite-width study: do the kernel certificates describe the networks people train?

For each (dataset, architecture) the finite network is trained by full-batch GD on the
certificate's hinge objective at several widths and seeds (``certmodel.finite``) and compared
with the kernel SVM (agreement of test predictions, relative logit error); with a budget, the
LabelCert verdicts of a fixed target subset are checked on the network by retraining
(``not_robust`` witnesses replayed, greedy retraining attack on ``robust`` targets).

    python benchmarks/bench_finite_width.py --quick            # a few minutes
    python benchmarks/bench_finite_width.py --out benchmarks/results/finite_width
    python benchmarks/bench_finite_width.py --report benchmarks/results/finite_width

Each study is written to ``OUT/<dataset>_<arch>.json`` as soon as it finishes (the JSON of
``certmodel validate --json``); ``--report DIR`` prints the markdown tables of docs/finite-width.md
from those files. Wall and CPU seconds are both reported: the machine this was written on
(2 cores) was shared with five other agents, so wall times are inflated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# (dataset, arch, widths, seeds, budget, n_targets, max_steps)
FULL = [
    ("csbm", "gcn", (128, 512, 2048, 8192), (0, 1), 3, 8, 300),
    ("cora_ml_binary", "gcn", (128, 512, 2048), (0,), 2, 4, 100),
    ("csbm", "sgc", (128, 512, 2048, 8192), (0, 1), 3, 8, 300),
    ("cora_ml_binary", "sgc", (128, 512, 2048), (0,), 2, 4, 100),
    ("csbm", "mlp", (128, 512, 2048, 8192), (0, 1), 3, 8, 300),
    ("cora_ml_binary", "mlp", (128, 512, 2048, 8192), (0,), 2, 4, 1000),
    ("citeseer_binary", "gcn", (128, 512, 2048), (0,), None, 4, 1000),
    ("citeseer_binary", "sgc", (128, 512, 2048), (0,), None, 4, 1000),
    ("citeseer_binary", "mlp", (128, 512, 2048), (0,), None, 4, 1000),
]
QUICK = [
    ("csbm", "gcn", (128, 1024), (0,), 4, 4, 150),
    ("csbm", "sgc", (128, 1024), (0,), 4, 4, 150),
    ("csbm", "mlp", (128, 1024), (0,), 4, 4, 150),
    ("cora_ml_binary", "gcn", (128, 512), (0,), None, 4, 100),
]

from benchmarks._timing import cpu_seconds as _cpu  # noqa: E402  (self + solver processes)
from certmodel.finite.study import LABEL, markdown_table  # noqa: E402


def report(folder: Path) -> str:
    docs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    order = {k: i for i, k in enumerate(LABEL)}
    docs.sort(key=lambda d: (order.get(d["dataset"], 9), ["gcn", "sgc", "mlp"].index(d["arch"])
                             if d["arch"] in ("gcn", "sgc", "mlp") else 9))
    return "\n\n".join(markdown_table(d) for d in docs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small grid, a few minutes")
    ap.add_argument("--out", type=Path, help="folder for one JSON per study")
    ap.add_argument("--report", type=Path, help="print markdown tables from a JSON folder")
    ap.add_argument("--only", help="comma-separated dataset:arch pairs to run")
    ap.add_argument("--data-dir", default=os.environ.get("CERTMODEL_DATA",
                                                         str(ROOT.parent / "shared" / "data")))
    args = ap.parse_args(argv)
    if args.report is not None:
        print(report(args.report))
        return 0
    from certmodel.finite.study import load_task, width_study

    grid = QUICK if args.quick else FULL
    if args.only:
        keep = {tuple(x.split(":")) for x in args.only.split(",")}
        grid = [g for g in grid if (g[0], g[1]) in keep]
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    print("note: timings on a 2-core machine shared with 5 other agents (load average "
          f"{os.getloadavg()[0]:.1f} at start); CPU seconds are this process's user + system "
          "time", flush=True)
    t_wall, t_cpu = time.perf_counter(), _cpu()
    docs = []
    for dataset, arch, widths, seeds, budget, n_targets, max_steps in grid:
        task = load_task(dataset, data_dir=args.data_dir)
        w0, c0 = time.perf_counter(), _cpu()
        print(f"== {dataset} {arch} widths {widths} seeds {seeds} budget {budget}", flush=True)
        res = width_study(task, arch, widths, seeds=seeds, budget=budget, n_targets=n_targets,
                          max_steps=max_steps, log=lambda s: print("  " + s, flush=True))
        doc = res.to_dict()
        doc["wall_s"], doc["cpu_s"] = time.perf_counter() - w0, _cpu() - c0
        docs.append(doc)
        if args.out is not None:
            (args.out / f"{dataset}_{arch}.json").write_text(json.dumps(doc, indent=1))
        print(markdown_table(doc) + f"\n\n({doc['wall_s']:.0f} s wall, {doc['cpu_s']:.0f} s CPU)\n",
              flush=True)
    heads = []
    for d in docs:
        top = d["summary"][-1]
        h = (f"{LABEL[d['dataset']]} {d['arch']}: h={top['width']} agree "
             f"{100 * top['agreement']:.1f} %, rel.err {top['rel_logit_error']:.3f}, 99 % from "
             f"{d['agreement_width'] or 'not reached'}")
        if d["budget"] is not None:
            h += f", NR flips {top['nr_flipped']}/{top['nr_total']}, R attacked " \
                 f"{top['robust_attacked']}/{top['robust_total']}"
        heads.append(h)
    print(f"total {time.perf_counter() - t_wall:.0f} s wall, {_cpu() - t_cpu:.0f} s CPU "
          "(machine loaded by 6 agents)")
    print("headline: " + " | ".join(heads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
