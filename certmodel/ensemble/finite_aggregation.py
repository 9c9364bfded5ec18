"""Finite Aggregation (FA; Wang, Levine & Feizi, ICML 2022): a black-box baseline.

Construction (``k`` and ``d`` are FA's parameters; ``k·d`` buckets and ``k·d`` base learners):

* every training point goes to one **bucket** ``h(x) ∈ {0..kd−1}`` by a deterministic function
  of its features only (:func:`fa_buckets`: the DPA hash, or the SS-DPA sorted order);
* a **spread** of ``d`` distinct offsets ``s_1..s_d ∈ {0..kd−1}`` (:func:`fa_shifts`): bucket
  ``h`` is used by the base learners ``(h + s_j) mod kd``; equivalently base learner ``i``
  trains on the union of the ``d`` buckets ``(i − s_j) mod kd`` (:func:`fa_training_sets`),
  i.e. on about ``n / k`` points, as a DPA partition of ``P = k``;
* prediction: ``v_c = #{i : f_i(x) = c}`` over the ``kd`` learners, ``a = argmax_c v_c``,
  ties to the smaller class index.

Offsets.  ``shifts="paper"`` (default) reproduces the authors' released code exactly:
``random.Random(999999999 + 208).sample(range(kd), d)`` (Python's Mersenne Twister, stable
across CPython 3 versions).  ``shifts="consecutive"`` uses ``{0, .., d−1}`` (learner ``i``
trains on buckets ``i, i−1, .., i−d+1``), and any ``d`` distinct integers may be passed.  A
stride ``{0, k, 2k, ..}`` is deliberately *not* offered: with it learners ``i`` and ``i + k``
train on the same ``d`` buckets, so FA collapses to DPA with ``k`` partitions, each counted
``d`` times.

Certificate (:func:`fa_radius`; the paper's Theorem 2 and greedy algorithm).  A label flip
changes one training point, hence one bucket ``h``, hence at most the ``d`` learners
``spread(h) = {(h + s_j) mod kd}``, each to any class.  For a rival ``b ≠ a`` the adversary
needs the gain ``G_b = v_a − v_b + 1[b > a]`` in ``v_b − v_a``.  Learner ``i`` contributes at
most ``g_i(b) = 1 + 1[f_i = a] − 1[f_i = b]`` (2 from ``a``, 1 from a third class, 0 from
``b``), so corrupting bucket ``h`` gains at most its **power**
``pw_h(b) = Σ_{i ∈ spread(h)} g_i(b)``, and corrupting a set ``S`` of buckets at most
``Σ_{h∈S} pw_h(b)`` (a learner shared by two corrupted buckets is counted twice, which only
overestimates the adversary).  Flips in ``r`` points corrupt at most ``r`` buckets, so

    ρ_FA = min_{b≠a} m_b − 1,   m_b = min{m : sum of the m largest pw_h(b) ≥ G_b}

is a sound certified radius (flips tolerated).  With ``d = 1`` the spread is a bijection,
``pw`` is ``g ∈ {0, 1, 2}`` and ``ρ_FA = ⌈G_b / 2⌉ − 1`` minimised over ``b``, which is
exactly :func:`~certmodel.ensemble.dpa_radius`.

:func:`certify_fa_ensemble` trains the ``kd`` label-linear base learners (kernel ridge
regression or the saturated small-C SVM) and returns votes and FA radii.  Only predictions
are needed, so per learner it solves for ``α = (K + λI)^{-1} Y`` (``K`` right-hand sides), and
the test kernel is computed once per bucket (``m × n`` entries in total, as for DPA) and
shared by the ``d`` learners that use the bucket.
"""

from __future__ import annotations

import dataclasses
import numbers
import random
import time
from collections.abc import Callable, Sequence

import numpy as np

from certmodel._validation import check_array, check_choice, check_scalar
from certmodel.ensemble.certify import Accuracy
from certmodel.ensemble.partition import hash_partition, sorted_partition
from certmodel.ensemble.votes import check_base_pred, count_votes
from certmodel.exceptions import InvalidParameterError

__all__ = ["fa_shifts", "fa_spread", "fa_buckets", "fa_training_sets", "fa_radius",
           "certify_fa_ensemble", "FAResult", "PAPER_SEED"]

PAPER_SEED = 999999999 + 208
"""Seed of the offsets in the authors' code (``FiniteAggregation_data_norm_hash.py``)."""


def _check_kd(k, d) -> tuple[int, int]:
    k = int(check_scalar(k, "k", numbers.Integral, min_val=1))
    d = int(check_scalar(d, "d", numbers.Integral, min_val=1))
    return k, d


def fa_shifts(k: int, d: int, shifts: str | Sequence[int] = "paper") -> np.ndarray:
    """The ``d`` distinct offsets of the spread, sorted, as an int array of shape (d,).

    ``"paper"``: ``random.Random(PAPER_SEED).sample(range(k·d), d)`` as in the authors'
    code; ``"consecutive"``: ``0..d−1``; or ``d`` distinct integers in ``0..k·d−1``.
    """
    k, d = _check_kd(k, d)
    kd = k * d
    if isinstance(shifts, str):
        check_choice(shifts, "shifts", ("paper", "consecutive"))
        if shifts == "paper":
            s = random.Random(PAPER_SEED).sample(range(kd), d)
        else:
            s = list(range(d))
        return np.sort(np.asarray(s, dtype=np.int64))
    s = np.asarray(shifts)
    if s.ndim != 1 or s.dtype.kind not in "iu":
        raise InvalidParameterError(
            f"shifts must be 'paper', 'consecutive' or a 1-D integer sequence, got {shifts!r}")
    if s.size != d:
        raise InvalidParameterError(f"shifts must hold d = {d} offsets, got {s.size}")
    if s.min() < 0 or s.max() >= kd:
        raise InvalidParameterError(
            f"shifts must lie in 0..k*d-1 = 0..{kd - 1}, got {s.tolist()}")
    if np.unique(s).size != d:
        raise InvalidParameterError(f"shifts must be distinct, got {s.tolist()}")
    return np.sort(s.astype(np.int64))


def fa_spread(k: int, d: int, shifts: str | Sequence[int] = "paper") -> np.ndarray:
    """``spread[h] = ((h + s_j) mod kd)_j``: the learners that train on bucket ``h``, (kd, d)."""
    s = fa_shifts(k, d, shifts)
    kd = k * d
    return (np.arange(kd)[:, None] + s[None, :]) % kd


def fa_buckets(X, k: int, d: int, *, partitioner: str = "hash") -> np.ndarray:
    """Bucket ``0..kd−1`` of every row of ``X`` (n, d_feat): a function of the features only.

    ``"hash"``: :func:`~certmodel.ensemble.hash_partition` with ``P = kd`` (buckets may be
    empty); ``"sorted"``: :func:`~certmodel.ensemble.sorted_partition` (balanced sizes).
    """
    k, d = _check_kd(k, d)
    check_choice(partitioner, "partitioner", ("hash", "sorted"))
    if partitioner == "hash":
        return hash_partition(X, k * d, allow_empty=True)
    return sorted_partition(X, k * d)


def fa_training_sets(buckets, k: int, d: int,
                     shifts: str | Sequence[int] = "paper") -> list[np.ndarray]:
    """Training indices of each of the ``kd`` learners: the union of its ``d`` buckets.

    Learner ``i`` gets buckets ``(i − s_j) mod kd`` (ascending indices within each bucket,
    buckets in the order of the sorted offsets).  A learner with no training point is an
    error (its vote is undefined): use fewer buckets or ``partitioner="sorted"``.
    """
    k, d = _check_kd(k, d)
    kd = k * d
    b = np.asarray(buckets)
    if b.ndim != 1 or b.dtype.kind not in "iu":
        raise InvalidParameterError(f"buckets must be a 1-D integer array, got shape {b.shape}")
    if b.size and (b.min() < 0 or b.max() >= kd):
        raise InvalidParameterError(
            f"bucket ids must lie in 0..k*d-1 = 0..{kd - 1}, got min {int(b.min())}, "
            f"max {int(b.max())}")
    s = fa_shifts(k, d, shifts)
    members = _bucket_members(b, kd)
    sets = []
    for i in range(kd):
        sets.append(np.concatenate([members[(i - sj) % kd] for sj in s]))
    empty = [i for i, I in enumerate(sets) if I.size == 0]
    if empty:
        raise InvalidParameterError(
            f"{len(empty)} of {kd} FA learners have no training point (e.g. learner {empty[0]}); "
            "use a smaller k*d or partitioner='sorted'")
    return sets


def _bucket_members(b: np.ndarray, kd: int) -> list[np.ndarray]:
    order = np.argsort(b, kind="stable")
    return np.split(order, np.cumsum(np.bincount(b, minlength=kd))[:-1])


def fa_radius(base_pred, k: int, d: int, *, shifts: str | Sequence[int] = "paper",
              n_classes: int | None = None) -> np.ndarray:
    """Black-box FA certified radius (greedy over buckets) of the ensemble vote.

    Parameters
    ----------
    base_pred : array of int of shape (m, k·d)
        Vote of base learner ``i`` (column ``i``, trained on buckets ``(i − s_j) mod kd``)
        at each test point, classes ``0..K−1``.
    k, d : int
        FA parameters (``d = 1``: DPA with ``k`` partitions).
    shifts : "paper", "consecutive" or sequence of int
        Offsets of the spread (see :func:`fa_shifts`); must match the training sets.
    n_classes : int, optional
        ``K`` (default ``max(base_pred) + 1``, at least 2).

    Returns
    -------
    ndarray of int of shape (m,)
        ``min_{b≠a} m_b − 1`` with ``m_b`` the fewest buckets whose largest powers
        ``pw_h(b) = Σ_{i∈spread(h)} (1 + 1[f_i = a] − 1[f_i = b])`` sum to at least
        ``G_b = v_a − v_b + 1[b > a]`` (module docstring); always ``≥ 0``.
    """
    k, d = _check_kd(k, d)
    kd = k * d
    bp = check_base_pred(base_pred, "k*d")
    if bp.shape[1] != kd:
        raise InvalidParameterError(
            f"base_pred must have k*d = {k}*{d} = {kd} columns (one per FA learner), "
            f"got {bp.shape[1]}")
    if n_classes is None:
        K = max(int(bp.max()) + 1 if bp.size else 2, 2)
    else:
        K = int(check_scalar(n_classes, "n_classes", numbers.Integral, min_val=2))
    bp = bp.astype(np.int64)
    votes = count_votes(bp, K)  # validates 0..K-1
    m = bp.shape[0]
    spread = fa_spread(k, d, shifts)
    a = np.argmax(votes, axis=1)
    G = votes[np.arange(m), a][:, None] - votes + (np.arange(K)[None, :] > a[:, None])
    out = np.empty(m, dtype=np.int64)
    nv = 2 * d + 1  # powers take values 0..2d
    step = max(1, (1 << 22) // max(1, kd * d * K))
    for t0 in range(0, m, step):
        t1 = min(m, t0 + step)
        out[t0:t1] = _greedy(bp[t0:t1], a[t0:t1], G[t0:t1], spread, K, d, nv)
    return out


def _greedy(bp, a, G, spread, K, d, nv):
    """``min_b m_b − 1`` for a chunk of test rows, by counting power values (no sort)."""
    mc, kd = bp.shape
    V = bp[:, spread]  # (mc, kd, d): votes of the learners spread from each bucket
    N = (V[:, :, :, None] == np.arange(K)).sum(axis=2)  # (mc, kd, K) learners voting c
    A = np.take_along_axis(N, a[:, None, None], axis=2)  # (mc, kd, 1) learners voting a
    pw = d + A - N  # (mc, kd, K): power of bucket h against rival b, in 0..2d
    flat = (np.arange(mc)[:, None, None] * K + np.arange(K)[None, None, :]) * nv + pw
    hist = np.bincount(flat.ravel(), minlength=mc * K * nv).reshape(mc, K, nv)
    rem = G.astype(np.int64)  # gain still needed per (t, b)
    used = np.zeros((mc, K), dtype=np.int64)
    done = rem <= 0
    for v in range(nv - 1, 0, -1):  # greedy: largest powers first
        c = hist[:, :, v]
        need = -(-rem // v)  # ceil(rem / v) buckets of power v finish the job
        fin = ~done & (need <= c)
        used = np.where(done, used, np.where(fin, used + need, used + c))
        rem = np.where(done | fin, rem, rem - c * v)
        done |= fin
    # sum_h pw_h(b) = d (v_a + kd - v_b) >= G_b, so every rival is reachable
    assert done.all(), "FA greedy: a rival is unreachable (internal error)"
    used[np.arange(mc), a] = np.iinfo(np.int64).max
    return used.min(axis=1) - 1


@dataclasses.dataclass
class FAResult(Accuracy):
    """Outcome of :func:`certify_fa_ensemble` (arrays indexed by test point ``t``).

    Attributes
    ----------
    prediction : ndarray (m,)
        Ensemble vote in the caller's label values (ties to the smaller class).
    votes : ndarray (m, K)
    base_pred : ndarray (m, k·d)
        Votes of the ``kd`` learners as class codes.
    radius : ndarray (m,)
        FA certified radius (:func:`fa_radius`).
    buckets : ndarray (n,)
    shifts : ndarray (d,)
    k, d : int
    classes : ndarray (K,)
    y_test : ndarray (m,) or None
    timings : dict
    """

    prediction: np.ndarray
    votes: np.ndarray
    base_pred: np.ndarray
    radius: np.ndarray
    buckets: np.ndarray
    shifts: np.ndarray
    k: int
    d: int
    classes: np.ndarray
    y_test: np.ndarray | None = None
    timings: dict = dataclasses.field(default_factory=dict)


    def mcr(self) -> float:
        """Median certified robustness (misclassified points count as −1)."""
        from certmodel.ensemble.certify import median_certified_robustness

        return median_certified_robustness(self.radius, self.correct)

    def mcr_fraction(self) -> float:
        """The MCR as a fraction of the training set (``mcr / n``)."""
        return self.mcr() / self.buckets.size

    def certified_accuracy(self, radii) -> np.ndarray:
        """Fraction of test points correct with FA radius ``≥ r`` for each ``r``."""
        from certmodel.ensemble.certify import certified_accuracy

        return certified_accuracy(self.radius, self.correct, radii)


def _chunks_of_buckets(sizes: np.ndarray, target: int) -> list[tuple[int, int]]:
    """Consecutive bucket ranges ``[h0, h1)`` holding about ``target`` points each."""
    out, h0, acc = [], 0, 0
    for h, s in enumerate(sizes):
        acc += int(s)
        if acc >= target:
            out.append((h0, h + 1))
            h0, acc = h + 1, 0
    if h0 < sizes.size:
        out.append((h0, sizes.size))
    return out


def certify_fa_ensemble(X_train, y_train, X_test, *, k: int, d: int, learner: str = "krr",
                        kernel: Callable | None = None, partitioner: str = "hash",
                        shifts: str | Sequence[int] = "paper", y_test=None,
                        n_classes: int | None = None, lam: float = 1e-3,
                        C: float | None = None, C_factor: float = 0.5) -> FAResult:
    """Train a Finite Aggregation ensemble of label-linear learners; black-box FA radii.

    Parameters as in :func:`~certmodel.ensemble.certify_ensemble`, plus ``k``, ``d`` and
    ``shifts`` (module docstring).  Base learner ``i`` is fitted on
    ``fa_training_sets(...)[i]``: ``α_i = (K_ii + λI)^{-1} Y_i`` (KRR) or ``α_i = c C_i Y_i``
    (saturated SVM, ``c = 1`` binary / ``2`` one-vs-rest, ``C_i = C`` or
    ``C_factor · saturated_C(K_ii)``; a ``C`` outside the regime is refused), and votes
    ``argmax_c (k_i(x)ᵀ α_i)_c`` (ties to the smaller class).
    """
    from certmodel.ensemble.certify import fc_ntk
    from certmodel.scalabel._inputs import encode_labels
    from certmodel.scalabel.weights import krr_weights, svm_weights

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    X_train = check_array(X_train, "X_train", ndim=2)
    X_test = check_array(X_test, "X_test", ndim=2)
    if X_test.shape[1] != X_train.shape[1]:
        raise InvalidParameterError(
            f"X_test must have {X_train.shape[1]} columns to match X_train, got {X_test.shape}")
    n, m = X_train.shape[0], X_test.shape[0]
    k, d = _check_kd(k, d)
    kd = k * d
    if kd > n:
        raise InvalidParameterError(
            f"k*d == {kd} buckets for {n} training points: use a smaller k or d")
    classes, codes = encode_labels(y_train, n, n_classes)
    K = classes.size
    check_choice(learner, "learner", ("krr", "svm"))
    if learner == "svm" and C is None:
        check_scalar(C_factor, "C_factor", numbers.Real, min_val=0.0, include_min=False,
                     max_val=1.0, include_max=False)
    kernel = fc_ntk if kernel is None else kernel
    if y_test is not None:
        y_test = np.asarray(y_test)
        if y_test.shape != (m,):
            raise InvalidParameterError(f"y_test must have shape ({m},), got {y_test.shape}")
    s = fa_shifts(k, d, shifts)
    buckets = fa_buckets(X_train, k, d, partitioner=partitioner)
    sets = fa_training_sets(buckets, k, d, s)
    members = _bucket_members(buckets, kd)
    timings["partition"] = time.perf_counter() - t0
    # per learner: α_i split by bucket, pieces[h] = (learners using h, stacked α rows)
    t1 = time.perf_counter()
    alpha_rows: list[dict[int, np.ndarray]] = [dict() for _ in range(kd)]
    for i, I in enumerate(sets):
        Xi = X_train[I]
        Kii = kernel(Xi, Xi)
        Kii = 0.5 * (Kii + Kii.T)
        Y = np.zeros((K, I.size))
        Y[codes[I], np.arange(I.size)] = 1.0
        if learner == "krr":
            alpha = krr_weights(Kii, Y, lam).T  # (A^{-1} Y) since A is symmetric
        else:
            from certmodel.learners import saturated_C

            Ci = C if C is not None else C_factor * saturated_C(Kii)
            try:
                alpha = svm_weights(Kii, Y, Ci, K).T
            except InvalidParameterError as e:
                raise InvalidParameterError(
                    f"FA learner {i}: {e}; for SVMs outside the saturated regime use LabelCert "
                    "base certificates (certmodel.ensemble.costs_from_certifier)") from None
        off = 0
        for sj in s:
            h = (i - sj) % kd
            sz = members[h].size
            alpha_rows[i][h] = alpha[off:off + sz]
            off += sz
    stacked = []  # per bucket: (learners, (n_h, len(learners)*K) α block)
    spread = fa_spread(k, d, s)
    for h in range(kd):
        if members[h].size == 0:
            stacked.append(None)
            continue
        ls = spread[h]
        stacked.append(np.concatenate([alpha_rows[i][h] for i in ls], axis=1))
    del alpha_rows
    timings["fit"] = time.perf_counter() - t1
    # logits: for each chunk of test points and each group of buckets, one kernel block
    t2 = time.perf_counter()
    base_pred = np.empty((m, kd), dtype=np.int64)
    sizes = np.array([mb.size for mb in members])
    groups = _chunks_of_buckets(sizes, 1024)
    step = max(1, min(m, (1 << 25) // (kd * K)))  # F (step, kd, K) <= 256 MB
    for r0 in range(0, m, step):
        r1 = min(m, r0 + step)
        F = np.zeros((r1 - r0, kd, K))
        for h0, h1 in groups:
            cols = np.concatenate(members[h0:h1])
            if cols.size == 0:
                continue
            Kt = kernel(X_test[r0:r1], X_train[cols])
            c0 = 0
            for h in range(h0, h1):
                sz = members[h].size
                if sz:
                    contrib = Kt[:, c0:c0 + sz] @ stacked[h]  # (mc, d*K)
                    F[:, spread[h], :] += contrib.reshape(r1 - r0, d, K)
                c0 += sz
        base_pred[r0:r1] = np.argmax(F, axis=2)
    timings["predict"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    votes = count_votes(base_pred, K)
    pred = np.argmax(votes, axis=1)
    rad = fa_radius(base_pred, k, d, shifts=s, n_classes=K)
    timings["certificate"] = time.perf_counter() - t3
    timings["total"] = time.perf_counter() - t0
    return FAResult(prediction=classes[pred], votes=votes, base_pred=base_pred, radius=rad,
                    buckets=buckets, shifts=s, k=k, d=d, classes=classes, y_test=y_test,
                    timings=timings)
