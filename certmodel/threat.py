"""Threat models: which training labels the attacker may change, at what cost, to what.

The default threat model of every certificate is "any ``B`` training labels, each to any other
class".  A :class:`ThreatModel` narrows it:

* ``flippable`` — boolean mask of shape ``(n,)``: only these training points may be relabelled
  (the attacker controls some annotators);
* ``cost`` — positive per-point flip costs of shape ``(n,)``: a relabelling ``S`` is admissible
  at budget ``B`` iff ``Σ_{i∈S} cost_i ≤ B`` (unit costs by default, so ``B`` counts flips);
* ``targets`` — for multiclass tasks, the class codes (``0..K-1``) labels may be moved *to*
  (a relabelling moves point ``i`` from ``y_i`` to some ``c ∈ targets``, ``c ≠ y_i``).

Admissible set at budget ``B``::

    A_B = { y' : y'_i = y_i for i ∉ flippable,  y'_i ∈ targets ∪ {y_i},
            Σ_i cost_i · [y'_i ≠ y_i] ≤ B }.

Every decision path (closed form / sort, attack, stability bound, enumeration, MILP,
min-flips) certifies over exactly ``A_B``.  ``ThreatModel()`` is the default threat model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from certmodel.exceptions import InvalidParameterError

__all__ = ["ThreatModel", "ResolvedThreat", "resolve_threat"]

_COST_TOL = 1e-9  # relative slack when comparing a sum of float costs with a budget


@dataclasses.dataclass(frozen=True, eq=False)
class ThreatModel:
    """What the attacker may do (see the module docstring for the admissible set).

    Parameters
    ----------
    flippable : array-like of bool, shape (n,), optional
        Mask of the training points whose labels the attacker controls (default: all).
    cost : array-like of float > 0, shape (n,), optional
        Cost of relabelling each training point; the budget is then a cost budget
        (default: 1 per point).
    targets : sequence of int, optional
        Class codes labels may be moved to (multiclass; default: every class).
    """

    flippable: np.ndarray | None = None
    cost: np.ndarray | None = None
    targets: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.flippable is not None:
            f = np.asarray(self.flippable)
            if f.ndim != 1 or f.dtype.kind not in "bui":
                raise InvalidParameterError(
                    f"ThreatModel.flippable must be a 1-D boolean mask, got dtype {f.dtype} "
                    f"and shape {f.shape}")
            if f.dtype.kind != "b":
                if not np.isin(f, (0, 1)).all():
                    raise InvalidParameterError(
                        "ThreatModel.flippable must be a boolean mask (0/1 values), got "
                        f"values {np.unique(f)[:5]}")
            object.__setattr__(self, "flippable", f.astype(bool))
        if self.cost is not None:
            try:
                c = np.asarray(self.cost, dtype=float)
            except (TypeError, ValueError) as e:
                raise InvalidParameterError(
                    f"ThreatModel.cost must be numeric, got {self.cost!r}") from e
            if c.ndim != 1 or not np.all(np.isfinite(c)) or np.any(c <= 0):
                raise InvalidParameterError(
                    "ThreatModel.cost must be a 1-D array of finite costs > 0, got shape "
                    f"{c.shape}, min {np.min(c) if c.size else None}")
            object.__setattr__(self, "cost", c)
        if self.targets is not None:
            t = np.asarray(self.targets)
            if t.ndim != 1 or t.size == 0 or t.dtype.kind not in "ui":
                raise InvalidParameterError(
                    f"ThreatModel.targets must be a non-empty sequence of class codes, got "
                    f"{self.targets!r}")
            if np.any(t < 0) or len(set(t.tolist())) != t.size:
                raise InvalidParameterError(
                    f"ThreatModel.targets must be distinct class codes >= 0, got {t.tolist()}")
            object.__setattr__(self, "targets", tuple(sorted(int(v) for v in t)))

    @property
    def is_default(self) -> bool:
        """True when nothing is restricted (any point, unit cost, any class)."""
        return self.flippable is None and self.cost is None and self.targets is None

    def resolve(self, n: int, n_classes: int, labels: Sequence[int] | None = None
                ) -> ResolvedThreat:
        """Arrays for an instance with ``n`` training points and ``n_classes`` classes."""
        return resolve_threat(self, n, n_classes, labels)

    def to_dict(self) -> dict:
        """JSON-ready description (``None`` entries are unrestricted)."""
        return {
            "flippable": None if self.flippable is None else
            np.flatnonzero(self.flippable).tolist(),
            "n": None if self.flippable is None and self.cost is None else
            int(len(self.flippable if self.flippable is not None else self.cost)),
            "cost": None if self.cost is None else self.cost.tolist(),
            "targets": None if self.targets is None else list(self.targets),
        }

    @classmethod
    def from_dict(cls, d: dict | None) -> ThreatModel:
        """Inverse of :meth:`to_dict`."""
        if not d:
            return cls()
        flippable = None
        if d.get("flippable") is not None:
            n = int(d["n"])
            flippable = np.zeros(n, dtype=bool)
            flippable[np.asarray(d["flippable"], dtype=int)] = True
        return cls(flippable=flippable, cost=d.get("cost"), targets=d.get("targets"))

    def __eq__(self, other):
        if not isinstance(other, ThreatModel):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(repr(self.to_dict()))

    def __repr__(self):
        if self.is_default:
            return "ThreatModel()"
        parts = []
        if self.flippable is not None:
            parts.append(f"flippable={int(self.flippable.sum())}/{self.flippable.size}")
        if self.cost is not None:
            parts.append(f"cost=[{self.cost.min():g}..{self.cost.max():g}]")
        if self.targets is not None:
            parts.append(f"targets={list(self.targets)}")
        return f"ThreatModel({', '.join(parts)})"


@dataclasses.dataclass(frozen=True)
class ResolvedThreat:
    """A threat model checked against one instance: plain arrays every path reads.

    Attributes
    ----------
    mask : ndarray of bool, shape (n,)
        Flippable points.
    cost : ndarray of float, shape (n,)
        Flip costs (ones for the default).
    target_mask : ndarray of bool, shape (n_classes,)
        Classes labels may be moved to.
    unit_cost : bool
        All costs equal 1 (the budget counts flips).
    """

    mask: np.ndarray
    cost: np.ndarray
    target_mask: np.ndarray
    unit_cost: bool
    model: ThreatModel

    @property
    def is_default(self) -> bool:
        return bool(self.unit_cost and self.mask.all() and self.target_mask.all())

    def admissible(self, changed: np.ndarray, budget: float,
                   new_labels: np.ndarray | None = None) -> bool:
        """Is changing the points in boolean/int index ``changed`` within ``budget``?"""
        idx = np.flatnonzero(changed) if np.asarray(changed).dtype == bool else \
            np.asarray(changed, dtype=int)
        if not self.mask[idx].all():
            return False
        if new_labels is not None and not self.target_mask[np.asarray(new_labels)[idx]].all():
            return False
        return self.within(float(self.cost[idx].sum()), budget)

    @staticmethod
    def within(total_cost: float, budget: float) -> bool:
        """``total_cost ≤ budget`` up to float round-off in the sum of costs."""
        return total_cost <= budget + _COST_TOL * max(1.0, abs(budget))

    def max_flips(self, budget: float) -> int:
        """Largest number of points that fit into ``budget`` (cheapest flippable first)."""
        c = np.sort(self.cost[self.mask])
        total = np.cumsum(c)
        return int(np.count_nonzero(total <= budget + _COST_TOL * max(1.0, abs(budget))))


def resolve_threat(threat: ThreatModel | None, n: int, n_classes: int,
                   labels: Sequence[int] | None = None) -> ResolvedThreat:
    """Check ``threat`` against an instance; ``None`` means the default threat model."""
    threat = threat if threat is not None else ThreatModel()
    if not isinstance(threat, ThreatModel):
        raise InvalidParameterError(
            f"threat must be a certmodel.ThreatModel or None, got {type(threat).__name__}")
    mask = np.ones(n, dtype=bool) if threat.flippable is None else threat.flippable
    if mask.shape != (n,):
        raise InvalidParameterError(
            f"ThreatModel.flippable has {mask.size} entries, expected {n} (one per training "
            "point)")
    cost = np.ones(n) if threat.cost is None else threat.cost
    if cost.shape != (n,):
        raise InvalidParameterError(
            f"ThreatModel.cost has {cost.size} entries, expected {n} (one per training point)")
    target_mask = np.ones(n_classes, dtype=bool)
    if threat.targets is not None:
        bad = [t for t in threat.targets if t >= n_classes]
        if bad:
            raise InvalidParameterError(
                f"ThreatModel.targets {bad} are not class codes of a {n_classes}-class task "
                f"(expected values in 0..{n_classes - 1})")
        target_mask = np.zeros(n_classes, dtype=bool)
        target_mask[list(threat.targets)] = True
    return ResolvedThreat(mask=mask, cost=cost, target_mask=target_mask,
                          unit_cost=bool(np.all(cost == 1.0)), model=threat)
