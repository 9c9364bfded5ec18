"""Small shared pieces of the estimator contract (parameters, fitted check, label encoding)."""

from __future__ import annotations

import inspect

import numpy as np

from certmodel._validation import check_labels
from certmodel.exceptions import InvalidParameterError, NotFittedError

__all__ = ["BaseLearner", "encode_labels"]


class BaseLearner:
    """sklearn-style ``get_params``/``set_params``/``__repr__`` from the ``__init__`` signature."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """Hyperparameters as a dict."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params):
        """Set hyperparameters (validated at the next ``fit``); returns ``self``."""
        valid = self._param_names()
        for k, v in params.items():
            if k not in valid:
                raise InvalidParameterError(
                    f"invalid parameter {k!r} for {type(self).__name__}; "
                    f"expected one of: {', '.join(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def _check_is_fitted(self, attr: str = "classes_") -> None:
        if not hasattr(self, attr):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit(K, y) first")

    def score(self, K_test, y) -> float:
        """Accuracy of :meth:`predict` on ``(K_test, y)``."""
        pred = self.predict(K_test)
        y = np.asarray(y)
        if y.shape != pred.shape:
            raise InvalidParameterError(
                f"y must have shape {pred.shape} to match K_test, got {y.shape}")
        return float(np.mean(pred == y))


def encode_labels(y, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and return ``(classes, codes)``; at least two classes are required."""
    classes, codes = check_labels(y, n, "y")
    if classes.size < 2:
        raise InvalidParameterError(
            f"y must contain at least two classes, got only class {classes.tolist()}")
    return classes, codes
