"""Run-Off Election (ROE; Rezaei, Banihashem, Chegini & Feizi, ICML 2023) on DPA and FA.

**Aggregation.** Base model ``p`` has logits ``L_p ∈ R^K`` at a test point. Round 1: model
``p`` votes ``argmax_c L_p[c]`` (ties to the smaller class index), ``N_c`` counts the votes,
and the two most voted classes ``c₁, c₂`` are elected (ties to the smaller index). Round 2:
every model votes for whichever of ``c₁, c₂`` it gives the larger logit (ties to the smaller
index, consistent with round 1: a model that voted ``c₁`` prefers ``c₁``); the winner is the
class with more round-2 votes (ties to the smaller index). With two classes ROE is DPA.

**Certificate on DPA (exact).** A label flip changes one partition, hence one base model,
arbitrarily. :func:`roe_min_models` computes the exact minimum number ``m*`` of base models an
adversary must replace to change the ROE winner, by the two-round argument: the new winner
``w ≠ a`` must reach round 2 together with some ``o`` and beat it there. For a target pair
``(w, o)`` and ``r`` replaced models:

* a replaced model best votes ``w`` in round 1 (``x`` of them; they then prefer ``w``) or ``o``
  (``y = r − x``; they prefer ``o``) — a third class is never better than ``w``;
* it replaces ``k_w`` voters of ``w``, ``k_o`` voters of ``o`` and, per third class ``c``,
  ``k_c`` voters of ``c``, taking those that preferred ``o`` first;
* round 1 elects ``{w, o}`` iff both beat every third class after the change:
  ``N'_c ≤ N'_w − 1[c < w]`` and ``N'_c ≤ N'_o − 1[c < o]``, which fixes the least ``k_c``;
* round 2: ``D' = D − (#replaced preferring w) + (#replaced preferring o) + x − y`` must be
  ``> 0`` (``≥ 0`` if ``w < o``), with ``D`` the clean round-2 margin of ``w`` over ``o``.

Enumerating ``(y, k_w, k_o)`` per ``r`` (the third-class choices are then greedy-optimal)
gives ``m*``; the certified radius is ``m* − 1`` (:func:`dpa_roe_radius`). Tests compare it
with an exhaustive search over replaced models and all their rankings.

**Certificate on FA (sound).** With Finite Aggregation a flip changes one bucket, hence at most
``d`` base models, so at least ``⌈m* / d⌉`` flips are needed: :func:`fa_roe_radius` returns
``⌈m* / d⌉ − 1`` (sound, possibly weaker than the paper's bucket-aware bound; tests check
it against exhaustive search over buckets).

:func:`certify_roe_ensemble` trains the DPA / FA base models (label-linear learners, as
:func:`~certmodel.ensemble.certify_ensemble`) and returns ROE and plurality radii side by side.
"""

from __future__ import annotations

import numbers

import numpy as np

from certmodel._validation import check_array, check_scalar
from certmodel.exceptions import InvalidParameterError

__all__ = ["roe_predict", "roe_min_models", "dpa_roe_radius", "fa_roe_radius",
           "certify_roe_ensemble", "ROEResult"]


def _check_logits(logits) -> np.ndarray:
    L = check_array(logits, "logits", dtype=np.float64)
    if L.ndim == 2:
        L = L[None]
    if L.ndim != 3 or L.shape[1] < 1 or L.shape[2] < 2:
        raise InvalidParameterError(
            f"logits must have shape (m, P, K) with P >= 1 models and K >= 2 classes, "
            f"got {np.shape(logits)}")
    return L


def _first_max(v: np.ndarray) -> np.ndarray:
    """argmax over the last axis, ties to the smaller index (numpy's argmax does that)."""
    return np.argmax(v, axis=-1)


def _prefers(L: np.ndarray, a: int, b: int) -> np.ndarray:
    """Whether each model (rows of L, shape (P, K)) prefers class a over b in round 2."""
    return (L[:, a] > L[:, b]) | ((L[:, a] == L[:, b]) & (a < b))


def _roe_one(L: np.ndarray) -> tuple[int, int, int]:
    """(winner, c1, c2) of one test point, L of shape (P, K)."""
    K = L.shape[1]
    votes = np.bincount(_first_max(L), minlength=K)
    c1 = int(np.argmax(votes))
    masked = votes.astype(np.int64).copy()
    masked[c1] = -1
    c2 = int(np.argmax(masked))
    p1 = int(np.sum(_prefers(L, c1, c2)))
    p2 = L.shape[0] - p1
    win = c1 if (p1 > p2 or (p1 == p2 and c1 < c2)) else c2
    return win, c1, c2


def roe_predict(logits) -> np.ndarray:
    """ROE winner of every test point from base-model logits of shape (m, P, K)."""
    L = _check_logits(logits)
    return np.array([_roe_one(Lt)[0] for Lt in L], dtype=np.int64)


def _min_models_one(L: np.ndarray) -> int:
    """Exact fewest replaced models that change the ROE winner (module docstring)."""
    P, K = L.shape
    a = _roe_one(L)[0]
    votes_of = _first_max(L)
    N = np.bincount(votes_of, minlength=K)
    pairs = []
    for w in range(K):
        if w == a:
            continue
        for o in range(K):
            if o == w:
                continue
            pw = _prefers(L, w, o)
            D = int(pw.sum()) - int((~pw).sum())
            third = np.array([c for c in range(K) if c not in (w, o)], dtype=np.int64)
            n_co = np.array([int(np.sum((votes_of == c) & ~pw)) for c in third], dtype=np.int64)
            pairs.append((w, o, D, third, N[third].astype(np.int64), n_co))
    for r in range(1, P + 1):
        for w, o, D, third, Nc, n_co in pairs:
            if _feasible(r, int(N[w]), int(N[o]), w, o, D, third, Nc, n_co):
                return r
    return P + 1  # pragma: no cover - with every model replaced any winner is reachable


def _feasible(r, Nw, No, w, o, D, third, Nc, n_co) -> bool:
    """Can ``r`` replaced models make ``w`` win the run-off against ``o``? (vectorised)"""
    y, kw, ko = np.meshgrid(np.arange(r + 1), np.arange(min(Nw, r) + 1),
                            np.arange(min(No, r) + 1), indexing="ij")
    y, kw, ko = y.ravel(), kw.ravel(), ko.ravel()
    ok = kw + ko <= r
    y, kw, ko = y[ok], kw[ok], ko[ok]
    x = r - y
    Nw2 = Nw - kw + x
    No2 = No - ko + y
    R3 = r - kw - ko
    T3 = int(Nc.sum())
    feasible = R3 <= T3
    if third.size:
        allow = np.minimum(Nw2[:, None] - (third[None, :] < w), No2[:, None] - (third[None, :] < o))
        feasible &= np.all(allow >= 0, axis=1)
        need = np.maximum(0, Nc[None, :] - allow)
        need_sum = need.sum(axis=1)
        feasible &= need_sum <= R3
        o_c = np.minimum(need, n_co[None, :])
        w_c = need - o_c
        gain = o_c.sum(axis=1) - w_c.sum(axis=1)
        extra = R3 - need_sum
        rest_o = (n_co[None, :] - o_c).sum(axis=1)
        gain = gain + np.minimum(extra, rest_o) - np.maximum(0, extra - rest_o)
    else:
        gain = np.zeros_like(y)
    D2 = D - kw + ko + gain + x - y
    win = (D2 > 0) | ((D2 == 0) & (w < o))
    return bool(np.any(feasible & win))


def roe_min_models(logits) -> np.ndarray:
    """Fewest base models whose arbitrary replacement changes the ROE winner, per test point.

    Parameters
    ----------
    logits : array of shape (m, P, K) (or (P, K) for one test point)

    Returns
    -------
    ndarray of int of shape (m,), values in ``1..P``.
    """
    L = _check_logits(logits)
    return np.array([_min_models_one(Lt) for Lt in L], dtype=np.int64)


def dpa_roe_radius(logits) -> np.ndarray:
    """Exact certified radius (label flips tolerated) of DPA+ROE: ``m* − 1``.

    ``logits[t, p]`` are the logits of the base model trained on partition ``p``.
    """
    return roe_min_models(logits) - 1


def fa_roe_radius(logits, d: int) -> np.ndarray:
    """Sound certified radius of FA+ROE: ``⌈m* / d⌉ − 1`` (a flip changes ≤ d base models).

    ``logits`` has shape (m, k·d, K), one base model per FA learner; ``d = 1`` is DPA+ROE.
    """
    d = int(check_scalar(d, "d", numbers.Integral, min_val=1))
    m = roe_min_models(logits)
    return -(-m // d) - 1


class ROEResult:
    """Outcome of :func:`certify_roe_ensemble` (arrays indexed by test point).

    Attributes: ``prediction`` (ROE winner, caller's label values), ``plurality`` (the plain
    DPA / FA vote), ``radius`` (ROE radius, flips), ``baseline_radius`` (DPA or FA radius of
    the plurality vote), ``logits`` (m, models, K), ``n_train``, ``d``, ``y_test``.
    """

    def __init__(self, prediction, plurality, radius, baseline_radius, logits, n_train, d,
                 y_test=None):
        self.prediction, self.plurality = prediction, plurality
        self.radius, self.baseline_radius = radius, baseline_radius
        self.logits, self.n_train, self.d, self.y_test = logits, n_train, d, y_test

    def mcr(self, kind: str = "roe") -> float:
        """Median certified robustness (flips) of ``"roe"`` or ``"baseline"``."""
        from certmodel.ensemble.certify import median_certified_robustness

        if self.y_test is None:
            raise InvalidParameterError("mcr needs y_test")
        if kind == "roe":
            return median_certified_robustness(self.radius, self.prediction == self.y_test)
        if kind == "baseline":
            return median_certified_robustness(self.baseline_radius,
                                               self.plurality == self.y_test)
        raise InvalidParameterError(f"kind must be 'roe' or 'baseline', got {kind!r}")

    def mcr_fraction(self, kind: str = "roe") -> float:
        """The MCR as a fraction of the training set."""
        return self.mcr(kind) / self.n_train


def certify_roe_ensemble(X_train, y_train, X_test, *, partitions: int, d: int = 1,
                         learner: str = "krr", kernel=None, partitioner: str = "hash",
                         y_test=None, n_classes: int | None = None, lam: float = 1e-3,
                         C: float | None = None, C_factor: float = 0.5) -> ROEResult:
    """Train DPA (``d = 1``: ``partitions`` partitions) or FA (``k = partitions`` and ``d``)
    base models — kernel ridge regression or the saturated SVM on one-hot targets, as
    :func:`~certmodel.ensemble.certify_ensemble` — and certify their ROE aggregation.

    The base models' logits are ``f_i(x) = k_i(x)ᵀ α_i`` per class; the plurality vote and its
    DPA / FA radius are returned alongside for comparison.
    """
    from certmodel.ensemble.certify import fc_ntk
    from certmodel.ensemble.finite_aggregation import (
        fa_buckets,
        fa_radius,
        fa_training_sets,
    )
    from certmodel.ensemble.votes import count_votes, dpa_radius
    from certmodel.scalabel._inputs import encode_labels
    from certmodel.scalabel.weights import krr_weights, svm_weights

    X_train = check_array(X_train, "X_train", ndim=2)
    X_test = check_array(X_test, "X_test", ndim=2)
    if X_test.shape[1] != X_train.shape[1]:
        raise InvalidParameterError(
            f"X_test must have {X_train.shape[1]} columns to match X_train, got {X_test.shape}")
    n = X_train.shape[0]
    k = int(check_scalar(partitions, "partitions", numbers.Integral, min_val=1))
    d = int(check_scalar(d, "d", numbers.Integral, min_val=1))
    if learner not in ("krr", "svm"):
        raise InvalidParameterError(f"learner must be 'krr' or 'svm', got {learner!r}")
    classes, codes = encode_labels(y_train, n, n_classes)
    K = classes.size
    kernel = fc_ntk if kernel is None else kernel
    buckets = fa_buckets(X_train, k, d, partitioner=partitioner)
    sets = fa_training_sets(buckets, k, d, "consecutive" if d == 1 else "paper")
    logits = np.empty((X_test.shape[0], len(sets), K))
    for i, I in enumerate(sets):
        Kii = kernel(X_train[I], X_train[I])
        Kii = 0.5 * (Kii + Kii.T)
        Kti = kernel(X_test, X_train[I])
        if learner == "krr":
            W = krr_weights(Kii, Kti, lam)
        else:
            from certmodel.learners import saturated_C

            W = svm_weights(Kii, Kti, C if C is not None else C_factor * saturated_C(Kii), K)
        Y = np.zeros((I.size, K))
        Y[np.arange(I.size), codes[I]] = 1.0
        logits[:, i, :] = W @ Y
    base_pred = np.argmax(logits, axis=2)
    votes = count_votes(base_pred, K)
    plurality = np.argmax(votes, axis=1)
    if d == 1:
        radius, baseline = dpa_roe_radius(logits), dpa_radius(votes)
    else:
        radius, baseline = fa_roe_radius(logits, d), fa_radius(base_pred, k, d, n_classes=K)
    if y_test is not None:
        y_test = np.asarray(y_test)
        if y_test.shape != (X_test.shape[0],):
            raise InvalidParameterError(
                f"y_test must have shape ({X_test.shape[0]},), got {y_test.shape}")
    return ROEResult(classes[roe_predict(logits)], classes[plurality], radius, baseline,
                     logits, n, d, y_test)
