"""The whole certificate pipeline: data → split → NTK → learner → certificates → store.

>>> from certmodel.pipeline import CertifyConfig, run_certify
>>> config = CertifyConfig(dataset="csbm", arch="gcn", budgets=(1, 2, 4))
>>> result = run_certify(config)  # doctest: +SKIP
>>> result.summary()  # doctest: +SKIP

One job per module:

* :mod:`~certmodel.pipeline.config` — :class:`CertifyConfig`, hashing, package version;
* :mod:`~certmodel.pipeline.data` — loading, labelled/test split, budgets, default-C table;
* :mod:`~certmodel.pipeline.fit` — clean SVM / ridge logits, predictions, C by CV;
* :mod:`~certmodel.pipeline.prepare` — :func:`prepare` (data → NTK → clean learner);
* :mod:`~certmodel.pipeline.arrays` — :func:`certify_arrays` (dispatch of one task);
* :mod:`~certmodel.pipeline.execute` — :func:`run_certify` (tasks, workers, store, progress);
* :mod:`~certmodel.pipeline.sweep` — TOML sweeps;
* :mod:`~certmodel.pipeline.validate` — checks that need no data (every sweep entry first).
"""

from certmodel.pipeline.arrays import certify_arrays, certify_task
from certmodel.pipeline.config import (
    LEARNERS,
    METHODS,
    MODES,
    SOLVERS,
    CertifyConfig,
    package_version,
)
from certmodel.pipeline.execute import Interrupted, RunResult, run_certify
from certmodel.pipeline.prepare import Prepared, prepare
from certmodel.pipeline.sweep import read_sweep, sweep_configs
from certmodel.pipeline.validate import validate_config

_certify_task = certify_task  # the worker entry point's former name (tests, pickled payloads)

__all__ = ["CertifyConfig", "RunResult", "Interrupted", "Prepared", "prepare", "run_certify",
           "certify_arrays", "certify_task", "package_version", "read_sweep",
           "sweep_configs", "validate_config", "METHODS", "MODES", "LEARNERS", "SOLVERS"]
