"""Binary labels in the multiclass modes are two classes (#13.4): the binary certificate."""

import numpy as np
import pytest

from certmodel import labelcert
from certmodel.pipeline import certify_arrays
from tests.labelcert.oracles import random_instance


@pytest.mark.parametrize("mode", ["multiclass", "multiclass-inexact"])
@pytest.mark.parametrize("labels", ["pm", "01"])
def test_binary_labels_in_multiclass_modes(mode, labels):
    K, y, Kt = random_instance(1, 7, m=4)
    yy = y if labels == "pm" else (y > 0).astype(int)
    binary = labelcert.certify(K, yy, Kt, 1.0, [0, 1, 2])
    recs = labelcert.certify(K, yy, Kt, 1.0, [0, 1, 2], mode=mode)
    assert [(r.test_index, r.budget) for r in recs] == [(r.test_index, r.budget) for r in binary]
    for r, b in zip(recs, binary):
        assert r.verdict is b.verdict and r.prediction == b.prediction
        assert r.prediction in set(np.unique(yy).tolist())
        assert r.clean_margin == pytest.approx(2 * b.clean_margin)  # f_top − f_other = 2|f|
        if b.relabelling is not None:
            assert r.relabelling == b.relabelling


@pytest.mark.parametrize("mode", ["multiclass", "multiclass-inexact"])
def test_binary_labels_in_multiclass_modes_scalabel(mode):
    K, y, Kt = random_instance(2, 7, m=4)
    C = 0.5 / np.abs(K).sum(axis=1).max()  # saturated: ScaLabelCert is exact
    a = certify_arrays(K, (y > 0).astype(int), Kt, C, [1, 2], method="scalabel", mode=mode)
    b = certify_arrays(K, y, Kt, C, [1, 2], method="labelcert")
    assert [r.verdict for r in a] == [r.verdict for r in b]
