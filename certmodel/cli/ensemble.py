"""``certmodel ensemble``: EnsembleCert on MNIST / Fashion-MNIST / a feature file."""

from __future__ import annotations

import json
import zipfile

import click
import numpy as np

from certmodel.cli._common import BadInput, check_json_target, console, write_json

__all__ = ["ensemble"]


def _load_features(dataset: str, data_dir):
    if dataset.endswith(".npz"):
        try:
            with np.load(dataset, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise BadInput(f"--dataset: file {dataset} does not exist") from None
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise BadInput(f"--dataset {dataset}: not a readable .npz file ({e})") from None
        missing = [k for k in ("X_train", "y_train", "X_test") if k not in arrays]
        if missing:
            raise BadInput(f"--dataset {dataset}: missing key(s) {', '.join(missing)}; a "
                           "feature file holds X_train, y_train, X_test and optionally y_test")
        return (arrays["X_train"], arrays["y_train"], arrays["X_test"], arrays.get("y_test"))
    if dataset not in ("mnist", "fashion_mnist"):
        raise BadInput(f"unknown --dataset {dataset!r}; expected one of: mnist, fashion_mnist, "
                       "or a .npz feature file")
    from certmodel import datasets

    d = datasets.load(dataset, data_dir=data_dir)
    return d.X_train, d.y_train, d.X_test, d.y_test


def _binary(X, y, classes, what):
    a, b = classes
    keep = (y == a) | (y == b)
    for c in classes:
        if not np.any(y == c):
            raise BadInput(f"--binary {a},{b}: class {c} does not occur in the {what} labels "
                           f"(labels present: {np.unique(y).tolist()[:20]})")
    return X[keep], np.where(y[keep] == a, 0, 1)


@click.command("ensemble")
@click.option("--dataset", required=True, help="mnist, fashion_mnist, or a .npz file with "
              "X_train, y_train, X_test (and y_test).")
@click.option("--partitions", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--learner", type=click.Choice(["krr", "svm"]), default="krr", show_default=True)
@click.option("--binary", "binary", help="Two classes a,b (e.g. 1,7): a becomes 0, b 1.")
@click.option("--partitioner", type=click.Choice(["hash", "sorted"]), default="hash",
              show_default=True, help="DPA hash or SS-DPA sorted order.")
@click.option("--ridge", type=click.FloatRange(min=0, min_open=True), default=1e-3,
              show_default=True, help="Ridge λ of the KRR base learners.")
@click.option("--svm-c", "svm_c", type=click.FloatRange(min=0, min_open=True),
              help="C of the SVM base learners (default: half the saturation bound "
              "1 / max_i Σ_j |K_ij| of each partition). Must stay in the saturated regime.")
@click.option("--fa-d", "fa_d", type=click.IntRange(min=1),
              help="Also run Finite Aggregation with k = --partitions and this d "
              "(black-box FA radii, k·d base learners).")
@click.option("--max-train", type=click.IntRange(min=1), help="Use the first N training points.")
@click.option("--max-test", type=click.IntRange(min=1), help="Use the first M test points.")
@click.option("--json", "json_out", required=True, help="Output JSON ('-': stdout).")
@click.option("--data-dir", type=click.Path(file_okay=False))
@click.option("--quiet", "-q", is_flag=True)
def ensemble(dataset, partitions, learner, binary, partitioner, ridge, svm_c, fa_d, max_train,
             max_test, json_out, data_dir, quiet):
    """Certify a partition-aggregation ensemble: white-box (EnsembleCert) vs black-box (DPA).

    SVM base learners must be in the saturated small-C regime (label-linear); outside it use
    LabelCert per partition and certmodel.ensemble.costs_from_certifier (Python API).
    """
    from certmodel.ensemble.certify import certify_ensemble
    from certmodel.ensemble.finite_aggregation import certify_fa_ensemble

    check_json_target(json_out)
    classes = None
    if binary is not None:
        try:
            classes = tuple(int(v) for v in binary.split(","))
        except ValueError:
            classes = ()
        if len(classes) != 2 or classes[0] == classes[1]:
            raise BadInput(f"--binary expects two different class labels like 1,7, got {binary!r}")
    X_tr, y_tr, X_te, y_te = _load_features(dataset, data_dir)
    if classes is not None:
        X_tr, y_tr = _binary(X_tr, np.asarray(y_tr), classes, "training")
        if y_te is not None:
            X_te, y_te = _binary(X_te, np.asarray(y_te), classes, "test")
    if max_train is not None:
        X_tr, y_tr = X_tr[:max_train], y_tr[:max_train]
    if max_test is not None:
        X_te = X_te[:max_test]
        y_te = None if y_te is None else y_te[:max_test]
    X_tr, y_tr, X_te = np.asarray(X_tr, float), np.asarray(y_tr), np.asarray(X_te, float)
    kw = {"learner": learner, "partitioner": partitioner, "y_test": y_te, "lam": ridge,
          "C": svm_c}
    res = certify_ensemble(X_tr, y_tr, X_te, partitions=partitions, **kw)
    fa = None if fa_d is None else certify_fa_ensemble(X_tr, y_tr, X_te, k=partitions, d=fa_d,
                                                       **kw)
    wb, bb = res.whitebox_radius, res.blackbox_radius
    meta = {"dataset": dataset, "partitions": partitions, "learner": learner,
            "binary": list(classes) if classes else None, "partitioner": partitioner,
            "n_train": int(len(y_tr)), "n_test": int(len(X_te)),
            "timings": res.timings, "label": f"{dataset} P={partitions} {learner}"}
    if fa is not None:
        meta.update(fa_k=partitions, fa_d=fa_d, fa_shifts=fa.shifts.tolist(),
                    fa_timings=fa.timings)
    if y_te is not None:
        fin = np.concatenate([wb[np.isfinite(wb)], bb[np.isfinite(bb)]])
        radii = np.arange(0, int(fin.max()) + 2 if fin.size else 1)
        meta.update(clean_accuracy=res.clean_accuracy, mcr_whitebox=res.mcr("whitebox"),
                    mcr_blackbox=res.mcr("blackbox"),
                    curves={"radius": radii.tolist(),
                            "whitebox": res.curve(radii, "whitebox")[1].tolist(),
                            "blackbox": res.curve(radii, "blackbox")[1].tolist()})
        if fa is not None:
            meta.update(fa_clean_accuracy=fa.clean_accuracy, mcr_fa=fa.mcr())
            meta["curves"]["fa"] = fa.certified_accuracy(radii).tolist()
        # certified robustness also as a fraction of the training set (next to flips)
        for key in ("mcr_whitebox", "mcr_blackbox", "mcr_fa"):
            if key in meta:
                meta[key + "_fraction"] = meta[key] / len(y_tr)
    points = [{"test_index": t, "prediction": int(res.prediction[t]),
               "y_true": None if y_te is None else int(y_te[t]),
               "whitebox_radius": float(wb[t]), "blackbox_radius": float(bb[t])}
              for t in range(len(wb))]
    if fa is not None:
        for t, pt in enumerate(points):
            pt.update(fa_prediction=int(fa.prediction[t]), fa_radius=int(fa.radius[t]))
    doc = {"meta": meta, "records": points}
    write_json(json_out, json.dumps(doc, indent=1, default=float))
    if not quiet:
        con = console(stderr=(json_out == "-"))
        if y_te is not None:
            def pct(key):
                return f"{meta[key]:g} ({100 * meta[key + '_fraction']:.3g} % of n)"

            fa_txt = "" if fa is None else f" · FA (d={fa_d}) {pct('mcr_fa')}"
            con.print(f"{meta['label']}: clean accuracy {100 * res.clean_accuracy:.1f} % · "
                      f"MCR white-box {pct('mcr_whitebox')} · black-box (DPA) "
                      f"{pct('mcr_blackbox')}{fa_txt} · {len(points)} test points "
                      f"(n = {len(y_tr)} training points)")
        else:
            con.print(f"{meta['label']}: {len(points)} test points certified")
