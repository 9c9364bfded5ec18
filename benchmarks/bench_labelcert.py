"""LabelCert benchmark: the whole pipeline, its shortcuts and the MILP, side by side.

One run times, on the same instances (:mod:`benchmarks.instances`) and in the same process:

* **pipeline configurations** (``certify(...)`` end to end, one call per instance and
  configuration, all test points and budgets): the defaults (``pipeline``), the plain reference
  formulation (``plain_reference`` = ``LabelCertOptions.plain()``), plain compact, and one
  ablation per knob — ``linearization="reference"``, ``decision=False``,
  ``warm_start=False``, ``saturated=False`` (saturated instances only), ``attack=False``,
  ``enumeration="never"``, ``monotone=False`` — plus the pipeline on Gurobi where its models
  fit the size-limited licence (checked with ``model.size`` before any solve);
* **MILP level** (:class:`~certmodel.milp.formulations.BinaryMILP` directly, per test point
  and budget): ``compact`` vs ``reference`` × HiGHS vs Gurobi (within the licence) × decision
  vs optimise × warm start vs none, with model build time split into Pyomo construction,
  compilation to standard form and backend load, next to the solve time.

Outputs ``benchmarks/results/labelcert_<tag>.csv`` (one row per instance, configuration, test
point and budget) and ``labelcert_<tag>.md`` (median ratios, decided counts, paths, verdict
agreement).  A verdict disagreement between two configurations that both decided is a bug
and is printed loudly.  ``--quick`` (10 s per solve, fewer instances and test points) prints
its headline ratio — pipeline vs plain reference at n = 40 on HiGHS — as its last line.

Usage::

    .venv/bin/python -m benchmarks.bench_labelcert --quick
    .venv/bin/python -m benchmarks.bench_labelcert --time-limit 60 --m 3
    .venv/bin/python -m benchmarks.bench_labelcert --summarize benchmarks/results/a.csv b.csv
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks._timing import Timer
from benchmarks.instances import Instance, build_instances, clean_signs, milp_verdict

RESULTS = Path(__file__).resolve().parent / "results"
FIELDS = ["section", "instance", "family", "n", "C_rowsum", "config", "backend",
          "linearization", "test", "budget", "verdict", "path", "status", "time", "gap",
          "value", "nodes", "build_time", "pyomo_time", "compile_time", "load_time",
          "call_time", "time_limit", "cpu", "call_cpu"]
LICENCE = (2000, 2000)

# name -> LabelCertOptions keyword changes (None = LabelCertOptions.plain()).
PIPELINE_CONFIGS = {
    "pipeline": {},
    "plain_reference": None,
    "plain_compact": "plain-compact",
    "reference_lin": {"linearization": "reference"},
    "no_decision": {"decision": False},
    "no_warm_start": {"warm_start": False},
    "no_saturated": {"saturated": False},
    "no_attack": {"attack": False},
    "no_enumeration": {"enumeration": "never"},
    "no_monotone": {"monotone": False},
    "pipeline_gurobi": {"backend": "gurobi"},
}
QUICK_CONFIGS = ["pipeline", "plain_reference", "no_saturated", "pipeline_gurobi"]
MILP_MODES = {"decision+warm": (True, True), "decision+cold": (True, False),
              "optimise+warm": (False, True), "optimise+cold": (False, False)}


def _say(*a):
    print(*a, flush=True)


def _options(config: str, time_limit: float):
    from certmodel.labelcert import LabelCertOptions

    spec = PIPELINE_CONFIGS[config]
    if spec is None:
        return LabelCertOptions.plain(time_limit=time_limit)
    if spec == "plain-compact":
        return LabelCertOptions.plain(time_limit=time_limit, linearization="compact")
    return LabelCertOptions(time_limit=time_limit, **spec)


def _gurobi_ok() -> bool:
    try:
        from certmodel.backends.base import get_backend

        get_backend("gurobi")
        return True
    except Exception:  # not installed / not importable
        return False


def _fits_licence(inst: Instance, linearization: str) -> tuple[bool, tuple]:
    """Build the budget-1 model on HiGHS (no solve) and compare its size with the licence."""
    from certmodel.milp.formulations import BinaryMILP

    mdl = BinaryMILP(inst.K, inst.y.astype(float), inst.C, 1, linearization=linearization)
    cols, rows, _ = mdl.size
    return cols <= LICENCE[0] and rows <= LICENCE[1], mdl.size


def _num(x):
    if x is None:
        return ""
    return f"{float(x):.6g}"


def run_pipeline(inst: Instance, config: str, time_limit: float, rows: list) -> float:
    from certmodel.labelcert import certify

    opts = _options(config, time_limit)
    with Timer() as tm:
        try:
            recs = certify(inst.K, inst.y, inst.K_test, inst.C, inst.budgets, options=opts,
                           test_indices=inst.test_ids)
            err = None
        except Exception as e:  # a crash is a finding: record it, report it loudly, go on
            recs, err = [], f"{type(e).__name__}: {e}"
    dt = tm.wall
    base = dict(section="pipeline", instance=inst.name, family=inst.family, n=inst.n,
                C_rowsum=_num(inst.c_rowsum), config=config, backend=opts.backend,
                linearization=opts.linearization, call_time=_num(dt), call_cpu=_num(tm.cpu),
                time_limit=_num(time_limit))
    if err:
        _say(f"!!! CRASH {inst.name} {config}: {err}")
        rows.append({**base, "verdict": "crash", "status": err[:200]})
        return dt
    for r in recs:
        rows.append({**base, "test": r.test_index, "budget": r.budget,
                     "verdict": r.verdict.value, "path": r.path.value,
                     "status": r.solver_status or "", "time": _num(r.wall_time),
                     "gap": _num(r.gap), "value": _num(r.value)})
    dec = sum(r.verdict.value != "unknown" for r in recs)
    _say(f"  {inst.name:14s} {config:16s} {dt:8.2f}s wall {tm.cpu:8.2f} CPU-s "
         f"decided {dec}/{len(recs)}")
    return dt


def _timed_build(inst, B, lin, backend, time_limit):
    """BinaryMILP build with its time split: Pyomo construction / compile / backend load."""
    from certmodel.backends.base import SolveOptions, get_backend
    from certmodel.milp.formulations import BinaryMILP
    from certmodel.milp.standard_form import compile_model

    opts = SolveOptions(time_limit=time_limit, threads=1)
    t0 = time.perf_counter()
    mdl = BinaryMILP(inst.K, inst.y.astype(float), inst.C, B, linearization=lin,
                     backend=backend, options=opts)
    total = time.perf_counter() - t0
    t0 = time.perf_counter()
    form = compile_model(mdl.model)
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    get_backend(backend)(opts).load(form)
    t_load = time.perf_counter() - t0
    return mdl, total, max(total - t_compile - t_load, 0.0), t_compile, t_load


def run_milp(inst: Instance, budgets, lins, backends, modes, time_limit, rows):
    """MILP-level timings: every (linearisation, backend, budget, test point, mode)."""
    from certmodel.backends.base import DecisionTarget
    from certmodel.learners import solve_svm_dual
    from certmodel.milp.standard_form import Sense

    y = inst.y.astype(float)
    alpha0 = solve_svm_dual(inst.K, y, inst.C).alpha
    signs = clean_signs(inst)
    eps = 1e-6 * inst.C * np.abs(inst.K_test).sum(axis=1)
    margins = signs * (inst.K_test @ (y * alpha0))
    for lin in lins:
        for be in backends:
            if be == "gurobi":
                ok, size = _fits_licence(inst, lin)
                if not ok:
                    _say(f"  {inst.name:14s} milp {lin}/gurobi skipped: size {size} exceeds "
                         f"the size-limited licence {LICENCE}")
                    continue
            for B in budgets:
                mdl, total, t_py, t_co, t_lo = _timed_build(inst, B, lin, be, time_limit)
                for t in range(inst.m):
                    if margins[t] <= 0:
                        continue  # trivially not robust, no MILP needed
                    c = mdl.objective(inst.K_test[t], signs[t])
                    x0 = mdl.start(np.zeros(inst.n, bool), alpha0)
                    for mode in modes:
                        decision, warm = MILP_MODES[mode]
                        with Timer() as tm:
                            res = mdl.solve(c, Sense.MINIMIZE, warm_start=x0 if warm else None,
                                            decision=DecisionTarget(eps[t]) if decision else None)
                        dt = tm.wall
                        verdict = milp_verdict(res, eps[t])
                        rows.append(dict(
                            section="milp", instance=inst.name, family=inst.family, n=inst.n,
                            C_rowsum=_num(inst.c_rowsum), config=f"milp:{lin}:{be}:{mode}",
                            backend=be, linearization=lin, test=int(inst.test_ids[t]),
                            budget=B, verdict=verdict, path="milp",
                            status=res.termination.value, time=_num(dt), cpu=_num(tm.cpu),
                            gap=_num(res.gap),
                            value=_num(res.incumbent), nodes=res.nodes if res.nodes else "",
                            build_time=_num(total), pyomo_time=_num(t_py),
                            compile_time=_num(t_co), load_time=_num(t_lo),
                            time_limit=_num(time_limit)))
                        _say(f"  {inst.name:14s} B={B} t={int(inst.test_ids[t]):4d} "
                             f"{lin:9s} {be:6s} {mode:13s} build {total:6.2f}s solve {dt:7.2f}s "
                             f"({tm.cpu:7.2f} CPU-s) "
                             f"{res.termination.value:10s} -> {verdict}")


# ---------------------------------------------------------------------------------- summary


def _f(x):
    return float(x) if x not in ("", None) else None


def _med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _fmt(x, nd=2):
    return "—" if x is None else f"{x:.{nd}f}"


def _ratio_str(r, censored=False):
    if r is None:
        return "—"
    return ("≥ " if censored else "") + f"{r:.1f}×"


def summarize(rows: list[dict], meta: str = "") -> tuple[str, str, list[str]]:
    """Markdown summary, the headline line and the list of bugs (verdict disagreements)."""
    out = ["# LabelCert benchmark", "", meta, ""]
    bugs: list[str] = []
    pipe = [r for r in rows if r["section"] == "pipeline"]
    milp = [r for r in rows if r["section"] == "milp"]

    # per (instance, config) totals
    calls: dict[tuple, dict] = {}
    for r in pipe:
        key = (r["instance"], r["config"])
        c = calls.setdefault(key, dict(n=int(r["n"]), family=r["family"], time=_f(r["call_time"]),
                                       cpu=_f(r.get("call_cpu")), dec=0, tot=0, timeouts=0,
                                       crash=False,
                                       tl=_f(r["time_limit"])))
        if r["verdict"] == "crash":
            c["crash"] = True
            continue
        c["tot"] += 1
        c["dec"] += r["verdict"] != "unknown"
        c["timeouts"] += r["status"] == "time_limit"
    instances = sorted({k[0] for k in calls}, key=lambda s: (calls[(s, "pipeline")]["n"]
                                                             if (s, "pipeline") in calls else 0, s))
    configs = [c for c in PIPELINE_CONFIGS if any(k[1] == c for k in calls)]

    # headline: pipeline vs plain reference per instance
    headline = "headline: no pipeline/plain_reference pair at n = 40"
    if calls:
        out += ["## Whole pipeline vs plain reference formulation (HiGHS)", "",
                "Time = wall time of one `certify` call over all test points and budgets of the "
                "instance (model builds included). `≥` marks a lower bound: the plain "
                "reference hit the per-solve time limit.", "",
                "| instance | n | C·rowsum | pipeline s | decided | plain ref s | decided | "
                "ratio |", "|---|---|---|---|---|---|---|---|"]
        ratios40, cens40, sum_p, sum_r = [], False, 0.0, 0.0
        cpu_p, cpu_r = [], []  # CPU seconds (absent in CSVs older than the CPU column)
        for inst in instances:
            p, q = calls.get((inst, "pipeline")), calls.get((inst, "plain_reference"))
            if not p or not q or p["crash"] or q["crash"]:
                continue
            ratio = q["time"] / max(p["time"], 1e-9)
            cens = q["timeouts"] > 0
            crs = next(r["C_rowsum"] for r in pipe if r["instance"] == inst)
            out.append(f"| {inst} | {p['n']} | {float(crs):.3g} | {p['time']:.2f} | "
                       f"{p['dec']}/{p['tot']} | {q['time']:.2f} | {q['dec']}/{q['tot']} | "
                       f"{_ratio_str(ratio, cens)} |")
            if p["n"] == 40:
                ratios40.append(ratio)
                cens40 |= cens
                sum_p += p["time"]
                sum_r += q["time"]
                cpu_p.append(p["cpu"])
                cpu_r.append(q["cpu"])
        if ratios40:
            med, worst = statistics.median(ratios40), min(ratios40)
            agg = sum_r / max(sum_p, 1e-9)
            ge = "≥ " if cens40 else ""
            verdict = "MET" if agg >= 10 else "NOT met"
            cpu = ("" if None in cpu_p + cpu_r else
                   f", CPU {ge}{sum(cpu_r) / max(sum(cpu_p), 1e-9):.1f}x")
            secs = (f"pipeline {sum_p:.1f} s wall" +
                    ("" if None in cpu_p else f" / {sum(cpu_p):.1f} CPU-s") +
                    f", plain reference {sum_r:.1f} s wall" +
                    ("" if None in cpu_r else f" / {sum(cpu_r):.1f} CPU-s"))
            headline = (f"headline: pipeline vs plain reference, n = 40, HiGHS, "
                        f"{len(ratios40)} instances: total-time speed-up {ge}{agg:.1f}x "
                        f"wall{cpu} ({secs}; median per instance {ge}{med:.1f}x, "
                        f"worst {ge}{worst:.1f}x); "
                        f"target >= 10x (total time) {verdict}")
            out += ["", f"**n = 40 ({len(ratios40)} instances):** total-time ratio "
                    f"{ge}{agg:.1f}× wall{cpu.replace('x', '×')} ({secs}), median per-instance "
                    f"ratio {ge}{med:.1f}×, worst "
                    f"instance {ge}{worst:.1f}× — target ≥ 10× (judged on total time) "
                    f"**{verdict}**."]
        out.append("")

        # decided within the limit at n = 40, budgets <= 4 (pipeline)
        rec40 = [r for r in pipe if r["config"] == "pipeline" and int(r["n"]) == 40
                 and r["verdict"] != "crash" and int(r["budget"]) <= 4]
        if rec40:
            und = [r for r in rec40 if r["verdict"] == "unknown"]
            tl = _f(rec40[0]["time_limit"])
            out += [f"**n = 40, budgets ≤ 4 (pipeline, {tl:g} s per solve):** "
                    f"{len(rec40) - len(und)}/{len(rec40)} (test point, budget) decided"
                    + (" — target (all decided within 60 s) "
                       + ("**MET**" if not und and tl <= 60 else
                          "**NOT met**" if tl >= 60 else
                          f"not settled by this run ({tl:g} s limit)")) + "."]
            if und:
                out.append("Undecided: " + ", ".join(
                    f"{r['instance']} t={r['test']} B={r['budget']}" for r in und[:20])
                    + (" …" if len(und) > 20 else ""))
            out.append("")

        # ablations
        out += ["## Configurations (ratios relative to the default pipeline)", "",
                "Median over instances of time(config) / time(pipeline); decided = records "
                "with a verdict / all records; t/o = records whose solve hit the time limit.",
                "", "| config | instances | median ratio | total s | decided | t/o | crashes |",
                "|---|---|---|---|---|---|---|"]
        for cfg in configs:
            rs, tot, dec, n_, to, cr, ni = [], 0.0, 0, 0, 0, 0, 0
            for inst in instances:
                c, p = calls.get((inst, cfg)), calls.get((inst, "pipeline"))
                if not c:
                    continue
                ni += 1
                cr += c["crash"]
                tot += c["time"] or 0.0
                dec += c["dec"]
                n_ += c["tot"]
                to += c["timeouts"]
                if p and not c["crash"] and not p["crash"]:
                    rs.append(c["time"] / max(p["time"], 1e-9))
            med = _med(rs)
            out.append(f"| {cfg} | {ni} | {_fmt(med)}× | {tot:.1f} | {dec}/{n_} | {to} | {cr} |")
        out.append("")

        # per-instance time matrix
        out += ["## Per-instance wall time (s) per configuration", "",
                "| instance | " + " | ".join(configs) + " |",
                "|---" * (len(configs) + 1) + "|"]
        for inst in instances:
            cells = []
            for cfg in configs:
                c = calls.get((inst, cfg))
                cells.append("—" if not c else ("crash" if c["crash"] else
                                                f"{c['time']:.2f} ({c['dec']}/{c['tot']})"))
            out.append(f"| {inst} | " + " | ".join(cells) + " |")
        out.append("")

        # which path decided (pipeline)
        paths = defaultdict(int)
        for r in pipe:
            if r["config"] == "pipeline" and r["verdict"] != "crash":
                paths[(r["path"], r["verdict"])] += 1
        if paths:
            out += ["## Which path decided (default pipeline, all instances)", "",
                    "| path | verdict | records |", "|---|---|---|"]
            for (pth, v), k in sorted(paths.items()):
                out.append(f"| {pth} | {v} | {k} |")
            out.append("")

    if milp:
        out += _milp_summary(milp)

    # verdict agreement over every configuration (pipeline and MILP level)
    by_point = defaultdict(dict)
    for r in rows:
        if r["verdict"] in ("robust", "not_robust"):
            by_point[(r["instance"], r["test"], r["budget"])][r["config"]] = r["verdict"]
    n_multi = sum(len(v) >= 2 for v in by_point.values())
    for key, v in sorted(by_point.items()):
        if len(set(v.values())) > 1:
            rob = sorted(c for c, x in v.items() if x == "robust")
            nrob = sorted(c for c, x in v.items() if x == "not_robust")
            bugs.append(f"{key[0]} test={key[1]} budget={key[2]}: robust by {rob}, "
                        f"not_robust by {nrob}")
    out += ["## Verdict agreement", "",
            f"{n_multi} (instance, test point, budget) triples decided by ≥ 2 configurations; "
            f"**{len(bugs)} disagreement(s)**" + (" — BUG, see below." if bugs else "."), ""]
    out += [f"- **BUG** {b}" for b in bugs]
    crashes = [(r["instance"], r["config"], r["status"]) for r in pipe if r["verdict"] == "crash"]
    if crashes:
        out += ["", "## Crashes", ""] + [f"- **CRASH** {i} / {c}: `{s}`" for i, c, s in crashes]
    out += ["", headline.replace("headline: ", "**Headline:** "), ""]
    return "\n".join(out), headline, bugs


def _milp_summary(milp: list[dict]) -> list[str]:
    out = ["## MILP level (BinaryMILP per test point and budget)", "",
           "Solve time per (test point, budget); build = Pyomo construction + compile + "
           "backend load, once per (instance, budget, linearisation, backend) and reused "
           "for every test point.", "",
           "| linearisation | backend | mode | solves | decided | median solve s | "
           "median build s (pyomo / compile / load) |", "|---|---|---|---|---|---|---|"]
    groups = defaultdict(list)
    for r in milp:
        groups[(r["linearization"], r["backend"], r["config"].split(":")[-1])].append(r)
    for (lin, be, mode), rs in sorted(groups.items()):
        dec = sum(r["verdict"] != "unknown" for r in rs)
        builds = {(r["instance"], r["budget"]): r for r in rs}.values()
        out.append(
            f"| {lin} | {be} | {mode} | {len(rs)} | {dec}/{len(rs)} | "
            f"{_fmt(_med([_f(r['time']) for r in rs]))} | "
            f"{_fmt(_med([_f(r['build_time']) for r in builds]))} "
            f"({_fmt(_med([_f(r['pyomo_time']) for r in builds]))} / "
            f"{_fmt(_med([_f(r['compile_time']) for r in builds]))} / "
            f"{_fmt(_med([_f(r['load_time']) for r in builds]))}) |")
    out.append("")

    # paired ratios
    idx = {(r["instance"], r["test"], r["budget"], r["linearization"], r["backend"],
            r["config"].split(":")[-1]): r for r in milp}

    def paired(a_of, b_of, label):
        rs, both_dec, a_only, b_only = [], 0, 0, 0
        for k in idx:
            ka, kb = a_of(k), b_of(k)
            if k != ka or kb not in idx:
                continue
            ra, rb = idx[ka], idx[kb]
            ta, tb = _f(ra["time"]), _f(rb["time"])
            rs.append(tb / max(ta, 1e-6))
            da, db = ra["verdict"] != "unknown", rb["verdict"] != "unknown"
            both_dec += da and db
            a_only += da and not db
            b_only += db and not da
        if rs:
            return (f"| {label} | {len(rs)} | {_fmt(_med(rs))}× | "
                    f"{_fmt(float(np.exp(np.mean(np.log(rs)))))}× | {both_dec} | {a_only} | "
                    f"{b_only} |")
        return None

    def swap(pos, old, new):
        def f(k):
            k = list(k)
            if k[pos] != old:
                return None
            k[pos] = new
            return tuple(k)
        return f

    def ident_if(pos, val):
        return lambda k: k if k[pos] == val else None

    lines = [
        paired(ident_if(3, "compact"), swap(3, "compact", "reference"),
               "reference / compact (same backend, mode)"),
        paired(ident_if(5, "decision+warm"), swap(5, "decision+warm", "optimise+warm"),
               "optimise / decision (warm)"),
        paired(ident_if(5, "decision+cold"), swap(5, "decision+cold", "optimise+cold"),
               "optimise / decision (cold)"),
        paired(ident_if(5, "decision+warm"), swap(5, "decision+warm", "decision+cold"),
               "cold / warm start (decision)"),
        paired(ident_if(5, "optimise+warm"), swap(5, "optimise+warm", "optimise+cold"),
               "cold / warm start (optimise)"),
        paired(ident_if(4, "gurobi"), swap(4, "gurobi", "highs"),
               "HiGHS / Gurobi (same model, mode)"),
    ]
    lines = [x for x in lines if x]
    if lines:
        out += ["Paired solve-time ratios B/A (A = the first named config's denominator), "
                "over identical (instance, test point, budget, …) solves; time-outs count at "
                "the limit, so ratios involving them are lower bounds.", "",
                "| comparison B / A | pairs | median | geo-mean | both decided | only A "
                "decided | only B decided |", "|---|---|---|---|---|---|---|", *lines, ""]
    return out


def read_csv(paths) -> list[dict]:
    rows = []
    for p in paths:
        with open(p, newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def machine() -> str:
    import os

    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs{mem}, Python {platform.python_version()}"


def revision() -> str:
    """``git`` commit of the working tree (``+dirty`` when files differ from it)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, text=True, capture_output=True, timeout=10).stdout
        return f"commit {head}{'+dirty' if dirty.strip() else ''}" if head else "no git"
    except (OSError, subprocess.SubprocessError):
        return "no git"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_labelcert",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="10 s per solve, the quick instance list, 2 test points")
    ap.add_argument("--time-limit", type=float, help="seconds per MILP solve (default 60)")
    ap.add_argument("--m", type=int, help="test points per instance (default 3; quick 2)")
    ap.add_argument("--instances", help="comma-separated instance names")
    ap.add_argument("--configs", help="comma-separated pipeline configs "
                    f"({', '.join(PIPELINE_CONFIGS)}); 'none' for none")
    ap.add_argument("--milp-instances", help="instances for the MILP-level section "
                    "('none' to skip)")
    ap.add_argument("--milp-budgets", default=None, help="budgets of the MILP-level section")
    ap.add_argument("--milp-modes", default=None, help=f"subset of {', '.join(MILP_MODES)}")
    ap.add_argument("--tag", help="output file stem suffix (default quick/full + timestamp)")
    ap.add_argument("--summarize", nargs="+", metavar="CSV",
                    help="only merge existing CSVs into one summary")
    a = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")

    if a.summarize:
        rows = read_csv(a.summarize)
        md, headline, bugs = summarize(rows, f"Merged from: {', '.join(a.summarize)}")
        path = RESULTS / f"labelcert_{a.tag or 'merged-' + stamp}.md"
        path.write_text(md)
        _say(md)
        _say(f"summary: {path}")
        for b in bugs:
            _say(f"!!! BUG verdict disagreement: {b}")
        _say(headline)
        return 1 if bugs else 0

    tl = a.time_limit or (10.0 if a.quick else 60.0)
    m = a.m or (2 if a.quick else 3)
    names = a.instances.split(",") if a.instances else None
    insts = build_instances(names, m=m, quick=a.quick, log=_say)
    have_gurobi = _gurobi_ok()
    if a.configs == "none":
        configs = []
    elif a.configs:
        configs = a.configs.split(",")
    else:
        configs = QUICK_CONFIGS if a.quick else list(PIPELINE_CONFIGS)
    unknown = [c for c in configs if c not in PIPELINE_CONFIGS]
    if unknown:
        raise SystemExit(f"unknown config(s) {unknown}; known: {list(PIPELINE_CONFIGS)}")
    if a.milp_instances == "none":
        milp_names = []
    elif a.milp_instances:
        milp_names = a.milp_instances.split(",")
    else:
        milp_names = ["csbm20_s0"] if a.quick else ["csbm20_s0", "csbm40_s0", "ntk40_s0"]
    milp_budgets = [int(b) for b in (a.milp_budgets or ("1" if a.quick else "1,2")).split(",")]
    milp_modes = (a.milp_modes.split(",") if a.milp_modes else
                  ["decision+warm", "optimise+cold"] if a.quick else list(MILP_MODES))
    tag = a.tag or f"{'quick' if a.quick else 'full'}-{stamp}"
    csv_path = RESULTS / f"labelcert_{tag}.csv"

    meta = (f"Run `{' '.join(['python -m benchmarks.bench_labelcert', *(argv or sys.argv[1:])])}`"
            f" on {machine()} ({revision()}); {tl:g} s per solve, {m} test points per "
            f"instance, 1 solver thread; {time.strftime('%Y-%m-%d %H:%M')}.")
    _say(meta)
    for inst in insts:
        _say("  " + inst.describe())
    rows: list[dict] = []
    with Timer() as t_run, open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        for inst in insts:
            sat = inst.c_rowsum < 1
            for cfg in configs:
                if cfg == "no_saturated" and not sat:
                    continue  # identical to the pipeline off the saturated regime
                if cfg == "pipeline_gurobi":
                    if not have_gurobi:
                        continue
                    ok, size = _fits_licence(inst, "compact")
                    if not ok:
                        _say(f"  {inst.name}: pipeline_gurobi skipped, model size {size} "
                             f"exceeds the licence {LICENCE}")
                        continue
                before = len(rows)
                run_pipeline(inst, cfg, tl, rows)
                w.writerows(rows[before:])
                fh.flush()
        milp_insts = [i for i in insts if i.name in milp_names]
        missing = [x for x in milp_names if x not in {i.name for i in insts}]
        if missing:
            milp_insts += build_instances(missing, m=m, log=_say)
        for inst in milp_insts:
            before = len(rows)
            run_milp(inst, [b for b in milp_budgets if b <= inst.n], ("compact", "reference"),
                     ["highs"] + (["gurobi"] if have_gurobi else []), milp_modes, tl, rows)
            w.writerows(rows[before:])
            fh.flush()
    md, headline, bugs = summarize(rows, meta + f" Total run time {t_run.wall:.0f} s wall, "
                                   f"{t_run.cpu:.0f} CPU-s (machine shared: compare CPU).")
    md_path = csv_path.with_suffix(".md")
    md_path.write_text(md)
    _say("")
    _say(md)
    _say(f"results: {csv_path}\nsummary: {md_path}")
    for b in bugs:
        _say(f"!!! BUG verdict disagreement: {b}")
    _say(f"{headline} [whole run {t_run.wall:.0f} s wall, {t_run.cpu:.0f} CPU-s]")
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
