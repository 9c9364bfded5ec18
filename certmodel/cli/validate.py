"""``certmodel validate``: do kernel certificates hold for finite networks? (per width)."""

from __future__ import annotations

import json

import click

from certmodel.cli._common import BadInput, check_json_target, console, parse_int_list, write_json

__all__ = ["validate"]

_DATASETS = ("csbm", "cora_ml_binary", "citeseer_binary")
_ARCHS = ("gcn", "sgc", "appnp", "gin", "graphsage", "gcn_skip_alpha", "gcn_skip_pc", "mlp")


@click.command("validate")
@click.option("--dataset", required=True, type=click.Choice(_DATASETS),
              help="Binary node-classification task (LabelCert split).")
@click.option("--arch", required=True, type=click.Choice(_ARCHS), help="Architecture.")
@click.option("--widths", default="256,1024,4096", show_default=True, callback=parse_int_list,
              help="Hidden widths of the finite networks.")
@click.option("--seeds", default="0", show_default=True, callback=parse_int_list,
              help="Initialisation seeds per width.")
@click.option("--budget", type=click.IntRange(min=1),
              help="Label-flip budget: also test whether certificates transfer (retraining).")
@click.option("--C", "C", type=click.FloatRange(min=0, min_open=True),
              help="SVM C (default: the reference's value for dataset and arch).")
@click.option("--targets", default=10, show_default=True, type=click.IntRange(min=1),
              help="Test nodes certified and attacked in the transfer study.")
@click.option("--max-steps", default=300, show_default=True, type=click.IntRange(min=1),
              help="Gradient-descent steps at most per training run.")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Dataset folder (default $CERTMODEL_DATA).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False),
              help="Write the full result (per width and seed) as JSON; '-' for stdout.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def validate(dataset, arch, widths, seeds, budget, C, targets, max_steps, data_dir, json_out,
             quiet):
    """Train finite networks of increasing width on the certificate's objective and compare
    them with the kernel SVM the certificates are exact for.

    \b
    Per width: share of test predictions that agree with the kernel SVM, relative logit
    error; with --budget: not_robust witnesses that also flip the retrained network (NR flip)
    and robust targets a greedy retraining attack flips on the network (R attacked).
    Steps marked * did not converge within --max-steps.

    \b
    Example:
      certmodel validate --dataset csbm --arch gcn --widths 256,1024 --budget 4 --json out.json
    """
    from certmodel.finite.study import load_task, width_study

    check_json_target(json_out)
    if any(w < 1 for w in widths):
        raise BadInput(f"--widths: every width must be >= 1, got {list(widths)}")
    to_stderr = json_out == "-"
    con = console(stderr=to_stderr)
    task = load_task(dataset, data_dir=data_dir)
    if budget is not None and budget > task.train.size:
        raise BadInput(f"--budget {budget} exceeds the {task.train.size} labelled nodes")
    log = None if quiet else (lambda line: con.print(line))
    res = width_study(task, arch, widths, C=C, seeds=seeds, budget=budget, n_targets=targets,
                      max_steps=max_steps, progress=not quiet and not to_stderr, log=log)
    con.print(summary_table(res.to_dict()))
    if json_out is not None:
        write_json(json_out, json.dumps(res.to_dict(), indent=1))


def _fmt(v, pct=False, digits=4):
    if v is None:
        return "-"
    return f"{100 * v:.1f} %" if pct else f"{v:.{digits}g}"


def summary_table(doc: dict):
    """A rich table of a width study (the dict of ``StudyResult.to_dict``)."""
    from rich.table import Table

    w99 = doc["agreement_width"]
    title = (f"{doc['dataset']} · {doc['arch']} · C={doc['C']:g} · kernel SVM accuracy "
             f"{100 * doc['kernel_accuracy']:.1f} % · ≥99 % agreement from width "
             f"{w99 if w99 is not None else 'not reached on the widths tried'}")
    t = Table(title=title, title_justify="left")
    for col in ("width", "seeds", "agree", "logit err", "acc", "steps", "train s (CPU)"):
        t.add_column(col, justify="right")
    if doc["budget"] is not None:
        t.add_column(f"NR flip B={doc['budget']}", justify="right")
        t.add_column("R attacked", justify="right")
    for s in doc["summary"]:
        row = [str(s["width"]), str(s["seeds"]), _fmt(s["agreement"], pct=True),
               _fmt(s["rel_logit_error"]), _fmt(s["net_accuracy"], pct=True),
               f"{s['steps']:.0f}" + ("" if s["converged"] else "*"),
               f"{s['train_wall']:.1f} ({s['train_cpu']:.1f})"]
        if doc["budget"] is not None:
            row.append(f"{s['nr_flipped']}/{s['nr_total']}")
            row.append(f"{s['robust_attacked']}/{s['robust_total']}")
        t.add_row(*row)
    return t
