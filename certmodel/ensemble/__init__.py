"""EnsembleCert: white-box certificates for partition-aggregation ensembles (DPA / SS-DPA).

* :func:`dpa_radius` — black-box DPA radius from vote counts;
* :func:`whitebox_radius` — the multiple-choice knapsack over per-partition costs;
* :func:`hash_partition`, :func:`sorted_partition` — label-independent partitioners;
* :func:`costs_from_minflips`, :func:`costs_from_certifier` — per-partition costs from
  ScaLabelCert or from any certificate through the result interface (e.g. LabelCert);
* :func:`certify_ensemble` — the end-to-end pipeline returning an :class:`EnsembleResult`;
* :func:`fa_radius`, :func:`fa_buckets`, :func:`fa_training_sets`,
  :func:`certify_fa_ensemble` — the Finite Aggregation black-box baseline (Wang et al. 2022);
* :func:`dpa_roe_radius`, :func:`fa_roe_radius` — Run-Off Election on DPA / FA (Rezaei et al.
  2023); :func:`knn_certify`, :func:`rnn_certify` — kNN / rNN label-flip radii (Jia et al.
  2022); :func:`radius_fraction` — a radius as a fraction of the training set.
"""

from certmodel.ensemble.certify import (
    EnsembleResult,
    certified_accuracy,
    certify_ensemble,
    fc_ntk,
    median_certified_robustness,
)
from certmodel.ensemble.costs import costs_from_certifier, costs_from_minflips
from certmodel.ensemble.finite_aggregation import (
    FAResult,
    certify_fa_ensemble,
    fa_buckets,
    fa_radius,
    fa_shifts,
    fa_spread,
    fa_training_sets,
)
from certmodel.ensemble.knapsack import min_cost, rival_options, whitebox_radius
from certmodel.ensemble.knn import knn_certify, radius_fraction, rnn_certify
from certmodel.ensemble.partition import (
    check_partition,
    hash_partition,
    partition_indices,
    sorted_partition,
)
from certmodel.ensemble.roe import (
    ROEResult,
    certify_roe_ensemble,
    dpa_roe_radius,
    fa_roe_radius,
    roe_min_models,
    roe_predict,
)
from certmodel.ensemble.votes import count_votes, dpa_radius, ensemble_prediction

__all__ = [
    "whitebox_radius",
    "dpa_radius",
    "count_votes",
    "ensemble_prediction",
    "min_cost",
    "rival_options",
    "hash_partition",
    "sorted_partition",
    "check_partition",
    "partition_indices",
    "costs_from_minflips",
    "costs_from_certifier",
    "certify_ensemble",
    "EnsembleResult",
    "fc_ntk",
    "median_certified_robustness",
    "certified_accuracy",
    "fa_radius",
    "fa_shifts",
    "fa_spread",
    "fa_buckets",
    "fa_training_sets",
    "certify_fa_ensemble",
    "FAResult",
    "roe_predict",
    "certify_roe_ensemble",
    "ROEResult",
    "roe_min_models",
    "dpa_roe_radius",
    "fa_roe_radius",
    "knn_certify",
    "rnn_certify",
    "radius_fraction",
]
