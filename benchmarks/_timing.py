"""Wall and CPU seconds for the benchmarks (the machines are shared: wall time alone misleads).

CPU seconds are user + system time of this process, of its waited-for children
(``getrusage``) and of its *live* descendants with everything they have waited for
(``/proc/<pid>/stat`` on Linux).  The last part matters: ``IsolatedBackend`` runs each MILP
in a grandchild forked from a multiprocessing forkserver, which this process never waits for,
so ``RUSAGE_CHILDREN`` alone would miss the solver time.  A descendant that exits and is
reaped outside this process tree (re-parented to init) is lost.

    with Timer() as t:
        work()
    print(f"{t.wall:.2f} s wall, {t.cpu:.2f} CPU-s")

    t = Timer(); step(); t.stop()     # the same without a ``with`` block
"""

from __future__ import annotations

import os
import resource
import time

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(x) for x in fh.read().split()]
    except OSError:  # not Linux, no CONFIG_PROC_CHILDREN, or the process just exited
        pass
    return out


def _descendants_cpu() -> float:
    """utime + stime + cutime + cstime of every live descendant of this process."""
    ticks, todo = 0, _children(os.getpid())
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += sum(int(x) for x in fields[11:15])  # stat fields 14-17
        todo += _children(pid)
    return ticks / _TICK


def cpu_seconds() -> float:
    """CPU seconds so far of this process, its waited-for children and its live descendants."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime + _descendants_cpu()


class Timer:
    """Wall and CPU seconds since creation; ``stop()`` (or leaving the ``with``) freezes them.

    ``wall`` and ``cpu`` read the live values until then.
    """

    def __init__(self) -> None:
        self._c0, self._w0 = cpu_seconds(), time.perf_counter()
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
