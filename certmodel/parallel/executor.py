"""One task runner, three places to run: in-process, local processes, dask.distributed.

:func:`run_tasks` applies a picklable function to each payload and yields one
:class:`TaskOutcome` per task as soon as it is known, in completion order.  A task that
raises, whose worker process dies, or that exceeds ``timeout`` yields an outcome with
``error`` set; the other tasks go on.

Local processes start from a ``forkserver`` that preloads certmodel (``spawn`` where there
is none), so no process that runs jax or BLAS threads is ever forked.  When a worker dies,
the tasks that were running beside it are re-run one at a time in a one-process pool, so
only the task that really crashes is reported as failed.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
import os
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

__all__ = ["TaskOutcome", "run_tasks", "default_workers"]


@dataclasses.dataclass
class TaskOutcome:
    """What became of one task.

    Attributes
    ----------
    index : int
        Position of the task's payload in the input sequence.
    value : Any
        The function's return value (None on error).
    error : str or None
        ``None`` on success, else a one-line reason (exception, worker crash, time-out).
    wall_time : float
        Seconds from submission to completion, as seen by the caller.
    """

    index: int
    value: Any = None
    error: str | None = None
    wall_time: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def default_workers() -> int:
    """Local worker processes used when none are asked for: the usable cores, at most 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


def run_tasks(fn: Callable[[Any], Any], payloads: Sequence[Any], *, workers: int = 1,
              scheduler: str | None = None, timeout: float | None = None
              ) -> Iterator[TaskOutcome]:
    """Apply ``fn`` to every payload; yield a :class:`TaskOutcome` per task as each finishes.

    Parameters
    ----------
    fn : callable
        Module-level (picklable) function of one payload.
    payloads : sequence
        One payload per task.
    workers : int
        ``1``: run in this process (exceptions are caught, crashes are not isolated);
        ``> 1``: a pool of that many local processes — except in a daemonic process (a
        dask worker, a ``multiprocessing.Pool`` worker), which may not start children:
        there the tasks run in this process.
    scheduler : str, optional
        Address of a dask.distributed scheduler (``tcp://HOST:PORT``); overrides ``workers``.
    timeout : float, optional
        Seconds a task may run before it is abandoned (local processes: the pool is
        restarted; dask: the future is cancelled).  Ignored in-process.
    """
    if scheduler is not None:
        yield from _run_dask(fn, payloads, scheduler, timeout)
    elif workers <= 1 or multiprocessing.current_process().daemon:
        yield from _run_inline(fn, payloads)
    else:
        yield from _run_processes(fn, payloads, workers, timeout)


# ----------------------------------------------------------------------------------------------
# in-process
# ----------------------------------------------------------------------------------------------

def _run_inline(fn, payloads) -> Iterator[TaskOutcome]:
    for i, p in enumerate(payloads):
        t0 = time.perf_counter()
        try:
            value = fn(p)
        except Exception as e:  # noqa: BLE001 - reported as the task's error
            if os.environ.get("CERTMODEL_DEBUG"):
                traceback.print_exc()
            yield TaskOutcome(i, error=_describe(e), wall_time=time.perf_counter() - t0)
        else:
            yield TaskOutcome(i, value=value, wall_time=time.perf_counter() - t0)


# ----------------------------------------------------------------------------------------------
# local processes
# ----------------------------------------------------------------------------------------------

_PRELOAD = ["certmodel.pipeline", "certmodel.labelcert"]


def _context():
    """``forkserver`` where available (a clean server preloads certmodel once, so pools start
    fast and never fork a process that runs jax or BLAS threads), else ``spawn``."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _new_pool(n: int) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(max_workers=n, mp_context=_context())


def _kill_pool(pool: cf.ProcessPoolExecutor | None) -> None:
    if pool is None:
        return
    for p in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            p.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass
    pool.shutdown(wait=False, cancel_futures=True)


_DIED = "worker process died (crash or out of memory)"


def _run_processes(fn, payloads, workers: int, timeout: float | None) -> Iterator[TaskOutcome]:
    pending = list(range(len(payloads)))[::-1]   # a stack: pop() gives task 0 first
    pool: cf.ProcessPoolExecutor | None = None
    solo: cf.ProcessPoolExecutor | None = None   # one-process pool to isolate crash suspects
    running: dict[cf.Future, tuple[int, float]] = {}
    try:
        while pending or running:
            if pool is None:
                pool = _new_pool(workers)
            while pending and len(running) < workers:
                i = pending.pop()
                try:
                    running[pool.submit(fn, payloads[i])] = (i, time.perf_counter())
                except BrokenProcessPool:
                    # a worker died and the pool knows before the futures in flight do:
                    # this task never started; the running ones fail below as suspects
                    pending.append(i)
                    break
            if not running:   # broken with nothing in flight: nobody to blame, start afresh
                _kill_pool(pool)
                pool = None
                continue
            wait_for = None
            if timeout is not None:
                oldest = min(t for _, t in running.values())
                wait_for = max(0.0, oldest + timeout - time.perf_counter())
            done, _ = cf.wait(list(running), timeout=wait_for, return_when=cf.FIRST_COMPLETED)
            suspects: list[int] = []
            for fut in done:
                i, t0 = running.pop(fut)
                try:
                    value = fut.result()
                except BrokenProcessPool:
                    suspects.append(i)
                except Exception as e:  # noqa: BLE001
                    yield TaskOutcome(i, error=_describe(e), wall_time=time.perf_counter() - t0)
                else:
                    yield TaskOutcome(i, value=value, wall_time=time.perf_counter() - t0)
            if suspects:  # a worker died: every task in flight is a suspect
                suspects.extend(i for i, _ in running.values())
                running.clear()
                _kill_pool(pool)
                pool = None
                if len(suspects) == 1:
                    yield TaskOutcome(suspects[0], error=_DIED)
                    continue
                for i in sorted(suspects):  # re-run each alone: only the culprit fails
                    if solo is None:
                        solo = _new_pool(1)
                    outcome = _run_solo(solo, fn, payloads[i], i, timeout)
                    if outcome.error is not None and outcome.error in (_DIED, "timeout"):
                        _kill_pool(solo)
                        solo = None
                    if outcome.error == "timeout":
                        outcome.error = f"task timed out after {timeout:g} s"
                    yield outcome
                continue
            if timeout is not None and not done:
                now = time.perf_counter()
                late = [f for f, (_, t) in running.items() if now - t >= timeout]
                for f in late:
                    i, t0 = running.pop(f)
                    yield TaskOutcome(i, error=f"task timed out after {timeout:g} s",
                                      wall_time=now - t0)
                pending.extend(i for i, _ in running.values())   # restarted, not at fault
                running.clear()
                _kill_pool(pool)
                pool = None
    finally:
        for p in (pool, solo):
            if p is not None:
                _kill_pool(p) if running else p.shutdown(wait=True, cancel_futures=True)


def _run_solo(pool, fn, payload, i, timeout) -> TaskOutcome:
    t0 = time.perf_counter()
    try:
        value = pool.submit(fn, payload).result(timeout=timeout)
    except cf.TimeoutError:
        return TaskOutcome(i, error="timeout", wall_time=time.perf_counter() - t0)
    except BrokenProcessPool:
        return TaskOutcome(i, error=_DIED, wall_time=time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001
        return TaskOutcome(i, error=_describe(e), wall_time=time.perf_counter() - t0)
    return TaskOutcome(i, value=value, wall_time=time.perf_counter() - t0)


# ----------------------------------------------------------------------------------------------
# dask.distributed
# ----------------------------------------------------------------------------------------------

def _run_dask(fn, payloads, address: str, timeout: float | None) -> Iterator[TaskOutcome]:
    try:
        from distributed import Client, as_completed
    except ImportError as e:
        raise ImportError("--scheduler needs dask.distributed: "
                          "pip install 'certmodel[distributed]'") from e
    try:
        client = Client(address, set_as_default=False, timeout="30s")
    except (OSError, TimeoutError, ValueError) as e:
        from certmodel.exceptions import InvalidParameterError

        raise InvalidParameterError(
            f"--scheduler {address}: cannot connect to a dask scheduler ({e})") from None
    try:
        tag = uuid.uuid4().hex[:8]
        futures = {}
        t0 = time.perf_counter()
        for i, p in enumerate(payloads):
            fut = client.submit(fn, p, pure=False, key=f"certmodel-{tag}-{i}")
            futures[fut] = i
        left = set(futures)
        deadline = None if timeout is None else t0 + timeout * max(1, len(payloads))
        ac = as_completed(list(futures), loop=client.loop)
        while left:
            try:
                wait_s = None if deadline is None else max(0.0, deadline - time.perf_counter())
                fut = _next_within(ac, wait_s)
            except TimeoutError:
                for f in left:
                    f.cancel()
                    yield TaskOutcome(futures[f], error=f"task timed out (limit {timeout:g} s)",
                                      wall_time=time.perf_counter() - t0)
                return
            left.discard(fut)
            i = futures[fut]
            try:
                value = fut.result()
            except Exception as e:  # noqa: BLE001 - includes KilledWorker
                yield TaskOutcome(i, error=_describe(e), wall_time=time.perf_counter() - t0)
            else:
                yield TaskOutcome(i, value=value, wall_time=time.perf_counter() - t0)
            fut.release()
    finally:
        client.close()


def _next_within(ac, timeout: float | None):
    """The next completed future of a dask ``as_completed``; TimeoutError after ``timeout``."""
    if timeout is None:
        return next(ac)
    end = time.perf_counter() + timeout
    while not ac.has_ready():
        if time.perf_counter() >= end:
            raise TimeoutError
        time.sleep(0.05)
    return next(ac)
