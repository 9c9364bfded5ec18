"""Brute-force oracles: enumerate every relabelling within the budget and retrain exactly."""

from __future__ import annotations

import contextlib
import itertools

import numpy as np

from certmodel.labelcert import _search
from certmodel.labelcert._search import RadiusGate
from certmodel.learners import solve_svm_dual


def random_instance(seed: int, n: int, m: int = 3, d: int = 3, ridge: float = 0.3):
    """A PSD kernel from random features (train n, test m) and random ±1 labels."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + m, d))
    Kf = X @ X.T + ridge * np.eye(n + m)
    y = np.where(rng.random(n) < 0.5, -1, 1)
    if abs(y.sum()) == n:
        y[0] = -y[0]
    return Kf[:n, :n], y, Kf[n:, :n]


def scaled_node(seed: int, n: int, logC: float, logscale: float, low_rank: bool = False,
                base_flips: int = 0, m: int = 4):
    """``(K, y, K_test, C)``: :func:`random_instance` with the kernel scaled by
    ``10**logscale`` and ``C = 10**logC`` divided by it (the same SVM up to scale), and up
    to ``base_flips`` labels flipped (a search node as the base, ``y`` as floats)."""
    K, y, K_test = random_instance(seed, n, m=m, d=2 if low_rank else 3,
                                   ridge=0.0 if low_rank else 0.3)
    s_ = 10.0 ** logscale
    y = y.astype(float)
    rng = np.random.default_rng(seed)
    y[rng.choice(n, min(base_flips, n), replace=False)] *= -1
    return K * s_, y, K_test * s_, 10.0 ** logC / s_


def random_threat(seed: int, n: int, p: float = 0.8, costs=(1.0, 1.5)):
    """A restricted threat model: each point flippable with probability ``p`` (point 0
    always), per-point costs drawn from ``costs``."""
    from certmodel.threat import ThreatModel

    rng = np.random.default_rng(seed)
    mask = rng.random(n) < p
    mask[0] = True
    return ThreatModel(flippable=mask, cost=rng.choice(list(costs), n))


def threat_problem(seed: int, n: int, m: int, scale: float, C: float, restricted: bool,
                   p: float = 0.75, costs=(1.0, 2.0)):
    """``(prob, alpha0, signs)``: :func:`random_instance` with kernels × ``scale`` and
    ``C / scale`` (the same SVM), optionally under :func:`random_threat`."""
    from certmodel.labelcert._problem import Problem

    K, y, K_test = random_instance(seed, n, m=m)
    threat = random_threat(seed, n, p, costs) if restricted else None
    prob = Problem.create(K * scale, y.astype(float), K_test * scale, C / scale, threat=threat)
    a0 = solve_svm_dual(prob.K, prob.y_pm, prob.C).alpha
    s = np.where(prob.K_test @ (prob.y_pm * a0) >= 0, 1.0, -1.0)
    return prob, a0, s


def replayed_count(prob, signs, relabelling, budget) -> int:
    """A collective record's relabelling, checked admissible within ``budget`` and
    retrained: how many test predictions it changes."""
    flips = np.zeros(prob.n, bool)
    flips[list(relabelling)] = True
    assert prob.threat.admissible(flips, budget)
    f = retrain_logits(prob.K, np.where(flips, -prob.y_pm, prob.y_pm), prob.C, prob.K_test)
    return int(np.sum(signs * f <= 0))


def random_rows(seed: int, m: int, p: float = 0.7) -> np.ndarray:
    """About a share ``p`` of the ``m`` test rows (all of them when the draw is empty)."""
    U = np.flatnonzero(np.random.default_rng(seed).random(m) < p)
    return U if len(U) else np.arange(m)


def check_collective_record(prob, signs, rec, truth, at_least=None) -> None:
    """A collective record against the brute-force count ``truth``: its bound covers it, its
    incumbent is at most it and at least ``at_least`` (the count of a heuristic whose
    relabelling competed), and its relabelling replays to the incumbent."""
    assert rec.bound + 1e-6 >= truth >= (rec.incumbent or 0)
    if at_least is not None:
        assert (rec.incumbent or 0) >= at_least
    if rec.relabelling:
        assert replayed_count(prob, signs, rec.relabelling, rec.budget) == rec.incumbent


def svm_z(K, y_pm, C):
    """``z = y∘α`` of the exactly retrained bias-free SVM."""
    return y_pm * solve_svm_dual(K, y_pm, C).alpha


def retrain_logits(K, y_pm, C, K_test):
    a = solve_svm_dual(K, np.asarray(y_pm, float), C).alpha
    return K_test @ (np.asarray(y_pm, float) * a)


def brute_binary(K, y_pm, C, K_test, budget):
    """Worst signed margin per test point over all relabellings with ≤ budget flips."""
    y_pm = np.asarray(y_pm, float)
    f0 = retrain_logits(K, y_pm, C, K_test)
    s = np.where(f0 >= 0, 1.0, -1.0)
    worst = s * f0
    n = len(y_pm)
    for b in range(1, budget + 1):
        for S in itertools.combinations(range(n), b):
            y = y_pm.copy()
            y[list(S)] *= -1
            worst = np.minimum(worst, s * retrain_logits(K, y, C, K_test))
    return worst, s


def brute_collective(K, y_pm, C, K_test, budget):
    """Max number of test predictions (sign incl. ties) one relabelling can change."""
    y_pm = np.asarray(y_pm, float)
    f0 = retrain_logits(K, y_pm, C, K_test)
    s = np.where(f0 >= 0, 1.0, -1.0)
    best = int(np.sum(s * f0 <= 0))
    for b in range(1, budget + 1):
        for S in itertools.combinations(range(len(y_pm)), b):
            y = y_pm.copy()
            y[list(S)] *= -1
            best = max(best, int(np.sum(s * retrain_logits(K, y, C, K_test) <= 0)))
    return best


def ovr_logits(K, labels, n_classes, C, K_test):
    F = np.empty((K_test.shape[0], n_classes))
    for k in range(n_classes):
        F[:, k] = retrain_logits(K, np.where(labels == k, 1.0, -1.0), C, K_test)
    return F


def top_margin(F, top):
    """``F[t, top_t] − max_{k ≠ top_t} F[t, k]`` per row."""
    ar = np.arange(len(top))
    G = F.copy()
    G[ar, top] = -np.inf
    return F[ar, top] - G.max(axis=1)


def brute_multiclass(K, labels, n_classes, C, K_test, budget):
    """Worst margin f_top − max_other over relabellings of ≤ budget points to any class."""
    labels = np.asarray(labels)
    F0 = ovr_logits(K, labels, n_classes, C, K_test)
    top = np.argmax(F0, axis=1)

    def margin(F):
        return top_margin(F, top)

    worst = margin(F0)
    n = len(labels)
    for b in range(1, budget + 1):
        for S in itertools.combinations(range(n), b):
            choices = [[k for k in range(n_classes) if k != labels[i]] for i in S]
            for new in itertools.product(*choices):
                lab = labels.copy()
                lab[list(S)] = new
                worst = np.minimum(worst, margin(ovr_logits(K, lab, n_classes, C, K_test)))
    return worst, top


def clustered_multiclass(seed: int, n: int, n_classes: int = 3, m: int = 3, sep: float = 2.0,
                         noise: float = 0.6, test_noise: float = 0.3, ridge: float = 0.3,
                         threat_kind: str = "none", scale: float = 1.0):
    """Multiclass instance: ``n`` training points around the class means ``sep · e_k`` (every
    class present), ``m`` test points near random means, linear kernel plus ``ridge`` (all
    scaled by ``scale``), and a threat model: ``"none"``, ``"mask"`` (70 % flippable),
    ``"cost"`` (costs 0.5/1/1.5) or ``"targets"`` (classes 0 and the last)."""
    from certmodel.threat import ThreatModel

    rng = np.random.default_rng(seed)
    means = sep * np.eye(n_classes)
    labels = rng.integers(0, n_classes, n)
    labels[:n_classes] = np.arange(n_classes)
    X = means[labels] + noise * rng.normal(size=(n, n_classes))
    T = means[rng.integers(0, n_classes, m)] + test_noise * rng.normal(size=(m, n_classes))
    K, K_test = scale * (X @ X.T + ridge * np.eye(n)), scale * (T @ X.T)
    threat = None
    if threat_kind == "mask":
        threat = ThreatModel(flippable=rng.random(n) < 0.7)
    elif threat_kind == "cost":
        threat = ThreatModel(cost=rng.choice([0.5, 1.0, 1.5], n))
    elif threat_kind == "targets":
        threat = ThreatModel(targets=[0, n_classes - 1])
    return K, labels, K_test, threat


class _NeverGate(RadiusGate):
    def use(self):
        self.calls += 1
        return False


class _AlwaysGate(RadiusGate):
    def use(self):
        self.calls += 1
        return True


SEARCH_GATES = ("adaptive", "always", "never")


@contextlib.contextmanager
def search_gates(mode: str):
    """The searches with their gated bounds ((B1)/(B2)'s radius, the collective pair
    conflicts) as the gates decide (``"adaptive"``), never, or always."""
    saved = _search.RadiusGate
    if mode != "adaptive":
        _search.RadiusGate = {"never": _NeverGate, "always": _AlwaysGate}[mode]
    try:
        yield
    finally:
        _search.RadiusGate = saved

