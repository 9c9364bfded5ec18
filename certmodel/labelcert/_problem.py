"""A validated LabelCert instance and exact retraining (the oracle every path replays with).

Binary labels are mapped to ``ỹ ∈ {−1, +1}`` (``classes[0] → −1``, ``classes[1] → +1``).
The clean SVM gives ``f_t = Σ_j K_tj ỹ_j α_j`` and the clean sign ``s_t = +1`` iff
``f_t ≥ 0`` (reference convention); the margin of test point ``t`` under labels ``y`` is
``s_t · f_t(y)`` and the prediction is robust iff it stays ``> 0`` for every admissible ``y``.

``Problem.threat`` (a :class:`~certmodel.threat.ResolvedThreat`) defines "admissible": every
decision path reads its ``mask`` (flippable points), ``cost`` (flip costs; the budget is a
cost budget) and ``target_mask`` (multiclass target classes).  Default: unrestricted.
"""

from __future__ import annotations

import dataclasses
import numbers

import numpy as np

from certmodel._validation import (
    check_budgets,
    check_kernel_matrix,
    check_kernel_psd,
    check_labels,
    check_scalar,
    check_test_indices,
    check_test_kernel,
)
from certmodel.exceptions import InvalidParameterError
from certmodel.learners import effective_C, is_saturated, solve_svm_dual, unit_scale
from certmodel.threat import ResolvedThreat, ThreatModel, resolve_threat

__all__ = ["Problem", "RetrainFailed", "retrain_binary", "retrain_ovr", "check_threat_budgets"]


class RetrainFailed(ArithmeticError):
    """Exact retraining did not reach a KKT point (e.g. an indefinite kernel).

    Paths that rely on exact retraining (enumeration, attack, witness replay) must not
    trust such a result: they give up and leave the decision to the MILP or to ``unknown``.
    """


def retrain_binary(K: np.ndarray, y_pm: np.ndarray, C: float,
                   alpha0: np.ndarray | None = None) -> np.ndarray:
    """``z = y∘α`` of the bias-free SVM retrained exactly on labels ``y_pm``."""
    sol = solve_svm_dual(K, y_pm, C, alpha0=alpha0, check_input=False)
    if not sol.converged:
        raise RetrainFailed(f"SVM retraining stopped at KKT residual {sol.kkt_residual:.3g}")
    return y_pm * sol.alpha


def retrain_ovr(K: np.ndarray, labels: np.ndarray, n_classes: int, C: float,
                alpha0: np.ndarray | None = None) -> np.ndarray:
    """One-vs-rest ``Z`` of shape (K, n): row k is ``y^k∘α^k`` retrained on labels."""
    Z = np.empty((n_classes, len(labels)))
    for k in range(n_classes):
        y = np.where(labels == k, 1.0, -1.0)
        Z[k] = retrain_binary(K, y, C, None if alpha0 is None else alpha0[k])
    return Z


@dataclasses.dataclass
class Problem:
    """Validated instance: training kernel, labels, test kernel, C and the clean solution."""

    K: np.ndarray
    K_test: np.ndarray
    C: float
    classes: np.ndarray
    codes: np.ndarray
    test_indices: np.ndarray
    threat: ResolvedThreat | None = None
    customize: object = None  # fn(pyomo model) applied to every MILP (certify(customize=))

    def __post_init__(self):
        if self.threat is None or isinstance(self.threat, ThreatModel):
            self.threat = resolve_threat(self.threat, len(self.codes), len(self.classes))

    @classmethod
    def create(cls, K, y, K_test, C, test_indices=None, threat: ThreatModel | None = None
               ) -> Problem:
        K = check_kernel_matrix(K, "K")
        n = K.shape[0]
        classes, codes = check_labels(y, n, "y")
        if len(classes) < 2:
            raise InvalidParameterError(f"y must contain at least two classes, got {classes}")
        K_test = check_test_kernel(K_test, n, "K_test")
        C = float(check_scalar(C, "C", numbers.Real, min_val=0, include_min=False))
        check_kernel_psd(K, "K")  # negative diagonal: error; indefinite: a warning
        if test_indices is None:
            test_indices = np.arange(K_test.shape[0])
        test_indices = check_test_indices(test_indices, K_test.shape[0])
        resolved = resolve_threat(threat, n, len(classes))
        if len(classes) == 2 and not resolved.target_mask.all():
            # binary: a point can only move to the other class, so targets act as a mask
            resolved = dataclasses.replace(
                resolved, mask=resolved.mask & resolved.target_mask[1 - codes])
        return cls(K=K, K_test=K_test, C=C, classes=classes, codes=codes,
                   test_indices=test_indices, threat=resolved)

    def canonical(self) -> Problem:
        """The same instance in O(1) numbers: every labelling's logits are unchanged.

        Two exact reformulations (:mod:`certmodel.learners._svm_dual`): the kernels times a
        power of two ``c`` with ``c · max_i Σ_j |K_ij| ≈ 1`` and ``C / c`` (the SVM on
        ``(cK, C/c)`` has ``α/c``, so ``cK_test (y∘α/c)`` are the same logits, rounding
        nothing), then ``C`` above the hard-margin bound replaced by the bound (the same SVM
        for every labelling).  The certificate entry points use it, so MILPs and soundness
        margins see O(1) coefficients for kernels scaled 1e-12 … 1e20 and any ``C``.
        """
        c = unit_scale(self.K)
        K = self.K * c
        return dataclasses.replace(self, K=K, K_test=self.K_test * c,
                                   C=effective_C(K, self.C / c))

    def rows(self, idx) -> Problem:
        """The same instance restricted to the test rows ``idx``."""
        idx = np.asarray(idx, dtype=int)
        return dataclasses.replace(self, K_test=self.K_test[idx],
                                   test_indices=self.test_indices[idx])

    @property
    def n(self) -> int:
        return self.K.shape[0]

    @property
    def m(self) -> int:
        return self.K_test.shape[0]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def binary(self) -> bool:
        return self.n_classes == 2

    @property
    def y_pm(self) -> np.ndarray:
        return np.where(self.codes == 1, 1.0, -1.0)

    @property
    def restricted(self) -> bool:
        """True when the threat model is narrower than "any B labels"."""
        return not self.threat.is_default

    @property
    def saturated(self) -> bool:
        return is_saturated(self.K, self.C)

    def logit_bounds(self) -> np.ndarray:
        """``P_t = C Σ_j |K_tj|`` per test point."""
        return self.C * np.abs(self.K_test).sum(axis=1)

    def relabelling_from_flips(self, flips: np.ndarray) -> dict[int, int]:
        """Binary flip mask -> {training index: new label in the caller's values}."""
        idx = np.flatnonzero(flips)
        return {int(i): int(self.classes[1 - self.codes[i]]) for i in idx}

    def relabelling_from_labels(self, labels: np.ndarray) -> dict[int, int]:
        idx = np.flatnonzero(labels != self.codes)
        return {int(i): int(self.classes[labels[i]]) for i in idx}


def check_threat_budgets(budgets, prob: Problem, name: str = "budget") -> list:
    """Budgets for ``prob``'s threat model, sorted and unique.

    Unit costs: integers ``0..n`` (numbers of relabelled points).  Per-point costs: cost
    budgets, finite reals ``≥ 0`` (integers are kept as ``int``).
    """
    if prob.threat.unit_cost:
        if prob.threat.model.cost is not None:
            # per-point costs that are all 1 on the flippable points: a cost budget written
            # as a float (1.0) is the same integer budget
            seq = budgets if isinstance(budgets, list | tuple | np.ndarray) else [budgets]
            if all(isinstance(b, numbers.Real) and not isinstance(b, bool) and np.isfinite(b)
                   and float(b).is_integer() for b in seq):
                return check_budgets([int(b) for b in seq], prob.n, name)
            # else: cost budgets (2.5 with unit costs: at most 2 points), checked below
        else:
            return check_budgets(budgets, prob.n, name)
    if isinstance(budgets, numbers.Real) and not isinstance(budgets, bool):
        budgets = [budgets]
    try:
        arr = [b for b in budgets]
    except TypeError:
        arr = None
    if not arr:
        raise InvalidParameterError(f"{name} must be a number or a non-empty list of cost "
                                    f"budgets, got {budgets!r}")
    out = []
    for b in arr:
        if isinstance(b, bool) or not isinstance(b, numbers.Real) or not np.isfinite(b) \
                or b < 0:
            raise InvalidParameterError(
                f"{name} entries must be finite cost budgets >= 0 (the threat model has "
                f"per-point costs), got {b!r}")
        out.append(int(b) if float(b).is_integer() else float(b))
    return sorted(set(out))
