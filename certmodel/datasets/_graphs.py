"""Loaders for the real benchmark graphs (recipes of the LabelCert reference, spec §1.1).

Every loader returns a :class:`~certmodel.datasets.GraphData` whose adjacency is a symmetric
float64 CSR matrix without self-loops. Files are read with ``allow_pickle=False``; the
Planetoid raw ``ind.*`` pickles are never used (their converted ``planetoid_npz`` copies are).
"""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from certmodel.datasets._containers import GraphData
from certmodel.datasets._files import require_file
from certmodel.exceptions import DatasetError, MissingDataError

__all__ = [
    "symmetrize",
    "largest_component",
    "top_two_classes",
    "load_cora_ml",
    "load_citeseer",
    "load_cora",
    "load_polblogs",
    "load_chameleon",
    "load_karate",
    "load_wikics",
    "FILES",
]

#: Files each named graph needs, relative to the data folder.
FILES = {
    "cora_ml": ("graphs/cora_ml/cora_ml.npz",),
    "citeseer": ("graphs/planetoid_npz/citeseer.npz",),
    "cora": ("graphs/planetoid_npz/cora.npz",),
    "polblogs": ("graphs/npz/polblogs.npz",),
    "chameleon": ("graphs/chameleon/chameleon.npz",),
    "wikics": ("graphs/wikics/data.json",),
}

_CLASS_NAMES = {
    "cora": ["Theory", "Reinforcement_Learning", "Genetic_Algorithms", "Neural_Networks",
             "Probabilistic_Methods", "Case_Based", "Rule_Learning"],
    "citeseer": ["AI", "ML", "IR", "DB", "Agents", "HCI"],
    "polblogs": ["liberal", "conservative"],
    "karate": ["Officer", "Mr. Hi"],
}

_READ_ERRORS = (OSError, ValueError, KeyError, IndexError, TypeError, EOFError,
                zipfile.BadZipFile)


# --------------------------------------------------------------------------- graph operations

def symmetrize(A, *, rule: str = "nonzero") -> sp.csr_matrix:
    """Undirected 0/1 float64 CSR adjacency without self-loops.

    Parameters
    ----------
    A : sparse matrix (N, N)
        Possibly directed, weighted adjacency.
    rule : {"nonzero", "equal_one"}
        Which stored entries count as an edge: any non-zero, or (Cora-ML reference recipe)
        only entries equal to 1. An edge in either direction gives an undirected edge.
    """
    A = sp.csr_matrix(A)
    B = (A == 1) if rule == "equal_one" else (A != 0)
    B = sp.csr_matrix((B + B.T).astype(np.float64))
    B.setdiag(0)
    B.eliminate_zeros()
    B.data[:] = 1.0
    B.sort_indices()
    return B


def largest_component(A) -> np.ndarray:
    """Sorted node ids of the largest connected component (first one on ties)."""
    n_comp, labels = connected_components(A, directed=False)
    if n_comp <= 1:
        return np.arange(A.shape[0])
    return np.flatnonzero(labels == np.argmax(np.bincount(labels)))


def top_two_classes(y) -> tuple[int, int]:
    """The most and second most frequent label, ties broken by first occurrence.

    This is the order of ``collections.Counter(y).most_common(2)``.
    """
    ranked = Counter(np.asarray(y).tolist()).most_common(2)
    if len(ranked) < 2:
        raise DatasetError("a binary top-two-classes graph needs at least two classes")
    return int(ranked[0][0]), int(ranked[1][0])


def _subset(X, A, y, ids, keep):
    keep = np.asarray(keep)
    return X[keep], A[keep][:, keep].tocsr(), y[keep], ids[keep]


def _binary(X, A, y, ids):
    """Induced subgraph on the two largest classes (first → 1, second → 0), no isolated nodes."""
    first, second = top_two_classes(y)
    X, A, y, ids = _subset(X, A, y, ids, np.flatnonzero((y == first) | (y == second)))
    y = (y == first).astype(np.int64)
    deg = np.asarray(A.sum(axis=1)).ravel()
    X, A, y, ids = _subset(X, A, y, ids, np.flatnonzero(deg > 0))
    return X, A, y, ids, (second, first)


def _finish(name, X, A, y, ids, *, n_classes, binary, lcc, sparse_features, meta,
            class_names=None):
    """Apply the binary/LCC steps and pack a GraphData."""
    y = np.asarray(y, dtype=np.int64)
    if binary:
        X, A, y, ids, original = _binary(X, A, y, ids)
        meta["original_classes"] = list(original)
        if class_names is not None:
            class_names = [class_names[c] for c in original]
        n_classes = 2
    if lcc:
        X, A, y, ids = _subset(X, A, y, ids, largest_component(A))
    if sparse_features:
        X = sp.csr_matrix(X, dtype=np.float64)
    else:
        X = X.toarray() if sp.issparse(X) else np.asarray(X)
        X = np.ascontiguousarray(X, dtype=np.float64)
    A = sp.csr_matrix(A, dtype=np.float64)
    A.sort_indices()
    meta.update(node_ids=np.asarray(ids, dtype=np.int64), lcc=bool(lcc))
    if class_names is not None:
        meta["class_names"] = list(class_names)
    return GraphData(X=X, A=A, y=y, name=name, n_classes=int(n_classes), meta=meta)


# --------------------------------------------------------------------------- file reading

@contextmanager
def _reading(path):
    """Turn any low-level read/parse failure into a DatasetError naming the file."""
    try:
        yield
    except DatasetError:
        raise
    except _READ_ERRORS as e:
        raise DatasetError(
            f"cannot read dataset file {str(path)!r}: it is corrupt or has an unexpected "
            f"layout ({type(e).__name__}: {e})") from e


def _csr(z, data, indices, indptr, shape) -> sp.csr_matrix:
    M = sp.csr_matrix((z[data], z[indices], z[indptr]), shape=tuple(int(s) for s in z[shape]))
    M.check_format(full_check=True)
    return M


def _check_labels(path, y, n):
    if y.ndim != 1 or y.shape[0] != n:
        raise DatasetError(f"{str(path)!r}: {y.shape[0]} labels for {n} nodes")


def _read_sparse_graph(path, keys):
    """(A, X or None, y) from an npz holding CSR arrays under the given key names."""
    adj, attr, suffixes = keys
    with _reading(path), np.load(path, allow_pickle=False) as z:
        A = _csr(z, *(f"{adj}{s}" for s in suffixes))
        X = _csr(z, *(f"{attr}{s}" for s in suffixes)) if attr else None
        y = np.asarray(z["labels"]).astype(np.int64)
        extras = {k: np.asarray(z[k]) for k in ("class_names",) if k in z.files}
    if A.shape[0] != A.shape[1] or (X is not None and X.shape[0] != A.shape[0]):
        raise DatasetError(f"{str(path)!r}: inconsistent shapes A {A.shape}, X "
                           f"{None if X is None else X.shape}")
    _check_labels(path, y, A.shape[0])
    return A, X, y, extras


_SPARSEGRAPH = ("adj_matrix", "attr_matrix", (".data", ".indices", ".indptr", ".shape"))
_NETTACK = ("adj", "attr", ("_data", "_indices", "_indptr", "_shape"))


# --------------------------------------------------------------------------- loaders

def load_cora_ml(data_dir, *, name="cora_ml", binary=False, lcc=None, verify=True,
                 sparse_features=False) -> GraphData:
    """Cora-ML: ``X = attr > 0``; edge iff ``A_ij == 1`` or ``A_ji == 1``; LCC for multiclass."""
    path = require_file(data_dir, FILES["cora_ml"][0], verify=verify)
    A, X, y, extras = _read_sparse_graph(path, _SPARSEGRAPH)
    X = (X > 0).astype(np.float64)
    A = symmetrize(A, rule="equal_one")
    names = [str(c) for c in extras["class_names"]] if "class_names" in extras else None
    return _finish(name, X, A, y, np.arange(len(y)), n_classes=int(y.max()) + 1, binary=binary,
                   lcc=(not binary) if lcc is None else lcc, sparse_features=sparse_features,
                   meta={"source": str(path)}, class_names=names)


def _load_planetoid(which, data_dir, *, name, binary, lcc, verify, sparse_features):
    path = require_file(data_dir, FILES[which][0], verify=verify)
    A, X, y, _ = _read_sparse_graph(path, _NETTACK)
    A = symmetrize(A)
    keep = np.flatnonzero((np.asarray(abs(X).sum(axis=1)).ravel() != 0) & (y >= 0))
    X, A, y, ids = _subset(X, A, y, np.arange(len(y)), keep)
    return _finish(name, X, A, y, ids, n_classes=int(y.max()) + 1, binary=binary, lcc=lcc,
                   sparse_features=sparse_features, meta={"source": str(path)},
                   class_names=_CLASS_NAMES[which])


def load_citeseer(data_dir, *, name="citeseer", binary=False, lcc=None, verify=True,
                  sparse_features=False) -> GraphData:
    """Planetoid Citeseer without its 15 all-zero placeholder nodes; LCC for multiclass."""
    return _load_planetoid("citeseer", data_dir, name=name, binary=binary,
                           lcc=(not binary) if lcc is None else lcc, verify=verify,
                           sparse_features=sparse_features)


def load_cora(data_dir, *, name="cora", binary=False, lcc=False, verify=True,
              sparse_features=False) -> GraphData:
    """Planetoid Cora (zero-feature filter removes nothing; no LCC by default)."""
    return _load_planetoid("cora", data_dir, name=name, binary=binary, lcc=lcc, verify=verify,
                           sparse_features=sparse_features)


def load_polblogs(data_dir, *, name="polblogs", lcc=True, verify=True,
                  sparse_features=False) -> GraphData:
    """PolBlogs: drop self-loops, undirected, LCC; features are the identity matrix."""
    path = require_file(data_dir, FILES["polblogs"][0], verify=verify)
    A, _, y, _ = _read_sparse_graph(path, ("adj", None, _NETTACK[2]))
    A = symmetrize(A)
    if lcc:
        ids = largest_component(A)
        A, y = A[ids][:, ids].tocsr(), y[ids]
    else:
        ids = np.arange(len(y))
    X = sp.identity(len(y), dtype=np.float64, format="csr")
    g = _finish(name, X, A, y, ids, n_classes=2, binary=False, lcc=False,
                sparse_features=sparse_features, meta={"source": str(path)},
                class_names=_CLASS_NAMES["polblogs"])
    g.meta["lcc"] = bool(lcc)   # applied above, before the identity features were built
    return g


def load_chameleon(data_dir, *, name="chameleon", binary=False, lcc=False, filtered=False,
                   verify=True, sparse_features=False) -> GraphData:
    """Wikipedia Chameleon (Geom-GCN version; ``filtered=True``: duplicates removed).

    ``meta`` holds the 10 fixed ``train_masks``/``val_masks``/``test_masks`` (full graph only).
    """
    rel = FILES["chameleon"][0]
    if filtered:
        rel = rel.replace("chameleon.npz", "chameleon_filtered.npz")
    path = require_file(data_dir, rel, verify=verify)
    with _reading(path), np.load(path, allow_pickle=False) as z:
        X = np.asarray(z["node_features"])
        y = np.asarray(z["node_labels"]).astype(np.int64)
        edges = np.asarray(z["edges"]).astype(np.int64)
        masks = {k: np.asarray(z[k]) for k in ("train_masks", "val_masks", "test_masks")}
        n = X.shape[0]
        _check_labels(path, y, n)
        if edges.ndim != 2 or edges.shape[1] != 2 or edges.size and (
                edges.min() < 0 or edges.max() >= n):
            raise DatasetError(f"{str(path)!r}: edges must be an (E, 2) array of node ids < {n}")
        A = sp.csr_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    meta = {"source": str(path)}
    if not binary and not lcc:
        meta.update(masks)
    return _finish(name, X, symmetrize(A), y, np.arange(n), n_classes=int(y.max()) + 1,
                   binary=binary, lcc=lcc, sparse_features=sparse_features, meta=meta)


def load_karate(data_dir=None, *, name="karate", weighted=False,
                sparse_features=False) -> GraphData:
    """Zachary's karate club (networkx): label 1 = club "Mr. Hi", ``X = I_34``.

    ``weighted=True`` keeps networkx's interaction counts as edge weights, which is what the
    reference's ``nx.to_numpy_array`` produces with networkx >= 2.8.
    """
    import networkx as nx

    G = nx.karate_club_graph()
    order = sorted(G.nodes())
    A = nx.to_scipy_sparse_array(G, nodelist=order, weight="weight" if weighted else None)
    A = sp.csr_matrix(A, dtype=np.float64)
    A.setdiag(0)
    A.eliminate_zeros()
    y = np.array([G.nodes[v]["club"] == "Mr. Hi" for v in order], dtype=np.int64)
    X = sp.identity(len(order), dtype=np.float64, format="csr")
    return _finish(name, X, A, y, np.asarray(order), n_classes=2, binary=False, lcc=False,
                   sparse_features=sparse_features,
                   meta={"source": "networkx.karate_club_graph", "weighted": bool(weighted)},
                   class_names=_CLASS_NAMES["karate"])


def _wikics_path(data_dir, path, verify):
    if path is None:
        return require_file(data_dir, FILES["wikics"][0], verify=verify)
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "data.json"
    if not path.is_file():
        raise MissingDataError(f"WikiCS file 'data.json' not found: looked for {str(path)!r}")
    return path


def load_wikics(data_dir, *, name="wikics", path=None, binary=False, lcc=None, verify=True,
                sparse_features=False) -> GraphData:
    """WikiCS from its published ``data.json`` (``path``: the file or its folder).

    Undirected, self-loops dropped, LCC for multiclass (as the reference).
    """
    path = _wikics_path(data_dir, path, verify)
    with _reading(path):
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
        X = np.asarray(raw["features"], dtype=np.float64)
        y = np.asarray(raw["labels"], dtype=np.int64)
        links = raw["links"]
        n = len(links)
        if X.ndim != 2 or X.shape[0] != n or y.shape != (n,):
            raise DatasetError(f"{str(path)!r}: features {X.shape}, labels {y.shape} and "
                               f"{n} adjacency lists do not match")
        src = np.repeat(np.arange(n), [len(nb) for nb in links])
        dst = np.asarray([j for nb in links for j in nb], dtype=np.int64)
        if dst.size and (dst.min() < 0 or dst.max() >= n):
            raise DatasetError(f"{str(path)!r}: a link points outside 0..{n - 1}")
        A = sp.csr_matrix((np.ones(len(dst)), (src, dst)), shape=(n, n))
    return _finish(name, X, symmetrize(A), y, np.arange(n), n_classes=int(y.max()) + 1,
                   binary=binary, lcc=(not binary) if lcc is None else lcc,
                   sparse_features=sparse_features, meta={"source": str(path)})
