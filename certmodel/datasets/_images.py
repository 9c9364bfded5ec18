"""Image datasets: MNIST / Fashion-MNIST (gzipped IDX) and CIFAR-10 (binary batches).

Parsing uses numpy only. Headers (magic numbers, counts, sizes) are validated and every
inconsistency raises :class:`~certmodel.exceptions.DatasetError` naming the file. CIFAR-10 is
read from its *binary* version (``data_batch_{1..5}.bin``, ``test_batch.bin``), never from the
pickled Python version.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from certmodel.datasets._containers import ImageData
from certmodel.datasets._files import require_file
from certmodel.exceptions import DatasetError, InvalidParameterError, MissingDataError

__all__ = ["read_idx_images", "read_idx_labels", "load_idx_dataset", "load_cifar10", "FILES"]

_IDX_IMAGES, _IDX_LABELS = 0x00000803, 0x00000801
_IDX_PARTS = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_CIFAR_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)
_CIFAR_RECORD, _CIFAR_SHAPE = 1 + 3 * 32 * 32, (3, 32, 32)

#: Files each image dataset needs, relative to the data folder.
FILES = {
    "mnist": tuple(f"images/mnist/{p}" for p in _IDX_PARTS),
    "fashion_mnist": tuple(f"images/fashion_mnist/{p}" for p in _IDX_PARTS),
    "cifar10": tuple(f"images/cifar10/{p}" for p in _CIFAR_BATCHES),
}

CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"],
}


def _gunzip(path) -> bytes:
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"cannot decompress {str(path)!r}: {type(e).__name__}: {e}") from e


def read_idx_images(path) -> np.ndarray:
    """uint8 array (count, rows, cols) from a gzipped IDX3 image file."""
    raw = _gunzip(path)
    if len(raw) < 16:
        raise DatasetError(f"{str(path)!r} is too short for an IDX image header")
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != _IDX_IMAGES:
        raise DatasetError(f"{str(path)!r}: magic number {magic:#010x}, expected "
                           f"{_IDX_IMAGES:#010x} (IDX unsigned-byte 3-D images)")
    expected = 16 + count * rows * cols
    if len(raw) != expected:
        raise DatasetError(f"{str(path)!r}: {len(raw)} bytes, but the header "
                           f"({count} x {rows} x {cols}) implies {expected}")
    return np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols)


def read_idx_labels(path, n_classes: int = 10) -> np.ndarray:
    """int64 labels from a gzipped IDX1 label file (values checked against ``n_classes``)."""
    raw = _gunzip(path)
    if len(raw) < 8:
        raise DatasetError(f"{str(path)!r} is too short for an IDX label header")
    magic, count = struct.unpack(">II", raw[:8])
    if magic != _IDX_LABELS:
        raise DatasetError(f"{str(path)!r}: magic number {magic:#010x}, expected "
                           f"{_IDX_LABELS:#010x} (IDX unsigned-byte 1-D labels)")
    if len(raw) != 8 + count:
        raise DatasetError(f"{str(path)!r}: {len(raw)} bytes, but the header ({count} labels) "
                           f"implies {8 + count}")
    y = np.frombuffer(raw, np.uint8, offset=8).astype(np.int64)
    if y.size and y.max() >= n_classes:
        raise DatasetError(f"{str(path)!r}: label {int(y.max())} outside 0..{n_classes - 1}")
    return y


def _scale(pixels: np.ndarray, dtype, flatten: bool) -> np.ndarray:
    X = pixels.astype(dtype)
    X /= 255
    return X.reshape(X.shape[0], -1) if flatten else X


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise InvalidParameterError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def load_idx_dataset(data_dir, *, name, dtype="float64", flatten=True,
                     verify=True) -> ImageData:
    """MNIST or Fashion-MNIST (``name``) from the four gzipped IDX files."""
    dtype = _check_dtype(dtype)
    paths = [require_file(data_dir, rel, verify=verify) for rel in FILES[name]]
    parts = []
    for img_path, lbl_path in (paths[:2], paths[2:]):
        images, labels = read_idx_images(img_path), read_idx_labels(lbl_path)
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(f"{str(img_path)!r} holds {images.shape[0]} images but "
                               f"{str(lbl_path)!r} {labels.shape[0]} labels")
        parts += [_scale(images, dtype, flatten), labels]
    return ImageData(*parts, name=name, n_classes=10,
                     meta={"source": str(paths[0].parent), "image_shape": images.shape[1:],
                           "class_names": CLASS_NAMES[name]})


def _cifar_folder(data_dir, path) -> Path:
    if path is not None:
        candidates = [Path(path).expanduser()]
    else:
        base = Path(data_dir) / "images" / "cifar10"
        candidates = [base, base / "cifar-10-batches-bin"]
    for folder in candidates:
        if all((folder / b).is_file() for b in _CIFAR_BATCHES):
            return folder
    raise MissingDataError(
        "CIFAR-10 binary batches (" + ", ".join(_CIFAR_BATCHES) + ") not found; looked in "
        + " and ".join(repr(str(c)) for c in candidates)
        + " (download the 'CIFAR-10 binary version' and pass path=... to its folder)")


def _read_cifar_batch(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % _CIFAR_RECORD:
        raise DatasetError(f"{str(path)!r}: {raw.size} bytes is not a multiple of the "
                           f"{_CIFAR_RECORD}-byte CIFAR-10 record (label + 3x32x32 pixels)")
    rec = raw.reshape(-1, _CIFAR_RECORD)
    y = rec[:, 0].astype(np.int64)
    if y.max() >= 10:
        raise DatasetError(f"{str(path)!r}: label {int(y.max())} outside 0..9 (is this the "
                           "CIFAR-10 binary version?)")
    return rec[:, 1:].reshape(-1, *_CIFAR_SHAPE), y


def load_cifar10(data_dir, *, name="cifar10", path=None, dtype="float64", flatten=True,
                 verify=True) -> ImageData:
    """CIFAR-10 from the binary batches (``path``: their folder); pixels are channel-major.

    ``verify`` is accepted for uniformity; no checksums are known for these files.
    """
    dtype = _check_dtype(dtype)
    folder = _cifar_folder(data_dir, path)
    batches = [_read_cifar_batch(folder / b) for b in _CIFAR_BATCHES]
    X_train = np.concatenate([b[0] for b in batches[:-1]])
    y_train = np.concatenate([b[1] for b in batches[:-1]])
    return ImageData(_scale(X_train, dtype, flatten), y_train,
                     _scale(batches[-1][0], dtype, flatten), batches[-1][1], name=name,
                     n_classes=10, meta={"source": str(folder), "image_shape": _CIFAR_SHAPE,
                                         "class_names": CLASS_NAMES["cifar10"]})
