"""The certification problem of one configuration: data → split → NTK → clean learner.

Kernel slices ``K_train = K[L, L]`` (symmetrised against round-off) and ``K_test = K[T, L]``
for labelled nodes L and test nodes T; binary labels become ``ỹ = 2y − 1``.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from certmodel import kernels
from certmodel._validation import check_choice
from certmodel.exceptions import InvalidParameterError
from certmodel.kernels._architectures import REGISTRY
from certmodel.learners import saturated_C
from certmodel.pipeline.config import CertifyConfig
from certmodel.pipeline.data import default_C, load_graph, resolve_budgets, split_nodes
from certmodel.pipeline.fit import cv_select_C, label_linear_weights, predictions, svm_logits
from certmodel.pipeline.validate import missing_C_message

__all__ = ["Prepared", "prepare"]


@dataclasses.dataclass
class Prepared:
    """The certification problem of one configuration (kernel slices, labels, C, budgets)."""

    K_train: np.ndarray
    y_train: np.ndarray
    K_test: np.ndarray
    test_index: np.ndarray
    y_test: np.ndarray
    C: float
    budgets: list[int]
    n_classes: int
    prediction: np.ndarray
    clean_margin: np.ndarray
    timings: dict = dataclasses.field(default_factory=dict)
    labelled_index: np.ndarray | None = None
    """Node id of each row of ``K_train`` (relabellings are reported by node id)."""

    @property
    def n_labelled(self) -> int:
        return int(self.y_train.shape[0])

    @property
    def clean_accuracy(self) -> float:
        return float(np.mean(self.prediction == self.y_test)) if self.y_test.size else math.nan


def prepare(config: CertifyConfig, data_dir=None) -> Prepared:
    """Load, split, compute the NTK and fit the clean learner of one configuration."""
    t0 = time.perf_counter()
    data = load_graph(config, data_dir)
    n_classes = int(data.n_classes)
    if config.mode == "collective" and n_classes != 2:
        raise InvalidParameterError(
            f"--mode collective needs a binary dataset, but {config.dataset} has "
            f"{n_classes} classes; use --mode multiclass or a *_binary dataset")
    # the mode follows the labels as in labelcert.certify: sample-wise on more than two
    # classes is the (exact) multiclass certificate
    binary = config.mode in ("samplewise", "collective") and n_classes == 2
    labelled, test = split_nodes(config, data)
    t1 = time.perf_counter()
    check_choice(config.arch, "--arch", kernels.architectures())
    uses_graph = getattr(REGISTRY.get(config.arch), "graph", True)
    K = kernels.ntk(config.arch, data.X, data.A if uses_graph else None,
                    normalization=config.normalization if uses_graph else None,
                    depth=config.depth, parity=config.parity, **config.arch_options)
    t2 = time.perf_counter()
    K = np.asarray(K, dtype=np.float64)
    K_train = K[np.ix_(labelled, labelled)]
    K_train = 0.5 * (K_train + K_train.T)  # round-off asymmetry only (|K − Kᵀ| ~ 1e-14)
    K_test = K[np.ix_(test, labelled)]
    y = np.asarray(data.y, dtype=np.int64)
    if binary:
        y = 2 * y - 1  # {0, 1} -> {-1, +1} (spec: ỹ = 2y − 1)
    y_train, y_test = y[labelled], y[test]
    budgets = resolve_budgets(config, labelled.size)
    if config.cv:
        C = cv_select_C(K_train, y_train, config.seed)
    else:
        C = config.C if config.C is not None else default_C(config)
        if C is None:
            raise InvalidParameterError(missing_C_message(config, saturated_C(K_train)))
    k_classes = 2 if binary else n_classes  # multiclass modes: labels 0..K-1, also for K = 2
    if config.learner == "krr":
        W = label_linear_weights(K_train, K_test, y_train, C, "krr", config.ridge, k_classes)
        logits = W @ (y_train if binary else np.eye(k_classes)[y_train])
    else:
        logits = svm_logits(K_train, y_train, K_test, C, k_classes, one_vs_rest=not binary)
    prediction, margin = predictions(logits)
    t3 = time.perf_counter()
    return Prepared(K_train=K_train, y_train=y_train, K_test=K_test, test_index=test,
                    y_test=y_test, C=float(C), budgets=budgets, n_classes=k_classes,
                    prediction=prediction, clean_margin=margin, labelled_index=labelled,
                    timings={"data": t1 - t0, "kernel": t2 - t1, "learner": t3 - t2})
