"""ScaLabelCert: exact label-flip certificates for label-linear learners.

A learner is label-linear when its logits are ``f_c(x_t) = Σ_i W[t, i] 1[y_i = c]`` with
weights ``W`` independent of the labels (kernel ridge / NTK regression, NTK gradient flow,
the saturated bias-free SVM, least squares on fixed features).  Then a sort per test point and
rival gives the exact worst margin and the minimum number of flips
(:mod:`certmodel.scalabel.sort`); :func:`certify` turns them into
:class:`~certmodel.results.CertificateRecord` objects, :func:`weights_for` builds ``W`` from a
learner, and :func:`certify_collective` solves the one-relabelling-for-all MILP.
"""

from certmodel.scalabel.certify import DEFAULT_EPS, certify
from certmodel.scalabel.collective import certify_collective, replay
from certmodel.scalabel.sort import MinFlips, min_flips, worst_margin
from certmodel.scalabel.weights import (
    LEARNERS,
    krr_weights,
    least_squares_weights,
    ntk_flow_weights,
    svm_weights,
    weights_for,
)

__all__ = [
    "certify",
    "certify_collective",
    "min_flips",
    "worst_margin",
    "replay",
    "MinFlips",
    "DEFAULT_EPS",
    "weights_for",
    "krr_weights",
    "ntk_flow_weights",
    "svm_weights",
    "least_squares_weights",
    "LEARNERS",
]
