"""MNIST / Fashion-MNIST (IDX) and CIFAR-10 (binary batches)."""

from __future__ import annotations

import gzip
import shutil
import struct

import numpy as np
import pytest

from certmodel import datasets
from certmodel.datasets import ImageData
from certmodel.exceptions import DatasetError, InvalidParameterError, MissingDataError

PARTS = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(scope="module")
def mnist(data_dir):
    return datasets.load("mnist", data_dir=data_dir)


def test_mnist_facts(mnist):
    assert isinstance(mnist, ImageData)
    assert mnist.X_train.shape == (60000, 784) and mnist.X_test.shape == (10000, 784)
    assert mnist.X_train.dtype == np.float64 and mnist.y_train.dtype == np.int64
    assert np.bincount(mnist.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918,
                                                   6265, 5851, 5949]
    assert mnist.X_train.min() == 0.0 and mnist.X_train.max() == 1.0
    assert mnist.X_train.mean() == pytest.approx(0.130660, abs=5e-7)
    assert mnist.X_train.std() == pytest.approx(0.308108, abs=5e-7)
    assert mnist.X_test.mean() == pytest.approx(0.132515, abs=5e-7)
    assert mnist.n_classes == 10 and mnist.meta["image_shape"] == (28, 28)


def test_fashion_mnist_facts(data_dir):
    f = datasets.load("fashion_mnist", data_dir=data_dir, dtype="float32")
    assert f.X_train.dtype == np.float32
    assert np.bincount(f.y_train).tolist() == [6000] * 10
    assert np.bincount(f.y_test).tolist() == [1000] * 10
    assert float(f.X_train.mean(dtype=np.float64)) == pytest.approx(0.286041, abs=5e-7)
    assert f.meta["class_names"][9] == "Ankle boot"


# ------------------------------------------------------------------ small hand-made IDX files

def _idx_images(images, magic=0x803):
    n, r, c = images.shape
    return struct.pack(">IIII", magic, n, r, c) + images.astype(np.uint8).tobytes()


def _idx_labels(labels, magic=0x801):
    return struct.pack(">II", magic, len(labels)) + np.asarray(labels, np.uint8).tobytes()


def _write_idx(root, parts):
    folder = root / "images" / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in zip(PARTS, parts):
        with gzip.open(folder / name, "wb") as f:
            f.write(raw)
    return folder


@pytest.fixture
def tiny_mnist(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(5, 4, 3))
    parts = [_idx_images(imgs), _idx_labels([0, 1, 2, 3, 9]),
             _idx_images(imgs[:2]), _idx_labels([5, 6])]
    _write_idx(tmp_path, parts)
    return tmp_path, imgs, parts


def test_tiny_idx_parse_and_options(tiny_mnist):
    root, imgs, _ = tiny_mnist
    d = datasets.load("mnist", data_dir=root, verify=False)
    assert d.X_train.shape == (5, 12)
    assert np.allclose(d.X_train * 255, imgs.reshape(5, -1))
    assert d.y_test.tolist() == [5, 6]
    d = datasets.load("mnist", data_dir=root, verify=False, flatten=False, dtype=np.float32)
    assert d.X_train.shape == (5, 4, 3) and d.X_train.dtype == np.float32
    with pytest.raises(InvalidParameterError, match="dtype"):
        datasets.load("mnist", data_dir=root, verify=False, dtype="int8")


def test_tiny_idx_fails_checksum(tiny_mnist):
    with pytest.raises(DatasetError, match="checksum"):
        datasets.load("mnist", data_dir=tiny_mnist[0])


@pytest.mark.parametrize("case,match", [
    ("image_magic", "magic number"),
    ("label_magic", "magic number"),
    ("image_size", "implies"),
    ("label_size", "implies"),
    ("label_range", "outside"),
    ("count_mismatch", "labels"),
    ("short_header", "too short"),
])
def test_corrupt_idx(tiny_mnist, case, match):
    root, imgs, parts = tiny_mnist
    parts = list(parts)
    if case == "image_magic":
        parts[0] = _idx_images(imgs, magic=0x801)
    elif case == "label_magic":
        parts[1] = _idx_labels([0, 1, 2, 3, 4], magic=0x803)
    elif case == "image_size":
        parts[0] = parts[0][:-1]
    elif case == "label_size":
        parts[1] = parts[1] + b"\x00"
    elif case == "label_range":
        parts[1] = _idx_labels([0, 1, 2, 3, 200])
    elif case == "count_mismatch":
        parts[1] = _idx_labels([0, 1, 2])
    elif case == "short_header":
        parts[3] = b"\x00\x00"
    _write_idx(root, parts)
    with pytest.raises(DatasetError, match=match):
        datasets.load("mnist", data_dir=root, verify=False)


def test_truncated_and_garbled_gzip(data_dir, tmp_path):
    folder = tmp_path / "images" / "mnist"
    folder.mkdir(parents=True)
    for name in PARTS:
        shutil.copyfile(data_dir / "images" / "mnist" / name, folder / name)
    target = folder / "train-images-idx3-ubyte.gz"          # read first
    target.write_bytes(target.read_bytes()[:2000])
    with pytest.raises(DatasetError, match="checksum"):
        datasets.load("mnist", data_dir=tmp_path)
    with pytest.raises(DatasetError, match="decompress"):
        datasets.load("mnist", data_dir=tmp_path, verify=False)
    target.write_bytes(b"not a gzip file at all")
    with pytest.raises(DatasetError, match="decompress"):
        datasets.load("mnist", data_dir=tmp_path, verify=False)


# ------------------------------------------------------------------ CIFAR-10 (stand-in batches)

BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def _write_cifar(folder, n=3, label=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for k, name in enumerate(BATCHES):
        labels = np.full(n, k if label is None else label, dtype=np.uint8)
        pixels = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        (folder / name).write_bytes(np.column_stack([labels, pixels]).tobytes())


def test_cifar10_from_user_path(tmp_path, monkeypatch):
    monkeypatch.delenv("CERTMODEL_DATA", raising=False)
    _write_cifar(tmp_path / "cifar-10-batches-bin")
    d = datasets.load("cifar10", path=tmp_path / "cifar-10-batches-bin")
    assert d.X_train.shape == (15, 3072) and d.X_test.shape == (3, 3072)
    assert d.y_train.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3
    assert d.y_test.tolist() == [5, 5, 5]
    assert 0 <= d.X_train.min() and d.X_train.max() <= 1
    c = datasets.load("cifar10", path=tmp_path / "cifar-10-batches-bin", flatten=False)
    assert c.X_train.shape == (15, 3, 32, 32)
    assert np.array_equal(c.X_train.reshape(15, -1), d.X_train)   # channel-major records


def test_cifar10_default_location(tmp_path):
    _write_cifar(tmp_path / "images" / "cifar10" / "cifar-10-batches-bin")
    assert datasets.load("cifar10", data_dir=tmp_path).n_train == 15
    assert {r.name: r.found for r in datasets.available(tmp_path)}["cifar10"]


def test_cifar10_errors(tmp_path):
    with pytest.raises(MissingDataError, match="data_batch_1.bin"):
        datasets.load("cifar10", path=tmp_path)
    _write_cifar(tmp_path, label=11)
    with pytest.raises(DatasetError, match="outside"):
        datasets.load("cifar10", path=tmp_path)
    _write_cifar(tmp_path)
    (tmp_path / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(DatasetError, match="multiple"):
        datasets.load("cifar10", path=tmp_path)
