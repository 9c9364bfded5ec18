"""One exception hierarchy for the whole package.

Every error raised on purpose by certmodel derives from :class:`CertModelError`; errors
about user input also derive from the matching built-in (``ValueError`` ...) so that
existing ``except ValueError`` clauses keep working.
"""


class CertModelError(Exception):
    """Base class of every error raised on purpose by certmodel."""


class InvalidParameterError(CertModelError, ValueError, TypeError):
    """An argument has a wrong value, shape or type; the message names it and what was expected."""


class NotFittedError(CertModelError, ValueError, AttributeError):
    """A learner was used before ``fit``."""


class DatasetError(CertModelError, ValueError):
    """A dataset file is corrupt, has the wrong checksum or an unexpected layout."""


class MissingDataError(DatasetError, FileNotFoundError):
    """A dataset file was not found; the message names the file and where it was looked for."""


class FormulationError(CertModelError):
    """A MILP cannot be formulated soundly (e.g. a big-M value cannot be bounded)."""


class BackendUnavailableError(CertModelError, ImportError):
    """A solver backend is unknown, not installed, or not licensed for this model."""


class SolverError(CertModelError, RuntimeError):
    """A solver failed in a way that is not a normal termination (wrapped native error)."""
