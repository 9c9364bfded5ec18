"""Hard deadlines: run a backend in a child process that is killed when a solve overruns.

A solver's own time limit is not a bound on wall time (HiGHS 1.16 was seen running 37 min
past ``time_limit=60`` inside presolve, where no in-process alarm could interrupt it).
:class:`IsolatedBackend` wraps any backend class: the native model lives in one child
process; ``solve`` waits at most ``time_limit + kill_grace`` seconds for the answer, then
kills the child and returns ``Termination.TIME_LIMIT`` with no incumbent and no bound (so
the verdict is ``unknown``) and the reason in ``log`` / ``extra["killed"]``.  The next call
starts a fresh child and replays ``load``, the current objective and column bounds.

The child is forked from a ``forkserver`` that has imported only the backend modules (no
JAX threads, no HiGHS scheduler), so starting one costs milliseconds once that server runs
(the server itself starts once per process, ≈ 1 s, at the first solve); its stdout
is pointed at stderr, so nothing a solver prints can reach ``--json -``.  Where a child
cannot be started (e.g. inside a daemonic worker process) the backend runs in-process with
its own time limit only, and says so once with a ``RuntimeWarning``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from certmodel.backends.base import (
    Backend,
    DecisionTarget,
    SolveOptions,
    SolveResult,
    Termination,
    backend_class,
)
from certmodel.deadline import KILL_GRACE
from certmodel.standard_form import Sense, StandardForm

__all__ = ["IsolatedBackend", "isolated"]

_CTX = None
_WARNED = False


def _context():
    global _CTX
    if _CTX is None:
        try:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["certmodel.backends.isolated"])
        except ValueError:  # no forkserver on this platform
            ctx = multiprocessing.get_context("spawn")
        _CTX = ctx
    return _CTX


def _portable_form(form: StandardForm) -> StandardForm:
    """The form without its Pyomo objects (they do not cross processes)."""
    return dataclasses.replace(form, columns=[None] * form.n_cols, _index={})


def _serve(conn, target, options) -> None:
    """Child process: build the backend, then answer ``(method, args, kwargs)`` messages."""
    try:
        os.dup2(2, 1)  # whatever a solver prints goes to stderr, never to stdout
    except OSError:
        pass
    cls = backend_class(target) if isinstance(target, str) else target
    backend = cls(options)
    while True:
        try:
            method, args, kw = conn.recv()
        except (EOFError, OSError):
            return
        if method == "close":
            return
        try:
            out = getattr(backend, method)(*args, **kw)
        except BaseException as e:  # noqa: BLE001 - the parent re-raises it
            out, e_out = None, e
        else:
            e_out = None
        try:
            if e_out is None:
                conn.send(("ok", out))
            else:
                try:
                    conn.send(("err", e_out))
                except (BrokenPipeError, EOFError, ConnectionError):
                    raise
                except Exception:  # noqa: BLE001 - an unpicklable exception
                    conn.send(("err", RuntimeError(f"{type(e_out).__name__}: {e_out}")))
        except (BrokenPipeError, EOFError, ConnectionError):
            return  # the parent gave up on this solve (hard deadline) and closed the pipe


class IsolatedBackend(Backend):
    """Any backend, run in a killable child process (see the module docstring).

    Parameters
    ----------
    inner : Backend subclass
        The backend to isolate (built-in, plug-in or ``pyomo:<name>``).
    options : SolveOptions, optional
    kill_grace : float
        Seconds past a solve's ``time_limit`` before the child is killed.
    """

    def __init__(self, inner: type[Backend], options: SolveOptions | None = None, *,
                 kill_grace: float = KILL_GRACE):
        super().__init__(options)
        self.inner = inner
        self.name = inner.name
        self.features = inner.features
        self.max_size = inner.max_size
        self.kill_grace = float(kill_grace)
        self._proc = None
        self._conn = None
        self._objective: tuple | None = None
        self._bounds: tuple | None = None
        self._in_process: Backend | None = None
        self.kills = 0

    @classmethod
    def available(cls) -> bool:
        return True

    def version(self) -> str:  # type: ignore[override]
        return self.inner.version()

    # ------------------------------------------------------------------ child management
    def _target(self):
        """What the child builds: the class itself (pickled by reference), or the name of a
        ``pyomo:<solver>`` class (those are made at run time, the child makes its own)."""
        if self.inner.name.startswith("pyomo:"):
            return self.inner.name
        return self.inner

    def _start(self) -> bool:
        global _WARNED
        ctx = _context()
        parent, child = ctx.Pipe()
        try:
            proc = ctx.Process(target=_serve, args=(child, self._target(), self.options),
                               daemon=True)
            proc.start()
        except (AssertionError, OSError, RuntimeError) as e:  # e.g. in a daemonic process
            if not _WARNED:
                _WARNED = True
                warnings.warn(f"solves run in-process without a hard deadline (no child "
                              f"process: {e}); only the solver's own time limit applies",
                              RuntimeWarning, stacklevel=3)
            self._in_process = self.inner(self.options)
            return False
        child.close()
        self._proc, self._conn = proc, parent
        return True

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        """Stop the child process (also done when the object is garbage-collected)."""
        if self._conn is not None:
            try:
                self._conn.send(("close", (), {}))
            except (OSError, ValueError):
                pass
        if self._proc is not None:
            self._proc.join(1)
        self._kill()

    def __del__(self):
        try:
            self._kill()
        except Exception:  # noqa: BLE001
            pass

    def _call(self, method: str, *args, timeout: float | None = None, **kw):
        """Run ``method`` in the child; ``(True, value)`` or ``(False, None)`` on time-out."""
        if self._in_process is not None:
            return True, getattr(self._in_process, method)(*args, **kw)
        if self._proc is None or not self._proc.is_alive():
            self._respawn()
            if self._in_process is not None:
                return True, getattr(self._in_process, method)(*args, **kw)
        self._conn.send((method, args, kw))
        if not self._conn.poll(timeout):
            self._kill()
            self.kills += 1
            return False, None
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError) as e:  # the child died (crash, out of memory)
            self._kill()
            raise ChildCrashed(f"{self.name} solver process died: {e}") from None
        if status == "err":
            raise value
        return True, value

    def _respawn(self) -> None:
        self._kill()
        if not self._start() or self.form is None:
            if self._in_process is not None and self.form is not None:
                self._replay(self._in_process)
            return
        for method, args in self._replay_calls():
            self._conn.send((method, args, {}))
            status, value = self._conn.recv()
            if status == "err":
                raise value

    def _replay_calls(self):
        yield "load", (_portable_form(self.form),)
        if self._objective is not None:
            yield "set_objective", self._objective
        if self._bounds is not None:
            yield "set_column_bounds", self._bounds

    def _replay(self, backend: Backend) -> None:
        for method, args in self._replay_calls():
            getattr(backend, method)(*args)

    # ------------------------------------------------------------------ protocol
    def load(self, form: StandardForm) -> None:
        self.inner.check_form(form)
        self.form = form
        self._objective = self._bounds = None
        self._respawn()

    def set_objective(self, c: np.ndarray, c0: float, sense: Sense) -> None:
        self._require_loaded()
        self._objective = (np.asarray(c, dtype=float).copy(), float(c0), Sense(sense))
        self._call("set_objective", *self._objective)

    def set_column_bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        self._require_loaded()
        self._bounds = (np.asarray(lower, dtype=float).copy(),
                        np.asarray(upper, dtype=float).copy())
        self._call("set_column_bounds", *self._bounds)

    def write(self, path: str | Path) -> Path:
        self._require_loaded()
        return self._call("write", Path(path))[1]

    def solve(self, *, warm_start: np.ndarray | None = None,
              decision: DecisionTarget | None = None,
              options: SolveOptions | None = None) -> SolveResult:
        """Solve in the child; killed after ``time_limit + kill_grace`` seconds."""
        self._require_loaded()
        opts = options or self.options
        limit = None if opts.time_limit is None else opts.time_limit + self.kill_grace
        t0 = time.perf_counter()
        try:
            done, res = self._call("solve", warm_start=warm_start, decision=decision,
                                   options=options, timeout=limit)
        except ChildCrashed as e:
            return self._failed(Termination.ERROR, time.perf_counter() - t0, str(e),
                                {"crashed": True})
        if done:
            return res
        wall = time.perf_counter() - t0
        msg = (f"{self.name} ignored its time limit of {opts.time_limit:g} s: killed after "
               f"{wall:.1f} s (limit + {self.kill_grace:g} s grace)")
        return self._failed(Termination.TIME_LIMIT, wall, msg, {"killed": True})

    def _failed(self, termination, runtime: float, msg: str, extra: dict[str, Any]
                ) -> SolveResult:
        sense = self._objective[2] if self._objective is not None else self.form.sense
        return SolveResult(termination=termination, incumbent=None, bound=None, x=None,
                           sense=sense, runtime=runtime, solver_name=self.name,
                           solver_version="", log=msg, extra=dict(extra, message=msg))


class ChildCrashed(RuntimeError):
    """The solver's child process died while solving."""


def isolated(inner: type[Backend], options: SolveOptions | None = None) -> Backend:
    """``inner(options)``, run in a killable child when ``options.time_limit`` is set."""
    options = options or SolveOptions()
    if options.time_limit is None or os.environ.get("CERTMODEL_HARD_DEADLINE") == "0":
        return inner(options)
    return IsolatedBackend(inner, options)
