"""Collective LabelCert (Thm 2/4): how many test predictions can one relabelling change?

One MILP per budget over the whole test set (spec §5.3): ``max Σ_t c_t`` with
``s_t p_t ≤ P_t (1 − c_t)``.  The certified count is ``|T| − floor(bound + 1e-6)`` from the
proven upper bound — sound on time-out.  The incumbent relabelling is replayed by retraining
and the test points it really changes are reported as ``attacked``.  In the saturated regime
the same question is a label-linear collective problem (no KKT block).
"""

from __future__ import annotations

import math
import time

import numpy as np

from certmodel.labelcert._options import LabelCertOptions
from certmodel.labelcert._problem import Problem, RetrainFailed, retrain_binary
from certmodel.learners import solve_svm_dual
from certmodel.milp.formulations import CollectiveMILP
from certmodel.results import CollectiveRecord, Path

__all__ = ["certify_collective"]


def certify_collective(prob: Problem, budgets: list[int], opts: LabelCertOptions,
                       ) -> list[CollectiveRecord]:
    y = prob.y_pm
    alpha0 = solve_svm_dual(prob.K, y, prob.C).alpha
    f = prob.K_test @ (y * alpha0)
    signs = np.where(f >= 0, 1.0, -1.0)
    out = []
    for B in budgets:
        t0 = time.perf_counter()
        clean_changed = np.flatnonzero(signs * f <= 0)
        if B == 0:
            bound = float(len(clean_changed))
            out.append(CollectiveRecord(
                budget=0, n_test=prob.m, certified_count=prob.m - len(clean_changed),
                bound=bound, incumbent=len(clean_changed), method="labelcert",
                path=Path.TRIVIAL, test_indices=tuple(prob.test_indices),
                attacked=tuple(prob.test_indices[clean_changed]), relabelling={},
                wall_time=time.perf_counter() - t0))
            continue
        model = CollectiveMILP(prob.K, y, prob.C, B, prob.K_test, signs,
                               linearization=opts.linearization, backend=opts.backend,
                               options=opts.solver_options())
        x0 = model.start(np.zeros(prob.n, bool), alpha0) if opts.warm_start else None
        res = model.solve_count(warm_start=x0)
        bound = float(res.bound) if res.bound is not None else float(prob.m)
        bound = min(bound, float(prob.m))
        certified = prob.m - min(prob.m, math.floor(bound + 1e-6))
        relab, attacked, incumbent = None, (), None
        z = None
        if res.has_solution:
            flips = model.flips_of(res.x)
            try:
                z = retrain_binary(prob.K, np.where(flips, -y, y), prob.C)
            except RetrainFailed:  # the count bound stays valid; only the replay is lost
                z = None
        if z is not None:
            changed = np.flatnonzero(signs * (prob.K_test @ z) <= 0)
            relab = prob.relabelling_from_flips(flips)
            attacked = tuple(prob.test_indices[changed])
            incumbent = len(changed)
        out.append(CollectiveRecord(
            budget=B, n_test=prob.m, certified_count=int(max(0, certified)), bound=bound,
            incumbent=incumbent, method="labelcert", path=Path.MILP,
            test_indices=tuple(prob.test_indices), attacked=attacked, relabelling=relab,
            solver_status=res.termination.value, gap=res.gap,
            wall_time=time.perf_counter() - t0, backend=opts.backend,
            extra={"model_size": list(model.size)}))
    return out
