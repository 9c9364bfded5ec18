"""A reproducible (seeded) library of sample-wise LabelCert benchmark instances.

Each :class:`Instance` is ``(name, K, y, K_test, C, budgets)``: the labelled-set kernel
``K`` (n × n), the labels ``y`` (±1), the kernel ``K_test`` (m × n) between a handful of
test points and the labelled set, the SVM box bound ``C`` and the budgets to certify.

Families (all generated from fixed seeds; the data sets need ``$CERTMODEL_DATA`` or
``/work/shared/data``, the synthetic ones nothing):

=================  ============================================================================
``csbm{n}_s{k}``   CSBM (spec §1.2, 200 nodes + labelled), GCN NTK (row normalisation),
                   n ∈ {20, 40, 80} labelled, ``C`` chosen *off* the saturated regime so that
                   ``C · max_i Σ_j |K_ij| = 10`` (a genuinely hard MILP)
``csbm40sat_s{k}`` the spec's CSBM setting, C = 0.001: saturated (closed-form shortcut)
``ntk{n}_s{k}``    random ReLU NTK (``fc``, depth 1) of Gaussian features with a noisy linear
                   teacher, n ∈ {40, 60}, ``C · max row-sum = 10``
``rbf40_s{k}``     RBF kernel of the same kind of data (bandwidth = median distance)
``coramlb``        Cora-MLb GCN, 20 labelled (n_per_class 5, seed 0), C = 0.075 (spec)
``citeseerb``      Citeseerb GCN, 20 labelled (n_per_class 5, seed 0), C = 0.75 (spec)
``karate``         Karate club GCN, 8 labelled (n_per_class 2), C = 0.01
``mc3ntk{n}_s{k}`` multiclass: random ReLU NTK, 3 classes (argmax of a noisy linear teacher),
                   n ∈ {12, 20} labelled, ``C · max row-sum = 10``
``coraml_mc``      multiclass: Cora-ML GCN, 7 classes, n_per_class 2 (28 labelled), C = 0.05
=================  ============================================================================

``python -m benchmarks.instances`` lists the library; ``--export DIR`` writes MPS files for
solver benchmarking: for binary instances the sample-wise MILPs (one per budget,
linearisation and test point, objective ``min s_t · p_t``) and, with ``--modes`` including
``collective``, the collective MILP per budget (``max Σ_t c_t`` over the instance's test
points); for multiclass instances the exact multiclass MILP per budget and test point with
the objective ``min p_top − p_rival`` for the strongest clean rival.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

__all__ = ["Instance", "build_instances", "instance_names", "milp_verdict", "DEFAULT_DATA_DIR"]

DEFAULT_DATA_DIR = "/work/shared/data"
TARGET_ROWSUM = 10.0  # C · max row-sum of |K|: well off the saturated regime (< 1)


@dataclasses.dataclass
class Instance:
    """One sample-wise certificate instance."""

    name: str
    family: str
    K: np.ndarray
    y: np.ndarray
    K_test: np.ndarray
    C: float
    budgets: list[int]
    test_ids: np.ndarray
    note: str = ""

    @property
    def multiclass(self) -> bool:
        return len(np.unique(self.y)) > 2

    @property
    def n(self) -> int:
        return self.K.shape[0]

    @property
    def m(self) -> int:
        return self.K_test.shape[0]

    @property
    def c_rowsum(self) -> float:
        """``C · max_i Σ_j |K_ij|`` (< 1: saturated regime)."""
        return float(self.C * np.abs(self.K).sum(axis=1).max())

    def subset(self, m: int) -> Instance:
        """The same instance restricted to its first ``m`` test points."""
        return dataclasses.replace(self, K_test=self.K_test[:m], test_ids=self.test_ids[:m])

    def describe(self) -> str:
        sat = " (saturated)" if self.c_rowsum < 1 else ""
        return (f"{self.name:16s} n={self.n:3d} m={self.m:2d} C={self.C:.4g} "
                f"C*rowsum={self.c_rowsum:.3g}{sat} budgets={self.budgets} {self.note}")


def _data_dir() -> str | None:
    d = os.environ.get("CERTMODEL_DATA") or DEFAULT_DATA_DIR
    return d if Path(d).is_dir() else None


def _c_for(K: np.ndarray, target: float = TARGET_ROWSUM) -> float:
    """C with ``C · max row-sum = target``, rounded to 3 significant digits."""
    c = target / np.abs(K).sum(axis=1).max()
    return float(f"{c:.3g}")


def _pick(rng: np.random.Generator, pool: np.ndarray, m: int) -> np.ndarray:
    return np.sort(rng.choice(pool, size=min(m, len(pool)), replace=False))


def _graph_instance(name, family, g, labeled, test_pool, C, budgets, m, seed, note="",
                    arch="gcn"):
    from certmodel import kernels

    K_all = kernels.ntk(arch, g.X, g.A)
    rng = np.random.default_rng(10_000 + seed)
    tests = _pick(rng, np.asarray(test_pool), m)
    K = K_all[np.ix_(labeled, labeled)]
    y = np.asarray(g.y)[labeled]
    if len(np.unique(np.asarray(g.y))) <= 2:
        y = np.where(y == 1, 1, -1)
    K_test = K_all[np.ix_(tests, labeled)]
    if C is None:
        C = _c_for(K)
    return Instance(name, family, K, y, K_test, C, list(budgets), tests, note)


def _csbm(n_lab: int, seed: int, m: int, budgets, C=None, sat=False) -> Instance:
    from certmodel import datasets

    g = datasets.load("csbm", n_trn_labeled=n_lab // 2, n_val=n_lab // 2, seed=seed)
    labeled, test = datasets.labelcert_split(g)
    name = f"csbm{n_lab}sat_s{seed}" if sat else f"csbm{n_lab}_s{seed}"
    return _graph_instance(name, "csbm-sat" if sat else "csbm", g, labeled, test, C, budgets,
                           m, seed, note="GCN NTK")


def _random_features(n: int, m: int, seed: int, d: int = 8, noise: float = 0.3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + m, d))
    w = rng.standard_normal(d)
    score = X @ w / np.sqrt(d) + noise * rng.standard_normal(n + m)
    y = np.where(score >= 0, 1, -1)
    return X[:n], y[:n], X[n:]


def _random_ntk(n: int, seed: int, m: int, budgets) -> Instance:
    X, y, X_test = _random_features(n, m, seed)
    try:
        from certmodel import kernels

        K = kernels.ntk("fc", X)
        K_test = kernels.ntk_cross("fc", X, X_test)
        note = "fc ReLU NTK (certmodel.kernels)"
    except ImportError:  # kernels module missing: the same NTK in closed form
        K, K_test = _relu_ntk(X, X), _relu_ntk(X_test, X)
        note = "ReLU NTK (local closed form)"
    return Instance(f"ntk{n}_s{seed}", "random-ntk", K, y, K_test, _c_for(K), list(budgets),
                    np.arange(m), note)


def _relu_ntk(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """One-hidden-layer ReLU NTK (c_σ = 2, 1/d fan-in) between rows of A and B."""
    d = A.shape[1]
    S = A @ B.T / d
    na, nb = np.sqrt((A * A).sum(1) / d), np.sqrt((B * B).sum(1) / d)
    q = np.outer(na, nb)
    u = np.clip(S / q, -1, 1)
    th = np.arccos(u)
    E = q * (np.sin(th) + (np.pi - th) * u) / np.pi
    Ed = (np.pi - th) / np.pi
    return S * Ed + E


def _rbf(n: int, seed: int, m: int, budgets) -> Instance:
    X, y, X_test = _random_features(n, m, seed)

    def d2(A, B):
        return ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)

    D = d2(X, X)
    gamma = 1.0 / np.median(D[D > 0])
    K, K_test = np.exp(-gamma * D), np.exp(-gamma * d2(X_test, X))
    return Instance(f"rbf{n}_s{seed}", "random-rbf", K, y, K_test, _c_for(K), list(budgets),
                    np.arange(m), "RBF, gamma = 1/median d^2")


def _real_graph(name: str, dataset: str, n_per_class: int, C: float, m: int, budgets,
                ) -> Instance | None:
    from certmodel import datasets

    data_dir = _data_dir()
    if data_dir is None:
        return None
    g = datasets.load(dataset, data_dir=data_dir)
    labeled, test = datasets.labelcert_split(g, n_per_class=n_per_class, seed=0)
    return _graph_instance(name, dataset, g, labeled, test, C, budgets, m, 0,
                           note=f"GCN NTK, n_per_class {n_per_class}, C={C}")


def _multiclass_ntk(n: int, seed: int, m: int, budgets, n_classes: int = 3) -> Instance:
    from certmodel import kernels

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n + m, 8))
    W = rng.standard_normal((8, n_classes))
    y = np.argmax(X @ W + 0.3 * rng.standard_normal((n + m, n_classes)), axis=1)
    y[:n_classes] = np.arange(n_classes)  # every class labelled
    K = kernels.ntk("fc", X[:n])
    K_test = kernels.ntk_cross("fc", X[:n], X[n:])
    return Instance(f"mc3ntk{n}_s{seed}", "multiclass-ntk", K, y[:n], K_test, _c_for(K),
                    list(budgets), np.arange(m), f"fc ReLU NTK, {n_classes} classes")


def _karate(m: int, budgets) -> Instance:
    from certmodel import datasets

    g = datasets.load("karate")
    labeled, test = datasets.labelcert_split(g, n_per_class=2, seed=0)
    return _graph_instance("karate", "karate", g, labeled, test, 0.01, budgets, m, 0,
                           note="GCN NTK, n_per_class 2, C=0.01")


# name -> (n, builder(m) -> Instance); budgets 1..4 everywhere (the targets)
B4 = (1, 2, 3, 4)


def _registry(seeds=(0, 1, 2)):
    reg = {}
    for n in (20, 40, 80):
        for s in seeds:
            reg[f"csbm{n}_s{s}"] = (n, lambda m, n=n, s=s: _csbm(n, s, m, B4))
    for s in seeds:
        reg[f"csbm40sat_s{s}"] = (40, lambda m, s=s: _csbm(40, s, m, B4, C=0.001, sat=True))
    for n in (40, 60):
        for s in seeds:
            reg[f"ntk{n}_s{s}"] = (n, lambda m, n=n, s=s: _random_ntk(n, s, m, B4))
    for s in seeds:
        reg[f"rbf40_s{s}"] = (40, lambda m, s=s: _rbf(40, s, m, B4))
    reg["coramlb"] = (20, lambda m: _real_graph("coramlb", "cora_ml_binary", 5, 0.075, m, B4))
    reg["citeseerb"] = (20, lambda m: _real_graph("citeseerb", "citeseer_binary", 5, 0.75, m,
                                                  B4))
    reg["karate"] = (8, lambda m: _karate(m, B4))
    for n in (12, 20):
        for s in seeds:
            reg[f"mc3ntk{n}_s{s}"] = (n, lambda m, n=n, s=s: _multiclass_ntk(n, s, m, (1, 2)))
    reg["coraml_mc"] = (28, lambda m: _real_graph("coraml_mc", "cora_ml", 2, 0.05, m, (1, 2)))
    return reg


def instance_names() -> list[str]:
    return list(_registry())


QUICK = ["csbm40_s0", "ntk40_s0", "csbm40sat_s0", "coramlb"]
FULL = ["csbm20_s0", "csbm20_s1", "csbm40_s0", "csbm40_s1", "csbm40_s2", "csbm40sat_s0",
        "ntk40_s0", "ntk40_s1", "rbf40_s0", "ntk60_s0", "csbm80_s0", "coramlb", "karate"]


def build_instances(names=None, m: int = 4, quick: bool = False,
                    log=print) -> list[Instance]:
    """Build the named instances (default: the quick or full list) with ``m`` test points.

    Instances whose data are missing are skipped with a message (never silently).
    """
    reg = _registry()
    names = names or (QUICK if quick else FULL)
    out = []
    for name in names:
        if name not in reg:
            raise SystemExit(f"unknown instance {name!r}; known: {', '.join(reg)}")
        try:
            inst = reg[name][1](m)
        except ImportError as e:  # datasets/kernels module missing
            log(f"[instances] skipping {name}: {e}")
            continue
        if inst is None:
            log(f"[instances] skipping {name}: data folder not found "
                f"(set CERTMODEL_DATA or provide {DEFAULT_DATA_DIR})")
            continue
        out.append(inst)
    return out


def milp_verdict(res, eps: float) -> str:
    """Verdict of one sample-wise MILP solve (benchmark view: the incumbent is not replayed)."""
    if res.bound is not None and res.bound > eps:
        return "robust"
    if res.incumbent is not None and res.incumbent <= eps:
        return "not_robust"
    return "unknown"


def clean_signs(inst: Instance) -> np.ndarray:
    """Clean prediction sign ``s_t`` per test point (reference convention: f ≥ 0 → +1)."""
    from certmodel.learners import solve_svm_dual

    y = inst.y.astype(float)
    alpha = solve_svm_dual(inst.K, y, inst.C).alpha
    f = inst.K_test @ (y * alpha)
    return np.where(f >= 0, 1.0, -1.0)


def export(instances, out_dir: Path, linearizations=("compact", "reference"),
           first_test_only: bool = False, modes=("samplewise",)) -> list[Path]:
    """Write each instance's MILPs as MPS files (see the module docstring) and its ``.npz``."""
    from certmodel.milp.formulations import BinaryMILP, CollectiveMILP
    from certmodel.milp.standard_form import Sense

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for inst in instances:
        tests = range(1 if first_test_only else inst.m)
        for B in inst.budgets:
            for lin in linearizations:
                if inst.multiclass:
                    written += _export_multiclass(inst, B, lin, tests, out_dir)
                    continue
                signs = clean_signs(inst)
                if "samplewise" in modes:
                    model = BinaryMILP(inst.K, inst.y.astype(float), inst.C, B,
                                       linearization=lin)
                    for t in tests:
                        c = model.objective(inst.K_test[t], signs[t])
                        model.backend.set_objective(c, 0.0, Sense.MINIMIZE)
                        p = out_dir / f"{inst.name}_t{int(inst.test_ids[t])}_B{B}_{lin}.mps"
                        model.write(p)
                        written.append(p)
                if "collective" in modes:
                    model = CollectiveMILP(inst.K, inst.y.astype(float), inst.C, B, inst.K_test,
                                           signs, linearization=lin)
                    p = out_dir / f"{inst.name}_collective_B{B}_{lin}.mps"
                    model.write(p)
                    written.append(p)
        np.savez(out_dir / f"{inst.name}.npz", K=inst.K, y=inst.y, K_test=inst.K_test,
                 C=inst.C, budgets=np.asarray(inst.budgets), test_ids=inst.test_ids)
    return written


def _export_multiclass(inst: Instance, B: int, lin: str, tests, out_dir: Path) -> list[Path]:
    """Exact multiclass MILP (one model), objective ``p_top − p_rival`` per test point."""
    from certmodel.learners import solve_svm_dual
    from certmodel.milp.formulations import MulticlassMILP
    from certmodel.milp.standard_form import Sense

    nK = int(inst.y.max()) + 1
    Z = np.stack([np.where(inst.y == k, 1.0, -1.0)
                  * solve_svm_dual(inst.K, np.where(inst.y == k, 1.0, -1.0), inst.C).alpha
                  for k in range(nK)])
    F = inst.K_test @ Z.T
    model = MulticlassMILP(inst.K, inst.y, nK, inst.C, B, linearization=lin)
    out = []
    for t in tests:
        order = np.argsort(-F[t], kind="stable")
        top, rival = int(order[0]), int(order[1])
        model.backend.set_objective(model.objective(inst.K_test[t], top, rival), 0.0,
                                    Sense.MINIMIZE)
        p = out_dir / f"{inst.name}_t{int(inst.test_ids[t])}_B{B}_r{rival}_{lin}.mps"
        model.write(p)
        out.append(p)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.instances", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--export", metavar="DIR", type=Path,
                    help="write MPS files (and the instance .npz) into DIR")
    ap.add_argument("--instances", help="comma-separated names (default: the full list)")
    ap.add_argument("--all", action="store_true", help="every instance of the registry")
    ap.add_argument("--quick", action="store_true", help="the quick list")
    ap.add_argument("--m", type=int, default=4, help="test points per instance")
    ap.add_argument("--first-test-only", action="store_true",
                    help="export only the first test point's objective")
    ap.add_argument("--modes", default="samplewise",
                    help="binary instances: comma-separated samplewise,collective")
    a = ap.parse_args(argv)
    names = instance_names() if a.all else (a.instances.split(",") if a.instances else None)
    insts = build_instances(names, m=a.m, quick=a.quick)
    for inst in insts:
        print(inst.describe())
    if a.export:
        paths = export(insts, a.export, first_test_only=a.first_test_only,
                       modes=tuple(a.modes.split(",")))
        print(f"wrote {len(paths)} MPS files (+ {len(insts)} .npz instances) to {a.export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
