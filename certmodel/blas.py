"""BLAS threads while a certificate runs.

The linear algebra of a certificate is many small problems — retraining the SVM on a
labelled set of tens to a few thousand points, batched warm starts, ``(b, n) @ (n, n)``
products — where BLAS threads cost more in wake-ups than they win.  Measured on 2 cores
(OpenBLAS 0.3.31, numpy 2.4): the budget-8 search of CBA n = 120, test 0, 40 s, visited
the same nodes with OpenBLAS's default 2 threads and with 1, in the same wall time, for
77.6 CPU-s against 41.3.  So :func:`certmodel.labelcert.certify` runs with
``LabelCertOptions.blas_threads = 1`` unless asked otherwise; processes a search is split
over get the caller's setting (:func:`current`).

Implemented with ``threadpoolctl`` (the BLAS libraries numpy and scipy loaded, whichever
they are); it does not touch JAX's own thread pools (the NTKs).
"""

from __future__ import annotations

import contextlib

from threadpoolctl import threadpool_info, threadpool_limits

__all__ = ["blas_threads", "current"]


@contextlib.contextmanager
def blas_threads(n: int | None):
    """Within the block, BLAS uses at most ``n`` threads (``None``: as configured)."""
    if n is None:
        yield
        return
    with threadpool_limits(limits=int(n), user_api="blas"):
        yield


def current() -> int | None:
    """The most threads a loaded BLAS library uses now (``None`` when none is loaded)."""
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else None
