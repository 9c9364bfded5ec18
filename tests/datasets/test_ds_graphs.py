"""Real-graph loaders: the facts of data/README.md and spec §1.1."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from certmodel import datasets
from certmodel.datasets import GraphData, largest_component, symmetrize, top_two_classes
from certmodel.exceptions import DatasetError, InvalidParameterError, MissingDataError

# name, options, nodes, undirected edges, features, classes, class sizes (None: not checked)
FACTS = [
    ("cora_ml", {}, 2810, 7981, 2879, 7, [348, 393, 440, 407, 781, 150, 291]),
    ("cora_ml", {"lcc": False}, 2995, 8158, 2879, 7, [354, 402, 452, 442, 857, 193, 295]),
    ("cora_ml_binary", {}, 1235, 2500, 2879, 2, [449, 786]),
    ("citeseer", {}, 2110, 3668, 3703, 6, None),
    ("citeseer", {"lcc": False}, 3312, 4536, 3703, 6, [249, 590, 668, 701, 596, 508]),
    ("citeseer_binary", {}, None, None, 3703, 2, None),
    ("cora", {}, 2708, 5278, 1433, 7, [351, 217, 418, 818, 426, 298, 180]),
    ("cora", {"lcc": True}, 2485, None, 1433, 7, None),
    ("cora_binary", {}, None, None, 1433, 2, None),
    ("polblogs", {}, 1222, 16714, 1222, 2, [586, 636]),
    ("polblogs", {"lcc": False}, 1490, 16715, 1490, 2, [758, 732]),
    ("chameleon", {}, 2277, 31371, 2325, 5, [456, 460, 453, 521, 387]),
    ("chameleon", {"filtered": True}, 890, 8854, 2325, 5, [242, 134, 209, 164, 141]),
    ("chameleon_binary", {}, None, None, 2325, 2, None),
    ("karate", {}, 34, 78, 34, 2, [17, 17]),
]


def _ids(row):
    name, opts = row[0], row[1]
    return name + "".join(f"-{k}={v}" for k, v in opts.items())


@pytest.fixture(scope="module")
def graphs(data_dir):
    cache = {}

    def get(name, **opts):
        key = (name, tuple(sorted(opts.items())))
        if key not in cache:
            cache[key] = datasets.load(name, data_dir=data_dir, **opts)
        return cache[key]

    return get


def _check_invariants(g: GraphData, binary_weights: bool = True):
    assert isinstance(g.A, sp.csr_matrix) and g.A.dtype == np.float64
    assert g.A.shape == (g.n_nodes, g.n_nodes)
    assert (g.A != g.A.T).nnz == 0
    assert not g.A.diagonal().any()
    if binary_weights:
        assert np.all(g.A.data == 1.0)
    assert isinstance(g.X, np.ndarray) and g.X.dtype == np.float64
    assert g.X.shape[0] == g.n_nodes
    assert g.y.dtype == np.int64 and g.y.min() >= 0 and g.y.max() < g.n_classes
    assert g.meta["node_ids"].shape == (g.n_nodes,)


@pytest.mark.parametrize("row", FACTS, ids=_ids)
def test_graph_facts(graphs, row):
    name, opts, n, e, d, k, sizes = row
    g = graphs(name, **opts)
    _check_invariants(g)
    assert g.name == name
    assert g.n_features == d and g.n_classes == k
    if n is not None:
        assert g.n_nodes == n
    if e is not None:
        assert g.n_edges == e
    if sizes is not None:
        assert g.class_sizes.tolist() == sizes


def test_cora_ml_binary_paper_numbers(graphs):
    g = graphs("cora_ml_binary")
    assert (g.n_nodes, g.n_edges, g.n_features) == (1235, 2500, 2879)
    assert int((g.y == 1).sum()) == 786 and int((g.y == 0).sum()) == 449
    assert np.asarray(g.A.sum(axis=1)).min() >= 1          # zero-degree nodes dropped
    assert g.meta["original_classes"] == [2, 4]             # second -> 0, most frequent -> 1
    assert set(np.unique(g.X).tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("name", ["citeseer_binary", "cora_binary", "chameleon_binary"])
def test_binary_variants_follow_top_two_recipe(graphs, name):
    g, full = graphs(name), graphs(name.removesuffix("_binary"), lcc=False)
    first, second = top_two_classes(full.y)
    assert g.meta["original_classes"] == [second, first]
    ids = g.meta["node_ids"]
    orig = full.y[np.searchsorted(full.meta["node_ids"], ids)]
    assert np.array_equal(g.y, (orig == first).astype(np.int64))
    assert np.asarray(g.A.sum(axis=1)).min() >= 1
    assert g.class_sizes.sum() == g.n_nodes


def test_citeseer_drops_placeholders_and_matches_nettack_copy(graphs, data_dir):
    full = graphs("citeseer", lcc=False)
    assert full.n_nodes == 3327 - 15
    assert np.all(full.X.sum(axis=1) > 0)
    # The nettack copy is the same graph with other label ids; its LCC has the same classes.
    with np.load(data_dir / "graphs/npz/citeseer.npz", allow_pickle=False) as z:
        A = sp.csr_matrix((z["adj_data"], z["adj_indices"], z["adj_indptr"]),
                          shape=tuple(z["adj_shape"]))
        y = z["labels"].astype(np.int64)
    A = symmetrize(A)
    lcc = largest_component(A)
    to_planetoid = np.array([0, 4, 3, 5, 2, 1])
    sizes = np.bincount(to_planetoid[y[lcc]], minlength=6)
    g = graphs("citeseer")
    assert g.class_sizes.tolist() == sizes.tolist()
    assert A[lcc][:, lcc].nnz // 2 == g.n_edges == 3668


def test_cora_ml_matches_second_copy_and_binarised_features(graphs, data_dir):
    g = graphs("cora_ml", lcc=False)
    with np.load(data_dir / "graphs/npz/cora_ml.npz", allow_pickle=False) as z:
        X = sp.csr_matrix((z["attr_data"], z["attr_indices"], z["attr_indptr"]),
                          shape=tuple(z["attr_shape"]))
        A = sp.csr_matrix((z["adj_data"], z["adj_indices"], z["adj_indptr"]),
                          shape=tuple(z["adj_shape"]))
    assert np.array_equal(g.X, (X.toarray() > 0).astype(float))
    assert (symmetrize(A) != g.A).nnz == 0
    assert len(g.meta["class_names"]) == 7
    lcc = graphs("cora_ml")
    assert np.array_equal(lcc.meta["node_ids"], np.sort(lcc.meta["node_ids"]))


def test_chameleon_masks_and_sparse_features(graphs, data_dir):
    g = graphs("chameleon")
    assert g.meta["train_masks"].shape == (10, 2277)
    assert np.all(g.meta["train_masks"].sum(axis=1) == 1092)
    s = datasets.load("chameleon", data_dir=data_dir, sparse_features=True)
    assert sp.issparse(s.X) and s.X.dtype == np.float64
    assert np.array_equal(s.X.toarray(), g.X)


def test_polblogs_identity_features(graphs):
    g = graphs("polblogs")
    assert np.array_equal(g.X, np.eye(1222))
    assert g.meta["lcc"] and not graphs("polblogs", lcc=False).meta["lcc"]
    assert g.meta["class_names"] == ["liberal", "conservative"]


def test_karate():
    g = datasets.load("karate")                   # needs no data folder
    _check_invariants(g)
    assert np.array_equal(g.X, np.eye(34))
    assert g.y[0] == 1 and g.y[33] == 0           # node 0 is Mr. Hi, node 33 the officer
    w = datasets.load("karate", weighted=True)
    _check_invariants(w, binary_weights=False)
    assert w.A.max() > 1 and ((w.A > 0) != (g.A > 0)).nnz == 0


def test_helpers():
    A = sp.csr_matrix(np.array([[1, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0.0]]))
    assert symmetrize(A).toarray().tolist() == [[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0],
                                                [0, 0, 0, 0]]
    assert symmetrize(A, rule="equal_one").toarray()[0, 1] == 0     # a 2 is not an edge
    assert largest_component(symmetrize(A)).tolist() == [0, 1, 2]
    # ties are broken by first occurrence, as Counter.most_common
    assert top_two_classes([2, 0, 0, 2, 1, 1]) == (2, 0)
    assert top_two_classes([3, 3, 1, 1, 1]) == (1, 3)
    with pytest.raises(DatasetError):
        top_two_classes([1, 1])


# ------------------------------------------------------------------------- WikiCS (stand-in)

def _write_wikics(path):
    # 6 nodes: 0-1-2 triangle (class 0/1), 3-4 edge, 5 isolated with a self-loop
    raw = {"features": [[float(i), 1.0] for i in range(6)], "labels": [0, 1, 1, 2, 1, 0],
           "links": [[1], [2], [0], [4], [], [5]]}
    path.write_text(json.dumps(raw))


def test_wikics_from_user_path(tmp_path, monkeypatch):
    monkeypatch.delenv("CERTMODEL_DATA", raising=False)
    _write_wikics(tmp_path / "data.json")
    g = datasets.load("wikics", path=tmp_path)            # folder or file both work
    _check_invariants(g)
    assert g.n_nodes == 3 and g.n_edges == 3 and g.n_classes == 3
    full = datasets.load("wikics", path=tmp_path / "data.json", lcc=False)
    assert full.n_nodes == 6 and full.n_edges == 4 and not full.A.diagonal().any()
    b = datasets.load("wikics_binary", path=tmp_path)
    assert b.n_classes == 2 and b.meta["original_classes"] == [0, 1]
    assert b.n_nodes == 3            # 0, 1, 2; node 4 loses its edge, 5 has only a self-loop


def test_wikics_errors(tmp_path):
    with pytest.raises(MissingDataError, match="data.json"):
        datasets.load("wikics", path=tmp_path)
    (tmp_path / "data.json").write_text('{"features": [[1.0]], "labels": [0, 1], "links": [[]]}')
    with pytest.raises(DatasetError, match="do not match"):
        datasets.load("wikics", path=tmp_path)
    (tmp_path / "data.json").write_text("{not json")
    with pytest.raises(DatasetError, match="corrupt"):
        datasets.load("wikics", path=tmp_path)


# ------------------------------------------------------------------------- bad input

def test_unknown_name_lists_valid_names():
    with pytest.raises(InvalidParameterError, match="cora_ml_binary") as info:
        datasets.load("coraml")
    assert "csbm" in str(info.value)
    assert set(datasets.dataset_names()) >= {
        "cora_ml", "citeseer", "cora", "polblogs", "chameleon", "cora_ml_binary",
        "citeseer_binary", "cora_binary", "chameleon_binary", "karate", "csbm", "cba", "mnist",
        "fashion_mnist", "wikics", "cifar10"}


def test_unknown_option_lists_valid_options():
    with pytest.raises(InvalidParameterError, match="'lcc_only'.*valid options: .*lcc"):
        datasets.load("cora_ml", lcc_only=True)
    with pytest.raises(InvalidParameterError, match="binary"):   # fixed by the name
        datasets.load("cora_ml_binary", binary=False)
    with pytest.raises(InvalidParameterError, match="unknown option"):
        datasets.load("karate", seed=1)


def test_import_is_light():
    code = ("import sys, certmodel.datasets; "
            "print([m for m in ('jax', 'gurobipy', 'dask', 'networkx') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
