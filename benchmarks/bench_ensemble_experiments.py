"""EnsembleCert experiment grid: white-box vs black-box (DPA, Finite Aggregation) certificates.

For every (dataset, base learner, number of partitions P) it trains a partition-aggregation
ensemble on raw pixels in [0, 1] (or user features) with the ``fc`` NTK and reports clean
accuracy, median certified robustness (MCR) and certified accuracy at a few radii for

* **white-box** EnsembleCert (knapsack over ScaLabelCert per-partition costs),
* **black-box DPA** (vote gap of the same ensemble),
* **black-box FA** (Finite Aggregation with ``k = P`` and a small ``d``: ``k·d`` learners on
  about ``n / P`` points each; skipped for ``P = 1``, where every learner sees all data),

plus wall and CPU times.  Datasets: ``mnist``, ``fashion_mnist``, ``mnist17`` (binary MNIST 1 vs 7,
1 → class 0, 7 → class 1) and ``--features FILE.npz`` (keys ``X_train``, ``y_train``,
``X_test``, ``y_test``).  Base learners: ``krr`` (kernel ridge, ``--lam``) and ``svm`` (the
bias-free SVM in the saturated small-C regime, ``C = 0.5 / max_i Σ_j |K_ij|`` per partition).

Subsampling is explicit: ``--n-train`` / ``--n-test`` draw seeded random subsets (the same for
every P), and a configuration whose partitions would exceed ``--max-part`` points (P = 1 on
full data needs a 60 000 × 60 000 kernel) uses the first ``max_part · P`` points of the same
seeded order; the CSV records the sizes actually used.

Run::

    python -m benchmarks.bench_ensemble_experiments --quick        # a few minutes
    python -m benchmarks.bench_ensemble_experiments --datasets mnist --learners krr \\
        --partitions 50,1000 --tag mnist_full                       # full 60k / 10k

Writes ``benchmarks/results/ensemble_experiments[_TAG].csv`` and ``.md`` (git-ignored).  The
last printed line is the headline.  BLAS runs single-threaded unless ``OPENBLAS_NUM_THREADS``
is set (many small calls; see docs/benchmarks.md).
"""

from __future__ import annotations

import os

# Many small BLAS calls (P = 1000, FA learners): on a shared 2-core machine OpenBLAS's thread
# wake-ups cost ~12 ms per call, so default to one thread (override: OPENBLAS_NUM_THREADS=2).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import csv  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks._timing import Timer  # noqa: E402
from certmodel.ensemble import certify_ensemble, certify_fa_ensemble  # noqa: E402

RADII = (1, 2, 5, 10, 20, 50, 100, 200, 500)
DATASETS = ("mnist", "fashion_mnist", "mnist17")
RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str, data_dir: str):
    """``(X_train, y_train, X_test, y_test)`` as float64 features and integer labels."""
    if name.startswith("file:"):
        with np.load(name[5:], allow_pickle=False) as z:
            missing = [k for k in ("X_train", "y_train", "X_test", "y_test") if k not in z.files]
            if missing:
                raise SystemExit(f"--features {name[5:]}: missing key(s) {', '.join(missing)}")
            return (np.asarray(z["X_train"], float).reshape(len(z["X_train"]), -1),
                    np.asarray(z["y_train"]).astype(np.int64),
                    np.asarray(z["X_test"], float).reshape(len(z["X_test"]), -1),
                    np.asarray(z["y_test"]).astype(np.int64))
    from certmodel import datasets

    base = "mnist" if name == "mnist17" else name
    d = datasets.load(base, data_dir=data_dir)
    Xtr, ytr = np.asarray(d.X_train, float), np.asarray(d.y_train).astype(np.int64)
    Xte, yte = np.asarray(d.X_test, float), np.asarray(d.y_test).astype(np.int64)
    if name == "mnist17":
        ktr, kte = np.isin(ytr, (1, 7)), np.isin(yte, (1, 7))
        Xtr, ytr = Xtr[ktr], (ytr[ktr] == 7).astype(np.int64)
        Xte, yte = Xte[kte], (yte[kte] == 7).astype(np.int64)
    return Xtr, ytr, Xte, yte


def _acc_at(radius, correct, r):
    return float(np.mean(np.where(correct, radius, -1) >= r))


def run_one(Xtr, ytr, Xte, yte, *, P, learner, lam, fa_d, partitioner, K):
    """One configuration -> dict of results (accuracies in %, times in s)."""
    row: dict = {}
    with Timer() as t:
        res = certify_ensemble(Xtr, ytr, Xte, partitions=P, learner=learner, lam=lam,
                               partitioner=partitioner, y_test=yte, n_classes=K)
    row["time_total"], row["cpu_total"] = t.wall, t.cpu
    for key in ("kernel", "base_certificates", "knapsack"):
        row[f"time_{key}"] = res.timings.get(key, float("nan"))
    correct = res.correct
    row["clean_acc"] = 100 * res.clean_accuracy
    row["mcr_whitebox"] = res.mcr("whitebox")
    row["mcr_dpa"] = res.mcr("blackbox")
    for r in RADII:
        row[f"wb_r{r}"] = 100 * _acc_at(res.whitebox_radius, correct, r)
        row[f"dpa_r{r}"] = 100 * _acc_at(res.blackbox_radius, correct, r)
    row["fa_d"] = fa_d if (fa_d and P > 1) else 0
    if row["fa_d"]:
        with Timer() as t:
            fa = certify_fa_ensemble(Xtr, ytr, Xte, k=P, d=fa_d, learner=learner, lam=lam,
                                     partitioner=partitioner, y_test=yte, n_classes=K)
        row["time_fa"], row["cpu_fa"] = t.wall, t.cpu
        row["fa_clean_acc"] = 100 * fa.clean_accuracy
        row["mcr_fa"] = fa.mcr()
        for r in RADII:
            row[f"fa_r{r}"] = 100 * _acc_at(fa.radius, fa.correct, r)
    else:
        row.update(time_fa=float("nan"), cpu_fa=float("nan"), fa_clean_acc=float("nan"),
                   mcr_fa=float("nan"))
        for r in RADII:
            row[f"fa_r{r}"] = float("nan")
    return row


COLUMNS = (["dataset", "learner", "P", "n_train", "n_test", "subsampled", "partitioner", "lam",
            "clean_acc", "mcr_whitebox", "mcr_dpa", "fa_d", "fa_clean_acc", "mcr_fa"]
           + [f"{kind}_r{r}" for kind in ("wb", "dpa", "fa") for r in RADII]
           + ["time_kernel", "time_base_certificates", "time_knapsack", "time_total",
              "time_fa", "cpu_total", "cpu_fa"])


def _fmt(v):
    if isinstance(v, float):
        if np.isnan(v):
            return ""
        return f"{v:.2f}" if v != int(v) or abs(v) > 1e6 else f"{int(v)}"
    return str(v)


def markdown(rows, title: str) -> str:
    out = [f"# {title}", "",
           "| dataset | learner | P | n train / test | clean acc % | MCR white-box | MCR DPA "
           "| FA d | FA acc % | MCR FA | cert. acc @ r=5 wb / DPA / FA % | time s, CPU-s (FA) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sub = "*" if r["subsampled"] else ""
        fa = (f"{r['fa_d']}", _fmt(r["fa_clean_acc"]), _fmt(r["mcr_fa"])) if r["fa_d"] else (
            "–", "–", "–")
        c5 = (f"{r['wb_r5']:.1f} / {r['dpa_r5']:.1f} / "
              + (f"{r['fa_r5']:.1f}" if r["fa_d"] else "–"))
        tfa = f" ({r['time_fa']:.1f}, {r['cpu_fa']:.1f})" if r["fa_d"] else ""
        out.append(f"| {r['dataset']} | {r['learner']} | {r['P']} | {r['n_train']}{sub} / "
                   f"{r['n_test']} | {r['clean_acc']:.2f} | {_fmt(r['mcr_whitebox'])} | "
                   f"{_fmt(r['mcr_dpa'])} | {fa[0]} | {fa[1]} | {fa[2]} | {c5} | "
                   f"{r['time_total']:.1f}, {r['cpu_total']:.1f}{tfa} |")
    out += ["", "`*`: training set subsampled (seeded) below the full dataset.", ""]
    return "\n".join(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="5000 train / 500 test per dataset, FA d = 2 (a few minutes)")
    ap.add_argument("--datasets", default=None,
                    help=f"comma list of {', '.join(DATASETS)} (default: all, or only the "
                    "--features file)")
    ap.add_argument("--features", default=None, help=".npz with X_train, y_train, X_test, y_test")
    ap.add_argument("--learners", default="krr,svm")
    ap.add_argument("--partitions", default="1,10,50,100,1000")
    ap.add_argument("--n-train", type=int, default=None, help="subsample the training set")
    ap.add_argument("--n-test", type=int, default=None, help="subsample the test set")
    ap.add_argument("--max-part", type=int, default=6000,
                    help="largest partition (points); P with n/P above it use max_part*P points")
    ap.add_argument("--fa-d", type=int, default=None, help="FA d (0: no FA; default 4, quick 2)")
    ap.add_argument("--partitioner", choices=("hash", "sorted"), default="sorted")
    ap.add_argument("--lam", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default=None, help="suffix of the output files")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--data-dir", default=os.environ.get("CERTMODEL_DATA", "/work/shared/data"))
    args = ap.parse_args(argv)

    names = args.datasets.split(",") if args.datasets else (
        [] if args.features else list(DATASETS))
    for n in names:
        if n not in DATASETS:
            raise SystemExit(f"unknown dataset {n!r}; expected one of {', '.join(DATASETS)}")
    if args.features:
        names.append(f"file:{args.features}")
    learners = args.learners.split(",")
    for lr in learners:
        if lr not in ("krr", "svm"):
            raise SystemExit(f"unknown learner {lr!r}; expected krr or svm")
    Ps = sorted(int(p) for p in args.partitions.split(","))
    n_train = args.n_train or (5000 if args.quick else None)
    n_test = args.n_test or (500 if args.quick else None)
    fa_d = args.fa_d if args.fa_d is not None else (2 if args.quick else 4)
    tag = args.tag or ("quick" if args.quick else None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "ensemble_experiments" + (f"_{tag}" if tag else "")
    csv_path, md_path = out / f"{stem}.csv", out / f"{stem}.md"
    rows = []
    with Timer() as t_run, open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for name in names:
            Xtr0, ytr0, Xte0, yte0 = load(name, args.data_dir)
            K = int(max(ytr0.max(), yte0.max())) + 1
            rng = np.random.default_rng(args.seed)
            perm = rng.permutation(len(ytr0))
            nt = min(n_train or len(ytr0), len(ytr0))
            J = np.sort(rng.permutation(len(yte0))[:min(n_test or len(yte0), len(yte0))])
            Xte, yte = Xte0[J], yte0[J]
            label = name[5:] if name.startswith("file:") else name
            for learner in learners:
                for P in Ps:
                    n_use = min(nt, args.max_part * P)
                    if P > n_use:
                        print(f"{label} {learner} P={P}: skipped (only {n_use} training points)")
                        continue
                    I = np.sort(perm[:n_use])
                    row = {"dataset": label, "learner": learner, "P": P, "n_train": n_use,
                           "n_test": len(J), "subsampled": n_use < len(ytr0),
                           "partitioner": args.partitioner, "lam": f"{args.lam:g}"}
                    row.update(run_one(Xtr0[I], ytr0[I], Xte, yte, P=P, learner=learner,
                                       lam=args.lam, fa_d=fa_d, partitioner=args.partitioner,
                                       K=K))
                    rows.append(row)
                    w.writerow({k: _fmt(row[k]) if isinstance(row[k], float) else row[k]
                                for k in COLUMNS})
                    fh.flush()
                    fa_txt = (f" FA(d={row['fa_d']}) {row['mcr_fa']:g} ({row['time_fa']:.1f} s, "
                              f"{row['cpu_fa']:.1f} CPU-s)" if row["fa_d"] else "")
                    print(f"{label:14s} {learner} P={P:<5d} n={n_use}/{len(J)} "
                          f"acc {row['clean_acc']:6.2f} %  MCR white-box {row['mcr_whitebox']:g} "
                          f"DPA {row['mcr_dpa']:g}{fa_txt}  {row['time_total']:.1f} s "
                          f"({row['cpu_total']:.1f} CPU-s)",
                          flush=True)
    title = "EnsembleCert experiments" + (f" ({tag})" if tag else "")
    md_path.write_text(markdown(rows, title))
    print(f"wrote {csv_path} and {md_path}")
    print(f"{headline(rows)} [whole run {t_run.wall:.0f} s wall, {t_run.cpu:.0f} CPU-s]")


def headline(rows) -> str:
    """One line: the MNIST KRR row closest to P = 50, and white-box at small P vs DPA at 1000."""
    if not rows:
        return "headline: no configuration ran"
    cand = [r for r in rows if r["dataset"] == "mnist" and r["learner"] == "krr"] or rows
    r = min(cand, key=lambda r: abs(r["P"] - 50))
    txt = (f"headline: {r['dataset']} {r['learner']} P={r['P']} (n={r['n_train']}): acc "
           f"{r['clean_acc']:.1f} %, MCR white-box {r['mcr_whitebox']:g} vs DPA "
           f"{r['mcr_dpa']:g}")
    if r["fa_d"]:
        txt += f" vs FA(d={r['fa_d']}) {r['mcr_fa']:g}"
    txt += f" ({r['time_total']:.1f} s wall, {r['cpu_total']:.1f} CPU-s)"
    big = [x for x in cand if x["P"] == max(c["P"] for c in cand)]
    small = [x for x in cand if x["P"] == 10]
    if big and small and big[0]["P"] > 10:
        txt += (f"; white-box P=10 MCR {small[0]['mcr_whitebox']:g} vs DPA P={big[0]['P']} "
                f"MCR {big[0]['mcr_dpa']:g}")
    return txt


if __name__ == "__main__":
    main()
