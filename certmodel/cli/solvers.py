"""``certmodel solvers``: every MILP backend, whether it is installed, its version, features
and known licence limits (also as JSON with ``--json``)."""

from __future__ import annotations

import json

import click

from certmodel.cli._common import console

__all__ = ["solvers", "solver_table"]

_FEATURES = ("mip_start", "dual_bound", "decision_stop", "objective_swap", "write_mps", "sos1",
             "indicator")


def _row(name: str) -> dict:
    from certmodel.backends.base import backend_class
    from certmodel.exceptions import BackendUnavailableError

    try:
        cls = backend_class(name)
        installed = bool(cls.available())
    except BackendUnavailableError as e:
        return {"name": name, "installed": False, "version": None, "features": [],
                "licence_limit": None, "notes": str(e)}
    version = None
    notes = ""
    if installed:
        try:
            version = cls.version()
        except Exception as e:  # noqa: BLE001 - a probe, never fatal
            notes = f"version unknown: {e}"
    limit = cls.licence_limit() if installed else cls.max_size
    if limit is not None:
        notes = (notes + "; " if notes else "") + (
            f"size-limited licence: at most {limit[0]} variables and {limit[1]} rows "
            "(checked before solving)")
    feats = sorted(f.value for f in cls.features)
    if installed and "decision_stop" not in feats:
        notes = (notes + "; " if notes else "") + "no decision stop: every MILP is optimised"
    if installed and "dual_bound" not in feats:
        notes = (notes + "; " if notes else "") + \
            "no reported dual bound: robust only from an optimal status at gap 0"
    return {"name": name, "installed": installed, "version": version, "features": feats,
            "licence_limit": list(limit) if limit is not None else None, "notes": notes}


def solver_table(include_pyomo: bool = True) -> list[dict]:
    """One dict per backend: registered ones, then the Pyomo solvers certmodel knows."""
    from certmodel.backends.base import backend_names
    from certmodel.backends.pyomo_solvers import KNOWN_SOLVERS

    names = backend_names()
    if include_pyomo:
        names += [f"pyomo:{s}" for s in KNOWN_SOLVERS]
    return [_row(n) for n in names]


@click.command("solvers")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.option("--installed", is_flag=True, help="Only the backends installed here.")
@click.option("--no-pyomo", is_flag=True, help="Leave out the pyomo:NAME backends.")
def solvers(as_json, installed, no_pyomo):
    """List the MILP backends: installed or not, version, features, licence limits.

    Any name listed (or any other Pyomo solver as pyomo:NAME) can be given to
    `certify --solver`, a sweep's `solver` option or LabelCertOptions(backend=...).
    """
    rows = solver_table(include_pyomo=not no_pyomo)
    if installed:
        rows = [r for r in rows if r["installed"]]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title="MILP backends", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("installed")
    table.add_column("version", overflow="fold")
    table.add_column("features", min_width=max(len(f) for f in _FEATURES))  # whole words
    table.add_column("notes", overflow="fold")
    for r in rows:
        table.add_row(r["name"], "yes" if r["installed"] else "no", r["version"] or "-",
                      " ".join(f for f in _FEATURES if f in r["features"]) or "-",
                      r["notes"] or "")
    out = console()
    if not out.is_terminal:  # piped or logged: no terminal width to respect
        out.width = max(out.width, 140)
    out.print(table)
