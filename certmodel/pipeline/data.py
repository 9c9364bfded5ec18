"""Data of one run: load the graph, split labelled/test nodes, resolve budgets and default C.

Split (spec §6.1): ``labelled_per_class`` train and again val nodes per class (labelled =
train ∪ val), test = every other node, optionally a ``PCG64(seed)`` subsample of ``max_test``.
Budgets given as fractions δ become ``int(δ·n)`` of the n labelled nodes (spec §5.6).
"""

from __future__ import annotations

import numpy as np

from certmodel import datasets
from certmodel._validation import check_choice
from certmodel.datasets import budget_from_fraction, labelcert_split
from certmodel.exceptions import InvalidParameterError
from certmodel.pipeline.config import CertifyConfig

__all__ = ["load_graph", "split_nodes", "resolve_budgets", "default_C", "DEFAULT_C",
           "SYNTHETIC"]

SYNTHETIC = ("csbm", "cba")
DEFAULT_C = {  # spec §6.2: the C of the reference's certification configs
    "csbm": 0.001, "cba": 0.001, "karate": 0.01,
    ("cora_ml_binary", "gcn"): 0.075, ("cora_ml_binary", "sgc"): 0.075,
    ("cora_ml_binary", "mlp"): 0.025, ("cora_ml_binary", "gin"): 0.025,
    ("cora_ml_binary", "graphsage"): 0.0075,
    ("citeseer_binary", "gcn"): 0.75, ("citeseer_binary", "sgc"): 2.5,
}
_DEFAULT_PER_CLASS = {"karate": 2}


def load_graph(config: CertifyConfig, data_dir=None):
    """The graph data set of ``config`` (synthetic ones sampled with ``config.seed``)."""
    check_choice(config.dataset, "--dataset", datasets.dataset_names())
    options = dict(config.dataset_options)
    if config.dataset in SYNTHETIC:
        options.setdefault("seed", config.seed)
    data = datasets.load(config.dataset, data_dir=data_dir, **options)
    if not hasattr(data, "A"):
        raise InvalidParameterError(
            f"--dataset {config.dataset} is not a graph; certify works on graphs "
            "(use `certmodel ensemble` for image data sets)")
    return data


def split_nodes(config: CertifyConfig, data) -> tuple[np.ndarray, np.ndarray]:
    """(labelled node ids, test node ids) of ``config`` on ``data``."""
    per_class = config.labelled_per_class
    if per_class is None and config.dataset not in SYNTHETIC:
        per_class = _DEFAULT_PER_CLASS.get(config.dataset, 5)
    labelled, test = labelcert_split(data, n_per_class=per_class, seed=config.seed)
    labelled, test = np.asarray(labelled), np.asarray(test)
    if config.max_test is not None and test.size > config.max_test:
        rng = np.random.Generator(np.random.PCG64(config.seed))
        test = rng.choice(test, config.max_test, replace=False)
    return labelled, test


def resolve_budgets(config: CertifyConfig, n: int) -> list[int]:
    """Integer budgets of ``config`` for ``n`` labelled nodes (fractions become ``int(δ·n)``)."""
    if config.budgets is not None:
        budgets = list(config.budgets)
        if max(budgets) > n:
            raise InvalidParameterError(
                f"--budget {max(budgets)} exceeds the {n} labelled nodes")
        return budgets
    return sorted(set(budget_from_fraction(list(config.budget_fractions), n)))


def default_C(config: CertifyConfig) -> float | None:
    """The reference's C for (dataset, arch) or dataset (spec §6.2); None when it has none."""
    return DEFAULT_C.get((config.dataset, config.arch), DEFAULT_C.get(config.dataset))
