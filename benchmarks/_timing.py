"""Wall and CPU seconds for the benchmarks (the machines are shared: wall time alone misleads).

CPU seconds are ``getrusage`` user + system time of this process *and* of its waited-for
children, so solvers run in child processes (CBC, GLPK, ...) are counted too.  Children's
time only shows up once they have been waited for.

    with Timer() as t:
        work()
    print(f"{t.wall:.2f} s wall, {t.cpu:.2f} CPU-s")

    t = Timer(); step(); t.stop()     # the same without a ``with`` block
"""

from __future__ import annotations

import resource
import time


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for children so far."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class Timer:
    """Wall and CPU seconds since creation; ``stop()`` (or leaving the ``with``) freezes them.

    ``wall`` and ``cpu`` read the live values until then.
    """

    def __init__(self) -> None:
        self._w0, self._c0 = time.perf_counter(), cpu_seconds()
        self._w1 = self._c1 = None

    def stop(self) -> Timer:
        self._w1, self._c1 = time.perf_counter(), cpu_seconds()
        return self

    def __enter__(self) -> Timer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def wall(self) -> float:
        return (self._w1 if self._w1 is not None else time.perf_counter()) - self._w0

    @property
    def cpu(self) -> float:
        return (self._c1 if self._c1 is not None else cpu_seconds()) - self._c0

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall / {self.cpu:.2f} CPU-s"
