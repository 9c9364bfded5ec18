"""Shared CLI plumbing: exit codes, argument parsers, atomic JSON output, progress bars."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import traceback
from pathlib import Path

import click

from certmodel.exceptions import (
    BackendUnavailableError,
    DatasetError,
    InvalidParameterError,
)

__all__ = ["BadInput", "CertmodelGroup", "parse_int_list", "parse_float_list",
           "parse_key_values", "check_json_target", "check_store_target",
           "check_scheduler_address", "write_json",
           "progress_bar", "console"]

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(click.ClickException):
    """A user mistake: message on stderr, exit code 2, no traceback."""

    exit_code = EXIT_BAD_INPUT


class CertmodelGroup(click.Group):
    """A click group mapping package errors to exit codes (2 bad input, 1 internal error)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort,
                KeyboardInterrupt):
            raise
        except (InvalidParameterError, DatasetError, BackendUnavailableError) as e:
            raise BadInput(str(e)) from None
        except Exception as e:  # noqa: BLE001 - an internal error, reported without traceback
            if os.environ.get("CERTMODEL_DEBUG"):
                traceback.print_exc()
            click.echo(f"Internal error: {type(e).__name__}: {e}\n"
                       "(set CERTMODEL_DEBUG=1 for the traceback)", err=True)
            ctx.exit(EXIT_INTERNAL)


def parse_int_list(ctx, param, value):
    """click callback: ``"1,2,5"`` -> ``(1, 2, 5)`` (non-negative integers)."""
    if value is None:
        return None
    try:
        out = tuple(int(v) for v in str(value).split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers like 1,2,5, got {value!r}",
                                 ctx=ctx, param=param) from None
    if not out or any(v < 0 for v in out):
        raise click.BadParameter(f"expected non-negative integers like 1,2,5, got {value!r}",
                                 ctx=ctx, param=param)
    return out


def parse_float_list(ctx, param, value):
    """click callback: ``"0.05,0.1"`` -> ``(0.05, 0.1)`` (fractions in [0, 1])."""
    if value is None:
        return None
    try:
        out = tuple(float(v) for v in str(value).split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated fractions like 0.05,0.1, "
                                 f"got {value!r}", ctx=ctx, param=param) from None
    if not out or any(not 0 <= v <= 1 for v in out):
        raise click.BadParameter(f"expected fractions in [0, 1] like 0.05,0.1, got {value!r}",
                                 ctx=ctx, param=param)
    return out


def parse_key_values(ctx, param, values):
    """click callback: ``("alpha=0.1", "skip_branch=relu")`` -> ``{"alpha": 0.1, ...}``.

    Values are read as JSON when they parse (numbers, ``true``/``false``, quoted strings),
    else kept as text.
    """
    import json

    out = {}
    for item in values or ():
        key, sep, text = str(item).partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE like alpha=0.1, got {item!r}",
                                     ctx=ctx, param=param)
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out[key.strip()] = value
    return out


def check_json_target(path: str | None, option: str = "--json") -> None:
    """Fail early (exit 2, before any computation) if ``path`` cannot be written."""
    if path is None or path == "-":
        return
    target = Path(path)
    parent = target.resolve().parent
    if target.is_dir():
        raise BadInput(f"{option} {path}: is a folder; give a file name, e.g. {path}/out.json")
    if not parent.is_dir():
        raise BadInput(f"{option}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"{option} {path}: folder {parent} is not writable")
    if target.exists() and not os.access(target, os.W_OK):
        raise BadInput(f"{option} {path}: file exists and is not writable")


_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_store_target(path: str | None) -> None:
    """Fail early (exit 2) unless ``path`` is absent, empty or an SQLite database file."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise BadInput(f"--store {path}: is a folder; give a file name, e.g. "
                       f"{path}/results.sqlite")
    if target.exists():
        with open(target, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
        if head and head != _SQLITE_MAGIC:
            raise BadInput(f"--store {path}: not an SQLite results store (the file exists "
                           "and is something else); give a new file name or an existing store")
    elif not Path(target.resolve().parent).is_dir():
        raise BadInput(f"--store: folder {target.resolve().parent} does not exist")


_SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


def check_scheduler_address(address: str | None) -> None:
    """Fail fast (exit 2) unless ``address`` looks like ``tcp://HOST:PORT``."""
    if address is None:
        return
    scheme, sep, rest = str(address).partition("://")
    host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not sep or scheme not in _SCHEMES or not rest or (port and not port.isdigit()) \
            or (scheme in ("tcp", "tls") and (not host or not port)):
        raise BadInput(f"--scheduler {address!r}: expected a dask scheduler address like "
                       f"tcp://HOST:PORT (schemes: {', '.join(_SCHEMES)})")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file + rename); ``-`` is stdout."""
    if path == "-":
        click.echo(text)
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: use the mode open() would
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def console(stderr: bool = False):
    """A rich console (stdout, or stderr when stdout carries JSON)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


PROGRESS_INTERVAL_ENV = "CERTMODEL_PROGRESS_INTERVAL"


@contextlib.contextmanager
def _progress_lines(description: str, unit: str, interval: float):
    """Yield ``update(done, total)``; a thread prints ``description: done/total unit`` every
    ``interval`` seconds to stderr (for logs and pipes, where a bar cannot redraw)."""
    import threading
    import time

    state = {"done": 0, "total": None}
    stop = threading.Event()
    t0 = time.monotonic()

    def report():
        while not stop.wait(interval):
            total = "?" if state["total"] is None else state["total"]
            click.echo(f"{description}: {state['done']}/{total} {unit} "
                       f"({time.monotonic() - t0:.0f} s)", err=True)

    thread = threading.Thread(target=report, daemon=True)
    thread.start()

    def update(done: int, total: int) -> None:
        state["done"], state["total"] = done, total

    try:
        yield update
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def progress_bar(description: str, *, quiet: bool = False, unit: str = "records"):
    """Yield ``update(done, total)``: a rich progress bar with ETA on stderr.

    Silent with ``quiet``.  When stderr is not a terminal (a pipe, a log file) a line
    ``description: done/total records (elapsed)`` is printed every 30 s instead (seconds from
    ``$CERTMODEL_PROGRESS_INTERVAL``).
    """
    if quiet:
        yield lambda done, total: None
        return
    if not sys.stderr.isatty():
        try:
            interval = float(os.environ.get(PROGRESS_INTERVAL_ENV, "30"))
        except ValueError:
            interval = 30.0
        with _progress_lines(description, unit, max(interval, 0.05)) as update:
            yield update
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn(unit),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
