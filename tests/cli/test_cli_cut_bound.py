"""``certify --cut-bound/--no-cut-bound`` and ``CertifyConfig.cut_bound`` reach
``LabelCertOptions.cut_bound`` (never a silently ignored flag), keep the verdicts, are not
part of the record keys, and are refused where there is no exact search to tune."""

from __future__ import annotations

import dataclasses

import pytest

from certmodel.exceptions import InvalidParameterError
from certmodel.pipeline import CertifyConfig, run_certify
from certmodel.results import records_from_json
from tests.cli.test_cli_search_workers import _instance, _spy_options, run


@pytest.mark.parametrize("mode", ["samplewise", "collective"])
def test_instance_flag_reaches_the_options_and_keeps_the_verdicts(tmp_path, monkeypatch,
                                                                   mode):
    inst = _instance(tmp_path / "inst.npz", n=14, m=4)
    seen = _spy_options(monkeypatch)
    out = {}
    for flag in ("--cut-bound", "--no-cut-bound"):
        path = tmp_path / f"{flag}.json"
        res = run("certify", "--instance", inst, "--budget", "1,2,3", "--mode", mode, flag,
                  "--json", path, "-q")
        assert res.exit_code == 0, res.output
        out[flag] = records_from_json(path.read_text())
    assert [o.cut_bound for o in seen] == [True, False]

    def key(r):
        return (getattr(r, "test_index", None), r.budget,
                getattr(r, "verdict", None), getattr(r, "bound", None))

    assert [key(r) for r in out["--cut-bound"]] == [key(r) for r in out["--no-cut-bound"]]


@pytest.mark.parametrize("args, needle", [
    (["--method", "scalabel", "--cut-bound"], "--cut-bound"),
    (["--method", "scalabel", "--no-cut-bound"], "--no-cut-bound"),
    (["--milp-only", "--cut-bound"], "bound_tightening")])
def test_instance_refuses_a_cut_bound_it_cannot_use(tmp_path, args, needle):
    inst = _instance(tmp_path / "inst.npz", n=8, m=2)
    out = tmp_path / "o.json"
    res = run("certify", "--instance", inst, "--budget", "1", "--json", out, *args)
    assert res.exit_code == 2 and needle in res.output, res.output
    assert not out.exists()


def test_dataset_flag_refused_without_labelcert(tmp_path):
    res = run("certify", "--dataset", "csbm", "--arch", "gcn", "--budget", "1", "--method",
              "scalabel", "--no-cut-bound", "--json", tmp_path / "o.json")
    assert res.exit_code == 2 and "--no-cut-bound" in res.output
    assert not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("value", [1, "yes", 0.0])
def test_config_validates_cut_bound(value):
    with pytest.raises(InvalidParameterError, match="cut_bound"):
        CertifyConfig(budgets=(1,), cut_bound=value)


def test_cut_bound_is_not_a_record_key():
    a = CertifyConfig(budgets=(1,), time_limit=5)
    for v in (True, False):
        b = dataclasses.replace(a, cut_bound=v)
        assert a.point_hash() == b.point_hash()
        assert CertifyConfig.from_dict(b.to_dict()) == b


def test_pipeline_hands_cut_bound_to_every_task(data_dir):
    import certmodel.pipeline.execute as ex
    from certmodel.pipeline import certify_task

    config = CertifyConfig(dataset="karate", arch="gcn", C=1.0, budgets=(1, 2), max_test=4)
    plain = run_certify(config, workers=1, data_dir=data_dir)
    seen = []

    def task(payload):
        opts = payload.get("labelcert_options")
        seen.append(None if opts is None else opts.cut_bound)
        return certify_task(payload)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ex, "certify_task", task)
        off = run_certify(dataclasses.replace(config, cut_bound=False), workers=1,
                          data_dir=data_dir)
    assert seen and set(seen) == {False}
    assert [(r.test_index, r.budget, r.verdict) for r in plain.records] == \
        [(r.test_index, r.budget, r.verdict) for r in off.records]
