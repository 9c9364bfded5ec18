"""Benchmark datasets: real graphs, synthetic graphs, images, and the LabelCert splits.

>>> from certmodel import datasets
>>> g = datasets.load("cora_ml_binary", data_dir="shared/data")   # doctest: +SKIP
>>> labeled, test = datasets.labelcert_split(g, n_per_class=5, seed=0)   # doctest: +SKIP

Graphs come back as :class:`GraphData` (``X``, ``A`` symmetric CSR without self-loops,
``y``), image sets as :class:`ImageData` (``X_train``, ``y_train``, ``X_test``, ``y_test``).
Files are looked up below ``data_dir`` or ``$CERTMODEL_DATA`` and checked against known
SHA-256 sums; nothing is downloaded and nothing is unpickled.
"""

from certmodel.datasets._containers import GraphData, ImageData
from certmodel.datasets._files import KNOWN_SHA256, resolve_data_dir
from certmodel.datasets._graphs import largest_component, symmetrize, top_two_classes
from certmodel.datasets._registry import DatasetInfo, available, dataset_names, load
from certmodel.datasets._synthetic import csbm_parameters
from certmodel.datasets.splits import (
    Split,
    budget_from_fraction,
    labelcert_split,
    split_csbm,
    split_inductive,
)

__all__ = [
    "load",
    "available",
    "dataset_names",
    "DatasetInfo",
    "GraphData",
    "ImageData",
    "Split",
    "split_inductive",
    "split_csbm",
    "labelcert_split",
    "budget_from_fraction",
    "csbm_parameters",
    "symmetrize",
    "largest_component",
    "top_two_classes",
    "resolve_data_dir",
    "KNOWN_SHA256",
]
