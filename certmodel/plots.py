"""Figures of stored results (matplotlib, imported lazily; ``pip install 'certmodel[plot]'``).

* certified ratio and certified accuracy vs budget, one line per architecture (LabelCert
  paper, Figs. 2–3), one figure per dataset and method/mode;
* sample-wise vs collective certified ratio vs budget, where both were run;
* ensembles: certified accuracy vs radius, white-box vs black-box (from ``certmodel ensemble``
  JSON).

Every figure is written as PNG and SVG.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path

__all__ = ["write_figures", "plot_budget_curves", "plot_samplewise_vs_collective",
           "plot_ensemble", "read_ensemble_json"]


def _plt():
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError("plots need matplotlib: pip install 'certmodel[plot]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def _save(fig, outdir: Path, name: str) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        p = outdir / f"{name}.{ext}"
        fig.savefig(p, dpi=150, bbox_inches="tight")
        paths.append(p)
    return paths


_ARCH_NAMES = {"gcn": "GCN", "sgc": "SGC", "appnp": "APPNP", "gin": "GIN",
               "graphsage": "GraphSAGE", "mlp": "MLP", "gcn_skip_alpha": "GCN skip-α",
               "gcn_skip_pc": "GCN skip-PC", "linear": "linear", "fc": "FC"}


def _arch_key(r: dict) -> tuple:
    return (r["arch"], r["normalization"], r["depth"])


def _arch_labels(rows: list[dict]) -> dict[tuple, str]:
    """Readable legend names: ``GCN``; normalisation and depth only where they differ."""
    keys = {_arch_key(r) for r in rows}
    norms = {k[1] for k in keys}
    depths = {k[2] for k in keys}
    out = {}
    for arch, norm, depth in keys:
        name = _ARCH_NAMES.get(arch, arch)
        extra = []
        if len(norms) > 1:
            extra.append(f"{norm or 'default'} norm.")
        if len(depths) > 1:
            extra.append(f"{depth} layer{'s' if depth != 1 else ''}")
        out[(arch, norm, depth)] = name + (f" ({', '.join(extra)})" if extra else "")
    return out


def _values(rows: list[dict], key: str) -> str:
    vals = sorted({r.get(key) for r in rows}, key=lambda v: (v is None, v))
    return ", ".join("?" if v is None else f"{v:g}" if isinstance(v, float) else str(v)
                     for v in vals)


def _C_of(r: dict):
    if r.get("C") is not None:
        return float(r["C"])
    from certmodel.pipeline.data import DEFAULT_C

    return DEFAULT_C.get((r["dataset"], r["arch"]), DEFAULT_C.get(r["dataset"]))


def _setting(rows: list[dict]) -> str:
    """``C = 0.001 · |T| = 200`` (several values listed) for a figure title."""
    Cs = [{"C": _C_of(r)} for r in rows]
    return f"C = {_values(Cs, 'C')} · |T| = {_values(rows, 'n')}"


def _line(ax, xs, ys, es, label, marker="o"):
    import numpy as np

    xs, ys, es = map(np.asarray, (xs, ys, es))
    (line,) = ax.plot(xs, 100 * ys, marker=marker, label=label)
    ok = np.isfinite(es) & (es > 0)
    if ok.any():  # the band in the line's own colour (not the next one of the cycle)
        ax.fill_between(xs, 100 * (ys - np.nan_to_num(es)), 100 * (ys + np.nan_to_num(es)),
                        alpha=0.15, color=line.get_color(), linewidth=0)


def _budget_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # budgets are integers
    ax.set_xlabel("budget (label flips)")


def plot_budget_curves(rows: list[dict], outdir) -> list[Path]:
    """Certified ratio and certified accuracy vs budget, one line per architecture."""
    plt = _plt()
    outdir = Path(outdir)
    panels: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    names = _arch_labels(rows)
    for r in rows:
        panels[(r["dataset"], r["method"], r["mode"])][names[_arch_key(r)]].append(r)
    written = []
    for (dataset, method, mode), lines in panels.items():
        collective = mode == "collective"
        ncols = 1 if collective else 2
        fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 3.8), squeeze=False)
        metrics = [("certified_ratio", "certified ratio [%]")]
        if not collective:
            metrics.append(("certified_accuracy", "certified accuracy [%]"))
        for ax, (metric, ylabel) in zip(axes[0], metrics):
            for label, rs in sorted(lines.items()):
                rs = sorted(rs, key=lambda r: r["budget"])
                _line(ax, [r["budget"] for r in rs], [r[metric] for r in rs],
                      [r[metric + "_std"] for r in rs], label)
            _budget_axis(ax)
            ax.set_ylabel(ylabel)
            ax.set_ylim(-2, 102)
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=8)
        seeds = max(len(r["seeds"]) for rs in lines.values() for r in rs)
        every = [r for rs in lines.values() for r in rs]
        fig.suptitle(f"{dataset} · {method} {mode} · {_setting(every)} (mean ± std over "
                     f"{seeds} seed{'s' if seeds != 1 else ''})", fontsize=10)
        fig.tight_layout()
        written += _save(fig, outdir, _slug(f"{dataset}_{method}_{mode}_vs_budget"))
        plt.close(fig)
    return written


def plot_samplewise_vs_collective(rows: list[dict], outdir) -> list[Path]:
    """Certified ratio vs budget, sample-wise and collective side by side (where both exist)."""
    plt = _plt()
    outdir = Path(outdir)
    by_key: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    names = _arch_labels(rows)
    for r in rows:
        if r["mode"] in ("samplewise", "collective"):
            by_key[(r["dataset"], names[_arch_key(r)], r["method"])][r["mode"]].append(r)
    written = []
    for (dataset, arch, method), modes in by_key.items():
        if len(modes) < 2:
            continue
        fig, ax = plt.subplots(figsize=(5.2, 3.8))
        for mode, marker in (("samplewise", "o"), ("collective", "s")):
            rs = sorted(modes[mode], key=lambda r: r["budget"])
            _line(ax, [r["budget"] for r in rs], [r["certified_ratio"] for r in rs],
                  [r["certified_ratio_std"] for r in rs], mode, marker)
        _budget_axis(ax)
        ax.set_ylabel("certified ratio [%]")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        every = [r for rs in modes.values() for r in rs]
        ax.set_title(f"{dataset} · {arch} · {method} · {_setting(every)}", fontsize=10)
        fig.tight_layout()
        written += _save(fig, outdir, _slug(f"{dataset}_{arch}_{method}_samplewise_vs_collective"))
        plt.close(fig)
    return written


def read_ensemble_json(path) -> dict:
    """Read the JSON written by ``certmodel ensemble`` (needs ``meta.curves``)."""
    doc = json.loads(Path(path).read_text())
    curves = doc.get("meta", {}).get("curves")
    if not curves or "radius" not in curves:
        from certmodel.exceptions import InvalidParameterError

        raise InvalidParameterError(f"--ensemble {path}: not a `certmodel ensemble` output "
                                    "(no meta.curves)")
    doc["meta"].setdefault("source", str(path))
    return doc


def plot_ensemble(docs: list[dict], outdir) -> list[Path]:
    """Certified accuracy vs radius: white-box (solid) vs black-box DPA (dashed)."""
    if not docs:
        return []
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for i, doc in enumerate(docs):
        meta = doc["meta"]
        c = meta["curves"]
        color = f"C{i}"
        name = meta.get("label") or Path(meta.get("source", f"run {i}")).stem
        ax.step(c["radius"], [100 * v for v in c["whitebox"]], where="post", color=color,
                label=f"{name} white-box")
        ax.step(c["radius"], [100 * v for v in c["blackbox"]], where="post", color=color,
                linestyle="--", label=f"{name} black-box (DPA)")
    ax.set_xlabel("radius (label flips)")
    ax.set_ylabel("certified accuracy [%]")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("ensembles: certified accuracy vs radius", fontsize=10)
    fig.tight_layout()
    written = _save(fig, Path(outdir), "ensemble_certified_accuracy_vs_radius")
    plt.close(fig)
    return written


def write_figures(rows: list[dict], outdir, *, ensembles: list[dict] = ()) -> list[Path]:
    """Every figure for the aggregated rows of :func:`certmodel.store.aggregate.aggregate`."""
    rows = [r for r in rows if not (isinstance(r["certified_ratio"], float)
                                    and math.isnan(r["certified_ratio"]))]
    return (plot_budget_curves(rows, outdir) + plot_samplewise_vs_collective(rows, outdir)
            + plot_ensemble(list(ensembles), outdir))
