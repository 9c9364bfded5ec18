"""Run independent tasks in-process, on local processes or on a dask.distributed cluster."""

from certmodel.parallel.executor import TaskOutcome, default_workers, run_tasks

__all__ = ["TaskOutcome", "run_tasks", "default_workers"]
