"""NTK build rate against the machine's float64 dgemm rate.

For each graph (Cora-ML LCC, 2810 nodes, and Citeseer LCC, 2110 nodes; ``--quick``: Cora-MLb,
1235 nodes) and architecture (default GCN, depth 1, row normalisation) the script times
``certmodel.kernels.ntk`` (best of ``--repeats``; default and parity mode) and converts the time
into a **dense-equivalent GFLOP/s**: the flops the kernel recursion would cost with dense
matrices, as the reference computes it (labelcert-spec §3.2),

* ``G = X Xᵀ``: ``2 N² d``;
* every ``S M Sᵀ`` sandwich: ``4 N³`` — GCN (depth L) has ``Σ⁽⁰⁾`` plus, per layer, the
  ``Θ`` and the ``Σ`` sandwich: ``4 N³ (1 + 2L)``; SGC the same count.

The yardstick is numpy's float64 matmul (BLAS dgemm) on this machine, measured on the same
shapes: ``(N × N)(N × N)`` and ``(N × d)(d × N)``.  ``ratio = NTK rate / dgemm rate``; above
1 means the package beats a dense implementation (it propagates with the sparse S, so the
N³ terms cost ``O(nnz(S)·N)``, and the elementwise ReLU expectations are not counted).

Run::

    .venv/bin/python -m benchmarks.bench_ntk_rate --quick     # Cora-MLb, 1 repeat (~10 s)
    .venv/bin/python -m benchmarks.bench_ntk_rate             # Cora-ML + Citeseer LCC

Data: ``--data-dir`` (default ``$CERTMODEL_DATA`` or ``/work/shared/data``).  Writes
``benchmarks/results/ntk_rate[_quick].md``; the last line printed is the headline.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from benchmarks._timing import Timer

RESULTS = Path(__file__).resolve().parent / "results"
GRAPHS = {"cora_ml": "Cora-ML LCC", "citeseer": "Citeseer LCC", "cora_ml_binary": "Cora-MLb"}


def ntk_flops(arch: str, N: int, d: int, depth: int = 1) -> float:
    """Dense-equivalent flops of the GCN/SGC NTK recursion (see the module docstring)."""
    if arch not in ("gcn", "sgc"):
        raise ValueError(f"flop count defined for gcn and sgc only, got {arch!r}")
    return 2.0 * N * N * d + 4.0 * N ** 3 * (1 + 2 * depth)


def best_time(fn, repeats: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest (by wall time) of ``repeats`` calls."""
    best = (np.inf, np.inf)
    for _ in range(repeats):
        with Timer() as t:
            fn()
        best = min(best, (t.wall, t.cpu))
    return best


def dgemm_rate(N: int, d: int, repeats: int) -> tuple[float, float]:
    """GFLOP/s of float64 matmul for ``(N×N)(N×N)`` and ``(N×d)(d×N)`` (best of repeats)."""
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((N, N)), rng.standard_normal((N, N))
    X = rng.standard_normal((N, d))
    t_sq, _ = best_time(lambda: A @ B, repeats)
    t_x, _ = best_time(lambda: X @ X.T, repeats)
    return 2.0 * N ** 3 / t_sq / 1e9, 2.0 * N * N * d / t_x / 1e9


def measure(graph: str, arch: str, repeats: int, data_dir: str) -> list[dict]:
    from certmodel import datasets, kernels

    g = datasets.load(graph, data_dir=data_dir)
    X = g.X.toarray() if hasattr(g.X, "toarray") else np.asarray(g.X, dtype=np.float64)
    N, d = X.shape
    flops = ntk_flops(arch, N, d)
    sq, xx = dgemm_rate(N, d, repeats)
    # dgemm time of the same flop mix: the Gram at the (N×d)(d×N) rate, the rest at N×N×N
    t_dense = 2.0 * N * N * d / (xx * 1e9) + (flops - 2.0 * N * N * d) / (sq * 1e9)
    rows = []
    for parity in (False, True):
        kernels.ntk(arch, X, g.A, parity=parity)          # warm-up (imports, page faults)
        t, cpu = best_time(lambda p=parity: kernels.ntk(arch, X, g.A, parity=p), repeats)
        rows.append({"graph": GRAPHS.get(graph, graph), "arch": arch, "N": N, "d": d,
                     "nnz_A": int(g.A.nnz), "parity": parity, "seconds": t, "cpu": cpu,
                     "gflop": flops / 1e9, "rate": flops / t / 1e9, "dgemm_nn": sq,
                     "dgemm_nd": xx, "dense_s": t_dense, "ratio": t_dense / t})
    return rows


def markdown(rows: list[dict], meta: str) -> str:
    lines = [meta, "",
             "| graph | arch | N | d | mode | NTK s (CPU-s) | dense-equiv. GFLOP | "
             "NTK GFLOP/s-equiv. | "
             "dgemm GFLOP/s (N×N·N×N / N×d·d×N) | dgemm time of the same flops s | "
             "NTK / dgemm rate |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['graph']} | {r['arch']} | {r['N']} | {r['d']} | "
            f"{'parity' if r['parity'] else 'default'} | {r['seconds']:.2f} ({r['cpu']:.2f}) | "
            f"{r['gflop']:.0f} | "
            f"{r['rate']:.1f} | {r['dgemm_nn']:.1f} / {r['dgemm_nd']:.1f} | "
            f"{r['dense_s']:.2f} | {r['ratio']:.2f}× |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="Cora-MLb only, 1 repeat")
    ap.add_argument("--graphs", default=None,
                    help=f"comma list of {', '.join(GRAPHS)} (default cora_ml,citeseer)")
    ap.add_argument("--archs", default="gcn", help="comma list of gcn, sgc")
    ap.add_argument("--repeats", type=int, default=None, help="timing repeats (default 3)")
    ap.add_argument("--data-dir", default=os.environ.get("CERTMODEL_DATA", "/work/shared/data"))
    args = ap.parse_args(argv)
    graphs = (args.graphs or ("cora_ml_binary" if args.quick else "cora_ml,citeseer")).split(",")
    repeats = args.repeats or (1 if args.quick else 3)

    from benchmarks.bench_labelcert import machine, revision

    blas_threads = os.environ.get("OMP_NUM_THREADS") or os.environ.get("OPENBLAS_NUM_THREADS")
    meta = (f"Run `python -m benchmarks.bench_ntk_rate {' '.join(argv or sys.argv[1:])}` on "
            f"{machine()} ({revision()}), numpy {np.__version__}, BLAS threads "
            f"{blas_threads or 'default'}; best of {repeats}.")
    rows = []
    for graph in graphs:
        for arch in args.archs.split(","):
            rows.extend(measure(graph, arch, repeats, args.data_dir))
            r = rows[-2]
            print(f"{r['graph']} {arch}: {r['seconds']:.2f} s ({r['cpu']:.2f} CPU-s) = "
                  f"{r['rate']:.1f} GFLOP/s-equiv. "
                  f"vs dgemm {r['dgemm_nn']:.1f} GFLOP/s", flush=True)
    text = markdown(rows, meta)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("ntk_rate_quick.md" if args.quick else "ntk_rate.md")).write_text(text + "\n")
    print(text)
    big = max((r for r in rows if not r["parity"]), key=lambda r: r["N"])
    print(f"Headline: {big['graph']} {big['arch']} NTK (N = {big['N']}) built in "
          f"{big['seconds']:.2f} s wall ({big['cpu']:.2f} CPU-s) = {big['rate']:.1f} GFLOP/s "
          f"dense-equivalent, "
          f"{big['ratio']:.2f}× the float64 dgemm rate ({big['dgemm_nn']:.1f} GFLOP/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
