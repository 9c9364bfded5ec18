"""certmodel: exact robustness certificates against label-flipping poisoning.

>>> import certmodel
>>> K = certmodel.ntk("gcn", X, A)  # doctest: +SKIP
>>> records = certmodel.certify(K_train, y, K_test, C=0.01, budgets=[1, 2])  # doctest: +SKIP

The names below are imported on first use (PEP 562), so ``import certmodel`` is cheap and
loads no solver stack: Pyomo and the backends only when a certificate needs a MILP.

* :func:`certify`, :func:`min_flips` — LabelCert (:mod:`certmodel.labelcert`);
* :func:`ntk` — infinite-width NTKs (:mod:`certmodel.kernels`);
* :mod:`datasets` — graph and image datasets;
* :class:`ThreatModel` — which labels may be flipped, at what cost, to which classes;
* :class:`LabelCertOptions`, :mod:`labelcert`, :mod:`scalabel`, :mod:`ensemble`,
  :mod:`results`, :mod:`pipeline` (data → kernel → certificates → store).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("certmodel")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0+unknown"

# public name -> (module, attribute or None for the module itself)
_LAZY = {
    "certify": ("certmodel.labelcert", "certify"),
    "min_flips": ("certmodel.labelcert", "min_flips"),
    "LabelCertOptions": ("certmodel.labelcert", "LabelCertOptions"),
    "ntk": ("certmodel.kernels", "ntk"),
    "ThreatModel": ("certmodel.threat", "ThreatModel"),
    "datasets": ("certmodel.datasets", None),
    "kernels": ("certmodel.kernels", None),
    "labelcert": ("certmodel.labelcert", None),
    "scalabel": ("certmodel.scalabel", None),
    "ensemble": ("certmodel.ensemble", None),
    "learners": ("certmodel.learners", None),
    "results": ("certmodel.results", None),
    "pipeline": ("certmodel.pipeline", None),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'certmodel' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
