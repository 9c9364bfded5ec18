"""Checks of a configuration that need no data: run on every configuration of a sweep before
the first one starts, so a bad later entry never leaves earlier records behind.

Names (dataset, architecture), architecture options (unknown or missing keys, values), and
whether a C is known (given, a reference default, or ``cv``).  Field ranges are checked by
:class:`~certmodel.pipeline.config.CertifyConfig` itself.
"""

from __future__ import annotations

from certmodel import datasets, kernels
from certmodel._validation import check_choice
from certmodel.exceptions import InvalidParameterError
from certmodel.kernels._api import _check_options
from certmodel.kernels._architectures import REGISTRY
from certmodel.pipeline.config import CertifyConfig
from certmodel.pipeline.data import DEFAULT_C, default_C

__all__ = ["validate_config", "missing_C_message"]


def missing_C_message(config: CertifyConfig, saturated_C: float | None = None) -> str:
    """The error for a configuration without a C: names a starting value and ``--cv``."""
    known = sorted({k if isinstance(k, str) else f"{k[0]}/{k[1]}" for k in DEFAULT_C})
    hint = "" if saturated_C is None else (
        f"; for this kernel the SVM is label-linear (ScaLabelCert exact) below "
        f"C = {saturated_C:.3g}")
    return (f"no default C for --dataset {config.dataset} --arch {config.arch} (defaults "
            f"exist for {', '.join(known)}); give --C VALUE (a starting value: --C 0.01, "
            f"the reference's C for karate{hint}) or --cv to choose C by 4-fold "
            "cross-validation over 0.001 … 10")


def validate_config(config: CertifyConfig) -> None:
    """Raise :class:`InvalidParameterError` for what can be checked before loading data."""
    check_choice(config.dataset, "--dataset", datasets.dataset_names())
    check_choice(config.arch, "--arch", kernels.architectures())
    try:
        _check_options(REGISTRY[config.arch], dict(config.arch_options))
    except InvalidParameterError as e:
        raise InvalidParameterError(f"--arch-option: {e}") from None
    if config.C is None and not config.cv and default_C(config) is None:
        raise InvalidParameterError(missing_C_message(config))
