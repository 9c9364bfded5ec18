"""Reproduce the LabelCert paper's certified ratios (ICLR 2025; protocol of labelcert-spec §6).

Settings (datasets × certificate modes), each for every architecture and seed:

==========================  ==========================================================
``csbm``, samplewise        CSBM n = 200, 20 + 20 labelled (n = 40), all 160 other nodes
``csbm``, collective        same, one collective certificate over the 160 test nodes
``coramlb``, samplewise     Cora-MLb (top-two classes of Cora-ML), n_per_class 5 (n = 20),
                            every non-labelled node (1215)
``coramlb``, collective     same, 50 random test nodes (``PCG64(seed).choice``)
``citeseerb``, …            Citeseerb, as Cora-MLb
``citeseer``, multiclass    Citeseer LCC (6 classes), n_per_class 10 (n = 120), 50
                            class-balanced targets (spec §1.3); exact certificate
``citeseer``, multiclass-   same, the inexact (decoupled one-vs-rest) certificate
inexact
==========================  ==========================================================

Budgets are the spec's δ grids (§6.1) with ``B = int(δ·n)`` (§5.6); C per architecture and
data set is the spec's table §6.2 (:data:`ARCHS`); kernels use the reference-parity NTK
(``parity=True``: min-clipping, …) and the certificates parity's ``eps = 0`` (pipeline
convention).  Seeds 0–4 (binary) and 0–2 (multiclass) by default; seed = data seed = split seed.

Every (setting, arch, seed) result is one JSON line in ``--out`` (default
``benchmarks/results/reproduce_labelcert.jsonl``); lines already there (same setting, arch,
seed and time limit) are skipped, so an interrupted run resumes where it stopped.  At the end
a markdown summary (mean ± std over seeds per data set / arch / budget) is written next to it
(``.md``) and printed; its last line is the headline.

**Unknown verdicts** (MILP time-outs) are never counted as robust: the certified ratio is a
lower bound and the fraction of unknown test nodes is reported beside it (collective: the
nodes between the proven bound and the replayed attack, ``floor(bound) − incumbent``).

Run::

    .venv/bin/python -m benchmarks.reproduce_labelcert --quick        # minutes, seed 0
    .venv/bin/python -m benchmarks.reproduce_labelcert                # everything (hours)
    .venv/bin/python -m benchmarks.reproduce_labelcert --datasets coramlb,citeseerb \\
        --modes samplewise --archs gcn,sgc --seeds 0,1,2 --time-limit 60
    .venv/bin/python -m benchmarks.reproduce_labelcert --summarize     # table from the JSONL

Data: ``--data-dir`` (default ``$CERTMODEL_DATA`` or ``/work/shared/data``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_OUT = RESULTS / "reproduce_labelcert.jsonl"
QUICK_OUT = RESULTS / "reproduce_labelcert_quick.jsonl"

# ------------------------------------------------------------------------------------------
# the protocol (labelcert-spec §6)
# ------------------------------------------------------------------------------------------

BINARY_GRID = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1.0)      # Cora-MLb, Citeseerb
CSBM_GRID = (0.03, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 1.0)       # CSBM 20 + 20
MULTICLASS_GRID = (0.01, 0.02, 0.03, 0.05, 0.1)                     # Citeseer


@dataclasses.dataclass(frozen=True)
class DataSetting:
    key: str            # CLI name
    dataset: str        # certmodel.datasets name
    label: str          # as in the paper
    per_class: int | None
    grid: tuple
    modes: tuple
    collective_test: int | None = None   # collective: random subsample of the test nodes
    targets: int | None = None           # multiclass: class-balanced targets
    seeds: tuple = (0, 1, 2, 3, 4)


DATA = {d.key: d for d in (
    DataSetting("csbm", "csbm", "CSBM", None, CSBM_GRID, ("samplewise", "collective")),
    DataSetting("coramlb", "cora_ml_binary", "Cora-MLb", 5, BINARY_GRID,
                ("samplewise", "collective"), collective_test=50),
    DataSetting("citeseerb", "citeseer_binary", "Citeseerb", 5, BINARY_GRID,
                ("samplewise", "collective"), collective_test=50),
    DataSetting("citeseer", "citeseer", "Citeseer", 10, MULTICLASS_GRID,
                ("multiclass", "multiclass-inexact"), targets=50, seeds=(0, 1, 2)),
)}
ALL_MODES = ("samplewise", "collective", "multiclass", "multiclass-inexact")


@dataclasses.dataclass(frozen=True)
class ArchSetting:
    name: str           # report name
    arch: str           # certmodel.kernels architecture
    C: float
    options: tuple = ()  # (key, value) pairs of arch options
    normalization: str | None = None

    @property
    def arch_options(self) -> dict:
        return dict(self.options)


def _a(name, arch, C, normalization=None, **options) -> ArchSetting:
    return ArchSetting(name, arch, C, tuple(sorted(options.items())), normalization)


ARCH_ORDER = ("gcn", "sgc", "appnp", "gin", "graphsage", "skip_alpha", "skip_pc", "mlp")
# spec §6.2 (the C of the reference's certification configs); "skip" = the linear skip branch
ARCHS: dict[str, dict[str, ArchSetting]] = {
    "csbm": {
        "gcn": _a("gcn", "gcn", 0.001), "sgc": _a("sgc", "sgc", 0.001),
        "appnp": _a("appnp", "appnp", 0.001, alpha=0.3), "gin": _a("gin", "gin", 0.001),
        "graphsage": _a("graphsage", "graphsage", 0.001),
        "skip_alpha": _a("skip_alpha", "gcn_skip_alpha", 0.001, "row", alpha=0.1),
        "skip_pc": _a("skip_pc", "gcn_skip_pc", 0.001), "mlp": _a("mlp", "mlp", 0.001),
    },
    "coramlb": {
        "gcn": _a("gcn", "gcn", 0.075), "sgc": _a("sgc", "sgc", 0.075),
        # the spec lists the APPNP α sweep (0, .1, .2, .3, .5); α = 0.1 is our pick
        "appnp": _a("appnp", "appnp", 0.25, alpha=0.1), "gin": _a("gin", "gin", 0.025),
        "graphsage": _a("graphsage", "graphsage", 0.0075),
        "skip_alpha": _a("skip_alpha", "gcn_skip_alpha", 0.1, alpha=0.1),
        "skip_pc": _a("skip_pc", "gcn_skip_pc", 0.075), "mlp": _a("mlp", "mlp", 0.025),
    },
    "citeseerb": {
        "gcn": _a("gcn", "gcn", 0.75), "sgc": _a("sgc", "sgc", 2.5),
        "appnp": _a("appnp", "appnp", 0.5, alpha=0.2), "gin": _a("gin", "gin", 0.005),
        "graphsage": _a("graphsage", "graphsage", 0.025),
        "skip_alpha": _a("skip_alpha", "gcn_skip_alpha", 0.25, alpha=0.3),
        "skip_pc": _a("skip_pc", "gcn_skip_pc", 0.075), "mlp": _a("mlp", "mlp", 0.025),
    },
    "citeseer": {   # multiclass configs exist only for these four
        "gcn": _a("gcn", "gcn", 1e-4), "sgc": _a("sgc", "sgc", 1e-4),
        "skip_alpha": _a("skip_alpha", "gcn_skip_alpha", 1e-4, alpha=0.5),
        "skip_pc": _a("skip_pc", "gcn_skip_pc", 1e-4),
    },
}

QUICK = dict(seeds=(0,), archs=("gcn", "sgc"), datasets=("csbm", "coramlb"),
             modes=("samplewise", "collective"), time_limit=10.0)


# ------------------------------------------------------------------------------------------
# one (setting, arch, seed)
# ------------------------------------------------------------------------------------------

def _say(*a):
    print(*a, flush=True)


def multiclass_targets(test_index: np.ndarray, y_test: np.ndarray, n_classes: int,
                       n_targets: int, seed: int) -> np.ndarray:
    """Rows of the test set certified in the multiclass runs (spec §1.3).

    Target ``i`` (0..n_targets−1) is of class ``c = i mod K``: the ``i div K``-th node of a
    fresh ``PCG64(seed)`` permutation of the non-labelled nodes of class c (in the
    reference's ``concat(unlabeled, test)`` order).
    """
    rows = []
    for i in range(n_targets):
        c = i % n_classes
        cand = np.flatnonzero(y_test == c)
        perm = np.random.Generator(np.random.PCG64(seed)).permutation(test_index[cand])
        node = perm[i // n_classes]
        rows.append(int(np.flatnonzero(test_index == node)[0]))
    return np.asarray(rows)


def _samplewise_rows(records, y_true, budget_of: dict) -> list[dict]:
    from certmodel.results import Verdict

    by_b: dict[int, list] = {}
    for r in records:
        by_b.setdefault(r.budget, []).append(r)
    rows = []
    for frac, B in budget_of.items():
        rs = by_b[B]
        m = len(rs)
        robust = sum(r.verdict is Verdict.ROBUST for r in rs)
        unknown = sum(r.verdict is Verdict.UNKNOWN for r in rs)
        rows.append({
            "fraction": frac, "budget": B, "n": m, "robust": robust,
            "not_robust": sum(r.verdict is Verdict.NOT_ROBUST for r in rs), "unknown": unknown,
            "certified_ratio": robust / m, "unknown_ratio": unknown / m,
            "certified_accuracy": sum(r.verdict is Verdict.ROBUST
                                      and r.prediction == y_true[r.test_index] for r in rs) / m,
            "paths": dict(Counter(f"{r.path.value}:{r.verdict.value}" for r in rs)),
            "wall_time": sum(r.wall_time for r in rs),
        })
    return rows


def _collective_rows(records, budget_of: dict) -> list[dict]:
    """Per-budget rows of collective records, tightened by monotonicity in the budget.

    A relabelling within ``B`` is within every ``B' > B`` (the replayed attack count carries
    up) and a proven bound at ``B'`` bounds every ``B < B'`` (the certified count carries
    down); both only use proven facts.
    """
    by_b = {r.budget: r for r in records}
    bs = sorted(by_b)
    attacked = {}
    run = 0
    for B in bs:
        run = max(run, by_b[B].incumbent or 0)
        attacked[B] = run
    certified = {}
    run = 0
    for B in reversed(bs):
        run = max(run, by_b[B].certified_count)
        certified[B] = run
    rows = []
    for frac, B in budget_of.items():
        r = by_b[B]
        m = r.n_test
        unknown = max(0, m - certified[B] - attacked[B])
        rows.append({
            "fraction": frac, "budget": B, "n": m, "robust": certified[B],
            "not_robust": attacked[B], "unknown": unknown,
            "certified_ratio": certified[B] / m, "unknown_ratio": unknown / m,
            "certified_accuracy": None, "paths": {f"{r.path.value}:{r.method}": 1},
            "bound": r.bound, "solver_status": r.solver_status, "wall_time": r.wall_time,
        })
    return rows


def _collective(prep, budgets, time_limit, saturated) -> list:
    """Collective records, one per budget.

    Saturated regime (every α = C, so ``f = C K_test y``, spec §4): the label-linear
    ScaLabelCert MILP, which is exact there and far smaller than the KKT MILP (the package's
    collective LabelCert path has no saturated shortcut).  Otherwise the package's collective
    LabelCert (exact enumeration of the relabellings where cheap, the KKT MILP above).
    """
    from certmodel.pipeline import certify_arrays

    if saturated:
        from certmodel.scalabel import certify_collective

        return [certify_collective(prep.C * prep.K_test, prep.y_train, int(B),
                                   test_indices=prep.test_index, time_limit=time_limit)
                for B in budgets]
    return certify_arrays(prep.K_train, prep.y_train, prep.K_test, prep.C, budgets,
                          mode="collective", time_limit=time_limit, eps=0.0,
                          test_indices=prep.test_index)


def run_one(data_key: str, mode: str, arch: ArchSetting, seed: int, time_limit: float,
            data_dir: str) -> dict:
    """Certify one (setting, arch, seed); returns the JSON-able result line."""
    from certmodel.datasets import budget_from_fraction
    from certmodel.learners import is_saturated
    from certmodel.pipeline import CertifyConfig, certify_arrays, package_version, prepare

    ds = DATA[data_key]
    t0 = time.perf_counter()
    max_test = ds.collective_test if mode == "collective" else None
    config = CertifyConfig(
        dataset=ds.dataset, arch=arch.arch, normalization=arch.normalization,
        arch_options=arch.arch_options, C=arch.C, labelled_per_class=ds.per_class, seed=seed,
        budget_fractions=ds.grid, mode=mode, time_limit=time_limit, max_test=max_test,
        parity=True)
    prep = prepare(config, data_dir)
    n = prep.n_labelled
    budget_of = {f: budget_from_fraction(f, n) for f in ds.grid}
    budgets = sorted(set(budget_of.values()))
    if ds.targets is not None:
        rows = multiclass_targets(prep.test_index, prep.y_test, prep.n_classes, ds.targets,
                                  seed)
        prep = dataclasses.replace(prep, K_test=prep.K_test[rows],
                                   test_index=prep.test_index[rows], y_test=prep.y_test[rows],
                                   prediction=prep.prediction[rows],
                                   clean_margin=prep.clean_margin[rows])
    saturated = bool(is_saturated(prep.K_train, prep.C))
    t1 = time.perf_counter()
    if mode == "collective":
        records = _collective(prep, budgets, time_limit, saturated)
        rows = _collective_rows(records, budget_of)
    else:
        records = certify_arrays(prep.K_train, prep.y_train, prep.K_test, prep.C, budgets,
                                 mode=mode, time_limit=time_limit, eps=0.0,
                                 test_indices=prep.test_index)
        y_true = {int(t): int(v) for t, v in zip(prep.test_index, prep.y_test)}
        rows = _samplewise_rows(records, y_true, budget_of)
    t2 = time.perf_counter()
    return {
        "setting": f"{data_key}/{mode}", "dataset": data_key, "mode": mode, "arch": arch.name,
        "kernel_arch": arch.arch, "arch_options": arch.arch_options,
        "normalization": arch.normalization, "seed": seed, "C": arch.C,
        "time_limit": time_limit, "n_labelled": n, "n_test": int(prep.test_index.size),
        "clean_accuracy": float(np.mean(prep.prediction == prep.y_test)),
        "c_rowsum": float(arch.C * np.abs(prep.K_train).sum(axis=1).max()),
        "saturated": saturated, "rows": rows, "prepare_s": t1 - t0, "certify_s": t2 - t1,
        "version": package_version(), "date": time.strftime("%Y-%m-%d %H:%M"),
    }


# ------------------------------------------------------------------------------------------
# results file and summary
# ------------------------------------------------------------------------------------------

def _key(d: dict) -> tuple:
    return (d["dataset"], d["mode"], d["arch"], int(d["seed"]), float(d["time_limit"]))


def read_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def _ms(xs: list[float], scale: float = 100.0, nd: int = 1) -> str:
    xs = [scale * x for x in xs if x is not None]
    if not xs:
        return "—"
    if len(xs) == 1:
        return f"{xs[0]:.{nd}f}"
    return f"{statistics.fmean(xs):.{nd}f} ± {statistics.stdev(xs):.{nd}f}"


def _latest(results: list[dict]) -> dict[tuple, dict]:
    """One result per (dataset, mode, arch, seed): the one with the longest time limit."""
    best: dict[tuple, dict] = {}
    for d in results:
        k = _key(d)[:4]
        if k not in best or d["time_limit"] >= best[k]["time_limit"]:
            best[k] = d
    return best


def summary_markdown(results: list[dict]) -> tuple[str, list[str]]:
    """Markdown tables (mean ± std over seeds) and the list of headline facts."""
    best = _latest(results)
    lines: list[str] = []
    groups: dict[tuple, list[dict]] = {}
    for (ds, mode, _arch, _seed), d in best.items():
        groups.setdefault((ds, mode), []).append(d)
    order = [(ds, m) for ds in DATA for m in ALL_MODES if (ds, m) in groups]
    for ds, mode in order:
        runs = groups[(ds, mode)]
        lines.append(f"### {DATA[ds].label} — {mode}")
        lines.append("")
        n, m = runs[0]["n_labelled"], runs[0]["n_test"]
        tl = sorted({r["time_limit"] for r in runs})
        lines.append(f"n = {n} labelled, {m} test nodes per seed; time limit "
                     f"{', '.join(f'{t:g}' for t in tl)} s per MILP. Certified ratio "
                     "(% of test nodes, a lower bound) / unknown % (undecided, never counted "
                     "robust)" + ("" if mode == "collective" else " / certified accuracy %")
                     + "; mean ± std over the seeds listed.")
        lines.append("")
        fracs = [row["fraction"] for row in runs[0]["rows"]]
        budgets = [row["budget"] for row in runs[0]["rows"]]
        head = "| arch | C | seeds | clean acc % | " + " | ".join(
            f"δ={f:g} (B={b})" for f, b in zip(fracs, budgets)) + " |"
        lines.append(head)
        lines.append("|" + "---|" * (4 + len(fracs)))
        by_arch: dict[str, list[dict]] = {}
        for r in runs:
            by_arch.setdefault(r["arch"], []).append(r)
        for arch in sorted(by_arch, key=lambda a: ARCH_ORDER.index(a)):
            rs = sorted(by_arch[arch], key=lambda r: r["seed"])
            cells = []
            for j in range(len(fracs)):
                cr = [r["rows"][j]["certified_ratio"] for r in rs]
                un = [r["rows"][j]["unknown_ratio"] for r in rs]
                cell = _ms(cr)
                if any(u > 0 for u in un):
                    cell = "≥ " + cell + f" (unk {100 * statistics.fmean(un):.1f})"
                if mode != "collective":
                    cell += " / " + _ms([r["rows"][j]["certified_accuracy"] for r in rs])
                cells.append(cell)
            seeds = ",".join(str(r["seed"]) for r in rs)
            sat = " (sat.)" if all(r["saturated"] for r in rs) else ""
            lines.append(f"| {arch} | {rs[0]['C']:g}{sat} | {seeds} | "
                         f"{_ms([r['clean_accuracy'] for r in rs])} | " + " | ".join(cells)
                         + " |")
        lines.append("")
        paths: Counter = Counter()
        for r in runs:
            for row in r["rows"]:
                paths.update(row["paths"])
        lines.append("Decided by: " + ", ".join(f"{k} {v}" for k, v in sorted(paths.items()))
                     + f". Certify time: {sum(r['certify_s'] for r in runs):.0f} s in total.")
        lines.append("")
    return "\n".join(lines), headline_facts(best)


def _mean_ratio(best, ds, mode, arch, j) -> tuple[float, float, int] | None:
    xs = [d["rows"][j]["certified_ratio"] for k, d in best.items()
          if k[0] == ds and k[1] == mode and k[2] == arch]
    if not xs:
        return None
    return (100 * statistics.fmean(xs), 100 * statistics.stdev(xs) if len(xs) > 1 else 0.0,
            len(xs))


def headline_facts(best: dict) -> list[str]:
    facts = []
    g = _mean_ratio(best, "coramlb", "collective", "gcn", 0)
    if g is not None:
        facts.append(f"Cora-MLb GCN collective δ=0.05: {g[0]:.1f} ± {g[1]:.1f} % "
                     f"({g[2]} seeds; paper 86.4 ± 6.1)")
    for mode in ("collective", "samplewise"):
        s = _mean_ratio(best, "csbm", mode, "sgc", 2)
        g = _mean_ratio(best, "csbm", mode, "gcn", 2)
        if s is not None and g is not None:
            facts.append(f"CSBM {mode} δ=0.1: SGC − GCN = {s[0] - g[0]:+.1f} points "
                         f"(paper: +34.3)")
    return facts


def write_summary(path: Path, results: list[dict], meta: str) -> str:
    body, facts = summary_markdown(results)
    head = "**Headline:** " + ("; ".join(facts) if facts else "no anchored setting run")
    text = meta + "\n\n" + body + "\n" + head + "\n"
    path.with_suffix(".md").write_text(text)
    return text


# ------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------

def _csv(s: str | None) -> list[str] | None:
    return None if s is None else [x.strip() for x in s.split(",") if x.strip()]


def plan(datasets, modes, archs, seeds) -> list[tuple[str, str, ArchSetting, int]]:
    """The (data set, mode, arch, seed) runs asked for: every setting for the first seed, then
    every setting for the next seed, ... (so a cut-off run has whole seeds)."""
    todo = []
    for pos in range(max(len(d.seeds) for d in DATA.values()) if seeds is None else len(seeds)):
        for ds in datasets:
            ds_seeds = DATA[ds].seeds if seeds is None else seeds
            if pos >= len(ds_seeds):
                continue
            for mode in DATA[ds].modes:
                if mode in modes:
                    todo.extend((ds, mode, ARCHS[ds][a], ds_seeds[pos])
                                for a in ARCH_ORDER if a in archs and a in ARCHS[ds])
    return todo


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="seed 0, GCN and SGC, CSBM and Cora-MLb, 10 s per MILP (minutes)")
    ap.add_argument("--datasets", help=f"comma list of {', '.join(DATA)} (default all)")
    ap.add_argument("--modes", help=f"comma list of {', '.join(ALL_MODES)} (default all)")
    ap.add_argument("--archs", help=f"comma list of {', '.join(ARCH_ORDER)} (default all)")
    ap.add_argument("--seeds", help="comma list (default 0-4 binary, 0-2 multiclass)")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="seconds per MILP solve (default 60; --quick 10)")
    ap.add_argument("--out", type=Path, default=None, help="results JSONL file")
    ap.add_argument("--summarize", action="store_true", help="only rewrite the summary")
    ap.add_argument("--data-dir", default=os.environ.get("CERTMODEL_DATA", "/work/shared/data"))
    args = ap.parse_args(argv)

    q = QUICK if args.quick else {}
    datasets = _csv(args.datasets) or list(q.get("datasets", DATA))
    modes = _csv(args.modes) or list(q.get("modes", ALL_MODES))
    archs = _csv(args.archs) or list(q.get("archs", ARCH_ORDER))
    seeds = [int(s) for s in _csv(args.seeds)] if args.seeds else (
        list(q["seeds"]) if q else None)
    time_limit = args.time_limit if args.time_limit is not None else q.get("time_limit", 60.0)
    out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    for name, vals, valid in (("--datasets", datasets, DATA), ("--modes", modes, ALL_MODES),
                              ("--archs", archs, ARCH_ORDER)):
        bad = sorted(set(vals) - set(valid))
        if bad:
            ap.error(f"{name}: unknown {', '.join(bad)}; valid: {', '.join(valid)}")
    out.parent.mkdir(parents=True, exist_ok=True)

    from benchmarks.bench_labelcert import machine, revision

    meta = (f"Run `python -m benchmarks.reproduce_labelcert {' '.join(argv or sys.argv[1:])}` "
            f"on {machine()} ({revision()}); HiGHS, 1 thread per MILP.")
    if not args.summarize:
        done = {_key(d) for d in read_results(out)}
        todo = plan(datasets, modes, archs, seeds)
        t_all = time.perf_counter()
        for i, (ds, mode, arch, seed) in enumerate(todo, 1):
            key = (ds, mode, arch.name, seed, float(time_limit))
            if key in done:
                continue
            _say(f"[{i}/{len(todo)}] {DATA[ds].label} {mode} {arch.name} seed {seed} ...")
            res = run_one(ds, mode, arch, seed, time_limit, args.data_dir)
            with open(out, "a") as fh:
                fh.write(json.dumps(res) + "\n")
            cr = " ".join(f"{100 * r['certified_ratio']:.0f}"
                          + (f"(u{100 * r['unknown_ratio']:.0f})" if r["unknown"] else "")
                          for r in res["rows"])
            _say(f"    acc {100 * res['clean_accuracy']:.1f} %, certified % per budget: {cr}"
                 f"  [{res['prepare_s']:.1f} + {res['certify_s']:.1f} s]")
        _say(f"runs done in {time.perf_counter() - t_all:.0f} s")
    results = [d for d in read_results(out)
               if d["dataset"] in datasets and d["mode"] in modes and d["arch"] in archs
               and (seeds is None or d["seed"] in seeds)]
    if not results:
        _say("no results")
        return 1
    text = write_summary(out, results, meta)
    _say(text.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
