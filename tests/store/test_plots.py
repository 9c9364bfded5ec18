"""Figures (#13): bands in their line's colour, integer budget ticks, readable legends,
C and |T| in the title."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from certmodel import plots  # noqa: E402


def _rows():
    rows = []
    for arch, spread in (("gcn", 0.0), ("sgc", 0.05), ("appnp", 0.1)):
        for b in (0, 1, 2, 3):
            rows.append({"dataset": "csbm", "arch": arch, "normalization": None, "depth": 1,
                         "method": "labelcert", "mode": "samplewise", "C": None,
                         "budget": b, "seeds": [0, 1], "n": 50, "unknown": 0,
                         "accuracy": 0.9, "accuracy_std": 0.0,
                         "certified_ratio": 1 - 0.2 * b, "certified_ratio_std": spread,
                         "certified_accuracy": 0.9 - 0.2 * b,
                         "certified_accuracy_std": spread})
    return rows


def test_budget_figure(tmp_path, monkeypatch):
    from matplotlib.colors import to_rgba

    figs = []
    real_save = plots._save

    def keep(fig, outdir, name):
        figs.append(fig)
        return real_save(fig, outdir, name)

    monkeypatch.setattr(plots, "_save", keep)
    paths = plots.plot_budget_curves(_rows(), tmp_path)
    assert len(paths) == 2 and all(p.exists() for p in paths)
    (fig,) = figs
    title = fig._suptitle.get_text()
    assert "C = 0.001" in title and "|T| = 50" in title
    for ax in fig.axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"GCN", "SGC", "APPNP"}  # no internal "(default, L1)"
        bands = ax.collections
        assert len(bands) == 2  # GCN has zero spread: no band
        line_colors = {to_rgba(lines[k].get_color()) for k in ("SGC", "APPNP")}
        band_colors = {tuple(np.round(c.get_facecolor()[0][:3], 6)) for c in bands}
        assert band_colors == {tuple(np.round(c[:3], 6)) for c in line_colors}
        ticks = [t for t in ax.get_xticks() if 0 <= t <= 3]
        assert ticks and all(float(t).is_integer() for t in ticks)
