"""End-to-end EnsembleCert: partition, train label-linear base models, certify the vote.

Pipeline (spec §4): partition the training set by features only (:mod:`.partition`); on each
partition fit a label-linear base learner on a kernel (kernel ridge regression, or the
bias-free SVM in its saturated small-C regime) and run ScaLabelCert on it, which gives the
base vote and per-class costs ``r_p(c)`` for every test point; then the black-box DPA radius
(:func:`~certmodel.ensemble.dpa_radius`) and the white-box knapsack radius
(:func:`~certmodel.ensemble.whitebox_radius`).

Median certified robustness (MCR), as in DPA: the largest radius ``r`` such that at least half
of the test points are correctly classified *and* certified at radius ``r``; a misclassified
point counts as radius −1, so MCR = −1 when clean accuracy is below 50 %.
"""

from __future__ import annotations

import dataclasses
import numbers
import time
from collections.abc import Callable

import numpy as np

from certmodel._validation import check_array, check_choice, check_scalar
from certmodel.ensemble.costs import costs_from_minflips, costs_from_weights
from certmodel.ensemble.knapsack import whitebox_radius
from certmodel.ensemble.partition import hash_partition, partition_indices, sorted_partition
from certmodel.ensemble.votes import count_votes, dpa_radius
from certmodel.exceptions import InvalidParameterError
from certmodel.results import CertificateRecord, Path, ValueKind, Verdict
from certmodel.scalabel._inputs import encode_labels
from certmodel.scalabel.sort import min_flips
from certmodel.scalabel.weights import krr_weights, svm_weights

__all__ = ["EnsembleResult", "certify_ensemble", "fc_ntk", "median_certified_robustness",
           "certified_accuracy"]


_FC_CHUNK = 1 << 16  # kernel entries per block of the fused elementwise pass (cache-sized)


def fc_ntk(X_rows, X_cols) -> np.ndarray:
    """Default kernel: fully connected ReLU NTK ``Θ(X_rows, X_cols)`` (``X_cols`` = train).

    The same numbers as ``ntk_cross("fc", X_cols, X_rows)`` (depth 1, no bias), bit for bit
    on dense inputs: one float64 GEMM, then the arc-cosine ops fused block by block in place
    (``Θ = Σ ∘ κ0(u) + q κ1(u)``, ``u = Σ / q``, ``q = √(d_i d_j)``) instead of full-size
    temporaries.  Sparse inputs go through :func:`certmodel.kernels.ntk_cross`.
    """
    from certmodel.kernels import ntk_cross

    if not (isinstance(X_rows, np.ndarray) and isinstance(X_cols, np.ndarray)) or \
            X_rows.ndim != 2 or X_cols.ndim != 2 or X_rows.shape[1] != X_cols.shape[1] or \
            X_rows.dtype != np.float64 or X_cols.dtype != np.float64 or X_cols.shape[1] == 0:
        return ntk_cross("fc", X_cols, X_rows)
    scale = 1.0 / X_cols.shape[1]
    S = X_rows @ X_cols.T
    S *= scale  # Σ⁽⁰⁾ (== (X_rows @ X_cols.T) * scale)
    if not np.all(np.isfinite(S)):
        return ntk_cross("fc", X_cols, X_rows)  # let the reference path raise / handle it
    d1 = np.einsum("ij,ij->i", X_rows, X_rows) * scale
    d2 = np.einsum("ij,ij->i", X_cols, X_cols) * scale
    step = max(1, _FC_CHUNK // max(1, S.shape[1]))
    for r0 in range(0, S.shape[0], step):
        M = S[r0:r0 + step]  # view, overwritten by Θ
        q = np.multiply.outer(d1[r0:r0 + step], d2)
        np.sqrt(q, out=q)
        u = np.zeros_like(M)
        np.divide(M, q, out=u, where=q > 0)
        np.clip(u, -1.0, 1.0, out=u)
        th = np.arccos(u)
        np.subtract(np.pi, th, out=th)  # π − θ
        E = u * th
        np.square(u, out=u)
        np.subtract(1.0, u, out=u)
        np.maximum(u, 0.0, out=u)
        np.sqrt(u, out=u)
        E += u
        E *= q
        E /= np.pi  # E = q κ1(u)
        th /= np.pi  # Ė = κ0(u)
        M *= th
        M += E  # Θ = Σ ∘ Ė + E
    return S


def certified_accuracy(radii, correct, r) -> np.ndarray:
    """Fraction of test points correct with radius ``≥ r`` for each ``r`` in ``r``."""
    radii = np.asarray(radii, dtype=float)
    eff = np.where(np.asarray(correct, bool), radii, -1.0)
    r = np.atleast_1d(np.asarray(r, dtype=float))
    return (eff[None, :] >= r[:, None]).mean(axis=1)


def median_certified_robustness(radii, correct) -> float:
    """MCR: ``max{r : #{t correct, ρ_t ≥ r} ≥ m/2}``; misclassified points count as −1."""
    eff = np.sort(np.where(np.asarray(correct, bool), np.asarray(radii, float), -1.0))[::-1]
    if eff.size == 0:
        return float("nan")
    return float(eff[(eff.size + 1) // 2 - 1])


class Accuracy:
    """``correct`` / ``clean_accuracy`` of an ensemble result with ``prediction`` and
    ``y_test`` fields (shared by the ensemble result classes)."""

    @property
    def correct(self) -> np.ndarray:
        if self.y_test is None:
            raise InvalidParameterError("y_test was not given: accuracy is undefined")
        return self.prediction == self.y_test

    @property
    def clean_accuracy(self) -> float:
        return float(self.correct.mean())


@dataclasses.dataclass
class EnsembleResult(Accuracy):
    """Outcome of :func:`certify_ensemble` (arrays indexed by test point ``t``).

    Attributes
    ----------
    prediction : ndarray (m,)
        Ensemble vote in the caller's label values (ties to the smaller class).
    votes : ndarray (m, K)
    base_pred : ndarray (m, P)
        Base-model votes as class codes ``0..K-1``.
    costs : ndarray (m, P, K)
        Per-partition lower bounds ``r_p(c)`` (ScaLabelCert pairwise counts).
    whitebox_radius, blackbox_radius : ndarray (m,)
        EnsembleCert (knapsack) and DPA radii of the predicted class.
    partition : ndarray (n,)
        Partition of every training point.
    classes : ndarray (K,)
    y_test : ndarray (m,) or None
    timings : dict
    """

    prediction: np.ndarray
    votes: np.ndarray
    base_pred: np.ndarray
    costs: np.ndarray
    whitebox_radius: np.ndarray
    blackbox_radius: np.ndarray
    partition: np.ndarray
    classes: np.ndarray
    y_test: np.ndarray | None = None
    timings: dict = dataclasses.field(default_factory=dict)


    def mcr(self, kind: str = "whitebox") -> float:
        """Median certified robustness of ``kind`` in {"whitebox", "blackbox"}."""
        check_choice(kind, "kind", ("whitebox", "blackbox"))
        return median_certified_robustness(getattr(self, f"{kind}_radius"), self.correct)

    def mcr_fraction(self, kind: str = "whitebox") -> float:
        """The MCR as a fraction of the training set (``mcr / n``)."""
        return self.mcr(kind) / self.partition.size

    def curve(self, radii=None, kind: str = "whitebox") -> tuple[np.ndarray, np.ndarray]:
        """Certified accuracy vs radius: ``(r, acc(r))`` for ``r = 0..max finite radius``."""
        check_choice(kind, "kind", ("whitebox", "blackbox"))
        rad = getattr(self, f"{kind}_radius")
        if radii is None:
            fin = rad[np.isfinite(rad)]
            radii = np.arange(0, int(fin.max()) + 2 if fin.size else 1)
        radii = np.asarray(radii)
        return radii, certified_accuracy(rad, self.correct, radii)

    def records(self, budgets, kind: str = "whitebox") -> list[CertificateRecord]:
        """Sample-wise records: ``robust`` iff ``budget ≤ radius``, else ``unknown``.

        The knapsack only yields a certified radius (costs are lower bounds), so budgets
        beyond it carry no relabelling and are reported as ``unknown``.
        """
        check_choice(kind, "kind", ("whitebox", "blackbox"))
        rad = getattr(self, f"{kind}_radius")
        out = []
        for t in range(rad.size):
            for B in sorted(set(int(b) for b in np.atleast_1d(budgets))):
                ok = B <= rad[t]
                out.append(CertificateRecord(
                    test_index=t, budget=B, verdict=Verdict.ROBUST if ok else Verdict.UNKNOWN,
                    prediction=int(self.prediction[t]), clean_margin=float("nan"),
                    value=None, value_kind=ValueKind.NONE, method="ensemble",
                    path=Path.DP if kind == "whitebox" else Path.DPA,
                    extra={"radius": float(rad[t])}))
        return out


def certify_ensemble(X_train, y_train, X_test, *, partitions: int, learner: str = "krr",
                     kernel: Callable | None = None, partitioner: str = "hash",
                     y_test=None, n_classes: int | None = None, lam: float = 1e-3,
                     C: float | None = None, C_factor: float = 0.5,
                     method: str = "auto", threat=None) -> EnsembleResult:
    """Train a partition-aggregation ensemble of label-linear learners and certify it.

    Parameters
    ----------
    X_train : array (n, d); y_train : array (n,); X_test : array (m, d)
        Labels ``0..K-1`` (or ``±1``).
    partitions : int
        Number of partitions ``P``.
    learner : {"krr", "svm"}, default="krr"
        Base learner: kernel ridge regression (ridge ``lam``) or the bias-free SVM in the
        saturated regime (``C``, default ``C_factor · saturated_C`` per partition; a ``C``
        outside the regime is refused — for such SVMs compute costs with LabelCert through
        :func:`~certmodel.ensemble.costs_from_certifier`).
    kernel : callable, optional
        ``kernel(X_rows, X_cols) -> (len(X_rows), len(X_cols))`` with ``X_cols`` the
        partition's training points; default :func:`fc_ntk`.
    partitioner : {"hash", "sorted"}, default="hash"
    y_test : array (m,), optional
        True test labels (for accuracy, MCR and curves).
    method : {"auto", "fast", "dp"}
        Knapsack solver of :func:`~certmodel.ensemble.whitebox_radius`.
    threat : ThreatModel, optional
        Restricted threat model over the training points (flippable mask, integer per-point
        costs, target classes): per-partition costs become minimum admissible costs
        (:func:`~certmodel.ensemble.costs.costs_from_weights`) and the white-box radius is in
        cost units.  The black-box DPA radius ignores it (still a valid lower bound).
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    X_train = check_array(X_train, "X_train", ndim=2)
    X_test = check_array(X_test, "X_test", ndim=2)
    if X_test.shape[1] != X_train.shape[1]:
        raise InvalidParameterError(
            f"X_test must have {X_train.shape[1]} columns to match X_train, got {X_test.shape}")
    n = X_train.shape[0]
    classes, codes = encode_labels(y_train, n, n_classes)
    K = classes.size
    resolved = None
    if threat is not None and not threat.is_default:
        from certmodel.threat import resolve_threat

        resolved = resolve_threat(threat, n, K)
    P = int(check_scalar(partitions, "partitions", numbers.Integral, min_val=1))
    check_choice(learner, "learner", ("krr", "svm"))
    check_choice(partitioner, "partitioner", ("hash", "sorted"))
    if learner == "svm" and C is None:
        check_scalar(C_factor, "C_factor", numbers.Real, min_val=0.0, include_min=False,
                     max_val=1.0, include_max=False)
    kernel = fc_ntk if kernel is None else kernel
    if y_test is not None:
        y_test = np.asarray(y_test)
        if y_test.shape != (X_test.shape[0],):
            raise InvalidParameterError(
                f"y_test must have shape ({X_test.shape[0]},), got {y_test.shape}")
    part = (hash_partition if partitioner == "hash" else sorted_partition)(X_train, P)
    idx = partition_indices(part, P)
    timings["partition"] = time.perf_counter() - t0
    m = X_test.shape[0]
    base_pred = np.empty((m, P), dtype=np.int64)
    costs = np.empty((m, P, K))
    t_kernel = t_cert = 0.0
    for p, I in enumerate(idx):
        t1 = time.perf_counter()
        Xp = X_train[I]
        K_pp = kernel(Xp, Xp)
        K_pp = 0.5 * (K_pp + K_pp.T)
        K_tp = kernel(X_test, Xp)
        t2 = time.perf_counter()
        if learner == "krr":
            W = krr_weights(K_pp, K_tp, lam)
        else:
            from certmodel.learners import saturated_C

            Cp = C if C is not None else C_factor * saturated_C(K_pp)
            try:
                W = svm_weights(K_pp, K_tp, Cp, K)
            except InvalidParameterError as e:
                raise InvalidParameterError(
                    f"partition {p} ({I.size} points): {e}. For SVM base models outside the "
                    "saturated regime compute the per-partition costs with LabelCert and pass "
                    "them through certmodel.ensemble.costs_from_certifier to whitebox_radius"
                ) from None
        if resolved is not None:  # minimum admissible costs inside the partition
            import dataclasses

            sub = dataclasses.replace(resolved, mask=resolved.mask[I], cost=resolved.cost[I])
            base_pred[:, p], costs[:, p, :] = costs_from_weights(W, codes[I], K, sub)
        else:
            mf = min_flips(W, codes[I], n_classes=K, witnesses=False)
            base_pred[:, p] = mf.prediction
            costs[:, p, :] = costs_from_minflips(mf.per_rival, mf.prediction, I.size)
        t_kernel += t2 - t1
        t_cert += time.perf_counter() - t2
    timings["kernel"] = t_kernel
    timings["base_certificates"] = t_cert
    t3 = time.perf_counter()
    votes = count_votes(base_pred, K)
    pred = np.argmax(votes, axis=1)
    bb = dpa_radius(votes, P=P)
    wb = whitebox_radius(base_pred, costs, method=method)
    timings["knapsack"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t0
    return EnsembleResult(prediction=classes[pred], votes=votes, base_pred=base_pred,
                          costs=costs, whitebox_radius=wb, blackbox_radius=bb.astype(float),
                          partition=part, classes=classes, y_test=y_test, timings=timings)
