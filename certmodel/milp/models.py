"""Open certificate models: unsolved Pyomo models with the real objective and named parts.

Researchers extend these models (add variables, constraints, change the objective) and
solve them with certmodel's backends (:func:`certmodel.milp.solve_model`, recompiled when
edited) or with Pyomo's own solvers (``SolverFactory("appsi_highs")`` for the ``bigm``
encoding).  Components:

=======================  ===================================================================
``model.adversary``      the threat model: ``flip[i]`` (binary, 1 = label ``i`` flipped) or
                         ``onehot[i, k]`` (multiclass), budget row ``Σ cost_i flip_i ≤ B``
                         with mutable ``B`` and ``cost[i]``; unflippable points have
                         ``flip[i] ∈ [0, 0]`` (:mod:`.blocks.adversary`)
``model.svm``            the lower level: KKT block of the bias-free SVM (:mod:`.blocks.kkt`),
                         one per class (``model.svm[k]``) for multiclass
``model.k_test``         mutable test kernel row (swap the test point with
                         :func:`set_test_point`; no structural change)
``model.margin``         ``s_t · p_t`` (binary) / ``p_a − max_{k≠a} p_k`` (multiclass)
``model.objective``      ``min model.margin``: robust ⇔ optimum ``> 0``
=======================  ===================================================================
"""

from __future__ import annotations

import numbers

import numpy as np
import pyomo.environ as pyo

from certmodel._validation import (
    check_kernel_matrix,
    check_labels,
    check_scalar,
    check_test_kernel,
)
from certmodel.exceptions import InvalidParameterError
from certmodel.learners import solve_svm_dual
from certmodel.milp.blocks import (
    add_binary_adversary,
    add_flip_indicators,
    add_multiclass_adversary,
    add_svm_kkt,
    logit_bound,
    logit_expression,
)
from certmodel.threat import resolve_threat

__all__ = ["samplewise_model", "collective_model", "multiclass_model", "set_test_point",
           "flips_of", "labels_of"]


def _common(K, y, C, budget, threat, binary: bool | None):
    K = check_kernel_matrix(K, "K")
    n = K.shape[0]
    classes, codes = check_labels(y, n, "y")
    if binary is True and len(classes) != 2:
        raise InvalidParameterError(f"y must hold two classes for this model, got {classes}")
    C = float(check_scalar(C, "C", numbers.Real, min_val=0, include_min=False))
    res = resolve_threat(threat, n, len(classes))
    budget = check_scalar(budget, "budget", numbers.Real, min_val=0)
    return K, classes, codes, C, float(budget), res


def _test_row(k_test, n: int) -> np.ndarray:
    k = check_test_kernel(np.atleast_2d(np.asarray(k_test, dtype=float)), n, "k_test")
    if k.shape[0] != 1:
        raise InvalidParameterError(f"k_test must be one kernel row of length {n}, got shape "
                                    f"{np.shape(k_test)}")
    return k[0]


def samplewise_model(K, y, C, budget, k_test, *, threat=None, linearization: str = "compact",
                     complementarity: str = "bigm", g_bounds=None) -> pyo.ConcreteModel:
    """Sample-wise binary certificate (Thm 1) as an open, unsolved Pyomo model.

    ``min s_t · Σ_j k_test[j] z_j`` over the admissible relabellings (``threat``) and the
    KKT points ``z = y∘α`` of the SVM retrained on them; ``s_t`` is the clean sign.  The
    prediction is robust iff the optimum is ``> 0``.

    Parameters
    ----------
    K : (n, n) training kernel; y : (n,) two-valued labels; C : SVM box bound;
    budget : number of flips (a cost budget with per-point ``threat`` costs);
    k_test : (n,) kernel row of the test point; threat : ThreatModel, optional;
    linearization : "compact" | "reference"; complementarity : "bigm" | "sos1" | "indicator";
    g_bounds : optional valid bounds ``(L, U)`` on ``K z`` (tighter big-M values).
    """
    K, classes, codes, C, budget, res = _common(K, y, C, budget, threat, True)
    n = K.shape[0]
    y_pm = np.where(codes == 1, 1.0, -1.0)
    m = pyo.ConcreteModel(name="labelcert_samplewise")
    adv = add_binary_adversary(m, "adversary", y_pm, budget, res)
    kkt = add_svm_kkt(m, "svm", K, C, lambda i: adv.y[i], linearization=linearization,
                      g_bounds=g_bounds, complementarity=complementarity)
    m.k_test = pyo.Param(range(n), initialize=0.0, mutable=True)
    m.sign = pyo.Param(initialize=1.0, mutable=True)
    m.margin = pyo.Expression(expr=m.sign * sum(m.k_test[j] * kkt.z[j] for j in range(n)))
    m.objective = pyo.Objective(expr=m.margin, sense=pyo.minimize)
    m.info = {"K": K, "y_pm": y_pm, "C": C, "classes": classes, "codes": codes, "threat": res,
              "alpha0": solve_svm_dual(K, y_pm, C).alpha, "kind": "samplewise"}
    set_test_point(m, k_test)
    return m


def collective_model(K, y, C, budget, K_test, *, threat=None, linearization: str = "compact",
                     complementarity: str = "bigm") -> pyo.ConcreteModel:
    """Collective certificate (Thm 2/4): ``max Σ_t c_t`` with ``s_t p_t ≤ P_t (1 − c_t)``.

    ``model.changed.c[t] = 1`` only if one admissible relabelling drives test point ``t``'s
    signed margin to ``≤ 0``; the optimum is the most predictions one relabelling changes.
    """
    K, classes, codes, C, budget, res = _common(K, y, C, budget, threat, True)
    n = K.shape[0]
    K_test = check_test_kernel(K_test, n, "K_test")
    y_pm = np.where(codes == 1, 1.0, -1.0)
    alpha0 = solve_svm_dual(K, y_pm, C).alpha
    signs = np.where(K_test @ (y_pm * alpha0) >= 0, 1.0, -1.0)
    m = pyo.ConcreteModel(name="labelcert_collective")
    adv = add_binary_adversary(m, "adversary", y_pm, budget, res)
    kkt = add_svm_kkt(m, "svm", K, C, lambda i: adv.y[i], linearization=linearization,
                      complementarity=complementarity)
    margins = [signs[t] * logit_expression(K_test[t], kkt.z) for t in range(len(K_test))]
    ind = add_flip_indicators(m, "changed", margins,
                              [logit_bound(K_test[t], C) for t in range(len(K_test))])
    m.objective = pyo.Objective(expr=ind.count, sense=pyo.maximize)
    m.info = {"K": K, "y_pm": y_pm, "C": C, "classes": classes, "codes": codes, "threat": res,
              "alpha0": alpha0, "signs": signs, "kind": "collective"}
    return m


def multiclass_model(K, y, C, budget, k_test, *, threat=None, linearization: str = "compact",
                     complementarity: str = "bigm") -> pyo.ConcreteModel:
    """Exact multiclass certificate (Thm 3): ``min p_a − max_{k≠a} p_k`` (one-vs-rest SVMs).

    ``a`` is the clean prediction (mutable ``model.top[k] ∈ {0, 1}``); the max over rivals is
    exact: ``m ≥ p_k − 2P·top_k``, ``m ≤ p_k + 2P(1 − β_k)``, ``β_k ≤ 1 − top_k``,
    ``Σ β_k = 1`` with ``P = C Σ_j |k_test[j]| ≥ |p_k|`` (mutable ``model.P``).
    """
    K, classes, codes, C, budget, res = _common(K, y, C, budget, threat, None)
    n, nK = K.shape[0], len(classes)
    m = pyo.ConcreteModel(name="labelcert_multiclass")
    adv = add_multiclass_adversary(m, "adversary", codes, nK, budget, res)
    m.svm = pyo.Block(range(nK))
    kkts = [add_svm_kkt(m.svm[k], "kkt", K, C, lambda i, k=k: adv.y[k, i],
                        linearization=linearization, complementarity=complementarity)
            for k in range(nK)]
    m.k_test = pyo.Param(range(n), initialize=0.0, mutable=True)
    m.top = pyo.Param(range(nK), initialize=0.0, mutable=True)
    m.P = pyo.Param(initialize=1.0, mutable=True)
    m.p = pyo.Expression(range(nK), rule=lambda mm, k: sum(mm.k_test[j] * kkts[k].z[j]
                                                           for j in range(n)))
    m.rival_max = pyo.Var(bounds=(-m.P, m.P))
    m.beta = pyo.Var(range(nK), domain=pyo.Binary)
    m.above = pyo.Constraint(range(nK), rule=lambda mm, k:
                             mm.rival_max >= mm.p[k] - 2 * mm.P * mm.top[k])
    m.attained = pyo.Constraint(range(nK), rule=lambda mm, k:
                                mm.rival_max <= mm.p[k] + 2 * mm.P * (1 - mm.beta[k]))
    m.not_top = pyo.Constraint(range(nK), rule=lambda mm, k: mm.beta[k] <= 1 - mm.top[k])
    m.one_rival = pyo.Constraint(expr=sum(m.beta[k] for k in range(nK)) == 1)
    m.margin = pyo.Expression(expr=sum(m.top[k] * m.p[k] for k in range(nK)) - m.rival_max)
    m.objective = pyo.Objective(expr=m.margin, sense=pyo.minimize)
    Z0 = np.stack([np.where(codes == k, 1.0, -1.0) * solve_svm_dual(
        K, np.where(codes == k, 1.0, -1.0), C).alpha for k in range(nK)])
    m.info = {"K": K, "C": C, "classes": classes, "codes": codes, "threat": res, "Z0": Z0,
              "kind": "multiclass"}
    set_test_point(m, k_test)
    return m


def set_test_point(model: pyo.ConcreteModel, k_test, sign: float | None = None) -> None:
    """Swap the test point of a sample-wise / multiclass model (mutable parameters only).

    The clean sign (binary) or clean class (multiclass) is recomputed from the clean SVM
    unless ``sign`` is given.
    """
    info = model.info
    k = _test_row(k_test, info["K"].shape[0])
    for j, v in enumerate(k):
        model.k_test[j] = float(v)
    if info["kind"] == "samplewise":
        if sign is None:
            f = float(k @ (info["y_pm"] * info["alpha0"]))
            sign = 1.0 if f >= 0 else -1.0
        model.sign = float(sign)
    elif info["kind"] == "multiclass":
        top = int(np.argmax(info["Z0"] @ k))
        for c in model.top:
            model.top[c] = 1.0 if c == top else 0.0
        model.P = max(logit_bound(k, info["C"]), 1e-12)
    else:
        raise InvalidParameterError("set_test_point needs a samplewise or multiclass model")


def flips_of(model: pyo.ConcreteModel) -> np.ndarray:
    """Flip mask read from the (solved) ``model.adversary.flip`` values."""
    adv = model.adversary
    return np.array([pyo.value(adv.flip[i]) > 0.5 for i in adv.I])


def labels_of(model: pyo.ConcreteModel) -> np.ndarray:
    """Class codes read from a solved multiclass model's ``adversary.onehot`` values."""
    adv = model.adversary
    return np.array([max(adv.K, key=lambda k: pyo.value(adv.onehot[i, k])) for i in adv.I])
