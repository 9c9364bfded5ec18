"""Input validation at the public boundary (scikit-learn style).

Internal functions trust their inputs; every public entry point calls these helpers once.
Each failure raises :class:`~certmodel.exceptions.InvalidParameterError` naming the
argument, the value received and what was expected.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

from certmodel.exceptions import InvalidParameterError

__all__ = [
    "check_array",
    "check_kernel_matrix",
    "check_test_kernel",
    "check_scalar",
    "check_choice",
    "check_labels",
    "check_budgets",
    "check_kernel_psd",
    "check_test_indices",
]


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_array(a, name: str, *, ndim: int | None = None, dtype=np.float64,
                finite: bool = True) -> np.ndarray:
    """Convert ``a`` to an ndarray of ``dtype``; check ``ndim`` and finiteness.

    Complex input is refused (a cast would silently drop the imaginary part).
    """
    if np.iscomplexobj(a) and np.dtype(dtype).kind != "c":
        raise InvalidParameterError(
            f"{name} must be real, got a complex array (its imaginary part would be lost)")
    try:
        arr = np.asarray(a, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise InvalidParameterError(
            f"{name} must be a numeric array, got {_short(a)} ({e})") from e
    if ndim is not None and arr.ndim != ndim:
        raise InvalidParameterError(
            f"{name} must be a {ndim}-D array, got an array of shape {arr.shape}")
    if finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise InvalidParameterError(
            f"{name} must be finite, but {bad} entries are NaN or inf")
    return arr


def check_kernel_matrix(K, name: str = "K", *, symmetric: bool = True,
                        sym_tol: float = 1e-10) -> np.ndarray:
    """A finite square float64 kernel; symmetric within ``sym_tol`` relative (never repaired)."""
    K = check_array(K, name, ndim=2)
    if K.shape[0] != K.shape[1]:
        raise InvalidParameterError(f"{name} must be square, got shape {K.shape}")
    if K.shape[0] == 0:
        raise InvalidParameterError(f"{name} must not be empty")
    if symmetric:
        scale = max(float(np.max(np.abs(K))), 1e-300)
        asym = float(np.max(np.abs(K - K.T))) / scale
        if asym > sym_tol:
            raise InvalidParameterError(
                f"{name} must be symmetric (relative asymmetry {asym:.3g} > {sym_tol:g}); "
                "symmetrise it yourself if that is intended")
    return K


def check_test_kernel(K_test, n_train: int, name: str = "K_test") -> np.ndarray:
    """A finite (m, n_train) kernel between test and training points (1-D means one test point)."""
    K_test = check_array(K_test, name)
    if K_test.ndim == 1:
        K_test = K_test[None, :]
    if K_test.ndim != 2 or K_test.shape[1] != n_train:
        raise InvalidParameterError(
            f"{name} must have shape (m, {n_train}) to match the training kernel, "
            f"got {K_test.shape}")
    return K_test


def check_scalar(x, name: str, target_type=numbers.Real, *, min_val=None, max_val=None,
                 include_min: bool = True, include_max: bool = True):
    """Check a scalar's type and range (e.g. ``C > 0``: ``min_val=0, include_min=False``)."""
    if isinstance(x, bool) or not isinstance(x, target_type):
        if target_type is numbers.Real and isinstance(x, np.floating | np.integer):
            x = x.item()
        elif target_type is numbers.Integral and isinstance(x, np.integer):
            x = int(x)
        else:
            raise InvalidParameterError(
                f"{name} must be of type {getattr(target_type, '__name__', target_type)}, "
                f"got {_short(x)} of type {type(x).__name__}")
    if isinstance(x, float) and not np.isfinite(x):
        raise InvalidParameterError(f"{name} must be finite, got {x}")
    if min_val is not None:
        bad = x < min_val if include_min else x <= min_val
        if bad:
            op = ">=" if include_min else ">"
            raise InvalidParameterError(f"{name} == {x}, must be {op} {min_val}.")
    if max_val is not None:
        bad = x > max_val if include_max else x >= max_val
        if bad:
            op = "<=" if include_max else "<"
            raise InvalidParameterError(f"{name} == {x}, must be {op} {max_val}.")
    return x


def check_choice(value, name: str, choices: Iterable[str]) -> str:
    """``value`` must be one of ``choices`` (unknown names list the valid ones)."""
    choices = list(choices)
    if value not in choices:
        raise InvalidParameterError(
            f"unknown {name} {value!r}; expected one of: {', '.join(map(str, choices))}")
    return value


def check_labels(y, n: int | None = None, name: str = "y", *,
                 n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validate integer class labels.

    Returns ``(classes, codes)``: the sorted distinct label values and each label's index
    into them. ``±1`` and ``{0, 1}`` are both accepted for binary tasks; with ``n_classes``
    given, labels must be integers in ``0..n_classes-1``.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise InvalidParameterError(f"{name} must be 1-D, got shape {y.shape}")
    if n is not None and y.shape[0] != n:
        raise InvalidParameterError(
            f"{name} must have {n} entries to match the kernel, got {y.shape[0]}")
    if y.size == 0:
        raise InvalidParameterError(f"{name} must not be empty")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise InvalidParameterError(f"{name} must hold integer class labels, got {_short(y)}")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iub":
        raise InvalidParameterError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if n_classes is not None:
        bad = (y < 0) | (y >= n_classes)
        if np.any(bad):
            raise InvalidParameterError(
                f"{name} has labels outside 0..{n_classes - 1}: {sorted(set(y[bad].tolist()))[:5]}")
        classes = np.arange(n_classes)
        return classes, y
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size > 2 and not np.array_equal(classes, np.arange(classes.size)):
        raise InvalidParameterError(
            f"{name}: multiclass labels must be 0..K-1 with every class present; got labels "
            f"{classes.tolist()[:10]} (outside the class range 0..{classes.size - 1})")
    return classes, codes.astype(np.int64)


def check_budgets(budgets, n: int, name: str = "budget") -> list[int]:
    """Integer budgets in ``0..n`` (a single int or a sequence), returned sorted and unique."""
    if isinstance(budgets, numbers.Integral) and not isinstance(budgets, bool):
        budgets = [int(budgets)]
    if not isinstance(budgets, Sequence | np.ndarray) or len(budgets) == 0:
        raise InvalidParameterError(f"{name} must be an integer or a non-empty list of integers, "
                                    f"got {_short(budgets)}")
    out = []
    for b in budgets:
        if isinstance(b, bool) or not isinstance(b, numbers.Integral):
            raise InvalidParameterError(f"{name} entries must be integers, got {_short(b)}")
        if b < 0 or b > n:
            raise InvalidParameterError(
                f"{name} == {b} is out of range: must be between 0 and n = {n} "
                "(the number of labelled training points)")
        out.append(int(b))
    return sorted(set(out))


def check_kernel_psd(K: np.ndarray, name: str = "K", *, rel_tol: float = 1e-8) -> None:
    """A training kernel must be positive semi-definite (a Gram matrix).

    A negative diagonal entry ``K_ii = k(x_i, x_i) < 0`` is impossible for a kernel: error.
    Otherwise, if ``λ_min(K) < −rel_tol · max_i Σ_j |K_ij|``, a :class:`UserWarning` says
    what the certificate then means: the SVM dual is non-convex, retraining finds *a* KKT
    point (paths that rely on it give ``unknown`` when it does not converge), and the MILP
    certifies over *every* KKT point of every relabelling — still sound for a trainer that
    stops at any of them, but about that set, not one global optimum.
    """
    d = np.diag(K)
    if np.any(d < 0):
        i = int(np.argmin(d))
        raise InvalidParameterError(
            f"{name} is not a kernel matrix: diagonal entry {name}[{i},{i}] = {d[i]:.3g} < 0 "
            "(k(x, x) >= 0 for every kernel)")
    scale = float(np.max(np.abs(K).sum(axis=1)))
    if scale == 0:
        return
    shift = rel_tol * scale
    try:
        np.linalg.cholesky(K + shift * np.eye(K.shape[0]))
        return
    except np.linalg.LinAlgError:
        pass
    lam = float(np.linalg.eigvalsh(K)[0])
    if lam < -shift:
        warnings.warn(
            f"{name} is not positive semi-definite (smallest eigenvalue {lam:.3g}, "
            f"{-lam / scale:.1e} of its scale): the SVM is non-convex; LabelCert certifies "
            "over every KKT point of every relabelling (sound for any trainer that stops at "
            "one), and retraining that does not converge gives unknown", UserWarning,
            stacklevel=3)


def check_test_indices(test_indices, m: int, name: str = "test_indices") -> np.ndarray:
    """``m`` distinct integers (one per test row); floats and duplicates are refused."""
    idx = np.asarray(test_indices)
    if idx.dtype.kind not in "iu":
        raise InvalidParameterError(
            f"{name} must be integers, got dtype {idx.dtype} ({_short(test_indices)})")
    if idx.shape != (m,):
        raise InvalidParameterError(
            f"{name} must have {m} entries (one per row of K_test), got shape {idx.shape}")
    uniq, counts = np.unique(idx, return_counts=True)
    if np.any(counts > 1):
        raise InvalidParameterError(
            f"{name} must be distinct, but {uniq[counts > 1][:5].tolist()} repeat")
    return idx.astype(np.int64)
