"""The adversary: which labels may change, and how many (the threat model as constraints).

Binary (spec §5.2): flip bits ``φ_i ∈ {0,1}``, perturbed labels ``y_i = ỹ_i (1 − 2φ_i)``
(an expression, so no extra columns), budget ``Σ_i c_i φ_i ≤ B`` (``c_i = 1`` by default;
per-point costs of a :class:`~certmodel.threat.ThreatModel` otherwise).  Points outside the
flippable mask have ``φ_i`` fixed to 0 through its bounds ``[0, 0]`` (the column stays, so
MIP starts and decoding see every point).

Multiclass (spec §5.4): one-hot binaries ``o_ik`` with ``Σ_k o_ik = 1``, budget
``Σ_i c_i (1 − o_{i,ỹ_i}) ≤ B``, and the one-vs-rest labels ``y^k_i = 2 o_ik − 1``.
Unflippable points have ``o_{i,ỹ_i} ∈ [1, 1]``; classes outside the threat's targets have
``o_ik ∈ [0, 0]`` for ``k ≠ ỹ_i``.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

__all__ = ["add_binary_adversary", "add_multiclass_adversary"]


def add_binary_adversary(parent: pyo.Block, name: str, y_pm, budget: float,
                         threat=None) -> pyo.Block:
    """Add a block with ``flip[i]`` binaries, label expressions ``y[i]`` and the budget row.

    Parameters
    ----------
    y_pm : array of shape (n,)
        Clean labels ``ỹ ∈ {−1, +1}``.
    budget : float
        Maximum number of flips ``B`` (a cost budget with per-point costs).
    threat : ResolvedThreat, optional
        Flippable mask and per-point costs (default: every point, unit costs).

    The block's mutable parameter ``B`` holds the budget (change it without rebuilding) and
    ``cost[i]`` the per-point costs.
    """
    y_pm = np.asarray(y_pm, dtype=float)
    b = pyo.Block()
    parent.add_component(name, b)
    b.I = pyo.RangeSet(0, len(y_pm) - 1)
    b.y_clean = {i: float(y_pm[i]) for i in range(len(y_pm))}
    n = len(y_pm)
    mask = np.ones(n, bool) if threat is None else np.asarray(threat.mask, bool)
    cost = np.ones(n) if threat is None else np.asarray(threat.cost, float)
    b.flip = pyo.Var(b.I, domain=pyo.Binary,
                     bounds=lambda _, i: (0, 1 if mask[i] else 0))
    b.y = pyo.Expression(b.I, rule=lambda blk, i: blk.y_clean[i] * (1 - 2 * blk.flip[i]))
    b.n_flips = pyo.Expression(expr=sum(b.flip[i] for i in b.I))
    b.cost = pyo.Param(b.I, initialize=lambda _, i: float(cost[i]), mutable=True)
    b.total_cost = pyo.Expression(expr=sum(b.cost[i] * b.flip[i] for i in b.I))
    b.B = pyo.Param(initialize=float(budget), mutable=True)
    b.budget = pyo.Constraint(expr=b.total_cost <= b.B)
    return b


def add_multiclass_adversary(parent: pyo.Block, name: str, labels, n_classes: int,
                             budget: float, threat=None) -> pyo.Block:
    """Add a block with one-hot ``onehot[i, k]`` binaries, ``y[k, i] = 2·onehot[i, k] − 1``.

    Parameters
    ----------
    labels : array of shape (n,)
        Clean labels in ``0..n_classes−1``.
    budget : float
        Maximum number of relabelled points ``B`` (cost budget with per-point costs).
    threat : ResolvedThreat, optional
        Flippable mask, per-point costs and target classes.
    """
    labels = np.asarray(labels, dtype=int)
    b = pyo.Block()
    parent.add_component(name, b)
    b.I = pyo.RangeSet(0, len(labels) - 1)
    b.K = pyo.RangeSet(0, n_classes - 1)
    b.clean = {i: int(labels[i]) for i in range(len(labels))}
    n = len(labels)
    mask = np.ones(n, bool) if threat is None else np.asarray(threat.mask, bool)
    cost = np.ones(n) if threat is None else np.asarray(threat.cost, float)
    tmask = np.ones(n_classes, bool) if threat is None else np.asarray(threat.target_mask, bool)

    def _bounds(_, i, k):
        if k == labels[i]:
            return (0 if mask[i] else 1, 1)
        return (0, 1 if (mask[i] and tmask[k]) else 0)

    b.onehot = pyo.Var(b.I, b.K, domain=pyo.Binary, bounds=_bounds)
    b.one_label = pyo.Constraint(b.I, rule=lambda blk, i: sum(blk.onehot[i, k] for k in blk.K) == 1)
    b.y = pyo.Expression(b.K, b.I, rule=lambda blk, k, i: 2 * blk.onehot[i, k] - 1)
    b.changed = pyo.Expression(expr=sum(1 - b.onehot[i, b.clean[i]] for i in b.I))
    b.cost = pyo.Param(b.I, initialize=lambda _, i: float(cost[i]), mutable=True)
    b.total_cost = pyo.Expression(
        expr=sum(b.cost[i] * (1 - b.onehot[i, b.clean[i]]) for i in b.I))
    b.B = pyo.Param(initialize=float(budget), mutable=True)
    b.budget = pyo.Constraint(expr=b.total_cost <= b.B)
    return b
