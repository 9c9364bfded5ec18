"""k-nearest and radius-nearest neighbours under label flips (Jia, Cao, Wang & Gong, 2022).

kNN predicts the plurality label among the ``k`` training points closest to the test point
(Euclidean distance; equal distances go to the smaller training index); rNN among the training
points within distance ``radius`` (it abstains, prediction ``-1``, when there are none).
Ties between classes go to the smaller class index, as for the ensembles.

**Certificate (closed form).** A label flip moves no training point, so the neighbour set is
fixed and a flip changes at most one neighbour's vote, to any class — exactly the situation of
DPA with the neighbours as base models (Jia et al.'s label-flipping case). With ``v_c`` the
neighbour votes and ``a`` the prediction, the certified radius (flips tolerated) is

    ρ = floor((v_a − max_{c≠a} (v_c + 1[c < a])) / 2),

the :func:`~certmodel.ensemble.dpa_radius` of the vote vector; it is exact (the adversary
flips ``ρ + 1`` neighbours of class ``a`` to the strongest rival). An abstaining rNN point has
radius ``-1``. Tests compare it with an exhaustive search over relabellings.

:func:`radius_fraction` reports a radius as a fraction of the training set size, next to the
absolute number of flips.
"""

from __future__ import annotations

import numbers

import numpy as np

from certmodel._validation import check_array, check_labels, check_scalar
from certmodel.ensemble.votes import dpa_radius
from certmodel.exceptions import InvalidParameterError

__all__ = ["knn_certify", "rnn_certify", "radius_fraction", "NeighbourResult"]


class NeighbourResult:
    """Predictions, vote counts and certified radii of a (k|r)NN classifier.

    Attributes: ``prediction`` (m,) in the caller's label values (``-1`` = abstain for rNN),
    ``votes`` (m, K), ``radius`` (m,) int, ``classes`` (K,), ``n_train``.
    """

    def __init__(self, prediction, votes, radius, classes, n_train):
        self.prediction = prediction
        self.votes = votes
        self.radius = radius
        self.classes = classes
        self.n_train = n_train

    def radius_fraction(self) -> np.ndarray:
        """Certified radius as a fraction of the training set (``-1`` stays negative)."""
        return radius_fraction(self.radius, self.n_train)


def radius_fraction(radii, n_train: int) -> np.ndarray:
    """``radius / n_train``: certified robustness as a fraction of the training set."""
    n_train = int(check_scalar(n_train, "n_train", numbers.Integral, min_val=1))
    return np.asarray(radii, dtype=np.float64) / n_train


def _prepare(X_train, y_train, X_test, n_classes=None):
    Xtr = check_array(X_train, "X_train", ndim=2)
    Xte = check_array(X_test, "X_test", ndim=2)
    if Xte.shape[1] != Xtr.shape[1]:
        raise InvalidParameterError(
            f"X_test must have {Xtr.shape[1]} columns to match X_train, got {Xte.shape}")
    if n_classes is None:
        classes, codes = check_labels(y_train, Xtr.shape[0], "y_train")
        if classes.size < 2:
            raise InvalidParameterError("y_train must contain at least two classes")
    else:
        K = int(check_scalar(n_classes, "n_classes", numbers.Integral, min_val=2))
        codes = np.asarray(y_train)
        if codes.shape != (Xtr.shape[0],) or codes.dtype.kind not in "iu" or \
                codes.min() < 0 or codes.max() >= K:
            raise InvalidParameterError(
                f"with n_classes={K}, y_train must hold {Xtr.shape[0]} integers in 0..{K - 1}")
        classes = np.arange(K)
    d2 = (np.sum(Xte ** 2, axis=1)[:, None] + np.sum(Xtr ** 2, axis=1)[None, :]
          - 2.0 * Xte @ Xtr.T)
    return np.maximum(d2, 0.0), classes, codes


def _votes(mask, codes, K):
    return np.stack([np.bincount(codes[row], minlength=K) for row in mask]) \
        if len(mask) else np.zeros((0, K), dtype=np.int64)


def knn_certify(X_train, y_train, X_test, k: int, *, n_classes: int | None = None
                ) -> NeighbourResult:
    """kNN predictions and exact label-flip radii (module docstring).

    ``n_classes``: labels are codes ``0..n_classes−1`` (flips may go to any of them);
    default: the distinct values of ``y_train``.
    """
    d2, classes, codes = _prepare(X_train, y_train, X_test, n_classes)
    n = d2.shape[1]
    k = int(check_scalar(k, "k", numbers.Integral, min_val=1, max_val=n))
    order = np.argsort(d2, axis=1, kind="stable")[:, :k]
    votes = _votes(order, codes, classes.size)
    return NeighbourResult(classes[np.argmax(votes, axis=1)], votes,
                           dpa_radius(votes, P=k), classes, n)


def rnn_certify(X_train, y_train, X_test, radius: float, *, n_classes: int | None = None
                ) -> NeighbourResult:
    """rNN predictions (``-1``: no neighbour, abstain) and exact label-flip radii."""
    d2, classes, codes = _prepare(X_train, y_train, X_test, n_classes)
    radius = float(check_scalar(radius, "radius", numbers.Real, min_val=0))
    inside = [np.flatnonzero(row <= radius * radius) for row in d2]
    votes = _votes(inside, codes, classes.size)
    empty = votes.sum(axis=1) == 0
    pred = np.where(empty, -1, classes[np.argmax(votes, axis=1)])
    rad = np.full(votes.shape[0], -1, dtype=np.int64)
    if np.any(~empty):
        rad[~empty] = dpa_radius(votes[~empty])
    return NeighbourResult(pred, votes, rad, classes, d2.shape[1])
