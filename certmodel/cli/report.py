"""``certmodel report``: tables (mean ± std over seeds) and figures from the results store."""

from __future__ import annotations

from pathlib import Path

import click

from certmodel.cli._common import BadInput, console
from certmodel.cli.sweep import DEFAULT_STORE

__all__ = ["report"]


@click.command("report")
@click.option("--store", type=click.Path(dir_okay=False), default=DEFAULT_STORE,
              show_default=True, help="SQLite results store.")
@click.option("--format", "fmt", type=click.Choice(["md", "csv"]), default="md",
              show_default=True, help="Table format (printed on stdout).")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False),
              help="Write PNG and SVG figures into this folder (needs matplotlib).")
@click.option("--ensemble", "ensemble_json", multiple=True, type=click.Path(dir_okay=False),
              help="JSON output of `certmodel ensemble` to plot (certified accuracy vs "
              "radius, white-box vs black-box); repeatable.")
def report(store, fmt, plot_dir, ensemble_json):
    """Summarise stored results: per configuration and budget, mean ± std over seeds."""
    from certmodel.store import ResultStore
    from certmodel.store.aggregate import aggregate, to_csv, to_markdown

    if not Path(store).is_file():
        raise BadInput(f"--store: results store {store} does not exist (run `certmodel sweep` "
                       "or `certmodel certify --store` first)")
    with ResultStore(store) as db:
        rows = aggregate(db)
    if not rows and not ensemble_json:
        raise BadInput(f"--store {store} holds no results")
    click.echo(to_csv(rows) if fmt == "csv" else to_markdown(rows), nl=False)
    if plot_dir is not None:
        from certmodel import plots

        docs = [plots.read_ensemble_json(p) for p in ensemble_json]
        written = plots.write_figures(rows, plot_dir, ensembles=docs)
        con = console(stderr=True)
        for path in written:
            con.print(f"wrote {path}")
