"""Tables from stored records: per configuration and budget, mean ± std over seeds."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from certmodel.results import CollectiveRecord, Verdict

__all__ = ["per_run", "aggregate", "to_markdown", "to_csv", "group_label"]

_GROUP_FIELDS = ("dataset", "arch", "normalization", "depth", "method", "mode", "learner", "C",
                 "cv", "labelled_per_class", "max_test", "time_limit", "solver", "parity",
                 "arch_options", "dataset_options", "ridge")


def group_label(cfg: dict) -> str:
    """E.g. ``csbm · gcn (row, L1) · labelcert samplewise``."""
    norm = cfg.get("normalization") or "default"
    return (f"{cfg['dataset']} · {cfg['arch']} ({norm}, L{cfg.get('depth', 1)}) · "
            f"{cfg['method']} {cfg['mode']}")


def per_run(store) -> list[dict]:
    """One row per (stored configuration, budget): n, certified ratio / accuracy, accuracy."""
    configs = store.configs()
    by_cfg: dict[str, list] = defaultdict(list)
    for s in store.records():
        by_cfg[s.config_hash].append(s)
    rows = []
    for h, stored in by_cfg.items():
        cfg = configs.get(h, {})
        by_budget: dict[int, list] = defaultdict(list)
        for s in stored:
            by_budget[s.record.budget].append(s)
        for b, ss in sorted(by_budget.items()):
            row = {"config_hash": h, "config": cfg, "seed": cfg.get("seed"), "budget": b}
            if isinstance(ss[0].record, CollectiveRecord):
                r = ss[0].record
                row.update(n=r.n_test, certified_ratio=r.certified_ratio,
                           certified_accuracy=math.nan, accuracy=math.nan, unknown=0)
            else:
                n = len(ss)
                robust = [s.record.verdict is Verdict.ROBUST for s in ss]
                correct = [s.y_true is not None and s.record.prediction == s.y_true for s in ss]
                has_truth = all(s.y_true is not None for s in ss)
                row.update(
                    n=n, certified_ratio=sum(robust) / n,
                    certified_accuracy=(sum(a and c for a, c in zip(robust, correct)) / n
                                        if has_truth else math.nan),
                    accuracy=sum(correct) / n if has_truth else math.nan,
                    unknown=sum(s.record.verdict is Verdict.UNKNOWN for s in ss))
            rows.append(row)
    return rows


def _mean_std(values) -> tuple[float, float]:
    v = np.asarray([x for x in values if x == x], dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=0))


def aggregate(store) -> list[dict]:
    """Rows per (configuration without seed, budget): mean and std over seeds."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in per_run(store):
        cfg = row["config"]
        key = tuple(repr(cfg.get(f)) for f in _GROUP_FIELDS) + (row["budget"],)
        groups[key].append(row)
    out = []
    for rows in groups.values():
        cfg = rows[0]["config"]
        agg = {"group": group_label(cfg), "dataset": cfg.get("dataset"), "arch": cfg.get("arch"),
               "normalization": cfg.get("normalization"), "depth": cfg.get("depth"),
               "method": cfg.get("method"), "mode": cfg.get("mode"), "C": cfg.get("C"),
               "budget": rows[0]["budget"], "seeds": sorted(r["seed"] for r in rows),
               "n": int(np.mean([r["n"] for r in rows])),
               "unknown": int(sum(r["unknown"] for r in rows))}
        for m in ("accuracy", "certified_ratio", "certified_accuracy"):
            agg[m], agg[m + "_std"] = _mean_std(r[m] for r in rows)
        out.append(agg)
    out.sort(key=lambda r: (r["dataset"] or "", r["method"] or "", r["mode"] or "",
                            r["arch"] or "", str(r["normalization"]), r["depth"] or 0,
                            r["budget"]))
    return out


def _pm(mean: float, std: float, n_seeds: int) -> str:
    if mean != mean:
        return "–"
    if n_seeds > 1:
        return f"{100 * mean:.1f} ± {100 * std:.1f}"
    return f"{100 * mean:.1f}"


def to_markdown(rows: list[dict]) -> str:
    """Markdown table (percentages, mean ± std over seeds)."""
    head = ("| dataset | architecture | method | budget | clean acc. [%] | certified ratio [%] "
            "| certified acc. [%] | seeds | unknown |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        k = len(r["seeds"])
        arch = f"{r['arch']} ({r['normalization'] or 'default'}, L{r['depth']})"
        lines.append(
            f"| {r['dataset']} | {arch} | {r['method']} {r['mode']} | {r['budget']} | "
            f"{_pm(r['accuracy'], r['accuracy_std'], k)} | "
            f"{_pm(r['certified_ratio'], r['certified_ratio_std'], k)} | "
            f"{_pm(r['certified_accuracy'], r['certified_accuracy_std'], k)} | {k} | "
            f"{r['unknown']} |")
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict]) -> str:
    """CSV with one line per (group, budget); fractions, not percentages."""
    import csv
    import io

    cols = ["dataset", "arch", "normalization", "depth", "method", "mode", "C", "budget", "n",
            "accuracy", "accuracy_std", "certified_ratio", "certified_ratio_std",
            "certified_accuracy", "certified_accuracy_std", "seeds", "unknown"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "seeds": " ".join(map(str, r["seeds"]))})
    return buf.getvalue()
