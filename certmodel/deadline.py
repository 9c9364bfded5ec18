"""Wall-clock deadlines shared by every stage that decides one record.

A :class:`Deadline` is fixed when a record's work starts (``Deadline.after(time_limit)``)
and handed to each stage: the attack and the enumeration poll :meth:`Deadline.expired`
between batches, the MILP gets :meth:`Deadline.remaining` as its solver time limit and is
run where it can be killed at the deadline plus :data:`KILL_GRACE` seconds
(:class:`certmodel.backends.isolated.IsolatedBackend`).  A stage that runs out of time
returns ``unknown`` with :data:`REASON` as the reason, never a partial verdict.

``Deadline.after(None)`` never expires, so code can always take a deadline.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import time

__all__ = ["Deadline", "DeadlineExceeded", "KILL_GRACE", "REASON", "stage_time_limit",
           "stage_deadline"]

KILL_GRACE = 2.0
"""Seconds past the deadline before a solve that ignores its own time limit is killed."""

REASON = "deadline"
"""The ``solver_status`` / reason of a record whose deadline passed."""


class DeadlineExceeded(Exception):
    """Raised by :meth:`Deadline.check` once the deadline has passed."""


@dataclasses.dataclass(frozen=True)
class Deadline:
    """An absolute wall-clock deadline (``time.monotonic()`` seconds; ``inf``: none)."""

    at: float = math.inf
    limit: float | None = None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """The deadline ``seconds`` from now (``None``: never)."""
        if seconds is None:
            return cls()
        if not seconds > 0:
            raise ValueError(f"deadline seconds == {seconds}, must be > 0 or None")
        return cls(at=time.monotonic() + float(seconds), limit=float(seconds))

    @property
    def finite(self) -> bool:
        return math.isfinite(self.at)

    def remaining(self) -> float | None:
        """Seconds left (``>= 0``), or ``None`` without a deadline."""
        if not self.finite:
            return None
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return self.finite and time.monotonic() >= self.at

    def check(self, what: str = "") -> None:
        """Raise :class:`DeadlineExceeded` once expired (``what`` names the stage)."""
        if self.expired():
            raise DeadlineExceeded(
                f"time limit of {self.limit:g} s reached" + (f" during {what}" if what else ""))

    def solver_time_limit(self, floor: float = 1e-3) -> float | None:
        """What to pass as a solver's own time limit (at least ``floor`` seconds)."""
        rem = self.remaining()
        return None if rem is None else max(floor, rem)


_STAGE_LIMIT: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "certmodel_stage_time_limit", default=None)


@contextlib.contextmanager
def stage_time_limit(seconds: float | None):
    """Within the block, every stage that calls :func:`stage_deadline` (enumeration, attack)
    stops ``seconds`` after it started (``None``: no limit).  Set by ``labelcert.certify``
    from ``LabelCertOptions.time_limit``."""
    token = _STAGE_LIMIT.set(seconds)
    try:
        yield
    finally:
        _STAGE_LIMIT.reset(token)


def stage_deadline() -> Deadline:
    """The deadline of a stage starting now, under the current :func:`stage_time_limit`."""
    return Deadline.after(_STAGE_LIMIT.get())
