"""``certmodel sweep``: run a grid of configurations into the results store."""

from __future__ import annotations

import dataclasses
import time

import click

from certmodel.cli._common import BadInput, console, progress_bar
from certmodel.pipeline import read_sweep, run_certify

__all__ = ["sweep", "DEFAULT_STORE"]

DEFAULT_STORE = "certmodel-results.sqlite"


@click.command("sweep")
@click.argument("config_file", metavar="CONFIG.toml", type=click.Path(dir_okay=False))
@click.option("--store", type=click.Path(dir_okay=False), default=DEFAULT_STORE,
              show_default=True, help="SQLite results store (resumable).")
@click.option("--workers", type=click.IntRange(min=1),
              help="Local worker processes (default: in-process when every certificate has "
              "a closed form, e.g. the saturated regime, else up to 4 processes).")
@click.option("--scheduler", help="dask.distributed scheduler address, tcp://HOST:PORT.")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Dataset folder (default $CERTMODEL_DATA).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True),
              help="Seconds per MILP for every run (overrides the file's time_limit).")
@click.option("--rerun-unknown", is_flag=True, help="Compute the stored `unknown` records "
              "again (e.g. with a larger --time-limit) and replace them.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no per-run lines.")
def sweep(config_file, store, workers, scheduler, data_dir, time_limit, rerun_unknown, quiet):
    """Run every configuration of a sweep (datasets × architectures × seeds × ...).

    Results go to the store; re-running skips what is stored, so an interrupted sweep
    resumes where it stopped (records of failed or crashed tasks are computed again;
    --rerun-unknown also re-runs the `unknown` ones).  Example CONFIG.toml:

    \b
      datasets = ["csbm"]
      architectures = ["gcn", "sgc"]
      seeds = [0, 1, 2]
      budgets = [1, 2, 4]
      [options]
      max_test = 50
    """
    from certmodel.datasets import dataset_names
    from certmodel.kernels import architectures
    from certmodel.store import ResultStore

    configs = read_sweep(config_file)
    if time_limit is not None:
        configs = [dataclasses.replace(c, time_limit=time_limit) for c in configs]
    for c in configs:  # validate names before any work or file
        if c.dataset not in dataset_names():
            raise BadInput(f"unknown dataset {c.dataset!r} in {config_file}; expected one of: "
                           f"{', '.join(dataset_names())}")
        if c.arch not in architectures():
            raise BadInput(f"unknown architecture {c.arch!r} in {config_file}; expected one "
                           f"of: {', '.join(architectures())}")
    con = console()
    t0 = time.perf_counter()
    computed = reused = 0
    with ResultStore(store) as db:
        for i, config in enumerate(configs, 1):
            with progress_bar(f"[{i}/{len(configs)}] {config.label()}", quiet=quiet) as update:
                result = run_certify(config, workers=workers, scheduler=scheduler, store=db,
                                     progress=update, data_dir=data_dir,
                                     rerun_unknown=rerun_unknown)
            computed += result.n_computed
            reused += result.n_reused
            if not quiet:
                rows = result.summary()
                ratios = " ".join(f"B={r['budget']}:{100 * r['certified_ratio']:.0f}%"
                                  for r in rows)
                con.print(f"[{i}/{len(configs)}] {config.label()} · acc "
                          f"{100 * result.clean_accuracy:.1f} % · certified {ratios} · "
                          f"{result.wall_time:.1f} s (computed {result.n_computed}, "
                          f"reused {result.n_reused})")
    if not quiet:
        con.print(f"sweep done: {len(configs)} runs, {computed} records computed, {reused} "
                  f"reused, {time.perf_counter() - t0:.1f} s · store {store}")
