"""``certmodel certify``: the whole pipeline on a dataset, or certificates for an instance file."""

from __future__ import annotations

import contextlib
import signal
import time
import zipfile

import click
import numpy as np

from certmodel.cli._common import (
    BadInput,
    check_json_target,
    check_scheduler_address,
    check_store_target,
    console,
    parse_float_list,
    parse_int_list,
    parse_key_values,
    progress_bar,
    write_json,
)
from certmodel.pipeline import (
    METHODS,
    MODES,
    CertifyConfig,
    Interrupted,
    certify_arrays,
    run_certify,
    validate_config,
)

__all__ = ["certify", "load_instance", "summary_table"]


def _fmt_pct(v) -> str:
    return "–" if v is None or v != v else f"{100 * v:.1f} %"


def summary_table(rows: list[dict], title: str):
    """A rich table: one row per budget (certified ratio / accuracy, verdict counts, time)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name in ("budget", "cert. ratio", "cert. acc.", "robust", "not rob.", "unknown",
                 "time (s)"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(str(r["budget"]), _fmt_pct(r.get("certified_ratio")),
                      _fmt_pct(r.get("certified_accuracy")), str(r.get("robust", "–")),
                      "–" if r.get("not_robust") is None else str(r["not_robust"]),
                      "–" if r.get("unknown") is None else str(r["unknown"]),
                      f"{r.get('wall_time', 0.0):.2f}")
    return table


# ----------------------------------------------------------------------------------------------
# instance files
# ----------------------------------------------------------------------------------------------

def _check_npz_magic(path: str) -> None:
    """An instance is an ``.npz`` archive (a zip file): say what the file is otherwise."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except FileNotFoundError:
        raise BadInput(f"--instance: file {path} does not exist") from None
    except OSError as e:
        raise BadInput(f"--instance {path}: cannot be read ({e})") from None
    if head.startswith(b"\x93NUMPY"):
        raise BadInput(f"--instance {path}: an .npy file holds one array; an instance is an "
                       ".npz archive with K, K_test, y and C (numpy.savez)")
    if not head.startswith(b"PK"):
        raise BadInput(f"--instance {path}: not an .npz archive (numpy.savez writes a zip "
                       "file); it holds K, K_test, y and C")


def load_instance(path: str, *, need_C: bool) -> dict:
    """Read and validate an instance ``.npz`` (``K``, ``K_test``, ``y``, ``C``, opt. ``ridge``).

    Raises :class:`BadInput` (exit 2) for unreadable files, missing keys or bad shapes.
    """
    from certmodel._validation import check_kernel_matrix, check_labels, check_test_kernel
    from certmodel.exceptions import InvalidParameterError

    _check_npz_magic(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except BadInput:
        raise
    except FileNotFoundError:
        raise BadInput(f"--instance: file {path} does not exist") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise BadInput(f"--instance {path}: not a readable .npz file ({e})") from None
    required = ["K", "K_test", "y"] + (["C"] if need_C else [])
    missing = [k for k in required if k not in arrays]
    if missing:
        found = ", ".join(sorted(arrays)) or "none"
        raise BadInput(f"--instance {path}: missing key(s) {', '.join(missing)}; an instance "
                       f"holds {', '.join(required)} (found: {found})")
    try:
        K = check_kernel_matrix(arrays["K"], "K", sym_tol=1e-8)
        K_test = check_test_kernel(arrays["K_test"], K.shape[0], "K_test")
        check_labels(arrays["y"], K.shape[0], "y")
        y = np.asarray(arrays["y"]).astype(np.int64)
        out = {"K": K, "K_test": K_test, "y": y}
        for key in ("C", "ridge"):
            if key in arrays:
                v = np.asarray(arrays[key], dtype=float)
                if v.size != 1 or not np.isfinite(v).all() or float(v.ravel()[0]) <= 0:
                    raise InvalidParameterError(f"{key} must be one positive number, got {v!r}")
                out[key] = float(v.ravel()[0])
    except InvalidParameterError as e:
        raise BadInput(f"--instance {path}: {e}") from None
    return out


def _check_solver(solver: str) -> None:
    """``--solver`` must name an installed backend (exit 2 listing the installed ones)."""
    from certmodel.backends.base import check_backend_name
    from certmodel.exceptions import BackendUnavailableError, InvalidParameterError

    try:
        check_backend_name(solver, "--solver")
    except (InvalidParameterError, BackendUnavailableError) as e:
        raise BadInput(str(e)) from None


def _milp_only_options():
    from certmodel.labelcert import LabelCertOptions

    return LabelCertOptions.plain(linearization="compact")


def load_threat(flippable: str | None, cost: str | None, y: np.ndarray):
    """``--flippable FILE.npy|class:K`` and ``--cost FILE.npy`` -> ThreatModel (or None).

    ``class:K`` marks the training points labelled ``K`` (a label value of the instance);
    ``.npy`` files are read without pickles (a boolean / 0-1 mask, positive costs).
    """
    from certmodel.exceptions import InvalidParameterError
    from certmodel.threat import ThreatModel

    if flippable is None and cost is None:
        return None

    def npy(path: str, what: str) -> np.ndarray:
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise BadInput(f"{what} {path!r}: cannot read a .npy array ({e})") from None

    mask = None
    if flippable is not None:
        if flippable.startswith("class:"):
            try:
                k = int(flippable[len("class:"):])
            except ValueError:
                raise BadInput(f"--flippable {flippable!r}: expected class:K with an integer "
                               "label K, or FILE.npy") from None
            if k not in set(np.asarray(y).tolist()):
                raise BadInput(f"--flippable {flippable!r}: no training point has label {k} "
                               f"(labels: {sorted(set(np.asarray(y).tolist()))})")
            mask = np.asarray(y) == k
        else:
            mask = npy(flippable, "--flippable")
    costs = None if cost is None else npy(cost, "--cost")
    try:
        threat = ThreatModel(flippable=mask, cost=costs)
        threat.resolve(len(y), max(2, len(set(np.asarray(y).tolist()))))
    except InvalidParameterError as e:
        raise BadInput(f"--flippable/--cost: {e}") from None
    return threat


def _certify_instance(instance, budgets, method, learner, ridge, mode, solver, time_limit,
                      json_out, quiet, milp_only=False, flippable=None, cost=None,
                      search_workers=1, search_scheduler=None, cut_bound=None):
    """Certificates of one kernel-problem file.  ``search_workers`` / ``search_scheduler``
    (``--workers`` / ``--scheduler``) split LabelCert's exact searches; ScaLabelCert's
    certificates are sorts and MILPs, with nothing to split.  ``cut_bound``
    (``--cut-bound/--no-cut-bound``): ``LabelCertOptions.cut_bound``."""
    from certmodel._validation import check_budgets
    from certmodel.exceptions import InvalidParameterError
    from certmodel.results import records_to_json, summarize

    if json_out is None:
        raise BadInput("--instance needs --json OUT.json (or --json - for stdout)")
    check_json_target(json_out)
    data = load_instance(instance, need_C=(learner == "svm"))
    ridge = ridge if ridge is not None else data.get("ridge", 1.0)
    threat = load_threat(flippable, cost, data["y"])
    options = _milp_only_options() if milp_only else None
    if search_workers > 1 or search_scheduler is not None or cut_bound is not None:
        from certmodel.labelcert import LabelCertOptions

        try:
            options = (options or LabelCertOptions()).replace(
                search_workers=search_workers, search_scheduler=search_scheduler,
                cut_bound=cut_bound)
        except InvalidParameterError as e:  # e.g. --cut-bound with --milp-only (no bounds)
            raise BadInput(f"--cut-bound: {e}") from None
    try:
        if cost is None:
            budgets = check_budgets(list(budgets), data["K"].shape[0], "--budget")
        else:  # cost budgets: any integers >= 0
            budgets = check_budgets(list(budgets), 10**12, "--budget")
    except InvalidParameterError as e:
        raise BadInput(str(e)) from None
    t0 = time.perf_counter()
    records = certify_arrays(data["K"], data["y"], data["K_test"], data.get("C", 1.0), budgets,
                             method=method, mode=mode, learner=learner, ridge=ridge,
                             solver=solver, time_limit=time_limit,
                             labelcert_options=options, threat=threat)
    wall = time.perf_counter() - t0
    meta = {"instance": str(instance), "method": method, "mode": mode, "learner": learner,
            "solver": solver, "budgets": budgets, "n_train": int(data["K"].shape[0]),
            "n_test": int(data["K_test"].shape[0]), "wall_time": wall,
            "threat": None if threat is None else threat.to_dict()}
    write_json(json_out, records_to_json(records, **meta))
    if not quiet:
        con = console(stderr=(json_out == "-"))
        if records and hasattr(records[0], "verdict"):
            con.print(summary_table(summarize(records), f"{instance}: {method} {mode}"))
        con.print(f"wall time {wall:.2f} s; {len(records)} records written to {json_out}")


# ----------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------

@click.command("certify")
@click.option("--dataset", help="Dataset name (see `certmodel datasets`), e.g. csbm, karate, "
              "cora_ml_binary.")
@click.option("--instance", type=click.Path(dir_okay=False),
              help="A .npz file with K (n×n), K_test (m×n), y and C instead of a dataset.")
@click.option("--arch", help="NTK architecture: gcn, sgc, appnp, gin, graphsage, "
              "gcn_skip_alpha, gcn_skip_pc, mlp, linear, fc.")
@click.option("--arch-option", "arch_option", multiple=True, callback=parse_key_values,
              metavar="KEY=VALUE", help="Architecture option, repeatable, e.g. "
              "--arch-option alpha=0.1 for appnp (see `certmodel.kernels.ntk`).")
@click.option("--normalization", type=click.Choice(["row", "sym", "graphsage", "none"]),
              help="Graph normalisation (default: the architecture's).")
@click.option("--depth", type=click.IntRange(min=1), default=1, show_default=True,
              help="Hidden layers of the network.")
@click.option("--C", "C", type=float, help="SVM box bound C (default: the paper's value for "
              "the dataset, e.g. 0.001 for csbm).")
@click.option("--cv", is_flag=True, help="Choose C by 4-fold cross-validation.")
@click.option("--labelled-per-class", type=click.IntRange(min=1),
              help="Train (and val) nodes per class; labelled = train ∪ val.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--budget", callback=parse_int_list, help="Budgets, e.g. 1,2,5.")
@click.option("--budget-fraction", callback=parse_float_list,
              help="Budgets as fractions of the labelled set, e.g. 0.05,0.1.")
@click.option("--method", type=click.Choice(METHODS), default="labelcert", show_default=True)
@click.option("--mode", type=click.Choice(MODES), default="samplewise", show_default=True)
@click.option("--learner", type=click.Choice(["svm", "krr"]), default="svm", show_default=True,
              help="krr needs --method scalabel.")
@click.option("--ridge", type=click.FloatRange(min=0, min_open=True),
              help="Ridge λ > 0 of kernel ridge regression (default 1, or the instance's "
              "`ridge`).")
@click.option("--solver", default="highs", show_default=True,
              help="MILP backend: highs, gurobi, scip, a plug-in, or pyomo:NAME (any Pyomo "
              "solver, e.g. pyomo:cbc); `certmodel solvers` lists what is installed.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True),
              help="Seconds per MILP (time-outs give `unknown`); a collective record's "
              "stages share it.")
@click.option("--max-test", type=click.IntRange(min=1), help="Certify a random subset of "
              "this many test nodes.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Local worker processes (default: in-process when every certificate has "
              "a closed form, e.g. the saturated regime, else up to 4 processes).  With "
              "--instance: the processes each exact relabelling search is split over.")
@click.option("--scheduler", help="dask.distributed scheduler address, tcp://HOST:PORT "
              "(with --instance: the cluster the parts of a split search run on).")
@click.option("--search-workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --dataset and --method labelcert: local processes each hard exact "
              "relabelling search is split over (a run uses up to --workers × this many); "
              "with --instance give --workers.")
@click.option("--cut-bound/--no-cut-bound", "cut_bound", default=None,
              help="With --method labelcert: prune the exact relabelling searches also by "
              "the optimality-cut bound (B4) (default: on).  Verdicts are the same either "
              "way; --no-cut-bound is the earlier, slower default.")
@click.option("--store", type=click.Path(dir_okay=False), help="SQLite results store "
              "(stored results are reused, new ones added; records of failed tasks are "
              "computed again).")
@click.option("--rerun-unknown", is_flag=True, help="With --store: compute the stored "
              "`unknown` records again (e.g. with a larger --time-limit) and replace them.")
@click.option("--json", "json_out", help="Write the records as JSON to this file ('-': stdout).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Dataset folder "
              "(default $CERTMODEL_DATA).")
@click.option("--parity", is_flag=True, help="Reproduce the reference numerically.")
@click.option("--milp-only", is_flag=True, help="With --instance and --method labelcert: "
              "decide every point by the MILP alone (no attack, enumeration, bounds or "
              "closed forms), to compare solvers.")
@click.option("--flippable", help="With --instance: the training points the attacker may "
              "relabel — class:K (points labelled K) or FILE.npy (boolean mask, no pickles).")
@click.option("--cost", help="With --instance: FILE.npy of per-point flip costs (> 0); "
              "--budget is then a cost budget.")
@click.option("--verbose", "-v", is_flag=True, help="Solver logs to stderr (stdout stays "
              "clean for --json -).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no table.")
def certify(dataset, instance, arch, arch_option, normalization, depth, C, cv,
            labelled_per_class, seed,
            budget, budget_fraction, method, mode, learner, ridge, solver, time_limit,
            max_test, workers, scheduler, search_workers, cut_bound, store, rerun_unknown,
            json_out, data_dir, parity, milp_only, flippable, cost, verbose, quiet):
    """Certify robustness against label flipping.

    With --dataset: data → split → NTK → SVM → certificates, then a table of certified ratio
    and certified accuracy per budget.  With --instance: certificates for a precomputed
    kernel problem, written as JSON records.

    \b
    Examples:
      certmodel certify --dataset csbm --arch gcn --budget 1,2,4
      certmodel certify --instance inst.npz --budget 1,2 --method labelcert --json out.json
    """
    if (dataset is None) == (instance is None):
        raise BadInput("give exactly one of --dataset NAME or --instance FILE.npz")
    _check_solver(solver)
    if verbose:
        import os

        os.environ["CERTMODEL_SOLVER_LOG"] = "1"  # SolveOptions default, inherited by workers
    if budget is None and budget_fraction is None:
        raise BadInput("give --budget (e.g. 1,2,5) or --budget-fraction (e.g. 0.05,0.1)")
    if budget is not None and budget_fraction is not None:
        raise BadInput("give either --budget or --budget-fraction, not both")
    if instance is not None:
        if milp_only and method != "labelcert":
            raise BadInput("--milp-only needs --method labelcert")
        if budget is None:
            raise BadInput("--instance needs integer budgets: --budget 1,2,3")
        if search_workers != 1:
            raise BadInput(f"--search-workers {search_workers}: with --instance the records "
                           "run in this process and --workers N splits each exact search "
                           "over N processes; give --workers instead")
        check_scheduler_address(scheduler)
        if method != "labelcert" and (workers or scheduler):
            raise BadInput("--workers/--scheduler with --instance split LabelCert's exact "
                           f"search; --method {method} has none (give --method labelcert)")
        if method != "labelcert" and cut_bound is not None:
            raise BadInput(f"--{'' if cut_bound else 'no-'}cut-bound tunes LabelCert's exact "
                           f"search; --method {method} has none (give --method labelcert)")
        _certify_instance(instance, budget, method, learner, ridge, mode, solver, time_limit,
                          json_out, quiet, milp_only, flippable, cost,
                          search_workers=workers or 1, search_scheduler=scheduler,
                          cut_bound=cut_bound)
        return
    if flippable is not None or cost is not None:
        raise BadInput("--flippable/--cost work with --instance (a kernel problem whose "
                       "training points they index)")
    if milp_only:
        raise BadInput("--milp-only works with --instance (solver comparisons on a fixed "
                       "kernel problem)")
    if arch is None:
        raise BadInput("--dataset needs --arch (e.g. --arch gcn)")
    if rerun_unknown and store is None:
        raise BadInput("--rerun-unknown re-runs stored records: give --store FILE.sqlite")
    check_json_target(json_out)
    check_store_target(store)
    check_scheduler_address(scheduler)
    from certmodel.kernels import architectures

    if arch not in architectures():
        raise BadInput(f"unknown --arch {arch!r}; expected one of: {', '.join(architectures())}")
    config = CertifyConfig(
        dataset=dataset, arch=arch, normalization=normalization, depth=depth, C=C, cv=cv,
        labelled_per_class=labelled_per_class, seed=seed, budgets=budget,
        budget_fractions=budget_fraction, method=method, mode=mode, learner=learner,
        ridge=1.0 if ridge is None else ridge, solver=solver, time_limit=time_limit,
        max_test=max_test, parity=parity, arch_options=arch_option,
        search_workers=search_workers, cut_bound=cut_bound)
    validate_config(config)  # names, options, a known C: before any data is loaded
    from certmodel.results import records_to_json

    try:
        result = _run(config, workers=workers, scheduler=scheduler, store_path=store,
                      data_dir=data_dir, quiet=quiet, rerun_unknown=rerun_unknown)
    except Interrupted as stop:  # Ctrl-C / SIGTERM: keep what finished
        where = f"; all finished records are in the store {store}" if store else ""
        if json_out is not None:
            write_json(json_out, records_to_json(
                stop.records, config=config.to_dict(), interrupted=True,
                n_finished=len(stop.records), n_total=stop.total))
            where = f"; {len(stop.records)} finished records written to {json_out}" + where
        click.echo(f"interrupted after {len(stop.records)} of {stop.total} records{where}",
                   err=True)
        raise SystemExit(130) from None
    if json_out is not None:
        write_json(json_out, records_to_json(
            result.records, config=config.to_dict(), C=result.C,
            clean_accuracy=result.clean_accuracy, n_labelled=result.n_labelled,
            n_test=result.n_test, budgets=result.budgets, wall_time=result.wall_time,
            labelled_nodes=result.labelled_index, relabelling_keys="node id",
            y_true={str(k): v for k, v in result.y_true.items()}, summary=result.summary()))
    if not quiet:
        print_result(result, stderr=(json_out == "-"))


def _run(config, *, workers, scheduler, store_path, data_dir, quiet, rerun_unknown=False):
    with progress_bar(f"certifying {config.label()} {config.method} {config.mode}",
                      quiet=quiet) as update, _sigterm_as_interrupt():
        return run_certify(config, workers=workers, scheduler=scheduler, store=store_path,
                           progress=update, data_dir=data_dir, rerun_unknown=rerun_unknown)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (``kill``, a batch system's time-out) stops a run like Ctrl-C does."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave the default
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def print_result(result, *, stderr: bool = False) -> None:
    """The certify table with a header line (clean accuracy, sizes, C, wall time)."""
    cfg = result.config
    con = console(stderr=stderr)
    title = (f"{cfg.method} {cfg.mode} · {cfg.dataset} · {cfg.arch} "
             f"({cfg.normalization or 'default'} norm., depth {cfg.depth}) · seed {cfg.seed}")
    con.print(summary_table(result.summary(), title))
    t = result.timings
    con.print(f"labelled {result.n_labelled} · test {result.n_test} · C = {result.C:g} · "
              f"clean accuracy {100 * result.clean_accuracy:.1f} %")
    con.print(f"wall time {result.wall_time:.1f} s (kernel {t.get('kernel', 0):.1f} s, "
              f"certificates {t.get('certificates', 0):.1f} s)")
    con.print(f"records: {result.n_computed} computed, {result.n_reused} reused from the store")
    for err in sorted(set(result.errors))[:5]:
        con.print(f"[yellow]task failed (records marked unknown): {err}[/yellow]")
