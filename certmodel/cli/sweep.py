"""``certmodel sweep``: run a grid of configurations into the results store."""

from __future__ import annotations

import dataclasses
import time

import click

from certmodel.cli._common import (
    BadInput,
    check_scheduler_address,
    check_store_target,
    console,
    parse_key_values,
    progress_bar,
)
from certmodel.kernels._architectures import REGISTRY
from certmodel.pipeline import read_sweep, run_certify, validate_config

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
@click.option("--search-workers", type=click.IntRange(min=1), help="Local processes each "
              "hard exact relabelling search of LabelCert is split over, for every labelcert "
              "run (overrides the file's search_workers).")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Dataset folder (default $CERTMODEL_DATA).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True),
              help="Seconds per MILP for every run (overrides the file's time_limit).")
@click.option("--rerun-unknown", is_flag=True, help="Compute the stored `unknown` records "
              "again (e.g. with a larger --time-limit) and replace them.")
@click.option("--arch-option", "arch_option", multiple=True, callback=parse_key_values,
              metavar="KEY=VALUE", help="Architecture option for every architecture of the "
              "sweep that accepts KEY (repeatable), e.g. alpha=0.1; per architecture: the "
              "file's [arch_options.ARCH] table.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no per-run lines.")
def sweep(config_file, store, workers, scheduler, search_workers, data_dir, time_limit,
          rerun_unknown, arch_option, quiet):
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
    from certmodel.exceptions import InvalidParameterError
    from certmodel.store import ResultStore

    check_store_target(store)
    check_scheduler_address(scheduler)
    configs = read_sweep(config_file)
    if time_limit is not None:
        configs = [dataclasses.replace(c, time_limit=time_limit) for c in configs]
    if search_workers is not None:
        configs = [dataclasses.replace(c, search_workers=search_workers)
                   if c.method == "labelcert" else c for c in configs]
    if arch_option:
        configs = _with_arch_options(configs, arch_option)
    for i, c in enumerate(configs, 1):  # every configuration before any work or file
        try:
            validate_config(c)
        except InvalidParameterError as e:
            raise BadInput(f"{config_file}, run {i} of {len(configs)} ({c.label()}): {e}") \
                from None
    con = console()
    t0 = time.perf_counter()
    computed = reused = 0
    with ResultStore(store) as db:
        for i, config in enumerate(configs, 1):
            name = f"[{i}/{len(configs)}] {config.label()} {config.method} {config.mode}"
            with progress_bar(name, quiet=quiet) as update:
                result = run_certify(config, workers=workers, scheduler=scheduler, store=db,
                                     progress=update, data_dir=data_dir,
                                     rerun_unknown=rerun_unknown)
            computed += result.n_computed
            reused += result.n_reused
            if not quiet:
                rows = result.summary()
                ratios = " ".join(f"B={r['budget']}:{100 * r['certified_ratio']:.0f}%"
                                  for r in rows)
                con.print(f"[{i}/{len(configs)}] {config.label()} · {config.method} "
                          f"{config.mode} · acc "
                          f"{100 * result.clean_accuracy:.1f} % · certified {ratios} · "
                          f"{result.wall_time:.1f} s (computed {result.n_computed}, "
                          f"reused {result.n_reused})")
    if not quiet:
        con.print(f"sweep done: {len(configs)} runs, {computed} records computed, {reused} "
                  f"reused, {time.perf_counter() - t0:.1f} s · store {store}")


def _with_arch_options(configs, options: dict):
    """Add ``options`` to every configuration whose architecture accepts the key."""
    archs = {c.arch for c in configs}
    for key in options:
        if not any(key in REGISTRY[a].options for a in archs if a in REGISTRY):
            raise BadInput(f"--arch-option {key}: no architecture of this sweep accepts it "
                           f"({', '.join(sorted(archs))})")
    out = []
    for c in configs:
        accepted = REGISTRY[c.arch].options if c.arch in REGISTRY else {}
        extra = {k: v for k, v in options.items() if k in accepted}
        out.append(dataclasses.replace(c, arch_options={**c.arch_options, **extra}))
    return out
