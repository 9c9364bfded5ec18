"""Brute force under a threat model: every admissible relabelling, exact retraining."""

from __future__ import annotations

import itertools

import numpy as np

from tests.labelcert.oracles import ovr_logits, retrain_logits, top_margin


def admissible_sets(threat, budget):
    """Every flip set ``S`` of flippable points with cost ``≤ budget``."""
    idx = np.flatnonzero(threat.mask)
    for b in range(0, len(idx) + 1):
        any_fit = False
        for S in itertools.combinations(idx.tolist(), b):
            if threat.within(float(threat.cost[list(S)].sum()), budget):
                any_fit = True
                yield S
        if not any_fit and b > 0:
            return


def brute_binary_threat(K, y_pm, C, K_test, budget, threat):
    """Worst signed margin per test point over admissible relabellings; and the minimum
    cost of a relabelling driving each margin to ``≤ 0`` (inf if none within ``budget``)."""
    y_pm = np.asarray(y_pm, float)
    f0 = retrain_logits(K, y_pm, C, K_test)
    s = np.where(f0 >= 0, 1.0, -1.0)
    worst = s * f0
    min_cost = np.where(worst <= 0, 0.0, np.inf)
    for S in admissible_sets(threat, budget):
        if not S:
            continue
        y = y_pm.copy()
        y[list(S)] *= -1
        mg = s * retrain_logits(K, y, C, K_test)
        worst = np.minimum(worst, mg)
        c = float(threat.cost[list(S)].sum())
        min_cost = np.where(mg <= 0, np.minimum(min_cost, c), min_cost)
    return worst, s, min_cost


def brute_multiclass_threat(K, labels, n_classes, C, K_test, budget, threat):
    labels = np.asarray(labels)
    F0 = ovr_logits(K, labels, n_classes, C, K_test)
    top = np.argmax(F0, axis=1)

    def margin(F):
        return top_margin(F, top)

    worst = margin(F0)
    for S in admissible_sets(threat, budget):
        if not S:
            continue
        choices = [[k for k in np.flatnonzero(threat.target_mask) if k != labels[i]]
                   for i in S]
        for new in itertools.product(*choices):
            lab = labels.copy()
            lab[list(S)] = new
            worst = np.minimum(worst, margin(ovr_logits(K, lab, n_classes, C, K_test)))
    return worst, top


def brute_collective_threat(K, y_pm, C, K_test, budget, threat):
    """Max number of predictions one admissible relabelling changes (ties count)."""
    y_pm = np.asarray(y_pm, float)
    f0 = retrain_logits(K, y_pm, C, K_test)
    s = np.where(f0 >= 0, 1.0, -1.0)
    best = 0
    for S in admissible_sets(threat, budget):
        y = y_pm.copy()
        y[list(S)] *= -1
        best = max(best, int(np.sum(s * retrain_logits(K, y, C, K_test) <= 0)))
    return best
