"""The certificate pipeline agrees with brute force; witnesses replay; no unsound robust."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.exceptions import InvalidParameterError
from certmodel.labelcert import LabelCertOptions, certify
from certmodel.learners import saturated_C
from certmodel.results import Path, Verdict
from tests.labelcert.oracles import (
    brute_binary,
    brute_collective,
    brute_multiclass,
    ovr_logits,
    random_instance,
    retrain_logits,
)

CONFIGS = {
    "default": LabelCertOptions(),
    "milp_only": LabelCertOptions(attack=False, enumeration="never", monotone=False),
    "enumeration": LabelCertOptions(enumeration="always", attack=False),
    "reference_optimise": LabelCertOptions.plain(),
}


def replay_binary(K, y, C, K_test, rec):
    y2 = np.asarray(y, float).copy()
    for i, lab in rec.relabelling.items():
        y2[i] = lab
    f0 = retrain_logits(K, np.asarray(y, float), C, K_test[rec.test_index:rec.test_index + 1])
    f1 = retrain_logits(K, y2, C, K_test[rec.test_index:rec.test_index + 1])
    s = 1.0 if f0[0] >= 0 else -1.0
    return s * f1[0]


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(5, 7), C=st.sampled_from([0.5, 2.0]))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_binary_verdicts_match_brute_force(config, seed, n, C):
    K, y, K_test = random_instance(seed, n)
    budgets = [0, 1, 2, 3]
    recs = certify(K, y, K_test, C, budgets, options=CONFIGS[config])
    assert len(recs) == K_test.shape[0] * len(budgets)
    for rec in recs:
        worst, _ = brute_binary(K, y, C, K_test[rec.test_index:rec.test_index + 1], rec.budget)
        w = worst[0]
        if rec.verdict is Verdict.ROBUST:
            assert w > 0, (rec, w)
            if rec.value is not None:
                assert rec.value <= w + 1e-7  # a lower bound on the worst margin
        elif rec.verdict is Verdict.NOT_ROBUST:
            assert w <= 1e-9
            assert len(rec.relabelling) <= rec.budget
            assert replay_binary(K, y, C, K_test, rec) <= 1e-9
        if abs(w) > 1e-4 * C * np.abs(K_test).sum():
            assert rec.verdict is not Verdict.UNKNOWN, rec


def test_saturated_closed_form_equals_milp():
    K, y, K_test = random_instance(3, 7, m=4)
    C = 0.9 * saturated_C(K)
    fast = certify(K, y, K_test, C, [1, 2, 3])
    slow = certify(K, y, K_test, C, [1, 2, 3], options=LabelCertOptions.plain(eps=0.0))
    assert all(r.path in (Path.SATURATED, Path.TRIVIAL) for r in fast)
    for a, b in zip(fast, slow):
        assert a.verdict == b.verdict
        assert b.path is Path.MILP
        if a.verdict is Verdict.ROBUST:
            assert a.value == pytest.approx(b.value, rel=1e-6, abs=1e-9)


def test_tiny_time_limit_never_claims_robust_without_bound():
    rng = np.random.default_rng(0)
    n = 30
    X = rng.normal(size=(n + 3, 6))
    Kf = X @ X.T + 0.1 * np.eye(n + 3)
    y = np.where(rng.random(n) < 0.5, -1, 1)
    opts = LabelCertOptions(attack=False, enumeration="never", decision=False,
                            time_limit=0.01, linearization="reference")
    recs = certify(Kf[:n, :n], y, Kf[n:, :n], 5.0, [6], options=opts)
    assert any(r.verdict is Verdict.UNKNOWN for r in recs)
    for r in recs:
        if r.verdict is Verdict.ROBUST:
            assert r.value is not None and r.value > 0
        if r.solver_status == "time_limit" and r.verdict is Verdict.ROBUST:
            assert r.value_kind.value == "lower_bound"


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
@pytest.mark.parametrize("enumeration", ["always", "never"])
def test_multiclass_verdicts_match_brute_force(enumeration, seed):
    n, k, C = 5, 3, 1.0
    K, _, K_test = random_instance(seed, n, m=2)
    labels = np.random.default_rng(seed).integers(0, k, n)
    labels[:3] = [0, 1, 2]
    recs = certify(K, labels, K_test, C, [1, 2],
                   options=LabelCertOptions(enumeration=enumeration))
    for rec in recs:
        worst, _ = brute_multiclass(K, labels, k, C, K_test[rec.test_index:rec.test_index + 1],
                                    rec.budget)
        if rec.verdict is Verdict.ROBUST:
            assert worst[0] > 0
        elif rec.verdict is Verdict.NOT_ROBUST:
            assert worst[0] <= 1e-9
            lab2 = labels.copy()
            for i, c in rec.relabelling.items():
                lab2[i] = c
            F = ovr_logits(K, lab2, k, C, K_test[rec.test_index:rec.test_index + 1])[0]
            top = np.where(labels == labels, rec.prediction, 0)[0]
            assert F[top] - np.max(np.delete(F, top)) <= 1e-9
        else:
            assert abs(worst[0]) < 1e-4


@pytest.mark.parametrize("enumeration", ["auto", "never"])  # "never": the App. A.2 MILPs
def test_inexact_multiclass_is_sound(enumeration):
    n, k, C = 6, 3, 1.0
    K, _, K_test = random_instance(11, n, m=3)
    labels = np.array([0, 1, 2, 0, 1, 2])
    # "never" without the attack too, so that every open record reaches the MILPs
    recs = certify(K, labels, K_test, C, [1], mode="multiclass-inexact",
                   options=LabelCertOptions(enumeration=enumeration,
                                            attack=enumeration != "never"))
    for rec in recs:
        assert (rec.path is Path.MILP) == (enumeration == "never" and rec.budget > 0
                                           and rec.clean_margin > 0)
        worst, _ = brute_multiclass(K, labels, k, C, K_test[rec.test_index:rec.test_index + 1],
                                    1)
        if rec.verdict is Verdict.ROBUST:
            assert worst[0] > 0
        if rec.verdict is Verdict.NOT_ROBUST:
            assert worst[0] <= 1e-9


@pytest.mark.parametrize("enumeration", ["auto", "never"])
def test_collective_record_is_sound_and_replayed(enumeration):
    K, y, K_test = random_instance(5, 6, m=5)
    opts = LabelCertOptions(enumeration=enumeration)
    recs = certify(K, y, K_test, 1.0, [1, 2], mode="collective", options=opts)
    for rec in recs:
        assert rec.path in ((Path.ENUMERATION,) if enumeration == "auto"
                            else (Path.MILP, Path.SAMPLEWISE))
        assert rec.certified_count == rec.n_test - int(np.floor(rec.bound + 1e-6))
        assert rec.incumbent == len(rec.attacked) <= rec.bound + 1e-6
        assert rec.n_test - rec.certified_count == brute_collective(K, y, 1.0, K_test,
                                                                      rec.budget)


@pytest.mark.parametrize("kwargs, match", [
    (dict(C=0.0), "C"),
    (dict(C=-1.0), "C"),
    (dict(budgets=[9]), "budget"),
    (dict(budgets=[-1]), "budget"),
    (dict(y=[0, 1, 5, 1, 0]), "labels"),
    (dict(K_test=np.ones((2, 4))), "K_test"),
    (dict(K=np.full((5, 5), np.nan)), "finite"),
    (dict(mode="bogus"), "mode"),
])
def test_bad_input_is_rejected(kwargs, match):
    K, y, K_test = random_instance(0, 5)
    args = dict(K=K, y=y, K_test=K_test, C=1.0, budgets=[1])
    mode = kwargs.pop("mode", "samplewise")
    args.update(kwargs)
    with pytest.raises(InvalidParameterError, match=match):
        certify(args["K"], args["y"], args["K_test"], args["C"], args["budgets"], mode=mode)


def test_inputs_unchanged():
    K, y, K_test = random_instance(1, 6)
    copies = K.copy(), y.copy(), K_test.copy()
    certify(K, y, K_test, 1.0, [1, 2])
    for a, b in zip((K, y, K_test), copies):
        np.testing.assert_array_equal(a, b)


def test_unconverged_retraining_is_never_trusted(monkeypatch):
    """If exact retraining fails (e.g. indefinite kernel), enumeration and attack give up."""
    import dataclasses

    import certmodel.labelcert._problem as problem_mod

    real = problem_mod.solve_svm_dual

    def failing(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), converged=False)

    import certmodel.labelcert._attack as attack_mod
    import certmodel.labelcert._enumerate as enum_mod

    real_batch = enum_mod.solve_svm_dual_batch

    def failing_batch(*args, **kwargs):
        alpha, ok = real_batch(*args, **kwargs)
        return alpha, np.zeros_like(ok)

    monkeypatch.setattr(problem_mod, "solve_svm_dual", failing)
    monkeypatch.setattr(enum_mod, "solve_svm_dual_batch", failing_batch)
    monkeypatch.setattr(attack_mod, "solve_svm_dual_batch", failing_batch)
    import certmodel.labelcert._search as search_mod

    monkeypatch.setattr(search_mod, "solve_svm_dual_batch", failing_batch)
    K, y, K_test = random_instance(2, 6)
    recs = certify(K, y, K_test, 1.0, [1, 2],
                   options=LabelCertOptions(enumeration="always"))
    for rec in recs:
        assert rec.path not in (Path.ENUMERATION, Path.ATTACK, Path.SEARCH)
        if rec.verdict is Verdict.ROBUST:
            assert rec.path in (Path.MILP, Path.MONOTONE, Path.TRIVIAL)
        assert rec.verdict is not Verdict.NOT_ROBUST or rec.path is Path.TRIVIAL


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(4, 9))
def test_batched_attack_paths_replay(seed, n):
    """Every step of every attack path is the exact retrain of its flips (a real witness)."""
    from certmodel.labelcert._attack import greedy_attacks
    from certmodel.labelcert._problem import Problem
    from certmodel.learners import solve_svm_dual

    K, y, K_test = random_instance(seed, n, m=4)
    prob = Problem.create(K, y, K_test, 2.0)
    alpha0 = solve_svm_dual(K, prob.y_pm, 2.0).alpha
    f = K_test @ (prob.y_pm * alpha0)
    signs = np.where(f >= 0, 1.0, -1.0)
    paths = greedy_attacks(prob, alpha0, np.arange(4), signs, [3, 2, 1, 3])
    for t, path in paths.items():
        assert len(path.margins) <= [3, 2, 1, 3][t] + 1
        for k, (flips, margin) in enumerate(zip(path.flips, path.margins)):
            assert flips.sum() == k
            yy = np.where(flips, -prob.y_pm, prob.y_pm)
            z = yy * solve_svm_dual(K, yy, 2.0).alpha
            assert abs(signs[t] * K_test[t] @ z - margin) <= 1e-7 * (1 + abs(margin))
        k = path.first_success()
        assert k is None or path.margins[k] <= 0


def test_saturated_collective_and_inexact_use_the_closed_form():
    """Saturated C: collective via the label-linear problem equals brute force; the inexact
    multiclass certificate returns the exact closed form (no KKT MILP)."""
    K, y, K_test = random_instance(7, 6, m=5)
    C = 0.5 * saturated_C(K)
    recs = certify(K, y, K_test, C, [1, 2], mode="collective")
    milp = certify(K, y, K_test, C, [1, 2], mode="collective",
                   options=LabelCertOptions(enumeration="never"))
    for rec, other in zip(recs, milp):
        assert rec.path is Path.SATURATED and rec.extra.get("enumerated")
        assert rec.n_test - rec.certified_count == brute_collective(K, y, C, K_test, rec.budget)
        assert other.certified_count == rec.certified_count and not other.extra.get("enumerated")
        assert len(rec.attacked) == rec.incumbent == rec.n_test - rec.certified_count
    labels = np.array([0, 1, 2, 0, 1, 2])
    inexact = certify(K, labels, K_test, C, [1], mode="multiclass-inexact")
    exact = certify(K, labels, K_test, C, [1], mode="multiclass")
    assert all(r.path in (Path.SATURATED, Path.TRIVIAL) for r in inexact)
    assert [r.verdict for r in inexact] == [r.verdict for r in exact]


def test_inexact_multiclass_uses_exact_enumeration_when_cheap():
    K, _, K_test = random_instance(13, 6)
    labels = np.array([0, 1, 2, 0, 1, 2])
    recs = certify(K, labels, K_test, 1.0, [1, 2], mode="multiclass-inexact")
    exact = certify(K, labels, K_test, 1.0, [1, 2], mode="multiclass")
    assert all(r.path is not Path.MILP for r in recs)
    assert [r.verdict for r in recs] == [r.verdict for r in exact]
