"""Sweeps: a grid of configurations from a TOML file (the cartesian product of its lists)."""

from __future__ import annotations

import itertools

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

from certmodel.exceptions import InvalidParameterError
from certmodel.pipeline.config import CertifyConfig

__all__ = ["sweep_configs", "read_sweep"]

_GRID_KEYS = {"datasets": "dataset", "architectures": "arch", "seeds": "seed",
              "modes": "mode", "methods": "method", "normalizations": "normalization",
              "depths": "depth"}


def sweep_configs(doc: dict) -> list[CertifyConfig]:
    """Expand a sweep document into configurations (the grid's cartesian product).

    Keys: grid lists ``datasets``, ``architectures``, ``seeds`` (required) and optional
    ``modes``, ``methods``, ``normalizations``, ``depths``; ``budgets`` or
    ``budget_fractions`` (the budgets of every run); tables ``[options]`` (any
    :class:`CertifyConfig` field for every run), ``[arch_options.ARCH]`` and
    ``[dataset_options.DATASET]``.
    """
    doc = dict(doc)
    known = set(_GRID_KEYS) | {"budgets", "budget_fractions", "options", "arch_options",
                               "dataset_options", "name"}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise InvalidParameterError(
            f"unknown sweep key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(known))}")
    for req in ("datasets", "architectures"):
        if req not in doc:
            raise InvalidParameterError(f"the sweep needs a list {req} = [...]")
    axes = []
    for key, field in _GRID_KEYS.items():
        values = doc.get(key, [0] if key == "seeds" else None)
        if values is None:
            continue
        if not isinstance(values, list) or not values:
            raise InvalidParameterError(f"sweep key {key} must be a non-empty list")
        axes.append([(field, v) for v in values])
    options = dict(doc.get("options", {}))
    arch_opts = doc.get("arch_options", {})
    data_opts = doc.get("dataset_options", {})
    configs = []
    for combo in itertools.product(*axes):
        d = dict(options)
        d.update(combo)
        d["budgets"] = doc.get("budgets")
        d["budget_fractions"] = doc.get("budget_fractions")
        d["arch_options"] = dict(arch_opts.get(d["arch"], {}))
        d["dataset_options"] = dict(data_opts.get(d["dataset"], {}))
        configs.append(CertifyConfig.from_dict(d))
    return configs


def read_sweep(path) -> list[CertifyConfig]:
    """Read a sweep TOML file (see :func:`sweep_configs`)."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise InvalidParameterError(f"sweep file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise InvalidParameterError(f"sweep file {path} is not valid TOML: {e}") from None
    return sweep_configs(doc)
