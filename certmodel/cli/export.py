"""``certmodel export``: write the MILP instances of a sweep as MPS/LP files (solver benchmarks)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from certmodel.cli._common import BadInput, write_json
from certmodel.pipeline import prepare, read_sweep

__all__ = ["export"]


@click.command("export")
@click.argument("config_file", metavar="CONFIG.toml", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the model files (created).")
@click.option("--max-points", type=click.IntRange(min=1), default=3, show_default=True,
              help="Sample-wise: test points exported per (configuration, budget).")
@click.option("--format", "fmt", type=click.Choice(["mps", "lp"]), default="mps",
              show_default=True)
@click.option("--linearization", type=click.Choice(["compact", "reference"]),
              default="compact", show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Dataset folder (default $CERTMODEL_DATA).")
def export(config_file, out_dir, max_points, fmt, linearization, data_dir):
    """Write the LabelCert MILPs of CONFIG.toml as MPS (or LP) files.

    Sample-wise: one file per configuration, budget and test point (objective: the worst
    margin of that point); collective: one file per configuration and budget.  A
    ``manifest.json`` lists every file with its configuration.
    """
    from certmodel.labelcert import LabelCertOptions
    from certmodel.milp.formulations import BinaryMILP, CollectiveMILP
    from certmodel.milp.standard_form import Sense

    eps = LabelCertOptions().eps
    configs = read_sweep(config_file)
    unsupported = sorted({c.mode for c in configs} - {"samplewise", "collective"})
    if unsupported:
        raise BadInput(f"export supports --mode samplewise and collective, got "
                       f"{', '.join(unsupported)} in {config_file}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    for config in configs:
        prep = prepare(config, data_dir)
        stem = f"{config.dataset}_{config.arch}_L{config.depth}_s{config.seed}_" \
               f"{config.point_hash()[:8]}"
        for b in prep.budgets:
            if b == 0:
                continue
            if config.mode == "collective":
                model = CollectiveMILP(prep.K_train, prep.y_train, prep.C, b, prep.K_test,
                                       prep.prediction, linearization=linearization,
                                       backend=config.solver)
                path = model.write(out / f"{stem}_collective_B{b}.{fmt}")
                manifest.append({"file": Path(path).name, "budget": b, "mode": "collective",
                                 "sense": "max", "objective": "test predictions flipped",
                                 "n_test": int(prep.test_index.size),
                                 "certified_count": "n_test - floor(optimum + 1e-6)",
                                 "config": config.to_dict()})
                continue
            model = BinaryMILP(prep.K_train, prep.y_train, prep.C, b,
                               linearization=linearization, backend=config.solver)
            for r in range(min(max_points, prep.test_index.size)):
                sign = float(prep.prediction[r])
                model.backend.set_objective(model.objective(prep.K_test[r], sign), 0.0,
                                            Sense.MINIMIZE)
                t = int(prep.test_index[r])
                path = model.write(out / f"{stem}_B{b}_t{t}.{fmt}")
                threshold = eps * prep.C * float(np.abs(prep.K_test[r]).sum())
                manifest.append({"file": Path(path).name, "budget": b, "test_index": t,
                                 "sense": "min", "objective": "clean sign × logit",
                                 "mode": "samplewise", "robust_threshold": threshold,
                                 "robust_if": "optimum > robust_threshold (eps · C Σ_j |K_tj|, "
                                              f"eps = {eps:g}); not robust if optimum <= 0",
                                 "config": config.to_dict()})
        click.echo(f"exported {config.label()}")  # plain lines: no wrapping in logs
    write_json(str(out / "manifest.json"), json.dumps(manifest, indent=1))
    click.echo(f"{len(manifest)} model files in {out}")
