"""Do kernel certificates describe the networks people train? Agreement and transfer per width.

For one binary node-classification task, one architecture and one C, and for every width h
and seed:

* **objective gap** ``(J − J*) / J*`` — the network's final objective against the kernel
  SVM's optimum ``J* = (Σα − ½αᵀQα) / C`` (strong duality): it mixes width and optimisation
  error and shows whether more steps would help;
* **agreement** — the finite network trained by :func:`~certmodel.finite.fit_hinge` and the
  kernel SVM with the closed-form NTK (:class:`~certmodel.learners.KernelSVM`) predict the
  same class on this fraction of test nodes; **relative logit error**
  ``‖g_T − f_T‖ / ‖f_T‖`` over the test nodes (``g`` the network's centred output, ``f``
  the SVM's decision function);
* **transfer of not_robust** (``budget`` given) — for every target whose LabelCert record at
  the budget is ``not_robust``, the network is retrained (same initialisation) on the record's
  witness relabelling: does *its* prediction flip too? (share of such targets);
* **attack on robust** — for every target certified ``robust``, a greedy flip attack on the
  finite network: flips are chosen one at a time by exact SVM retraining on the network's own
  empirical NTK at its trained parameters (the linearised network), up to the budget or until
  that surrogate flips; the network is then retrained from its initialisation on the chosen
  relabelling. Success = the trained network's prediction flips (share of robust targets).

Targets are a fixed random subset (``n_targets``) of the test nodes. Identical relabellings
are retrained once. Everything is reported per (width, seed) and averaged per width;
:attr:`StudyResult.agreement_width` is the smallest width from which the mean agreement stays
``≥ 0.99`` for every larger width tried (``None``: not reached).
"""

from __future__ import annotations

import dataclasses
import numbers
import time

import numpy as np

from certmodel._validation import check_choice, check_scalar
from certmodel.exceptions import InvalidParameterError
from certmodel.finite._network import FiniteNetwork, _x64
from certmodel.finite._train import _cpu, fit_hinge, pm_labels

__all__ = ["Task", "load_task", "default_C", "width_study", "StudyResult", "STUDY_ARCHS",
           "AGREEMENT_TARGET", "LABEL", "markdown_table"]

AGREEMENT_TARGET = 0.99
LABEL = {"csbm": "CSBM", "cora_ml_binary": "Cora-MLb", "citeseer_binary": "Citeseerb"}

# C of the reference's certification configs (labelcert-spec §6.2) for the binary tasks
_C_TABLE = {
    "csbm": {"gcn": 0.001, "sgc": 0.001, "appnp": 0.001, "gin": 0.001, "graphsage": 0.001,
             "gcn_skip_alpha": 0.001, "gcn_skip_pc": 0.001, "mlp": 0.001},
    "cora_ml_binary": {"gcn": 0.075, "sgc": 0.075, "appnp": 0.25, "gin": 0.025,
                       "graphsage": 0.0075, "gcn_skip_alpha": 0.1, "gcn_skip_pc": 0.075,
                       "mlp": 0.025},
    "citeseer_binary": {"gcn": 0.75, "sgc": 2.5, "appnp": 0.5, "gin": 0.005,
                        "graphsage": 0.025, "gcn_skip_alpha": 0.25, "gcn_skip_pc": 0.075,
                        "mlp": 0.025},
}
_ARCH_OPTIONS = {"csbm": {"appnp": {"alpha": 0.3}, "gcn_skip_alpha": {"alpha": 0.1}},
                 "cora_ml_binary": {"appnp": {"alpha": 0.1}, "gcn_skip_alpha": {"alpha": 0.1}},
                 "citeseer_binary": {"appnp": {"alpha": 0.2}, "gcn_skip_alpha": {"alpha": 0.3}}}
STUDY_DATASETS = tuple(_C_TABLE)
STUDY_ARCHS = ("gcn", "sgc", "appnp", "gin", "graphsage", "gcn_skip_alpha", "gcn_skip_pc",
               "mlp")


@dataclasses.dataclass(frozen=True)
class Task:
    """A binary transductive task: features, adjacency, labels, labelled and test nodes."""

    name: str
    X: np.ndarray
    A: object
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray


def load_task(dataset: str, *, data_dir=None, n_per_class: int = 5, split_seed: int = 0
              ) -> Task:
    """The LabelCert split of ``csbm``, ``cora_ml_binary`` or ``citeseer_binary``
    (CSBM: the generator's 20 + 20 labelled nodes; real graphs: ``n_per_class`` train and val
    nodes per class, as in :mod:`benchmarks.reproduce_labelcert`)."""
    from certmodel import datasets

    check_choice(dataset, "dataset", STUDY_DATASETS)
    if dataset == "csbm":
        g = datasets.load("csbm")
        train, test = datasets.labelcert_split(g)
    else:
        g = datasets.load(dataset, data_dir=data_dir)
        train, test = datasets.labelcert_split(g, n_per_class=n_per_class, seed=split_seed)
    X = g.X.toarray() if hasattr(g.X, "toarray") else np.asarray(g.X, dtype=np.float64)
    return Task(dataset, X, g.A, np.asarray(g.y), np.asarray(train), np.asarray(test))


def default_C(dataset: str, arch: str) -> float:
    """The reference's C for this dataset and architecture (labelcert-spec §6.2)."""
    check_choice(dataset, "dataset", STUDY_DATASETS)
    check_choice(arch, "arch", _C_TABLE[dataset])
    return _C_TABLE[dataset][arch]


def default_options(dataset: str, arch: str) -> dict:
    return dict(_ARCH_OPTIONS.get(dataset, {}).get(arch, {}))


@dataclasses.dataclass
class StudyResult:
    """Per (width, seed) rows, per-width summary and the 99 % agreement width."""

    dataset: str
    arch: str
    C: float
    budget: int | None
    widths: list
    seeds: list
    rows: list
    kernel_accuracy: float
    certificates: dict
    settings: dict

    def summary(self) -> list[dict]:
        """Means (and standard deviations) over seeds, one dict per width."""
        out = []
        keys = ("agreement", "rel_logit_error", "net_accuracy", "steps", "train_wall",
                "train_cpu", "nr_flip_rate", "robust_attack_rate", "objective_gap")
        for w in self.widths:
            rows = [r for r in self.rows if r["width"] == w]
            s = {"width": w, "seeds": len(rows)}
            for k in keys:
                vals = [r[k] for r in rows if r.get(k) is not None]
                s[k] = float(np.mean(vals)) if vals else None
                s[k + "_std"] = float(np.std(vals)) if len(vals) > 1 else None
            s["converged"] = all(r["converged"] for r in rows)
            for k in ("nr_total", "nr_flipped", "robust_total", "robust_attacked"):
                vals = [r[k] for r in rows if r.get(k) is not None]
                s[k] = int(np.sum(vals)) if vals else None
            out.append(s)
        return out

    @property
    def agreement_width(self) -> int | None:
        """Smallest width from which the mean agreement is ≥ 99 % at every larger width."""
        best = None
        for s in reversed(self.summary()):
            if s["agreement"] is not None and s["agreement"] >= AGREEMENT_TARGET:
                best = s["width"]
            else:
                break
        return best

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "arch": self.arch, "C": self.C, "budget": self.budget,
                "widths": self.widths, "seeds": self.seeds, "kernel_accuracy":
                self.kernel_accuracy, "agreement_width": self.agreement_width,
                "agreement_target": AGREEMENT_TARGET, "certificates": self.certificates,
                "settings": self.settings, "summary": self.summary(), "rows": self.rows}


def _kernel_svm(task: Task, arch: str, C: float, options: dict):
    from certmodel.kernels import ntk
    from certmodel.learners import KernelSVM

    graph = arch not in ("mlp", "fc", "linear")
    K = ntk(arch, task.X, task.A if graph else None, **options)
    tr = task.train
    svm = KernelSVM(C=C).fit(K[np.ix_(tr, tr)], task.y[tr])
    return K, svm


def _sign(g) -> np.ndarray:
    return np.where(np.asarray(g) >= 0, 1, -1)


def width_study(task: Task, arch: str, widths, *, C: float | None = None, seeds=(0,),
                budget: int | None = None, n_targets: int = 10, max_steps: int = 300,
                tol: float = 1e-5, window: int = 100, dtype: str = "float32",
                progress: bool = False, log=None, **arch_options) -> StudyResult:
    """Agreement (and, with ``budget``, transfer) of finite networks vs the kernel SVM.

    Parameters
    ----------
    task : Task
        From :func:`load_task` (or built by hand: binary labels).
    arch : str
        Architecture (``certmodel.finite.FINITE_ARCHS``).
    widths : sequence of int
        Hidden widths.
    C : float, optional
        SVM box bound (default :func:`default_C` for the known datasets).
    seeds : sequence of int
        Initialisation seeds per width.
    budget : int, optional
        Label-flip budget for the transfer study (skipped when None).
    n_targets : int
        Test nodes certified and attacked in the transfer study.
    max_steps, tol, window, dtype
        Training (:func:`~certmodel.finite.fit_hinge`) and arithmetic.
    log : callable, optional
        Called with one progress line per (width, seed).
    """
    from certmodel import labelcert
    from certmodel.finite._architectures import FINITE_BUILDERS

    check_choice(arch, "arch", FINITE_BUILDERS)
    widths = [int(check_scalar(w, "widths", numbers.Integral, min_val=1)) for w in widths]
    if not widths:
        raise InvalidParameterError("widths must name at least one width")
    seeds = [int(check_scalar(s, "seeds", numbers.Integral, min_val=0)) for s in seeds]
    if C is None:
        C = default_C(task.name, arch)
    C = float(check_scalar(C, "C", numbers.Real, min_val=0, include_min=False))
    options = {**default_options(task.name, arch), **arch_options}
    n_targets = int(check_scalar(n_targets, "n_targets", numbers.Integral, min_val=1))
    tr, te = task.train, task.test
    if budget is not None:
        budget = int(check_scalar(budget, "budget", numbers.Integral, min_val=1,
                                  max_val=len(tr)))
    K, svm = _kernel_svm(task, arch, C, options)
    f_test = svm.decision_function(K[np.ix_(te, tr)])
    # the optimum of J for the kernel (strong duality): J* = (Σα − ½αᵀQα) / C
    from certmodel.learners import svm_dual_objective

    j_star = -svm_dual_objective(K[np.ix_(tr, tr)], svm.y_pm_, svm.alpha_) / C
    y_pm_test = pm_labels(task.y)[te]
    kernel_acc = float(np.mean(_sign(f_test) == y_pm_test))
    yL = task.y[tr]
    graph = arch not in ("mlp", "fc", "linear")
    A = task.A if graph else None

    targets = np.sort(np.random.default_rng(0).choice(te, size=min(n_targets, te.size),
                                                      replace=False))
    records, cert = [], {}
    if budget is not None:
        records = labelcert.certify(K[np.ix_(tr, tr)], yL, K[np.ix_(targets, tr)], C,
                                    [budget], test_indices=targets)
        verdicts = [str(r.verdict) for r in records]
        cert = {"targets": targets.tolist(), "robust": verdicts.count("robust"),
                "not_robust": verdicts.count("not_robust"), "unknown": verdicts.count("unknown")}

    rows = []
    for w in widths:
        for seed in seeds:
            net = FiniteNetwork(arch, task.X, A, width=w, seed=seed, dtype=dtype, **options)
            f0 = net.logits()
            fit = fit_hinge(net, tr, yL, C, max_steps=max_steps, tol=tol, window=window,
                            progress=progress, f0=f0)
            g = fit.logits[te]
            row = {"width": w, "seed": seed,
                   "agreement": float(np.mean(_sign(g) == _sign(f_test))),
                   "rel_logit_error": float(np.linalg.norm(g - f_test)
                                            / max(np.linalg.norm(f_test), 1e-300)),
                   "net_accuracy": float(np.mean(_sign(g) == y_pm_test)),
                   "steps": fit.steps, "converged": fit.converged,
                   "final_loss": float(fit.loss[-1]),
                   "objective_gap": float((fit.loss[-1] - j_star) / abs(j_star)),
                   "train_wall": fit.wall_time,
                   "train_cpu": fit.cpu_time, "receptive_field": fit.receptive_field}
            if budget is not None:
                t0, c0 = time.perf_counter(), _cpu()
                row.update(_transfer(net, fit, task, records, C, budget, max_steps, tol,
                                     window, f0))
                row["transfer_wall"] = time.perf_counter() - t0
                row["transfer_cpu"] = _cpu() - c0
            rows.append(row)
            if log is not None:
                log(_row_line(row))
    settings = {"max_steps": max_steps, "tol": tol, "window": window, "dtype": dtype,
                "kernel_objective": j_star,
                "n_targets": n_targets, "options": options,
                "n_train": int(tr.size), "n_test": int(te.size)}
    return StudyResult(task.name, arch, C, budget, widths, seeds, rows, kernel_acc, cert,
                       settings)


def _row_line(r: dict) -> str:
    s = (f"h={r['width']} seed={r['seed']}: agreement {r['agreement']:.4f}, rel. logit error "
         f"{r['rel_logit_error']:.4f}, {r['steps']} steps, {r['train_wall']:.1f} s")
    if r.get("nr_total") is not None:
        s += (f"; not_robust flipped {r['nr_flipped']}/{r['nr_total']}, robust attacked "
              f"{r['robust_attacked']}/{r['robust_total']}")
    return s


def _transfer(net, fit, task, records, C, budget, max_steps, tol, window, f0) -> dict:
    """Replay not_robust witnesses and attack robust targets on the finite network."""
    tr = task.train
    yL = np.asarray(task.y[tr])
    classes = np.unique(yL)
    clean = _sign(fit.logits)
    cache: dict[frozenset, np.ndarray] = {}

    def retrained_signs(relabelling: dict) -> np.ndarray:
        key = frozenset(relabelling.items())
        if key not in cache:
            y2 = yL.copy()
            for i, lab in relabelling.items():
                y2[i] = lab
            if np.unique(y2).size < 2:     # a one-class training set: constant prediction
                cache[key] = np.full(net.N, 1 if y2[0] == classes[1] else -1)
            else:
                f2 = fit_hinge(net, tr, y2, C, max_steps=max_steps, tol=tol, window=window,
                               f0=f0)
                cache[key] = _sign(f2.logits)
        return cache[key]

    nr = [r for r in records if str(r.verdict) == "not_robust"]
    rb = [r for r in records if str(r.verdict) == "robust"]
    nr_flipped = sum(int(retrained_signs(r.relabelling)[r.test_index] != clean[r.test_index])
                     for r in nr)
    attacked = 0
    if rb:
        targets = np.array([r.test_index for r in rb])
        theta = _empirical_ntk_trained(net, fit, np.concatenate([tr, targets]))
        n = tr.size
        for j, t in enumerate(targets):
            flips = _greedy_flips(theta[:n, :n], theta[n + j, :n], yL, classes, C, budget,
                                  clean[t])
            relabel = {int(i): int(classes[0] if yL[i] == classes[1] else classes[1])
                       for i in flips}
            if relabel and retrained_signs(relabel)[t] != clean[t]:
                attacked += 1
    return {"nr_total": len(nr), "nr_flipped": nr_flipped,
            "nr_flip_rate": nr_flipped / len(nr) if nr else None,
            "robust_total": len(rb), "robust_attacked": attacked,
            "robust_attack_rate": attacked / len(rb) if rb else None,
            "retrainings": len(cache)}


def _greedy_flips(K_LL, k_t, yL, classes, C, budget, s_clean) -> list[int]:
    """Greedy flips that most lower ``s_clean · f_t`` of the SVM on the kernel ``K_LL``."""
    from certmodel.learners import KernelSVM

    flipped: list[int] = []
    y = yL.copy()
    other = {classes[0]: classes[1], classes[1]: classes[0]}
    for _ in range(budget):
        best, best_m = None, np.inf
        for i in range(y.size):
            if i in flipped:
                continue
            y2 = y.copy()
            y2[i] = other[y2[i]]
            if np.unique(y2).size < 2:
                m = -1.0 if (1 if y2[0] == classes[1] else -1) != s_clean else 1.0
            else:
                m = s_clean * float(KernelSVM(C=C).fit(K_LL, y2).decision_function(
                    k_t[None, :])[0])
            if m < best_m:
                best, best_m = i, m
        if best is None:
            break
        flipped.append(best)
        y[best] = other[y[best]]
        if best_m < 0:
            break
    return flipped


def _empirical_ntk_trained(net: FiniteNetwork, fit, nodes) -> np.ndarray:
    """Θ̂ of the trained network between ``nodes`` (streaming: one vjp + jvp per node)."""
    import jax
    import jax.numpy as jnp

    nodes = np.asarray(nodes)
    with _x64(net.dtype):
        rows = net.receptive_field(nodes)
        pos = np.searchsorted(rows, nodes)
        ctx, p_ref, lift = net.context(rows)
        # trained params in the reparameterised coordinates: Ω = Vᵀ W for the input weights
        p = _to_context_coords(net, fit.params, ctx, p_ref, rows)
        f = net.apply_fn()
        consts = net.jax_consts()

        def out(q):
            return f(q, consts, ctx)[pos]

        _, vjp = jax.vjp(out, p)
        cols = []
        for e in np.eye(nodes.size):
            (ct,) = vjp(jnp.asarray(e, dtype=ctx["X"].dtype))
            cols.append(np.asarray(jax.jvp(out, (p,), (ct,))[1], dtype=np.float64))
    K = np.stack(cols, axis=1)
    return (K + K.T) / 2


def _to_context_coords(net, params, ctx, p_ref, rows):
    """Map full-network params into the coordinates of ``net.context(rows)``."""
    import jax.numpy as jnp

    from certmodel.finite._network import _get, _input_weights, _set, _tree_map

    dt = ctx["X"].dtype
    paths = _input_weights(params)
    out = params
    Xr = net.X[rows]
    if paths and rows.size < Xr.shape[1]:
        _, _, Vt = np.linalg.svd(Xr, full_matrices=False)
        for path in paths:
            out = _set(out, path, Vt @ _get(params, path))
    return _tree_map(lambda a: jnp.asarray(a, dtype=dt), out)


def _pct(v):
    return "–" if v is None else f"{100 * v:.1f}"


def markdown_table(doc: dict) -> str:
    """One study as a markdown table (the format of docs/finite-width.md)."""
    w99 = doc["agreement_width"]
    head = (f"**{LABEL.get(doc['dataset'], doc['dataset'])} · {doc['arch'].upper()}** "
            f"(C = {doc['C']:g}, {doc['settings']['n_train']} labelled, "
            f"{doc['settings']['n_test']} test nodes, kernel SVM accuracy "
            f"{100 * doc['kernel_accuracy']:.1f} %, seeds {doc['seeds']}, ≤ "
            f"{doc['settings']['max_steps']} GD steps). ≥ 99 % agreement from width: "
            f"**{w99 if w99 is not None else 'not reached'}**.")
    cols = ["width", "agree %", "rel. logit err.", "net acc. %", "steps", "(J − J*)/J*",
            "train s wall (CPU)"]
    if doc["budget"] is not None:
        c = doc["certificates"]
        head += (f" Transfer at budget B = {doc['budget']} on {len(c['targets'])} targets "
                 f"({c['not_robust']} not_robust, {c['robust']} robust, {c['unknown']} "
                 "unknown by LabelCert).")
        cols += ["not_robust → net flips", "robust → attack succeeds"]
    lines = [head, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for s in doc["summary"]:
        err = f"{s['rel_logit_error']:.3f}"
        if s["rel_logit_error_std"] is not None:
            err += f" ± {s['rel_logit_error_std']:.3f}"
        agree = _pct(s["agreement"])
        if s["agreement_std"] is not None:
            agree += f" ± {100 * s['agreement_std']:.1f}"
        row = [str(s["width"]), agree, err, _pct(s["net_accuracy"]),
               f"{s['steps']:.0f}" + ("" if s["converged"] else "*"),
               "–" if s.get("objective_gap") is None else f"{s['objective_gap']:.3f}",
               f"{s['train_wall']:.1f} ({s['train_cpu']:.1f})"]
        if doc["budget"] is not None:
            row += [f"{s['nr_flipped']}/{s['nr_total']}",
                    f"{s['robust_attacked']}/{s['robust_total']}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
