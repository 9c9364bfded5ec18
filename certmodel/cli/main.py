"""The ``certmodel`` command group and the small ``datasets`` command."""

from __future__ import annotations

import click

from certmodel.cli._common import CertmodelGroup, console
from certmodel.cli.certify import certify
from certmodel.cli.ensemble import ensemble
from certmodel.cli.export import export
from certmodel.cli.report import report
from certmodel.cli.solvers import solvers
from certmodel.cli.sweep import sweep
from certmodel.cli.validate import validate

__all__ = ["main"]


@click.group(cls=CertmodelGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="certmodel", message="certmodel %(version)s")
def main():
    """Exact robustness certificates against label-flipping poisoning.

    \b
    Quick start (no data files needed):
      certmodel certify --dataset csbm --arch gcn --budget 1,2,4

    Exit codes: 0 done, 2 bad input, 1 internal error.
    """
    from certmodel.backends._quiet import pyomo_logs_to_stderr

    pyomo_logs_to_stderr()  # stdout may carry JSON (--json -)


@main.command("datasets")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Dataset folder (default $CERTMODEL_DATA).")
def datasets_cmd(data_dir):
    """List the datasets available offline and where they were found."""
    from rich.table import Table

    from certmodel import datasets
    from certmodel.datasets import resolve_data_dir
    from certmodel.exceptions import MissingDataError

    try:
        root = str(resolve_data_dir(data_dir))
    except MissingDataError:
        root = None
    table = Table(title=f"datasets (data folder: {root or 'none; set $CERTMODEL_DATA'})",
                  title_justify="left")
    table.add_column("name")
    table.add_column("available")
    table.add_column("source")
    for info in datasets.available(data_dir):
        src = str(info.path) if info.path is not None else "generated (no file needed)" \
            if info.found else "-"
        status = "yes" if info.found else f"no ({info.problem})" if info.problem else "no"
        table.add_row(info.name, status, src)
    console().print(table)


main.add_command(certify)
main.add_command(sweep)
main.add_command(solvers)
main.add_command(report)
main.add_command(export)
main.add_command(ensemble)
main.add_command(validate)
