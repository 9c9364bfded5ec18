"""The ``certmodel`` command line (click).  ``main`` is the console-script entry point."""

from certmodel.cli.main import main

__all__ = ["main"]
