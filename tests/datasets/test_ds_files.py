"""Data folder resolution, missing files, checksums and corrupt files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from certmodel import datasets
from certmodel.datasets import _files
from certmodel.exceptions import DatasetError, MissingDataError

CORA_ML = "graphs/cora_ml/cora_ml.npz"


def _copy(data_dir, tmp_path, rel):
    dst = tmp_path / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data_dir / rel, dst)
    return dst


def test_known_checksums_cover_sha256sums(data_dir):
    listed = {}
    for line in (data_dir / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split()
        listed[rel] = digest
    assert listed == _files.KNOWN_SHA256


def test_no_data_dir_message(monkeypatch):
    monkeypatch.delenv("CERTMODEL_DATA", raising=False)
    with pytest.raises(MissingDataError, match="data_dir.*CERTMODEL_DATA"):
        datasets.load("cora_ml")
    datasets.load("csbm")               # generators need no folder


def test_env_var_fallback(data_dir, monkeypatch):
    monkeypatch.setenv("CERTMODEL_DATA", str(data_dir))
    assert datasets.load("polblogs").n_nodes == 1222


def test_missing_folder_and_file(tmp_path):
    with pytest.raises(MissingDataError, match="does not exist"):
        datasets.load("cora_ml", data_dir=tmp_path / "nope")
    with pytest.raises(MissingDataError) as info:
        datasets.load("cora_ml", data_dir=tmp_path)
    msg = str(info.value)
    assert CORA_ML in msg and str(tmp_path) in msg
    assert isinstance(info.value, FileNotFoundError)


def test_checksum_mismatch(data_dir, tmp_path):
    dst = _copy(data_dir, tmp_path, CORA_ML)
    raw = bytearray(dst.read_bytes())
    raw[100] ^= 0xFF
    dst.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        datasets.load("cora_ml", data_dir=tmp_path)


def test_corrupt_npz_without_verification(data_dir, tmp_path):
    dst = _copy(data_dir, tmp_path, CORA_ML)
    dst.write_bytes(dst.read_bytes()[:5000])            # truncated archive
    with pytest.raises(DatasetError, match="corrupt"):
        datasets.load("cora_ml", data_dir=tmp_path, verify=False)
    dst.write_bytes(b"garbage" * 100)
    with pytest.raises(DatasetError, match="corrupt"):
        datasets.load("cora_ml", data_dir=tmp_path, verify=False)


def test_npz_with_wrong_layout(tmp_path):
    dst = tmp_path / "graphs/npz/polblogs.npz"
    dst.parent.mkdir(parents=True)
    np.savez(dst, labels=np.zeros(3, dtype=np.int64))    # no adjacency arrays
    with pytest.raises(DatasetError, match="unexpected layout"):
        datasets.load("polblogs", data_dir=tmp_path, verify=False)
    np.savez(dst, adj_data=np.ones(1), adj_indices=np.array([5]), adj_indptr=np.array([0, 1, 1]),
             adj_shape=np.array([2, 2]), labels=np.zeros(2, dtype=np.int64))
    with pytest.raises(DatasetError):                    # column index out of range
        datasets.load("polblogs", data_dir=tmp_path, verify=False)


def test_hash_is_cached_by_path_mtime_size(data_dir, tmp_path, monkeypatch):
    dst = _copy(data_dir, tmp_path, "graphs/npz/polblogs.npz")
    first = _files.sha256_of(dst)
    assert first == _files.KNOWN_SHA256["graphs/npz/polblogs.npz"]
    calls = []
    real = _files.hashlib.sha256
    monkeypatch.setattr(_files.hashlib, "sha256", lambda: calls.append(1) or real())
    assert _files.sha256_of(dst) == first and calls == []
    dst.write_bytes(dst.read_bytes() + b"x")             # new size -> hashed again
    assert _files.sha256_of(dst) != first and calls == [1]


def test_available(data_dir, tmp_path, monkeypatch):
    rows = {r.name: r for r in datasets.available(data_dir)}
    assert set(rows) == set(datasets.dataset_names())
    for name in ("cora_ml", "citeseer_binary", "polblogs", "chameleon", "mnist"):
        assert rows[name].found and rows[name].path.is_file()
    assert rows["karate"] == ("karate", True, None, None)
    assert not rows["wikics"].found and not rows["cifar10"].found
    empty = {r.name: r for r in datasets.available(tmp_path)}
    assert not empty["cora_ml"].found and empty["csbm"].found
    monkeypatch.delenv("CERTMODEL_DATA", raising=False)
    none = {r.name: r for r in datasets.available()}
    assert none["cora_ml"] == ("cora_ml", False, None, None)
