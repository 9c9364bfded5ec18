"""BLAS threads while a certificate runs (certmodel.blas, LabelCertOptions.blas_threads)."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import certmodel.labelcert as lc
import certmodel.labelcert._split_search as split
from certmodel.blas import current
from certmodel.exceptions import InvalidParameterError
from certmodel.labelcert import LabelCertOptions, certify, min_flips
from tests.labelcert.oracles import random_instance


def _seen_inside(monkeypatch, call):
    """The BLAS thread count the sample-wise pipeline runs with, called as ``call()``."""
    seen = []
    real = lc.certify_samplewise

    def spy(*a, **k):
        seen.append(current())
        return real(*a, **k)

    monkeypatch.setattr(lc, "certify_samplewise", spy)
    call()
    assert seen
    return set(seen)


@pytest.mark.parametrize("asked, expected", [(1, 1), (3, 3), (None, 2)])
def test_certify_runs_with_the_asked_blas_threads(monkeypatch, asked, expected):
    K, y, K_test = random_instance(0, 12, m=2)
    opts = LabelCertOptions(blas_threads=asked)
    with threadpool_limits(2, user_api="blas"):  # the caller's setting: 2 threads
        inside = _seen_inside(monkeypatch, lambda: certify(K, y, K_test, 1.0, [1],
                                                           options=opts))
        assert current() == 2  # restored afterwards
    assert inside == {expected}


def test_min_flips_runs_with_one_blas_thread_by_default(monkeypatch):
    K, y, K_test = random_instance(1, 10, m=1)
    with threadpool_limits(2, user_api="blas"):
        inside = _seen_inside(monkeypatch, lambda: min_flips(K, y, K_test, 1.0, 2))
    assert inside == {1}


def test_split_search_parts_take_the_callers_blas_threads(monkeypatch):
    """The processes a search is split over apply the thread count they were sent."""
    monkeypatch.setattr(split, "search_binary", lambda *a, **k: current())
    monkeypatch.setattr(split, "search_collective", lambda *a, **k: current())
    none = [None] * 11
    with threadpool_limits(2, user_api="blas"):
        assert split._run_part(split._Part("binary", *none, blas=1)) == 1
        assert split._run_part(split._Part("binary", *none, blas=None)) == 2
        assert split._run_collective_part(split._CollectivePart(*[None] * 9, blas=1)) == 1


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_bad_blas_threads_is_refused(bad):
    with pytest.raises(InvalidParameterError, match="blas_threads"):
        LabelCertOptions(blas_threads=bad)


def test_blas_threads_do_not_change_verdicts():
    K, y, K_test = random_instance(2, 14, m=3)
    C = 5.0 / np.abs(K).sum(axis=1).max()
    a = certify(K, y, K_test, C, [1, 2], options=LabelCertOptions(blas_threads=1))
    b = certify(K, y, K_test, C, [1, 2], options=LabelCertOptions(blas_threads=None))
    assert [(r.verdict, r.path) for r in a] == [(r.verdict, r.path) for r in b]
