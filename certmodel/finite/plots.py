"""Figures of width studies (``certmodel validate --json``): agreement and transfer vs width.

* agreement with the kernel SVM (share of test predictions, %) and relative logit error vs
  width, one line per dataset · architecture (mean over seeds, band = ± one std);
* transfer vs width: share of ``not_robust`` witnesses that flip the retrained network, and
  share of ``robust`` targets the greedy retraining attack flips.

matplotlib is imported lazily (``pip install 'certmodel[plot]'``); PNG and SVG are written.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["read_validate_json", "plot_width_studies"]


def read_validate_json(path) -> dict:
    """Read the JSON written by ``certmodel validate --json`` (needs ``summary``)."""
    doc = json.loads(Path(path).read_text())
    if not isinstance(doc, dict) or "summary" not in doc or "widths" not in doc:
        from certmodel.exceptions import InvalidParameterError

        raise InvalidParameterError(f"--validate {path}: not a `certmodel validate` output "
                                    "(no summary/widths)")
    return doc


def _label(doc: dict) -> str:
    return f"{doc['dataset']} · {doc['arch']}"


def plot_width_studies(docs: list[dict], outdir) -> list[Path]:
    """Write ``finite_width_agreement`` and, with a budget, ``finite_width_transfer``."""
    if not docs:
        return []
    from certmodel.plots import _plt, _save

    plt = _plt()
    outdir = Path(outdir)
    written = []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, doc in enumerate(docs):
        s = doc["summary"]
        w = [r["width"] for r in s]
        ag = [100 * r["agreement"] for r in s]
        sd = [100 * (r["agreement_std"] or 0.0) for r in s]
        ax1.plot(w, ag, marker="o", color=f"C{i}", label=_label(doc))
        ax1.fill_between(w, [a - e for a, e in zip(ag, sd, strict=True)],
                         [a + e for a, e in zip(ag, sd, strict=True)], color=f"C{i}", alpha=0.15)
        ax2.plot(w, [r["rel_logit_error"] for r in s], marker="o", color=f"C{i}",
                 label=_label(doc))
    ax1.axhline(99, color="grey", linestyle=":", linewidth=1)
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("width h")
        ax.grid(alpha=0.3)
    ax1.set_ylabel("agreement with kernel SVM [%]")
    ax2.set_ylabel("relative logit error")
    ax2.set_yscale("log")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    written += _save(fig, outdir, "finite_width_agreement")
    plt.close(fig)

    with_budget = [d for d in docs if d.get("budget") is not None]
    if with_budget:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
        for i, doc in enumerate(with_budget):
            s = doc["summary"]
            w = [r["width"] for r in s]
            nr = [None if r["nr_flip_rate"] is None else 100 * r["nr_flip_rate"] for r in s]
            rb = [None if r["robust_attack_rate"] is None else 100 * r["robust_attack_rate"]
                  for r in s]
            lab = f"{_label(doc)} (B={doc['budget']})"
            if any(v is not None for v in nr):
                ax1.plot(w, [float("nan") if v is None else v for v in nr], marker="o",
                         color=f"C{i}", label=lab)
            if any(v is not None for v in rb):
                ax2.plot(w, [float("nan") if v is None else v for v in rb], marker="s",
                         color=f"C{i}", label=lab)
        ax1.set_ylabel("not_robust witnesses that flip the network [%]")
        ax2.set_ylabel("robust targets flipped by the attack [%]")
        for ax in (ax1, ax2):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("width h")
            ax.set_ylim(-3, 103)
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
        fig.tight_layout()
        written += _save(fig, outdir, "finite_width_transfer")
        plt.close(fig)
    return written
