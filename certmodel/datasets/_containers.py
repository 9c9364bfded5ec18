"""The two data containers returned by :func:`certmodel.datasets.load`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["GraphData", "ImageData"]


@dataclass(frozen=True, eq=False)
class GraphData:
    """One attributed graph for transductive node classification.

    Attributes
    ----------
    X : ndarray of shape (N, d), float64, or scipy.sparse CSR matrix
        Node features (dense unless the loader was asked for ``sparse_features=True``).
    A : scipy.sparse.csr_matrix of shape (N, N), float64
        Symmetric adjacency without self-loops (0/1 unless a loader documents weights).
    y : ndarray of shape (N,), int64
        Class labels ``0..n_classes-1``.
    name : str
        The name it was loaded under (e.g. ``"cora_ml_binary"``).
    n_classes : int
        Number of classes.
    meta : dict
        Provenance and extras: ``source`` (file path or generator), ``node_ids`` (row index
        of each node in the source file), ``class_names`` where known, generator parameters.
    """

    X: Any
    A: sp.csr_matrix
    y: np.ndarray
    name: str
    n_classes: int
    meta: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        """Number of nodes N."""
        return int(self.y.shape[0])

    @property
    def n_features(self) -> int:
        """Feature dimension d."""
        return int(self.X.shape[1])

    @property
    def n_edges(self) -> int:
        """Number of undirected edges (each pair counted once)."""
        return int(self.A.nnz // 2)

    @property
    def class_sizes(self) -> np.ndarray:
        """Number of nodes per class, shape (n_classes,)."""
        return np.bincount(self.y, minlength=self.n_classes)

    def __repr__(self) -> str:
        return (f"GraphData(name={self.name!r}, n_nodes={self.n_nodes}, "
                f"n_edges={self.n_edges}, n_features={self.n_features}, "
                f"n_classes={self.n_classes})")


@dataclass(frozen=True, eq=False)
class ImageData:
    """An image classification dataset with its fixed train/test split.

    Attributes
    ----------
    X_train, X_test : ndarray, float
        Pixels scaled to ``[0, 1]``; shape ``(n, h*w*c)`` when flattened (default),
        else ``(n, h, w)`` (grey) or ``(n, c, h, w)`` (colour, CIFAR-10 channel order).
    y_train, y_test : ndarray of int64
        Class labels ``0..n_classes-1``.
    name : str
        The name it was loaded under.
    n_classes : int
        Number of classes.
    meta : dict
        ``source`` (folder), ``image_shape`` and ``class_names``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    n_classes: int
    meta: dict = field(default_factory=dict)

    @property
    def n_train(self) -> int:
        """Number of training images."""
        return int(self.y_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test images."""
        return int(self.y_test.shape[0])

    def __repr__(self) -> str:
        return (f"ImageData(name={self.name!r}, n_train={self.n_train}, "
                f"n_test={self.n_test}, image_shape={self.meta.get('image_shape')}, "
                f"n_classes={self.n_classes})")
