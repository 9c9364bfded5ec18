"""Keep solver output off stdout: ``certmodel certify --json -`` must print JSON only.

Solvers write from C (``printf``) straight to file descriptor 1, which
``contextlib.redirect_stdout`` cannot catch (HiGHS prints its banner when a ``Highs`` object
is created, even before ``output_flag`` can be set).  :func:`quiet_stdout` points fd 1 at a
temporary file for the duration of a block (C buffers flushed on both sides) and hands back
what was written, so a backend can keep it as the solve's ``log`` or copy it to stderr.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
import threading

__all__ = ["quiet_stdout"]

_LOCK = threading.RLock()
_libc = None


def _flush_c_stdio() -> None:
    """``fflush(NULL)``: push C-level buffered output to its file descriptor now."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None)
        _libc.fflush(None)
    except (OSError, AttributeError):  # no libc symbol table (exotic platforms)
        pass


class _Captured:
    text: str = ""


@contextlib.contextmanager
def quiet_stdout(*, echo_to_stderr: bool = False):
    """Redirect file descriptor 1 into a temporary file; yields an object whose ``text``
    holds the captured output after the block.  With ``echo_to_stderr`` the output is also
    written to stderr (``--verbose``).  Re-entrant; a no-op where fd 1 is not a real file
    descriptor."""
    captured = _Captured()
    try:
        fd1 = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        os.fstat(fd1)
    except (OSError, ValueError, AttributeError):
        yield captured
        return
    with _LOCK, tempfile.TemporaryFile(mode="w+b") as tmp:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        _flush_c_stdio()
        saved = os.dup(fd1)
        try:
            os.dup2(tmp.fileno(), fd1)
            yield captured
        finally:
            _flush_c_stdio()
            with contextlib.suppress(Exception):
                sys.stdout.flush()
            os.dup2(saved, fd1)
            os.close(saved)
            tmp.seek(0)
            captured.text = tmp.read().decode("utf-8", "replace")
            if echo_to_stderr and captured.text:
                with contextlib.suppress(Exception):
                    sys.stderr.write(captured.text)
                    sys.stderr.flush()


def pyomo_logs_to_stderr() -> None:
    """Point Pyomo's log handler (bound to stdout at import) at stderr: the CLI's stdout may
    carry JSON (``--json -``), and Pyomo warns from destructors, outside any solve."""
    import pyomo.common.log as pyomo_log

    handler = getattr(pyomo_log, "pyomo_handler", None)
    if handler is not None and getattr(handler, "stream", None) is not sys.stderr:
        handler.setStream(sys.stderr)
