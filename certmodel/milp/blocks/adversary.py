"""The adversary: which labels may change, and how many.

Binary (spec §5.2): flip bits ``φ_i ∈ {0,1}``, perturbed labels ``y_i = ỹ_i (1 − 2φ_i)``
(an expression, so no extra columns), budget ``Σ_i φ_i ≤ B``.

Multiclass (spec §5.4): one-hot binaries ``o_ik`` with ``Σ_k o_ik = 1``, budget
``Σ_i (1 − o_{i,ỹ_i}) ≤ B`` (number of relabelled points), and the one-vs-rest labels
``y^k_i = 2 o_ik − 1``.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

__all__ = ["add_binary_adversary", "add_multiclass_adversary"]


def add_binary_adversary(parent: pyo.Block, name: str, y_pm, budget: int) -> pyo.Block:
    """Add a block with ``flip[i]`` binaries, label expressions ``y[i]`` and the budget row.

    Parameters
    ----------
    y_pm : array of shape (n,)
        Clean labels ``ỹ ∈ {−1, +1}``.
    budget : int
        Maximum number of flips ``B``.
    """
    y_pm = np.asarray(y_pm, dtype=float)
    b = pyo.Block()
    parent.add_component(name, b)
    b.I = pyo.RangeSet(0, len(y_pm) - 1)
    b.y_clean = {i: float(y_pm[i]) for i in range(len(y_pm))}
    b.flip = pyo.Var(b.I, domain=pyo.Binary)
    b.y = pyo.Expression(b.I, rule=lambda blk, i: blk.y_clean[i] * (1 - 2 * blk.flip[i]))
    b.n_flips = pyo.Expression(expr=sum(b.flip[i] for i in b.I))
    b.budget = pyo.Constraint(expr=b.n_flips <= int(budget))
    return b


def add_multiclass_adversary(parent: pyo.Block, name: str, labels, n_classes: int,
                             budget: int) -> pyo.Block:
    """Add a block with one-hot ``onehot[i, k]`` binaries, ``y[k, i] = 2·onehot[i, k] − 1``.

    Parameters
    ----------
    labels : array of shape (n,)
        Clean labels in ``0..n_classes−1``.
    budget : int
        Maximum number of relabelled points ``B``.
    """
    labels = np.asarray(labels, dtype=int)
    b = pyo.Block()
    parent.add_component(name, b)
    b.I = pyo.RangeSet(0, len(labels) - 1)
    b.K = pyo.RangeSet(0, n_classes - 1)
    b.clean = {i: int(labels[i]) for i in range(len(labels))}
    b.onehot = pyo.Var(b.I, b.K, domain=pyo.Binary)
    b.one_label = pyo.Constraint(b.I, rule=lambda blk, i: sum(blk.onehot[i, k] for k in blk.K) == 1)
    b.y = pyo.Expression(b.K, b.I, rule=lambda blk, k, i: 2 * blk.onehot[i, k] - 1)
    b.changed = pyo.Expression(expr=sum(1 - b.onehot[i, b.clean[i]] for i in b.I))
    b.budget = pyo.Constraint(expr=b.changed <= int(budget))
    return b
