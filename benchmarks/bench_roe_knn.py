"""Ensemble baselines: DPA vs DPA+ROE, FA vs FA+ROE, kNN — MCR in flips and as % of n.

Base models as in ``bench_ensemble_experiments`` (kernel ridge regression with the fc NTK on
raw pixels in [0, 1], hash partitions); ROE (Rezaei et al. 2023) re-aggregates the same base
models' logits; kNN (Jia et al. 2022) uses Euclidean distance on the same pixels. Seeded random
subsets of MNIST (``--n-train``, ``--n-test``).

    python benchmarks/bench_roe_knn.py --quick

The last line is the headline. Timings: a 2-core machine shared with 5 other agents.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from benchmarks._timing import cpu_seconds as _cpu  # noqa: E402  (self + solver processes)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--n-train", type=int, default=10000)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--partitions", default="25,50")
    ap.add_argument("--fa-d", type=int, default=2)
    ap.add_argument("--k", default="25,101")
    ap.add_argument("--data-dir", default=os.environ.get("CERTMODEL_DATA",
                                                         str(ROOT.parent / "shared" / "data")))
    args = ap.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test, args.partitions, args.k = 3000, 100, "20", "25"
    from certmodel import datasets
    from certmodel.ensemble import certify_roe_ensemble, knn_certify, median_certified_robustness

    data = datasets.load(args.dataset, data_dir=args.data_dir)
    rng = np.random.default_rng(0)
    tr = rng.choice(len(data.y_train), args.n_train, replace=False)
    te = rng.choice(len(data.y_test), args.n_test, replace=False)
    Xtr = np.asarray(data.X_train[tr], dtype=np.float64).reshape(len(tr), -1) / 255.0
    Xte = np.asarray(data.X_test[te], dtype=np.float64).reshape(len(te), -1) / 255.0
    ytr, yte = np.asarray(data.y_train[tr]), np.asarray(data.y_test[te])
    n = len(ytr)
    print(f"{args.dataset}: n = {n} training, {len(yte)} test points (seeded subsets); "
          "machine shared with 5 other agents", flush=True)
    print("| method | P (k·d) | clean acc. % | MCR flips | MCR % of n | wall s (CPU s) |")
    print("|---|---|---|---|---|---|")
    heads = []
    for P in (int(p) for p in args.partitions.split(",")):
        for d in (1, args.fa_d):
            w0, c0 = time.perf_counter(), _cpu()
            res = certify_roe_ensemble(Xtr, ytr, Xte, partitions=P, d=d, y_test=yte,
                                       n_classes=10)
            wall, cpu = time.perf_counter() - w0, _cpu() - c0
            base = "DPA" if d == 1 else f"FA d={d}"
            size = f"{P}" if d == 1 else f"{P}·{d}"
            for kind, name, pred in (("baseline", base, res.plurality),
                                     ("roe", base + "+ROE", res.prediction)):
                mcr = res.mcr(kind)
                acc = 100 * np.mean(pred == yte)
                print(f"| {name} | {size} | {acc:.1f} | {mcr:g} | {100 * mcr / n:.3f} | "
                      f"{wall:.0f} ({cpu:.0f}) |", flush=True)
                heads.append(f"{name} P={P}: MCR {mcr:g} ({100 * mcr / n:.2f} % of n)")
    for k in (int(v) for v in args.k.split(",")):
        w0, c0 = time.perf_counter(), _cpu()
        res = knn_certify(Xtr, ytr, Xte, k, n_classes=10)
        correct = res.prediction == yte
        mcr = median_certified_robustness(res.radius, correct)
        print(f"| kNN | k={k} | {100 * correct.mean():.1f} | {mcr:g} | {100 * mcr / n:.3f} | "
              f"{time.perf_counter() - w0:.0f} ({_cpu() - c0:.0f}) |", flush=True)
        heads.append(f"kNN k={k}: MCR {mcr:g} ({100 * mcr / n:.2f} % of n)")
    print("headline: " + " | ".join(heads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
