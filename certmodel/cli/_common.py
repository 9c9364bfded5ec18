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

__all__ = ["BadInput", "CertmodelGroup", "parse_int_list", "parse_float_list", "write_json",
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


def check_json_target(path: str | None) -> None:
    """Fail early (exit 2) if the JSON output's folder does not exist."""
    if path is None or path == "-":
        return
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise BadInput(f"--json: folder {parent} does not exist")


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
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def console(stderr: bool = False):
    """A rich console (stdout, or stderr when stdout carries JSON)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


@contextlib.contextmanager
def progress_bar(description: str, *, quiet: bool = False):
    """Yield ``update(done, total)``: a rich progress bar with ETA on stderr.

    Silent with ``quiet`` or when stderr is not a terminal.
    """
    if quiet or not sys.stderr.isatty():
        yield lambda done, total: None
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
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
