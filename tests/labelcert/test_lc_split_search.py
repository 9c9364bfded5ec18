"""A binary search split into parts (over processes or a dask cluster) is the same search:
the parts cover every relabelling exactly once, merge exactly, and a failed part never
proves anything.  (Brute-force equality of split searches with threat models:
``test_lc_search.test_binary_search_equals_brute_force``, ``parts > 0``.)"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certmodel.exceptions import InvalidParameterError
from certmodel.labelcert import LabelCertOptions
from certmodel.labelcert._problem import Problem
from certmodel.labelcert._search import search_binary, search_collective
from certmodel.labelcert._split_search import (
    merge_results,
    root_ranks,
    search_binary_split,
    search_collective_split,
    split_parts,
)
from certmodel.labelcert._stability import KernelGeometry
from certmodel.learners import solve_svm_dual
from certmodel.threat import ThreatModel
from tests.labelcert.oracles import random_instance
from tests.labelcert.test_lc_search import _admissible_sets


def _setup(seed, n, m=4, C=1.0, threat=None):
    K, y, K_test = random_instance(seed, n, m=m)
    prob = Problem.create(K, y, K_test, C, threat=threat)
    a0 = solve_svm_dual(prob.K, prob.y_pm, prob.C).alpha
    s = np.where(prob.K_test @ (prob.y_pm * a0) >= 0, 1.0, -1.0)
    eps = 1e-6 * prob.C * np.abs(prob.K_test).sum(axis=1)
    return prob, a0, s, eps, KernelGeometry(prob.K)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), parts=st.integers(1, 9), seed=st.integers(0, 1000))
def test_parts_partition_the_flippable_points(n, parts, seed):
    rng = np.random.default_rng(seed)
    ranks = rng.permutation(n)
    flippable = rng.random(n) < 0.7
    masks = split_parts(ranks, flippable, parts)
    total = np.sum(masks, axis=0) if masks else np.zeros(n, int)
    assert np.array_equal(total, flippable.astype(int))  # disjoint, union = flippable
    assert len(masks) == min(parts, int(flippable.sum()))
    # dealt round-robin by rank: part w holds the points of rank position ≡ w (mod parts)
    pos = np.empty(n, int)
    order = np.argsort(np.where(flippable, ranks, n + 1), kind="stable")
    pos[order] = np.arange(n)
    for w, mask in enumerate(masks):
        assert np.all(pos[mask] % parts == w)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(2, 9), parts=st.integers(1, 5),
       restricted=st.booleans())
def test_parts_retrain_every_relabelling_exactly_once(seed, n, parts, restricted):
    """Without pruning (no geometry) and without witnesses (an offset far below every
    margin), each part enumerates its share: together exactly the unsplit search's nodes."""
    rng = np.random.default_rng(seed)
    threat = ThreatModel(flippable=rng.random(n) < 0.7,
                         cost=rng.choice([1.0, 2.0], n)) if restricted else None
    prob, a0, s, eps, _ = _setup(seed, n, threat=threat)
    rows, B = np.arange(prob.m), 3
    offset = np.full(prob.m, -1e9)
    one = search_binary(prob, a0, s, rows, [B], np.ones((prob.m, 1), bool), eps, None,
                        offset=offset)
    ranks = rng.permutation(n)  # any root order partitions the sets
    masks = split_parts(ranks, prob.threat.mask, parts)
    part_nodes = [search_binary(prob, a0, s, rows, [B], np.ones((prob.m, 1), bool), eps,
                                None, offset=offset, first_flips=mk, root_ranks=ranks).nodes
                  for mk in masks]
    th = prob.threat
    sets = sum(1 for S in _admissible_sets(n, B, th.mask, th.cost) if S)
    assert one.nodes == sets
    assert sum(part_nodes) == sets


def test_merge_keeps_witnesses_and_fails_closed():
    prob, a0, s, eps, geo = _setup(7, 8)
    rows = np.arange(prob.m)
    ranks = root_ranks(prob, a0, s, rows, 3, geo)
    masks = split_parts(ranks, prob.threat.mask, 3)
    res = [search_binary(prob, a0, s, rows, [3], np.ones((prob.m, 1), bool), eps, geo,
                         first_flips=mk, root_ranks=ranks) for mk in masks]
    whole = search_binary(prob, a0, s, rows, [3], np.ones((prob.m, 1), bool), eps, geo)
    merged = merge_results(res, prob.m, [3])
    assert merged.complete.all()
    low = np.minimum(merged.visited, merged.pruned)[:, 0]
    assert np.array_equal(low > eps, np.minimum(whole.visited, whole.pruned)[:, 0] > eps)
    failed = merge_results([res[0], None, res[2]], prob.m, [3])  # one part crashed
    assert not failed.complete.any()
    for r in range(prob.m):  # the surviving parts' witnesses are kept (exact retrains)
        if min(res[0].visited[r, 0], res[2].visited[r, 0]) <= 0:
            assert failed.visited[r, 0] <= 0 and failed.witness[r][0] is not None


def test_processes_give_the_inline_result():
    prob, a0, s, eps, geo = _setup(11, 14, m=6, C=3.0)
    rows, mask = np.arange(prob.m), np.ones((prob.m, 2), bool)
    inline = search_binary_split(prob, a0, s, rows, [2, 4], mask, eps, geo, workers=1, parts=4)
    procs = search_binary_split(prob, a0, s, rows, [2, 4], mask, eps, geo, workers=2, parts=4)
    assert procs.complete.all() and inline.complete.all()
    assert np.array_equal(procs.visited, inline.visited)
    assert np.array_equal(procs.pruned, inline.pruned)
    assert procs.nodes == inline.nodes


def test_deadline_leaves_rows_incomplete():
    prob, a0, s, eps, geo = _setup(3, 14, m=6, C=3.0)
    res = search_binary_split(prob, a0, s, np.arange(prob.m), [6],
                              np.ones((prob.m, 1), bool), eps, None, workers=1, parts=3,
                              time_limit=1e-9)
    assert not res.complete.any()


def _spy_splits(monkeypatch, name):
    """Record the ``workers`` of every call of ``_searchpath.<name>``; split every search."""
    import certmodel.labelcert._searchpath as sp

    calls, real = [], getattr(sp, name)

    def spy(*a, **kw):
        calls.append(kw["workers"])
        return real(*a, **kw)

    monkeypatch.setattr(sp, name, spy)
    monkeypatch.setattr(sp, "SPLIT_MIN_SECONDS", 0.0)
    return calls


def test_pipeline_splits_the_search_and_keeps_its_verdicts(monkeypatch):
    """``search_workers=2``: the sample-wise search runs split over two processes; the
    records equal the in-process search's."""
    from certmodel import labelcert

    calls = _spy_splits(monkeypatch, "search_binary_split")
    K, y, K_test = random_instance(5, 16, m=6)
    kw = dict(search="always", enumeration="never", attack=False, time_limit=30)
    one = labelcert.certify(K, y, K_test, 3.0, [2, 3], options=LabelCertOptions(**kw))
    two = labelcert.certify(K, y, K_test, 3.0, [2, 3],
                            options=LabelCertOptions(search_workers=2, **kw))
    assert calls and set(calls) == {2}
    assert [(r.test_index, r.budget, r.verdict) for r in one] == \
        [(r.test_index, r.budget, r.verdict) for r in two]
    assert any(str(r.path) == "search" for r in two)


@pytest.mark.parametrize("kw, word", [
    ({"search_workers": 0}, "search_workers"), ({"search_workers": 1.5}, "search_workers"),
    ({"search_workers": True}, "search_workers"),
    ({"search_scheduler": "localhost"}, "search_scheduler")])
def test_options_are_validated(kw, word):
    with pytest.raises(InvalidParameterError, match=word):
        LabelCertOptions(**kw)


def test_dask_cluster_gives_the_inline_result():
    distributed = pytest.importorskip("distributed")
    prob, a0, s, eps, geo = _setup(13, 12, m=5, C=3.0)
    rows, mask = np.arange(prob.m), np.ones((prob.m, 1), bool)
    inline = search_binary_split(prob, a0, s, rows, [3], mask, eps, geo, workers=1, parts=4)
    with distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        remote = search_binary_split(prob, a0, s, rows, [3], mask, eps, geo, parts=4,
                                     scheduler=cluster.scheduler_address)
    assert remote.complete.all()
    assert np.array_equal(remote.visited, inline.visited)
    assert np.array_equal(remote.pruned, inline.pruned)


def test_collective_parts_on_processes_give_the_count():
    prob, a0, s, eps, geo = _setup(17, 12, m=6, C=3.0)
    one = search_collective(prob, a0, s, [2, 4], geo)
    split = search_collective_split(prob, a0, s, [2, 4], geo, workers=2, parts=4)
    assert one[2] and split[2]
    assert list(split[0]) == list(one[0])
    cut = search_collective_split(prob, a0, s, [2, 4], geo, workers=1, parts=3,
                                  time_limit=1e-9)
    assert not cut[2]  # a part stopped at the deadline: the counts are not claimed exact


def test_multiclass_parts_on_processes_give_the_inline_result():
    from certmodel.labelcert._search import search_multiclass
    from certmodel.labelcert._split_search import search_multiclass_split

    rng = np.random.default_rng(2)
    K, _, K_test = random_instance(21, 12, m=4)
    labels = rng.integers(0, 3, 12)
    prob = Problem.create(K, labels, K_test, 1.0)
    alphas = np.stack([solve_svm_dual(prob.K, np.where(prob.codes == k, 1.0, -1.0),
                                      prob.C).alpha for k in range(3)])
    Z = np.stack([np.where(prob.codes == k, 1.0, -1.0) * alphas[k] for k in range(3)])
    tops = np.argmax(prob.K_test @ Z.T, axis=1)
    eps = 1e-6 * 2 * prob.C * np.abs(prob.K_test).sum(axis=1)
    geo = KernelGeometry(prob.K)
    rows, mask = np.arange(prob.m), np.ones((prob.m, 2), bool)
    one = search_multiclass(prob, alphas, tops, rows, [1, 2], mask, eps, geo)
    split = search_multiclass_split(prob, alphas, tops, rows, [1, 2], mask, eps, geo,
                                    workers=2, parts=4)
    inline = search_multiclass_split(prob, alphas, tops, rows, [1, 2], mask, eps, geo,
                                     workers=1, parts=4)
    assert split.complete.all()
    assert np.array_equal(split.visited, inline.visited)
    assert np.array_equal(split.pruned, inline.pruned)
    low = np.minimum(split.visited, split.pruned) > eps[:, None]
    assert np.array_equal(low, np.minimum(one.visited, one.pruned) > eps[:, None])


def test_collective_search_path_splits_with_search_workers(monkeypatch):
    """The collective search the cost model runs before any screen is split too (never a
    silently ignored ``search_workers``) and finds the same counts."""
    import certmodel.labelcert._searchpath as sp

    calls = _spy_splits(monkeypatch, "search_collective_split")
    prob, a0, s, eps, geo = _setup(19, 12, m=5, C=3.0)
    kw = dict(search="always", time_limit=30)
    one = sp.collective_search(prob, LabelCertOptions(**kw), a0, s, [2, 3])
    two = sp.collective_search(prob, LabelCertOptions(search_workers=2, **kw), a0, s, [2, 3])
    assert calls == [2]
    assert {B: v[0] for B, v in one.items()} == {B: v[0] for B, v in two.items()}
    assert set(one) == {2, 3}
