"""Options of the LabelCert certificate pipeline (which exact shortcuts, which solver)."""

from __future__ import annotations

import dataclasses

import numpy as np

from certmodel._validation import check_choice
from certmodel.backends.base import SolveOptions, check_backend_name
from certmodel.exceptions import InvalidParameterError
from certmodel.milp.blocks.kkt import COMPLEMENTARITY, LINEARIZATIONS

__all__ = ["LabelCertOptions", "MODES"]

MODES = ("samplewise", "collective", "multiclass", "multiclass-inexact")


def _check_encoding(backend: str, complementarity: str) -> None:
    """Refuse an encoding the backend cannot load, naming the backends that can."""
    if complementarity == "bigm":
        return
    from certmodel.backends.base import backend_class, backend_names

    def loads(name):
        try:
            cls = backend_class(name)
        except Exception:  # not installed / not importable
            return False
        return cls.available() and complementarity in {f.value for f in cls.features}

    try:
        ok = loads(backend)
    except Exception:
        ok = False
    if not ok:
        have = [n for n in backend_names() if loads(n)]
        raise InvalidParameterError(
            f"complementarity={complementarity!r} needs a backend that loads {complementarity} "
            f"constraints; backend {backend!r} does not (installed ones that do: "
            f"{', '.join(have) or 'none'}); use complementarity='bigm'")


@dataclasses.dataclass(frozen=True)
class LabelCertOptions:
    """How LabelCert decides each (test point, budget).

    Attributes
    ----------
    backend : str
        Solver backend name (``"highs"`` default, ``"gurobi"``, ``"scip"``, an entry-point
        name or ``"pyomo:<solver>"``); checked against the registry (installed backends only).
    time_limit : float or None
        Seconds per MILP solve; a time-out gives ``unknown`` (never ``robust``).
    threads : int
        Solver threads per solve.
    linearization : {"compact", "reference"}
        Stationarity products: n products (compact, default on benchmark evidence) or the
        reference's n² products.
    complementarity : {"bigm", "sos1", "indicator"}
        Reformulation of the SVM's complementarity in every MILP: tight big-M rows (any
        backend), SOS1 sets or indicator constraints (backends with those features, e.g.
        gurobi, scip; others refuse with an error naming them).
    eps : float
        Soundness margin, relative to ``P_t = C Σ_j |K_tj|``: robust iff the proven lower bound
        on the worst margin exceeds ``eps · P_t``.  ``0`` reproduces the reference.
    decision : bool
        Stop each MILP as soon as the verdict is known (instead of optimising).
    warm_start : bool
        Start every MILP from the clean SVM solution (or the attack's best relabelling).
    saturated : bool
        Use the closed form when ``C < 1 / max_i Σ_j |K_ij|`` (every α = C).
    attack : bool
        Run relabelling attacks with exact retraining (binary and multiclass): a greedy
        attack first, a beam attack on the records still open before the search (binary) or
        the MILPs (multiclass).  Only replayed successes count (path ``attack``).
    beam_width : int
        Relabellings the beam attack keeps per step (0: no beam attack; the greedy attack
        is a beam of width 1).  The collective beam starts at this width and widens
        4-fold, up to 16×, while its next run fits in 5 % of ``time_limit``.
    enumeration : {"auto", "always", "never"}
        Enumerate every relabelling (exact retraining) when cheaper than the MILP.
    max_enumeration : int
        ``auto`` enumerates when at most this many relabellings exist (batched retraining,
        ~0.05–0.2 ms each at n = 20–80; one pass serves every test point, so this usually
        beats the MILP: C(40, ≤4) ≈ 10⁵ relabellings take ~15 s).
    search : {"auto", "always", "never"}
        Branch-and-bound over relabellings (:mod:`certmodel.labelcert._search`) for the budgets
        enumeration leaves open.  ``auto`` runs it on the open budgets whose relabelling count
        × measured retrain cost fits the time the MILPs would be allowed (``time_limit`` per
        open record, 60 s when ``time_limit`` is None), capped at that time; what it leaves
        open goes to the MILP (``auto`` is off when ``enumeration="never"``, which forces
        the MILP).  ``always``: every open budget, same cap.
    search_time : float or None
        Explicit cap in seconds for one search call (overrides the cost model's cap, and
        the shares of a collective record's time its screen, search and pairs get).
    search_workers : int
        Local processes one relabelling search is split over — the binary sample-wise
        and collective searches and the inexact multiclass relaxation's per-class searches
        — and the processes the exact multiclass records' (top class, rival) searches run on
        as parallel tasks (:mod:`certmodel.labelcert._rival_search`)
        (:mod:`certmodel.labelcert._split_search`: the root's children
        dealt into parts, merged exactly; a per-class search is split when it has not
        finished within ``SPLIT_MIN_SECONDS`` in this process).  ``1`` (default): every
        search runs in this process.  With more, the cost model divides a binary search's
        estimated time by this number (the MILP allowance is wall time), and searches
        estimated under ``SPLIT_MIN_SECONDS`` still run in this process.  Keep
        ``workers × search_workers`` within the machine's cores.
    search_scheduler : str or None
        A dask.distributed scheduler address (``tcp://HOST:PORT``): the parts of a split
        search run on that cluster (with ``search_workers`` as the cluster's worker count for
        the cost model and the number of parts).
    bound_tightening : bool
        Bound how far retraining can move the SVM under the budget (the stability bound of
        :mod:`certmodel.labelcert._stability`, PSD kernels only): decides robust points
        whose margin exceeds the bound (path ``bound``) and tightens the MILP's product
        bounds and big-M values with valid bounds on ``(K z)_i`` and on the test margins.
    cut_bound : bool or None
        The binary relabelling searches (also the collective screen's) also prune by the
        optimality-cut dual bound (B4) of :mod:`certmodel.labelcert._cutdual`: exact like
        the others, about twice as tight as (B3) for one or two flips; on the C·rowsum-10
        CBA searches (n = 120, budget 8) it shrinks the tree 6–17× and the CPU 2–5×, on CSBM
        it costs about 5 % (docs/benchmarks.md, fourteenth to sixteenth sessions).  Not in
        the collective search over counts, where it cost 1.0–2.5× the CPU for at most 1.8×
        fewer nodes (twentieth session).  ``None`` (default): on wherever
        ``bound_tightening`` is (the searches prune only with its kernel geometry);
        ``True``: on, and refused without ``bound_tightening``; ``False``: off.
    monotone : bool
        Use budget monotonicity (not robust at B ⇒ at B' > B; robust at B ⇒ at B' < B).
    samplewise_screen : bool
        Collective certificates: before the collective MILP, run the sample-wise stages
        without MILPs (attack, bound, enumeration; its searches stop after a quarter of
        ``time_limit`` per budget screened, each search call after one ``time_limit``); points
        proven robust leave the MILP's count, and a replayed witness that changes every other
        point settles the record exactly (path ``samplewise``).
    pair_separation : bool
        Collective certificates: when the collective search over the points the screen left
        open does not finish, bound the count by the largest set of pairwise unseparated
        points, then refute the sets one larger than a replayed count
        (:mod:`certmodel.labelcert._pairs`, path ``pairs`` when it meets that count;
        otherwise a cap on the MILP's bound) for 10 % of the record's time left after
        the screen.
    rivals : {"split", "max"}
        Exact multiclass: one objective per rival on one model, or the max-with-binaries block.
    blas_threads : int or None
        BLAS threads while the certificate runs (:mod:`certmodel.blas`): ``1`` (default) —
        its many small solves and products run faster per CPU second on one thread (same
        wall time, half the CPU seconds on 2 cores, measured); ``None`` leaves BLAS as
        configured.  The MILP solver's own ``threads`` are separate.
    solve_options : SolveOptions or None
        Further solver options (gaps, tolerances, native pass-through).
    """

    backend: str = "highs"
    time_limit: float | None = None
    threads: int = 1
    linearization: str = "compact"
    complementarity: str = "bigm"
    eps: float = 1e-6
    decision: bool = True
    warm_start: bool = True
    saturated: bool = True
    attack: bool = True
    beam_width: int = 32
    enumeration: str = "auto"
    max_enumeration: int = 500_000
    search: str = "auto"
    search_time: float | None = None
    search_workers: int = 1
    search_scheduler: str | None = None
    bound_tightening: bool = True
    cut_bound: bool | None = None
    monotone: bool = True
    samplewise_screen: bool = True
    pair_separation: bool = True
    rivals: str = "split"
    blas_threads: int | None = 1
    solve_options: SolveOptions | None = None

    def __post_init__(self):
        check_choice(self.linearization, "linearization", LINEARIZATIONS)
        check_choice(self.complementarity, "complementarity", COMPLEMENTARITY)
        _check_encoding(self.backend, self.complementarity)
        check_choice(self.enumeration, "enumeration", ("auto", "always", "never"))
        check_choice(self.rivals, "rivals", ("split", "max"))
        check_choice(self.search, "search", ("auto", "always", "never"))
        if self.search_time is not None and not self.search_time > 0:
            raise InvalidParameterError(
                f"search_time == {self.search_time}, must be > 0 or None")
        if not isinstance(self.search_workers, (int, np.integer)) or isinstance(
                self.search_workers, bool) or self.search_workers < 1:
            raise InvalidParameterError(
                f"search_workers == {self.search_workers!r}, must be an integer >= 1")
        if self.search_scheduler is not None and (
                not isinstance(self.search_scheduler, str) or "://" not in self.search_scheduler):
            raise InvalidParameterError(
                f"search_scheduler == {self.search_scheduler!r}, expected a dask scheduler "
                "address like 'tcp://HOST:PORT' or None")
        check_backend_name(self.backend, "backend")
        if isinstance(self.cut_bound, np.bool_):  # numpy's booleans mean what they say
            object.__setattr__(self, "cut_bound", bool(self.cut_bound))
        if self.cut_bound is not None and not isinstance(self.cut_bound, bool):
            raise InvalidParameterError(
                f"cut_bound == {self.cut_bound!r}, expected True, False or None")
        if self.cut_bound is True and not self.bound_tightening:
            raise InvalidParameterError(
                "cut_bound == True needs bound_tightening == True (the searches prune only "
                "with the kernel geometry that bound_tightening enables)")
        if not (self.eps >= 0):
            raise InvalidParameterError(f"eps == {self.eps}, must be >= 0")
        if self.time_limit is not None and not self.time_limit > 0:
            raise InvalidParameterError(f"time_limit == {self.time_limit}, must be > 0 or None")
        if not isinstance(self.beam_width, (int, np.integer)) or isinstance(
                self.beam_width, bool) or self.beam_width < 0:
            raise InvalidParameterError(
                f"beam_width == {self.beam_width!r}, must be an integer >= 0")
        if self.blas_threads is not None and (
                not isinstance(self.blas_threads, (int, np.integer))
                or isinstance(self.blas_threads, bool) or self.blas_threads < 1):
            raise InvalidParameterError(
                f"blas_threads == {self.blas_threads!r}, must be an integer >= 1 or None")
        if self.max_enumeration < 0:
            raise InvalidParameterError(f"max_enumeration == {self.max_enumeration}, must be >= 0")

    def solver_options(self) -> SolveOptions:
        base = self.solve_options or SolveOptions()
        return base.replace(time_limit=self.time_limit, threads=self.threads)

    @classmethod
    def plain(cls, **kw) -> LabelCertOptions:
        """The plain reference pipeline: MILP only, no shortcuts (for benchmarks)."""
        kw.setdefault("linearization", "reference")
        return cls(saturated=False, attack=False, enumeration="never", search="never",
                   monotone=False, samplewise_screen=False, pair_separation=False,
                   decision=False, bound_tightening=False, **kw)

    def replace(self, **changes) -> LabelCertOptions:
        return dataclasses.replace(self, **changes)
