"""The benchmark instance library builds reproducibly and exports every MILP kind as MPS."""

import numpy as np

from benchmarks.instances import build_instances, export


def test_instances_reproducible_and_exportable(tmp_path):
    a = build_instances(["karate", "mc3ntk12_s0"], m=2, log=lambda *_: None)
    b = build_instances(["karate", "mc3ntk12_s0"], m=2, log=lambda *_: None)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.K, y.K)
        np.testing.assert_array_equal(x.y, y.y)
    assert not a[0].multiclass and a[1].multiclass
    paths = export(a, tmp_path, linearizations=("compact",), first_test_only=True,
                   modes=("samplewise", "collective"))
    names = {p.name for p in paths}
    assert any("_collective_B1_" in n for n in names)
    assert any(n.startswith("mc3ntk12_s0_t0_B2_r") for n in names)
    assert all(p.stat().st_size > 0 and p.read_text().startswith(("NAME", "*")) for p in paths)
