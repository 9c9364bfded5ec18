"""The one result interface shared by every certificate (LabelCert, ScaLabelCert, EnsembleCert).

A :class:`CertificateRecord` answers "can an adversary who relabels at most ``budget``
training points change the prediction for test point ``test_index``?".  A
:class:`CollectiveRecord` answers "how many test predictions can one relabelling change at
once?".  Both are plain frozen dataclasses that serialise to JSON.

Soundness rules (enforced by the constructors :func:`decide_from_bound` and friends):

* ``robust`` is decided only from a *proven lower bound* on the worst-case margin, with an
  explicit margin ``eps``: robust iff ``bound > eps``;
* ``not_robust`` always carries the ``relabelling`` (training index -> new label) that
  achieves it;
* a time-out, a solver failure or a bound that cannot decide gives ``unknown``.

The *margin* is always the signed margin of the clean prediction: binary ``s * f(x)`` with
``s`` the clean sign; multiclass ``f_a(x) - max_{b != a} f_b(x)`` with ``a`` the clean class.
The prediction is robust iff the worst-case margin over all admissible relabellings is > 0.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "Verdict",
    "Path",
    "ValueKind",
    "CertificateRecord",
    "CollectiveRecord",
    "records_to_json",
    "records_from_json",
    "summarize",
]


class Verdict(str, enum.Enum):
    """Outcome of one certificate."""

    ROBUST = "robust"
    """Proven: no admissible relabelling changes the prediction."""
    NOT_ROBUST = "not_robust"
    """A relabelling within the budget that changes (or ties) the prediction is known."""
    UNKNOWN = "unknown"
    """Neither was proven (time-out, solver failure, or a non-exact method)."""

    def __str__(self) -> str:  # so f-strings and JSON show "robust"
        return self.value


class Path(str, enum.Enum):
    """Which exact path decided a record (reported in every record)."""

    SATURATED = "saturated"
    """Closed form: the SVM is in the saturated regime (every dual variable equals C)."""
    SORT = "sort"
    """ScaLabelCert's sort for a label-linear learner."""
    MONOTONE = "monotone"
    """Implied by another budget (not robust at B => not robust at B' > B, and conversely)."""
    ATTACK = "attack"
    """A heuristic attack found a relabelling; replaying it by retraining flipped the prediction."""
    ENUMERATION = "enumeration"
    """Every relabelling within the budget was enumerated and retrained exactly."""
    SEARCH = "search"
    """Branch-and-bound over relabellings: exact retraining at visited nodes, skipped subtrees
    proven harmless by a valid bound."""
    MILP = "milp"
    """The bilevel -> KKT -> MILP reformulation, solved by a backend."""
    SAMPLEWISE = "samplewise"
    """Collective: sample-wise certificates settle the count (a test point proven robust at the
    budget cannot change; a replayed sample-wise witness changes as many as can change)."""
    PAIRS = "pairs"
    """Collective: no relabelling changes two test points of a *separated* pair (a combined
    test point ``λ·a + (1 − λ)·b`` proven robust by the relabelling search), so the count is
    at most the largest set of pairwise unseparated points — and a replayed relabelling
    changes that many."""
    BOUND = "bound"
    """A cheap valid bound (e.g. the worst logit under the budget) already decided."""
    DP = "dp"
    """EnsembleCert's knapsack dynamic programme over per-partition costs."""
    DPA = "dpa"
    """The black-box DPA vote-counting radius."""
    TRIVIAL = "trivial"
    """Budget 0, or the clean margin is not positive."""

    def __str__(self) -> str:
        return self.value


class ValueKind(str, enum.Enum):
    """What :attr:`CertificateRecord.value` means."""

    WORST_MARGIN = "worst_margin"
    """The exact worst-case margin (an optimum)."""
    LOWER_BOUND = "lower_bound"
    """A proven lower bound on the worst-case margin (e.g. a MILP dual bound)."""
    WITNESS_MARGIN = "witness_margin"
    """The margin reached by the reported relabelling (an upper bound on the worst case)."""
    NONE = "none"
    """No value (e.g. a solver failure)."""

    def __str__(self) -> str:
        return self.value


def _jsonable(x: Any) -> Any:
    if isinstance(x, enum.Enum):
        return x.value
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item):  # numpy scalars
        return _jsonable(x.item())
    return x


@dataclasses.dataclass(frozen=True)
class CertificateRecord:
    """One sample-wise certificate: test point ``test_index`` at budget ``budget``.

    Attributes
    ----------
    test_index : int
        Index of the test point (row of the test kernel, or node id where the caller says so).
    budget : int or float
        Maximum number of relabelled training points (a cost budget when
        ``extra["threat"]["cost"]`` is set: the threat model's per-point costs).
    verdict : Verdict
    prediction : int
        Clean predicted label, in the caller's label values (e.g. ``-1``/``1`` or ``0..K-1``).
    clean_margin : float
        Margin of the clean prediction (binary ``|f|``, multiclass top-1 minus top-2).
    value : float or None
        Worst margin / proven bound / witness margin, see ``value_kind``.
    value_kind : ValueKind
    method : str
        ``"labelcert"``, ``"scalabel"``, ``"ensemble"`` ...
    path : Path
        Which exact path decided the record.
    solver_status : str or None
        Backend termination (``"optimal"``, ``"time_limit"``, ...) when a solver ran.
    gap : float or None
        Relative MIP gap reported by the solver.
    wall_time : float
        Seconds spent on this record (shared work is split evenly).
    backend : str or None
        Solver backend name when a solver ran.
    relabelling : dict[int, int] or None
        Training index -> new label; always present for ``not_robust``.
    min_flips : int or None
        Minimum number of relabels that changes the prediction (ScaLabelCert; ``None`` if
        unknown, a value > n means impossible).
    extra : dict
        Method-specific details (e.g. node counts, eps used).
    """

    test_index: int
    budget: int
    verdict: Verdict
    prediction: int
    clean_margin: float
    value: float | None
    value_kind: ValueKind
    method: str
    path: Path
    solver_status: str | None = None
    gap: float | None = None
    wall_time: float = 0.0
    backend: str | None = None
    relabelling: dict[int, int] | None = None
    min_flips: int | None = None
    extra: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "verdict", Verdict(self.verdict))
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "value_kind", ValueKind(self.value_kind))
        if self.verdict is Verdict.NOT_ROBUST and self.relabelling is None:
            raise ValueError("a not_robust record must carry the relabelling that achieves it")
        if self.relabelling is not None:
            object.__setattr__(self, "relabelling",
                               {int(k): int(v) for k, v in self.relabelling.items()})
            cost = (self.extra.get("threat") or {}).get("cost")
            if cost is not None:  # a cost budget (threat model with per-point costs)
                total = sum(cost[i] for i in self.relabelling)
                if total > self.budget + 1e-9 * max(1.0, abs(self.budget)):
                    raise ValueError(f"relabelling costs {total}, more than the cost budget "
                                     f"{self.budget}")
            elif len(self.relabelling) > self.budget:
                raise ValueError(f"relabelling changes {len(self.relabelling)} points, "
                                 f"more than the budget {self.budget}")

    @property
    def robust(self) -> bool:
        return self.verdict is Verdict.ROBUST

    def to_dict(self) -> dict:
        d = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        d["kind"] = "samplewise"
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> CertificateRecord:
        d = dict(d)
        d.pop("kind", None)
        if d.get("relabelling") is not None:
            d["relabelling"] = {int(k): int(v) for k, v in d["relabelling"].items()}
        for key in ("value", "gap", "clean_margin"):
            if isinstance(d.get(key), str):
                d[key] = float(d[key])
        return cls(**d)

    def replace(self, **changes) -> CertificateRecord:
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass(frozen=True)
class CollectiveRecord:
    """One collective certificate: one relabelling against all test points at once.

    ``certified_count`` test predictions are proven unchangeable by any single relabelling
    within ``budget``: ``certified_count = n_test - floor(bound + eps)`` where ``bound`` is a
    proven upper bound on the number of predictions one relabelling can change (sound on
    time-out).  ``attacked`` lists the test indices changed by the reported ``relabelling``
    (an incumbent, replayed by retraining where the method can).
    """

    budget: int
    n_test: int
    certified_count: int
    bound: float
    incumbent: int | None
    method: str
    path: Path
    test_indices: tuple[int, ...] = ()
    attacked: tuple[int, ...] = ()
    relabelling: dict[int, int] | None = None
    solver_status: str | None = None
    gap: float | None = None
    wall_time: float = 0.0
    backend: str | None = None
    extra: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "test_indices", tuple(int(i) for i in self.test_indices))
        object.__setattr__(self, "attacked", tuple(int(i) for i in self.attacked))
        if self.relabelling is not None:
            object.__setattr__(self, "relabelling",
                               {int(k): int(v) for k, v in self.relabelling.items()})
        if not 0 <= self.certified_count <= self.n_test:
            raise ValueError(f"certified_count {self.certified_count} outside 0..{self.n_test}")

    @property
    def certified_ratio(self) -> float:
        return self.certified_count / self.n_test if self.n_test else 1.0

    @property
    def exact(self) -> bool:
        """True when the bound matches the incumbent (the optimum is known)."""
        return self.incumbent is not None and math.floor(self.bound + 1e-6) <= self.incumbent

    def to_dict(self) -> dict:
        d = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        d["kind"] = "collective"
        d["certified_ratio"] = self.certified_ratio
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> CollectiveRecord:
        d = dict(d)
        d.pop("kind", None)
        d.pop("certified_ratio", None)
        if d.get("relabelling") is not None:
            d["relabelling"] = {int(k): int(v) for k, v in d["relabelling"].items()}
        if isinstance(d.get("bound"), str):
            d["bound"] = float(d["bound"])
        return cls(**d)


def records_to_json(records: Iterable[CertificateRecord | CollectiveRecord], **meta) -> str:
    """Serialise records (and optional metadata) as a JSON document."""
    doc = {"meta": _jsonable(meta), "records": [r.to_dict() for r in records]}
    return json.dumps(doc, indent=1)


def records_from_json(text: str) -> list[CertificateRecord | CollectiveRecord]:
    doc = json.loads(text)
    out = []
    for d in doc["records"]:
        cls = CollectiveRecord if d.get("kind") == "collective" else CertificateRecord
        out.append(cls.from_dict(d))
    return out


def summarize(records: Iterable[CertificateRecord], y_true: Mapping[int, int] | None = None
              ) -> list[dict]:
    """Per-budget table: counts of robust / not robust / unknown, certified ratio and accuracy.

    ``y_true`` maps ``test_index`` to the true label; certified accuracy counts points that
    are robust *and* correctly classified.
    """
    by_budget: dict[int, list[CertificateRecord]] = {}
    for r in records:
        by_budget.setdefault(r.budget, []).append(r)
    rows = []
    for b in sorted(by_budget):
        rs = by_budget[b]
        n = len(rs)
        robust = sum(r.verdict is Verdict.ROBUST for r in rs)
        row = {
            "budget": b,
            "n": n,
            "robust": robust,
            "not_robust": sum(r.verdict is Verdict.NOT_ROBUST for r in rs),
            "unknown": sum(r.verdict is Verdict.UNKNOWN for r in rs),
            "certified_ratio": robust / n if n else float("nan"),
            "wall_time": sum(r.wall_time for r in rs),
        }
        if y_true is not None:
            row["accuracy"] = sum(r.prediction == y_true[r.test_index] for r in rs) / n
            row["certified_accuracy"] = sum(
                r.verdict is Verdict.ROBUST and r.prediction == y_true[r.test_index]
                for r in rs) / n
        rows.append(row)
    return rows
