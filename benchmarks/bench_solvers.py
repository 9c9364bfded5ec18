"""Cross-solver benchmark: every installed backend × complementarity encoding × linearisation
on the instance library, sample-wise, collective and multiclass.

For each instance, mode, budget and test point the open model
(:func:`certmodel.milp.samplewise_model` / ``collective_model`` / ``multiclass_model``) is
built once per (encoding, linearisation) and solved by every backend that can load it
(``sos1`` / ``indicator`` only where the backend declares the feature).  Each solve is an
optimisation (no decision stop, so every backend does the same work) under ``--time-limit``.

Reported per (backend, encoding, linearisation): solves, decided fraction, CPU seconds
(``getrusage`` of this process *and* its waited-for children, so shell solvers such as CBC
and GLPK are counted; hard-deadline child processes are switched off here so that their CPU
is counted too), wall seconds, B&B nodes where the backend reports them, and verdict
agreement.  Verdicts: sample-wise / multiclass ``robust`` iff the proven bound on the worst
margin is ``> 1e-6 · P_t``, ``not_robust`` iff an incumbent is ``≤ 0``; collective: the
proven maximum number of changed predictions (when optimal).  **Any disagreement between two
decided verdicts fails the run** (exit code 1).

``python -m benchmarks.bench_solvers --quick`` (a few minutes) prints its headline last.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("CERTMODEL_HARD_DEADLINE", "0")  # in-process solves: CPU is counted

import numpy as np  # noqa: E402

from benchmarks._timing import cpu_seconds as _cpu  # noqa: E402
from benchmarks.instances import build_instances, clean_signs  # noqa: E402

CANDIDATES = ("highs", "scip", "gurobi", "pyomo:appsi_highs", "pyomo:scip_direct",
              "pyomo:cbc", "pyomo:glpk")
QUICK = {"samplewise": ["karate"], "collective": ["karate"],
         "multiclass": ["mc3ntk12_s0"]}
FULL = {"samplewise": ["csbm20_s0", "csbm20_s1", "csbm40_s0", "ntk40_s0", "karate",
                       "coramlb"],
        "collective": ["csbm20_s0", "csbm40_s0"],
        "multiclass": ["mc3ntk12_s0", "mc3ntk20_s0"]}


def installed_backends(names=CANDIDATES) -> list[str]:
    from certmodel.backends.base import backend_class

    out = []
    for name in names:
        try:
            if backend_class(name).available():
                out.append(name)
        except Exception:  # noqa: BLE001 - not installed / unknown: not benchmarked
            pass
    return out


def _encodings(backend: str) -> list[str]:
    from certmodel.backends.base import Feature, backend_class

    feats = backend_class(backend).features
    return ["bigm"] + [e for e, f in (("sos1", Feature.SOS1), ("indicator", Feature.INDICATOR))
                       if f in feats]


def _verdict(mode: str, res, eps: float):
    if mode == "collective":
        if res.termination.value == "optimal" and res.incumbent is not None:
            return int(round(res.incumbent))
        return None
    if res.bound is not None and res.bound > eps:
        return "robust"
    if res.incumbent is not None and res.incumbent <= 0:
        return "not_robust"
    return None


def run(modes, instances_by_mode, backends, linearizations, budgets_cap, m, time_limit,
        log=print) -> tuple[list[dict], list[str]]:
    from certmodel.backends.base import SolveOptions
    from certmodel.milp import collective_model, multiclass_model, samplewise_model
    from certmodel.milp.compiled import solve_model
    from certmodel.milp.models import set_test_point

    opts = SolveOptions(time_limit=time_limit)
    rows: list[dict] = []
    verdicts: dict[tuple, dict[tuple, object]] = defaultdict(dict)
    encodings = sorted({e for b in backends for e in _encodings(b)},
                       key=["bigm", "sos1", "indicator"].index)
    for mode in modes:
        for inst in build_instances(instances_by_mode[mode], m=m, log=log):
            budgets = [b for b in inst.budgets if b >= 1][:budgets_cap]
            signs = clean_signs(inst) if mode != "multiclass" else None
            for B in budgets:
                for enc in encodings:
                    for lin in linearizations:
                        if mode == "collective":
                            models = [(None, collective_model(
                                inst.K, inst.y, inst.C, B, inst.K_test, linearization=lin,
                                complementarity=enc))]
                        else:
                            build = multiclass_model if mode == "multiclass" else \
                                samplewise_model
                            model = build(inst.K, inst.y, inst.C, B, inst.K_test[0],
                                          linearization=lin, complementarity=enc)
                            models = [(t, model) for t in range(inst.m)]
                        for backend in backends:
                            if enc not in _encodings(backend):
                                continue
                            for t, model in models:
                                if t is not None:
                                    set_test_point(model, inst.K_test[t],
                                                   None if signs is None else signs[t])
                                c0, w0 = _cpu(), time.perf_counter()
                                res = solve_model(model, backend, options=opts, load=False)
                                cpu, wall = _cpu() - c0, time.perf_counter() - w0
                                eps = 0.0 if t is None else \
                                    1e-6 * inst.C * float(np.abs(inst.K_test[t]).sum())
                                v = _verdict(mode, res, eps)
                                key = (inst.name, mode, B, t)
                                verdicts[key][(backend, enc, lin)] = v
                                rows.append({
                                    "instance": inst.name, "mode": mode, "budget": B,
                                    "test": t, "backend": backend, "encoding": enc,
                                    "linearization": lin, "status": res.termination.value,
                                    "verdict": v, "cpu_s": cpu, "wall_s": wall,
                                    "nodes": res.nodes})
                        block = [r for r in rows if (r["instance"], r["mode"], r["budget"],
                                                     r["encoding"], r["linearization"])
                                 == (inst.name, mode, B, enc, lin)]
                        log(f"  {inst.name} {mode} B={B} {enc}/{lin}: " + ", ".join(
                            f"{b} {sum(r['cpu_s'] for r in block if r['backend'] == b):.1f}"
                            for b in backends if enc in _encodings(b)) + " CPU-s")
    disagreements = []
    for key, got in verdicts.items():
        decided = {k: v for k, v in got.items() if v is not None}
        if len(set(decided.values())) > 1:
            disagreements.append(f"{key}: {decided}")
    return rows, disagreements


def summarize(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["backend"], r["encoding"], r["linearization"])].append(r)
    out = []
    for (backend, enc, lin), rs in sorted(groups.items()):
        nodes = [r["nodes"] for r in rs if r["nodes"] is not None]
        out.append({"backend": backend, "encoding": enc, "linearization": lin,
                    "solves": len(rs),
                    "decided": sum(r["verdict"] is not None for r in rs) / len(rs),
                    "licence": sum(r["status"] == "license" for r in rs),
                    "time_limit": sum(r["status"] == "time_limit" for r in rs),
                    "cpu_s": sum(r["cpu_s"] for r in rs), "wall_s": sum(r["wall_s"] for r in rs),
                    "nodes": int(sum(nodes)) if nodes else None})
    return out


def markdown(summary: list[dict]) -> str:
    lines = ["| backend | encoding | linearisation | solves | decided | time-outs | "
             "licence-refused | CPU s | wall s | B&B nodes |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summary:
        lines.append(f"| {s['backend']} | {s['encoding']} | {s['linearization']} | "
                     f"{s['solves']} | {100 * s['decided']:.0f} % | {s['time_limit']} | "
                     f"{s['licence']} | {s['cpu_s']:.2f} | "
                     f"{s['wall_s']:.2f} | {'–' if s['nodes'] is None else s['nodes']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small instances, a few minutes")
    ap.add_argument("--solvers", help="comma-separated backends (default: every installed "
                    f"one of {', '.join(CANDIDATES)})")
    ap.add_argument("--modes", default="samplewise,collective,multiclass")
    ap.add_argument("--linearizations", default="compact,reference")
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--tests", type=int, default=None, help="test points per instance")
    ap.add_argument("--budgets", type=int, default=None, help="budgets per instance")
    ap.add_argument("--out", type=Path, help="write rows + summary as JSON here")
    args = ap.parse_args(argv)
    from certmodel.backends._quiet import pyomo_logs_to_stderr

    pyomo_logs_to_stderr()
    backends = installed_backends(args.solvers.split(",") if args.solvers else CANDIDATES)
    modes = args.modes.split(",")
    table = QUICK if args.quick else FULL
    m = args.tests or (1 if args.quick else 4)
    budgets_cap = args.budgets or (1 if args.quick else 3)
    time_limit = args.time_limit or (10.0 if args.quick else 120.0)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    log(f"backends: {', '.join(backends)}; modes {modes}; {m} test points, {budgets_cap} "
        f"budgets per instance; time limit {time_limit:g} s")
    c0, w0 = _cpu(), time.perf_counter()
    rows, disagreements = run(modes, table, backends, args.linearizations.split(","),
                              budgets_cap, m, time_limit, log=log)
    summary = summarize(rows)
    print(markdown(summary))
    if args.out:
        args.out.write_text(json.dumps({"rows": rows, "summary": summary,
                                        "disagreements": disagreements}, indent=1))
    for d in disagreements:
        print(f"DISAGREEMENT {d}")
    decided = sum(r["verdict"] is not None for r in rows)
    by_backend: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for r in rows:
        agg = by_backend[r["backend"]]
        agg[0] += r["cpu_s"]
        agg[1] += r["verdict"] is not None
        agg[2] += 1
    print("\n| backend | solves | decided | CPU s |\n|---|---:|---:|---:|")
    for b, (cpu, dec, n) in by_backend.items():
        print(f"| {b} | {int(n)} | {100 * dec / n:.0f} % | {cpu:.1f} |")
    fastest = min((s for s in summary if s["decided"] == max(x["decided"] for x in summary)),
                  key=lambda s: s["cpu_s"])
    print(f"\nbench_solvers headline: {len(rows)} solves by {len(backends)} backends "
          f"({', '.join(backends)}), {decided}/{len(rows)} decided, verdicts "
          f"{'AGREE' if not disagreements else f'DISAGREE ({len(disagreements)})'}; "
          f"fastest fully-deciding: {fastest['backend']} {fastest['encoding']}/"
          f"{fastest['linearization']} {fastest['cpu_s']:.1f} CPU-s; total "
          f"{_cpu() - c0:.0f} CPU-s / {time.perf_counter() - w0:.0f} s wall (loaded machine)")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
