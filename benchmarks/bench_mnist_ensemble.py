"""End-to-end EnsembleCert on MNIST: P partitions of KRR base learners on the fc NTK.

Loads MNIST (784 raw pixels in [0, 1]), runs
``certify_ensemble(X_train, y_train, X_test, partitions=P, learner="krr")`` and prints the
per-stage wall times, clean accuracy and the median certified robustness (MCR) of the
white-box (EnsembleCert knapsack) and black-box (DPA vote-gap) radii.

Run::

    python benchmarks/bench_mnist_ensemble.py --quick   # 10k train / 1k test, P = 50
    python benchmarks/bench_mnist_ensemble.py           # 60k train / 10k test, P = 50

Data: ``--data-dir`` (default ``$CERTMODEL_DATA`` or ``/work/shared/data``).  The last line
is the headline, e.g. ``MNIST P=50: 95.1 s end to end, MCR white-box 3 vs DPA 2``.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from certmodel import datasets
from certmodel.ensemble import certify_ensemble

try:
    from benchmarks._timing import Timer
except ImportError:  # run as a script: python benchmarks/bench_mnist_ensemble.py
    from _timing import Timer


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k train / 1k test subsample")
    ap.add_argument("--partitions", "-P", type=int, default=50)
    ap.add_argument("--n-train", type=int, default=None)
    ap.add_argument("--n-test", type=int, default=None)
    ap.add_argument("--lam", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=os.environ.get("CERTMODEL_DATA", "/work/shared/data"))
    args = ap.parse_args(argv)

    with Timer() as load:
        d = datasets.load("mnist", data_dir=args.data_dir)
        X_train, y_train = np.asarray(d.X_train, float), np.asarray(d.y_train)
        X_test, y_test = np.asarray(d.X_test, float), np.asarray(d.y_test)
        n_train = args.n_train or (10_000 if args.quick else X_train.shape[0])
        n_test = args.n_test or (1_000 if args.quick else X_test.shape[0])
        rng = np.random.default_rng(args.seed)
        if n_train < X_train.shape[0]:
            I = np.sort(rng.choice(X_train.shape[0], n_train, replace=False))
            X_train, y_train = X_train[I], y_train[I]
        if n_test < X_test.shape[0]:
            J = np.sort(rng.choice(X_test.shape[0], n_test, replace=False))
            X_test, y_test = X_test[J], y_test[J]
    P = args.partitions
    print(f"MNIST: {X_train.shape[0]} train x {X_test.shape[0]} test, d = {X_train.shape[1]}, "
          f"P = {P}, KRR lam = {args.lam}  (load {load.wall:.1f} s, {load.cpu:.1f} CPU-s)",
          flush=True)

    with Timer() as run:
        res = certify_ensemble(X_train, y_train, X_test, partitions=P, learner="krr",
                               y_test=y_test, n_classes=10, lam=args.lam)
    tm = res.timings
    for k in ("partition", "kernel", "base_certificates", "knapsack", "total"):
        print(f"  {k:18s} {tm.get(k, float('nan')):8.2f} s")
    print(f"  certify_ensemble   {run.wall:8.2f} s wall, {run.cpu:.2f} CPU-s")
    wb, bb = res.mcr("whitebox"), res.mcr("blackbox")
    print(f"  clean accuracy     {100 * res.clean_accuracy:8.2f} %")
    fin = np.isfinite(res.whitebox_radius)
    print(f"  mean radius        white-box {res.whitebox_radius[fin].mean():.2f}   "
          f"DPA {res.blackbox_radius.mean():.2f}")
    for r in (1, 2, 5, 10):
        cw = res.curve([r], "whitebox")[1][0]
        cb = res.curve([r], "blackbox")[1][0]
        print(f"  certified acc r={r:<3d} white-box {100 * cw:6.2f} %   DPA {100 * cb:6.2f} %")
    print(f"MNIST P={P}: {tm['total']:.1f} s end to end, {run.cpu:.1f} CPU-s "
          f"({X_train.shape[0]}/{X_test.shape[0]}), "
          f"MCR white-box {wb:g} vs DPA {bb:g}")


if __name__ == "__main__":
    main()
