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
@click.option("--validate", "validate_json", multiple=True, type=click.Path(dir_okay=False),
              help="JSON output of `certmodel validate`: table, and with --plot agreement and "
              "transfer vs width; repeatable (no store needed).")
def report(store, fmt, plot_dir, ensemble_json, validate_json):
    """Summarise stored results: per configuration and budget, mean ± std over seeds."""
    from certmodel.finite.plots import read_validate_json
    from certmodel.store import ResultStore
    from certmodel.store.aggregate import aggregate, to_csv, to_markdown

    studies = [read_validate_json(p) for p in validate_json]
    rows = []
    if Path(store).is_file():
        with ResultStore(store) as db:
            rows = aggregate(db)
    elif not studies:
        raise BadInput(f"--store: results store {store} does not exist (run `certmodel sweep` "
                       "or `certmodel certify --store` first)")
    if not rows and not ensemble_json and not studies:
        raise BadInput(f"--store {store} holds no results")
    if rows or not studies:
        click.echo(to_csv(rows) if fmt == "csv" else to_markdown(rows), nl=False)
    if studies:
        from certmodel.finite.study import markdown_table

        click.echo("\n\n".join(markdown_table(d) for d in studies))
    if plot_dir is not None:
        from certmodel import plots

        docs = [plots.read_ensemble_json(p) for p in ensemble_json]
        written = plots.write_figures(rows, plot_dir, ensembles=docs)
        if studies:
            from certmodel.finite.plots import plot_width_studies

            written += plot_width_studies(studies, plot_dir)
        con = console(stderr=True)
        for path in written:
            con.print(f"wrote {path}")
