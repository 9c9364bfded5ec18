"""The dataset registry behind :func:`load` and :func:`available`."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import NamedTuple

from certmodel._validation import check_choice
from certmodel.datasets import _graphs, _images, _synthetic
from certmodel.datasets._files import KNOWN_SHA256, resolve_data_dir, sha256_of
from certmodel.exceptions import InvalidParameterError, MissingDataError

__all__ = ["load", "available", "dataset_names", "DatasetInfo"]


@dataclass(frozen=True)
class _Entry:
    loader: object
    fixed: dict = field(default_factory=dict)
    files: tuple = ()
    user_path: bool = False   # may be read from ``path=...`` instead of the data folder


_G, _I = _graphs.FILES, _images.FILES
_REGISTRY: dict[str, _Entry] = {
    "cora_ml": _Entry(_graphs.load_cora_ml, {}, _G["cora_ml"]),
    "cora_ml_binary": _Entry(_graphs.load_cora_ml, {"binary": True}, _G["cora_ml"]),
    "citeseer": _Entry(_graphs.load_citeseer, {}, _G["citeseer"]),
    "citeseer_binary": _Entry(_graphs.load_citeseer, {"binary": True}, _G["citeseer"]),
    "cora": _Entry(_graphs.load_cora, {}, _G["cora"]),
    "cora_binary": _Entry(_graphs.load_cora, {"binary": True}, _G["cora"]),
    "polblogs": _Entry(_graphs.load_polblogs, {}, _G["polblogs"]),
    "chameleon": _Entry(_graphs.load_chameleon, {}, _G["chameleon"]),
    "chameleon_binary": _Entry(_graphs.load_chameleon, {"binary": True}, _G["chameleon"]),
    "wikics": _Entry(_graphs.load_wikics, {}, _G["wikics"], user_path=True),
    "wikics_binary": _Entry(_graphs.load_wikics, {"binary": True}, _G["wikics"],
                            user_path=True),
    "karate": _Entry(_graphs.load_karate),
    "csbm": _Entry(_synthetic.load_csbm),
    "cba": _Entry(_synthetic.load_cba),
    "mnist": _Entry(_images.load_idx_dataset, {}, _I["mnist"]),
    "fashion_mnist": _Entry(_images.load_idx_dataset, {}, _I["fashion_mnist"]),
    "cifar10": _Entry(_images.load_cifar10, {}, _I["cifar10"], user_path=True),
}


class DatasetInfo(NamedTuple):
    """One row of :func:`available`: ``(name, found, path, problem)``.

    ``problem`` says why a dataset whose files exist is not usable (a checksum mismatch).
    """

    name: str
    found: bool
    path: Path | None
    problem: str | None = None


def _checksum_problem(root: Path, files) -> str | None:
    """``"checksum mismatch: FILE"`` for the first file whose known SHA-256 differs."""
    for rel in files:
        expected = KNOWN_SHA256.get(rel)
        if expected is not None and sha256_of(root / rel) != expected:
            return f"checksum mismatch: {rel}"
    return None


def dataset_names() -> list[str]:
    """All names accepted by :func:`load`."""
    return list(_REGISTRY)


def _options(entry: _Entry) -> list[str]:
    params = inspect.signature(entry.loader).parameters
    hidden = {"data_dir", "name", "binary", *entry.fixed}   # binary: use the *_binary names
    return [p for p in params if p not in hidden]


def load(name: str, data_dir=None, **options):
    """Load a dataset by name.

    Parameters
    ----------
    name : str
        One of :func:`dataset_names`: ``cora_ml``, ``citeseer``, ``cora``, ``polblogs``,
        ``chameleon``, ``wikics`` and their ``*_binary`` top-two-class variants
        (``cora_ml_binary``, ...), ``karate``, ``csbm``, ``cba``, ``mnist``,
        ``fashion_mnist``, ``cifar10``.
    data_dir : str or Path, optional
        Folder with the dataset files; default ``$CERTMODEL_DATA``. Not needed for
        ``karate``, ``csbm``, ``cba``, nor when ``path=`` is given (``wikics``, ``cifar10``).
    **options
        Loader options, e.g. ``lcc``, ``verify`` (SHA-256 check, default True),
        ``sparse_features`` for graphs; ``n``, ``seed``, ``deg_in`` ... for generators;
        ``dtype``, ``flatten`` for images.

    Returns
    -------
    GraphData or ImageData

    Raises
    ------
    InvalidParameterError
        Unknown name or option.
    MissingDataError
        No data folder given, or a needed file is absent.
    DatasetError
        A file is corrupt or fails its checksum.
    """
    if not isinstance(name, str):
        raise InvalidParameterError(f"name must be a string, got {type(name).__name__}")
    check_choice(name, "dataset", _REGISTRY)
    entry = _REGISTRY[name]
    valid = _options(entry)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise InvalidParameterError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for dataset {name!r}; "
            f"valid options: {', '.join(valid) if valid else '(none)'}")
    if entry.files and not (entry.user_path and options.get("path") is not None):
        data_dir = resolve_data_dir(data_dir)
    return partial(entry.loader, data_dir, name=name, **entry.fixed)(**options)


def available(data_dir=None) -> list[DatasetInfo]:
    """Which datasets can be loaded: a list of ``(name, found, path)``.

    ``path`` is the dataset's (first) file, or None for generated datasets and when no data
    folder is known; ``found`` is True when every needed file exists and matches its known
    SHA-256 (a mismatch gives ``found=False`` with the reason in ``problem``).
    """
    try:
        root = resolve_data_dir(data_dir)
    except MissingDataError:
        root = None
    rows = []
    for name, entry in _REGISTRY.items():
        if not entry.files:
            rows.append(DatasetInfo(name, True, None))
        elif root is None:
            rows.append(DatasetInfo(name, False, None))
        elif name == "cifar10":
            folder = root / "images" / "cifar10"
            found = [f for f in (folder, folder / "cifar-10-batches-bin")
                     if all((f / Path(p).name).is_file() for p in entry.files)]
            rows.append(DatasetInfo(name, bool(found), found[0] if found else folder))
        else:
            paths = [root / p for p in entry.files]
            found = all(p.is_file() for p in paths)
            problem = _checksum_problem(root, entry.files) if found else None
            rows.append(DatasetInfo(name, found and problem is None, paths[0], problem))
    return rows
