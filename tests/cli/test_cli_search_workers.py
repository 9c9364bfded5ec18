"""Splitting one exact search over processes from the command line and the pipeline:
``certify --instance --workers/--scheduler``, ``certify --dataset --search-workers``,
``sweep --search-workers`` and ``CertifyConfig.search_workers`` reach
``LabelCertOptions.search_workers`` (never a silently ignored flag), keep the verdicts, and
refuse what they cannot do."""

from __future__ import annotations

import dataclasses
import multiprocessing

import numpy as np
import pytest
from click.testing import CliRunner

from certmodel.cli import main
from certmodel.exceptions import InvalidParameterError
from certmodel.parallel import run_tasks
from certmodel.pipeline import CertifyConfig, run_certify
from certmodel.results import records_from_json


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _instance(path, *, n=16, m=4, seed=5, C=3.0):
    from tests.labelcert.oracles import random_instance

    K, y, K_test = random_instance(seed, n, m=m)
    np.savez(path, K=K, K_test=K_test, y=y, C=C)
    return path


def _spy_options(monkeypatch):
    """Record the LabelCertOptions of every ``labelcert.certify`` call."""
    from certmodel import labelcert

    seen, real = [], labelcert.certify

    def spy(*a, **kw):
        seen.append(kw["options"])
        return real(*a, **kw)

    monkeypatch.setattr(labelcert, "certify", spy)
    return seen


def test_instance_workers_split_the_search_and_keep_the_verdicts(tmp_path, monkeypatch):
    import certmodel.labelcert._searchpath as sp

    inst = _instance(tmp_path / "inst.npz")
    plain, split = tmp_path / "one.json", tmp_path / "two.json"
    assert run("certify", "--instance", inst, "--budget", "2,3", "--json", plain,
               "-q").exit_code == 0
    seen = _spy_options(monkeypatch)
    monkeypatch.setattr(sp, "SPLIT_MIN_SECONDS", 0.0)  # split every search it runs
    res = run("certify", "--instance", inst, "--budget", "2,3", "--workers", 2, "--json",
              split, "-q")
    assert res.exit_code == 0, res.output
    assert [o.search_workers for o in seen] == [2]
    one, two = records_from_json(plain.read_text()), records_from_json(split.read_text())
    assert [(r.test_index, r.budget, r.verdict) for r in one] == \
        [(r.test_index, r.budget, r.verdict) for r in two]


def test_instance_scheduler_reaches_the_search(tmp_path, monkeypatch):
    seen = _spy_options(monkeypatch)
    inst = _instance(tmp_path / "inst.npz", n=8, m=2)
    # no scheduler listens there; only the wiring is checked, so make the search never split
    import certmodel.labelcert._searchpath as sp

    monkeypatch.setattr(sp, "split_wanted", lambda opts: False)
    res = run("certify", "--instance", inst, "--budget", "1", "--scheduler",
              "tcp://127.0.0.1:1", "--json", tmp_path / "o.json", "-q")
    assert res.exit_code == 0, res.output
    assert seen[0].search_scheduler == "tcp://127.0.0.1:1"


@pytest.mark.parametrize("args, needle", [
    (["--search-workers", "2"], "--workers"),
    (["--method", "scalabel", "--workers", "2"], "labelcert"),
    (["--scheduler", "localhost"], "--scheduler")])
def test_instance_refuses_what_it_cannot_split(tmp_path, args, needle):
    inst = _instance(tmp_path / "inst.npz", n=8, m=2)
    out = tmp_path / "o.json"
    res = run("certify", "--instance", inst, "--budget", "1", "--json", out, *args)
    assert res.exit_code == 2 and needle in res.output
    assert not out.exists()


def test_dataset_search_workers_refused_without_labelcert(tmp_path):
    res = run("certify", "--dataset", "csbm", "--arch", "gcn", "--budget", "1", "--method",
              "scalabel", "--search-workers", "2", "--json", tmp_path / "o.json")
    assert res.exit_code == 2 and "--search-workers" in res.output
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("value", [0, 1.5, True])
def test_config_validates_search_workers(value):
    with pytest.raises(InvalidParameterError, match="search-workers"):
        CertifyConfig(budgets=(1,), search_workers=value)


def test_search_workers_is_not_a_record_key():
    """Like the time limit it only decides how long a record takes: a run with more search
    workers reuses the stored records (and the other way round)."""
    a = CertifyConfig(budgets=(1,), time_limit=5)
    b = dataclasses.replace(a, search_workers=3)
    assert a.point_hash() == b.point_hash()
    assert CertifyConfig.from_dict(b.to_dict()) == b


def _record_payload(payload):
    from certmodel.pipeline import certify_task

    opts = payload.get("labelcert_options")
    return [(opts.search_workers if opts else 1, r) for r in certify_task(payload)]


def test_pipeline_hands_search_workers_to_every_task(data_dir):
    config = CertifyConfig(dataset="karate", arch="gcn", C=1.0, budgets=(1, 2), max_test=4)
    plain = run_certify(config, workers=1, data_dir=data_dir)
    with pytest.MonkeyPatch.context() as mp:
        import certmodel.pipeline.execute as ex

        seen = []

        def task(payload):
            out = _record_payload(payload)
            seen.extend(w for w, _ in out)
            return [r for _, r in out]

        mp.setattr(ex, "certify_task", task)
        split = run_certify(dataclasses.replace(config, search_workers=2), workers=1,
                            data_dir=data_dir)
    assert seen and set(seen) == {2}
    assert [(r.test_index, r.budget, r.verdict) for r in plain.records] == \
        [(r.test_index, r.budget, r.verdict) for r in split.records]


def test_sweep_search_workers_overrides_labelcert_runs(tmp_path, monkeypatch):
    import certmodel.cli.sweep as cs

    configs = []
    real = cs.run_certify

    def spy(config, **kw):
        configs.append(config)
        return real(config, **kw)

    monkeypatch.setattr(cs, "run_certify", spy)
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('datasets = ["karate"]\narchitectures = ["gcn"]\nbudgets = [1]\n'
                   'methods = ["labelcert", "scalabel"]\n[options]\nmax_test = 2\n')
    res = run("sweep", cfg, "--store", tmp_path / "s.sqlite", "--search-workers", 2, "-q",
              "--workers", 1)
    assert res.exit_code == 0, res.output
    assert {(c.method, c.search_workers) for c in configs} == {("labelcert", 2),
                                                               ("scalabel", 1)}


def _daemon_child(queue):
    outcomes = list(run_tasks(abs, [-1, -2], workers=2))
    queue.put(([o.value for o in outcomes], multiprocessing.current_process().daemon))


def test_run_tasks_in_a_daemonic_process_runs_inline():
    """A dask worker or Pool worker is daemonic and may not start processes: a split search
    there runs its parts in that process instead of failing."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_daemon_child, args=(queue,), daemon=True)
    proc.start()
    values, daemon = queue.get(timeout=120)
    proc.join(30)
    assert daemon and sorted(values) == [1, 2]
