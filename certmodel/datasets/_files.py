"""Where dataset files live and whether they are intact.

The data folder is ``data_dir`` if given, else the environment variable
``CERTMODEL_DATA``. Files are addressed by their path relative to that folder (the layout of
the project's shared data folder, e.g. ``graphs/cora_ml/cora_ml.npz``). Files listed in
:data:`KNOWN_SHA256` are checked against their SHA-256 before use; each file is hashed at
most once per process (cached by path, modification time and size).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from certmodel.exceptions import DatasetError, MissingDataError

__all__ = ["ENV_VAR", "KNOWN_SHA256", "resolve_data_dir", "require_file", "sha256_of"]

ENV_VAR = "CERTMODEL_DATA"

#: SHA-256 of every shipped data file, by path relative to the data folder (from SHA256SUMS).
KNOWN_SHA256: dict[str, str] = {
    "graphs/chameleon/chameleon.npz":
        "4c640bd2877fc4f9f101531e2f977bc16445a54e09a5cb01178df608e552f3fd",
    "graphs/chameleon/chameleon_filtered.npz":
        "bf46f07e1fb5249280447e5fe3100f3e82fc4b93ad1e13ffcfdec924b6ac0bb5",
    "graphs/cora_ml/cora_ml.npz":
        "46b98cabc9c22c09de0d30140fbf68d004b21d2f05e234feb96ba6e84ec7c86a",
    "graphs/npz/citeseer.npz":
        "36e9a5bbe84eaa0c3c6b226f8b27450bb79246a5df22c375b3bacddb856efa8e",
    "graphs/npz/cora.npz":
        "398a5c8f949a4f2a3c8fb248f777d2756c654de714762d6a18c04eaa19a96271",
    "graphs/npz/cora_ml.npz":
        "ffbe4e64857dc6bf38f1877e4312559a064df84b59d0f32f938717de5d5af0fd",
    "graphs/npz/polblogs.npz":
        "cd0983c2b1caa3bbe2703a4e316f97bb1dccd33f98800d3d8e4bbe51cc86941b",
    "graphs/planetoid/ind.citeseer.allx":
        "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",
    "graphs/planetoid/ind.citeseer.ally":
        "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",
    "graphs/planetoid/ind.citeseer.graph":
        "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
    "graphs/planetoid/ind.citeseer.test.index":
        "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4",
    "graphs/planetoid/ind.citeseer.tx":
        "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",
    "graphs/planetoid/ind.citeseer.ty":
        "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",
    "graphs/planetoid/ind.citeseer.x":
        "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",
    "graphs/planetoid/ind.citeseer.y":
        "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",
    "graphs/planetoid/ind.cora.allx":
        "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
    "graphs/planetoid/ind.cora.ally":
        "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
    "graphs/planetoid/ind.cora.graph":
        "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
    "graphs/planetoid/ind.cora.test.index":
        "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    "graphs/planetoid/ind.cora.tx":
        "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
    "graphs/planetoid/ind.cora.ty":
        "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
    "graphs/planetoid/ind.cora.x":
        "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
    "graphs/planetoid/ind.cora.y":
        "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
    "graphs/planetoid_npz/citeseer.npz":
        "d39f5e73ff62e08bb2f75645d1a5e430d1e979be6e448d6ceac6907ad3f7c832",
    "graphs/planetoid_npz/cora.npz":
        "5fcf6da0f591d14d2f129d8c1cb0897bb0f92409f0cbf402e2cdba289b8996f3",
    "images/fashion_mnist/t10k-images-idx3-ubyte.gz":
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "images/fashion_mnist/t10k-labels-idx1-ubyte.gz":
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "images/fashion_mnist/train-images-idx3-ubyte.gz":
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "images/fashion_mnist/train-labels-idx1-ubyte.gz":
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "images/mnist/t10k-images-idx3-ubyte.gz":
        "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    "images/mnist/t10k-labels-idx1-ubyte.gz":
        "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
    "images/mnist/train-images-idx3-ubyte.gz":
        "db8f937d487057fb14a9f0fbe97f0bc8d311ab41b750d41e1ff37c43b9e55e19",
    "images/mnist/train-labels-idx1-ubyte.gz":
        "ec02e7948609e5754d47881c09b8afdd8dfa60600b9e5388c8c54a67069ec772",
}

_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def resolve_data_dir(data_dir=None) -> Path:
    """The data folder: ``data_dir``, else ``$CERTMODEL_DATA``.

    Raises
    ------
    MissingDataError
        If neither is given, or the folder does not exist.
    """
    source = "data_dir"
    if data_dir is None:
        env = os.environ.get(ENV_VAR)
        if not env:
            raise MissingDataError(
                f"no data folder given: pass data_dir=... or set the environment variable "
                f"{ENV_VAR} to the folder that holds the dataset files")
        data_dir, source = env, f"${ENV_VAR}"
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise MissingDataError(f"data folder {str(path)!r} (from {source}) does not exist")
    return path


def sha256_of(path) -> str:
    """Hex SHA-256 of a file, computed once per (path, mtime, size) in this process."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    digest = _HASH_CACHE.get(key)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        _HASH_CACHE[key] = digest
    return digest


def require_file(data_dir: Path, relpath: str, *, verify: bool = True) -> Path:
    """Path of ``data_dir/relpath``; check that it exists and, if known, its checksum.

    Raises
    ------
    MissingDataError
        If the file does not exist (the message names the file and the folder searched).
    DatasetError
        If ``verify`` and the file's SHA-256 differs from :data:`KNOWN_SHA256`.
    """
    path = Path(data_dir) / relpath
    if not path.is_file():
        raise MissingDataError(
            f"dataset file {relpath!r} not found: looked for {str(path)!r} in the data folder "
            f"{str(data_dir)!r} (pass data_dir=... or set {ENV_VAR})")
    expected = KNOWN_SHA256.get(relpath)
    if verify and expected is not None:
        actual = sha256_of(path)
        if actual != expected:
            raise DatasetError(
                f"checksum mismatch for {str(path)!r}: SHA-256 is {actual}, expected "
                f"{expected}; the file is corrupt or a different version (re-copy it, or "
                "pass verify=False to skip this check)")
    return path
