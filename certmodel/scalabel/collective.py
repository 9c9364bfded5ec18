"""Collective ScaLabelCert: how many test predictions can ONE relabelling change? (spec §3)

For a label-linear learner there is no inner training problem.  With the adversary's new
labels as one-hot binaries ``o_ik`` (at most ``B`` points changed; binary tasks use flip bits
``φ_i`` and ``y_i = ỹ_i (1 − 2φ_i)``), the margin of test point ``t`` (clean class ``a_t``)
against rival ``b`` is linear:

    M_tb(o) = Σ_i W_ti (o_{i,a_t} − o_{i,b}),      |M_tb| ≤ Σ_i |W_ti| =: U_t.

Per (t, b) a binary ``c_tb`` with ``M_tb ≤ U_t (1 − c_tb)`` (``c_tb = 1`` only if rival ``b``
ties or beats ``a_t``) and ``Σ_b c_tb ≤ 1``; the MILP maximises ``Σ_{t,b} c_tb``, the number of
test predictions changed or tied.  Test points whose sample-wise worst margin at ``B`` is
positive can never change and are left out of the MILP (they are certified for free).

certified count = n_test − floor(bound + 1e-6) with ``bound`` the solver's proven upper bound
(sound on a time-out); the incumbent relabelling is replayed (logits recomputed from ``W``) to
list the test points it actually changes or ties.
"""

from __future__ import annotations

import math
import time
import types

import numpy as np

from certmodel._validation import check_budgets
from certmodel.exceptions import InvalidParameterError
from certmodel.results import CollectiveRecord, Path
from certmodel.scalabel._inputs import prepare
from certmodel.scalabel.certify import DEFAULT_EPS
from certmodel.scalabel.sort import _analyse
from certmodel.threat import resolve_threat

__all__ = ["certify_collective", "replay", "build_collective_model"]


def replay(W, y, relabelling, *, n_classes=None, eps: float = DEFAULT_EPS) -> np.ndarray:
    """Test rows whose prediction a relabelling changes or ties (margin ``≤ eps·Σ|W_t|``).

    ``relabelling`` maps training index -> new label (caller's label values).
    """
    prob = prepare(W, y, n_classes=n_classes, eps=eps)
    return _replay(prob, relabelling)


def _codes_after(prob, relabelling) -> np.ndarray:
    codes = prob.codes.copy()
    lookup = {int(v): k for k, v in enumerate(prob.classes.tolist())}
    for i, lab in (relabelling or {}).items():
        if not 0 <= int(i) < prob.n or int(lab) not in lookup:
            raise InvalidParameterError(f"relabelling entry {i} -> {lab} is not valid")
        codes[int(i)] = lookup[int(lab)]
    return codes


def _logits(W, codes, K):
    Y = np.zeros((W.shape[1], K))
    Y[np.arange(W.shape[1]), codes] = 1.0
    return W @ Y


def _replay(prob, relabelling) -> np.ndarray:
    K = prob.n_classes
    F0 = _logits(prob.W, prob.codes, K)
    a = np.argmax(F0, axis=1)
    F = _logits(prob.W, _codes_after(prob, relabelling), K)
    M = F[np.arange(prob.m), a][:, None] - F
    M[np.arange(prob.m), a] = np.inf
    eps_abs = prob.eps * np.abs(prob.W).sum(axis=1)
    return np.flatnonzero(M.min(axis=1) <= eps_abs)


def build_collective_model(prob, pred, rows, budget, threat=None):
    """Pyomo model of the collective MILP over test rows ``rows`` (see module docstring);
    ``threat`` (a resolved threat model) restricts the adversary block."""
    import pyomo.environ as pyo

    from certmodel.milp.blocks.adversary import add_binary_adversary, add_multiclass_adversary
    from certmodel.milp.blocks.indicators import add_flip_indicators

    W, K = prob.W, prob.n_classes
    model = pyo.ConcreteModel(name="scalabel_collective")
    margins, bounds = {}, {}
    if K == 2:
        y_pm = 2.0 * prob.codes - 1.0
        adv = add_binary_adversary(model, "adversary", y_pm, budget, threat)
        for t in rows:
            s = 1.0 if pred[t] == 1 else -1.0
            nz = np.flatnonzero(W[t])
            key = int(t) * K + 1 - int(pred[t])
            margins[key] = sum(s * float(W[t, i]) * adv.y[int(i)] for i in nz)
            bounds[key] = float(np.abs(W[t]).sum())
    else:
        adv = add_multiclass_adversary(model, "adversary", prob.codes, K, budget, threat)
        for t in rows:
            a = int(pred[t])
            nz = np.flatnonzero(W[t])
            for b in range(K):
                if b == a:
                    continue
                key = int(t) * K + b  # flat (t, b) key: Pyomo unpacks tuple indices
                margins[key] = sum(float(W[t, i]) * (adv.onehot[int(i), a] - adv.onehot[int(i), b])
                                   for i in nz)
                bounds[key] = float(np.abs(W[t]).sum())
    ind = add_flip_indicators(model, "indicators", margins, bounds)
    by_t: dict[int, list[int]] = {}
    for key in margins:
        by_t.setdefault(key // K, []).append(key)
    model.one_rival = pyo.Constraint(
        list(by_t), rule=lambda mdl, t: sum(ind.c[key] for key in by_t[t]) <= 1)
    model.obj = pyo.Objective(expr=ind.count, sense=pyo.maximize)
    return model, adv


def _decode(prob, form, x, adv) -> dict[int, int]:
    if x is None:
        return {}
    rel = {}
    if prob.n_classes == 2:
        for i in range(prob.n):
            if x[form.column_of(adv.flip[i])] > 0.5:
                rel[i] = int(prob.classes[1 - prob.codes[i]])
    else:
        for i in range(prob.n):
            vals = [x[form.column_of(adv.onehot[i, k])] for k in range(prob.n_classes)]
            k = int(np.argmax(vals))
            if k != prob.codes[i]:
                rel[i] = int(prob.classes[k])
    return rel


def certify_collective(W, y, budget: int, *, n_classes=None, test_indices=None,
                       backend: str = "highs", time_limit: float | None = None,
                       eps: float = DEFAULT_EPS, options=None, threat=None) -> CollectiveRecord:
    """Collective certificate for a label-linear learner (one relabelling, all test points).

    Parameters
    ----------
    W, y, n_classes, eps
        As in :func:`certmodel.scalabel.certify`.
    budget : int
        Maximum number of relabelled training points.
    test_indices : sequence of int, optional
        ``test_index`` of each row of ``W`` (default ``0..m-1``).
    backend : str, default="highs"
        Name of a registered MILP backend.
    time_limit : float, optional
        Seconds for the solver (the result stays sound on a time-out).
    options : certmodel.backends.SolveOptions, optional
        Full solver options (``time_limit`` overrides its field when given).
    threat : ThreatModel, optional
        Restricted threat model (flippable mask, per-point costs — ``budget`` is then a cost
        budget —, target classes), enforced by the MILP's adversary block; the record carries
        ``extra["threat"]``.

    Returns
    -------
    CollectiveRecord
        ``certified_count = n_test − floor(bound + 1e-6)``, ``attacked`` = test indices the
        incumbent relabelling changes or ties (replayed), ``path = milp`` (``trivial`` when the
        sample-wise sort already certifies every point or the budget is 0).
    """
    from certmodel.backends import SolveOptions
    from certmodel.milp.standard_form import compile_model

    t0 = time.perf_counter()
    prob = prepare(W, y, n_classes=n_classes, eps=eps)
    resolved = resolve_threat(threat, prob.n, prob.n_classes)
    if isinstance(budget, list | tuple):
        raise InvalidParameterError(f"budget must be a single number, got {budget!r}")
    if resolved.unit_cost:
        (B,) = check_budgets(budget, prob.n)
        B_flips = B  # the most points an admissible relabelling changes
    else:
        from certmodel.labelcert._problem import check_threat_budgets

        (B,) = check_threat_budgets(budget, types.SimpleNamespace(threat=resolved, n=prob.n))
        B_flips = resolved.max_flips(B)
    threat_extra = {} if resolved.model.is_default else {"threat": resolved.model.to_dict()}
    tix = np.arange(prob.m) if test_indices is None else np.asarray(test_indices)
    if tix.shape != (prob.m,) or tix.dtype.kind not in "iu":
        raise InvalidParameterError(f"test_indices must be {prob.m} integers (one per row of W)")
    # rows the unrestricted sort certifies at B_flips cannot be changed by any admissible
    # relabelling either (the admissible set is a subset): only the others enter the MILP
    an = _analyse(prob, (B_flips,), witnesses=False)
    open_rows = np.flatnonzero(an.worst[B_flips] <= an.eps_abs)
    base = dict(budget=B, n_test=prob.m, method="scalabel", test_indices=tuple(tix.tolist()))
    if open_rows.size == 0 or B == 0:
        changed = open_rows  # budget 0: exactly the clean ties
        return CollectiveRecord(
            **base, certified_count=prob.m - changed.size, bound=float(changed.size),
            incumbent=int(changed.size), path=Path.TRIVIAL,
            attacked=tuple(tix[changed].tolist()), relabelling={},
            wall_time=time.perf_counter() - t0, extra={"milp_rows": 0, **threat_extra})
    model, adv = build_collective_model(prob, an.pred, open_rows, B, resolved)
    form = compile_model(model)
    opts = options if options is not None else SolveOptions()
    if time_limit is not None:
        opts = opts.replace(time_limit=time_limit)
    from certmodel.backends.factory import make_backend

    solver = make_backend(backend, opts, form)  # licence cap checked; hard deadline
    solver.load(form)
    res = solver.solve()
    relabelling = _decode(prob, form, res.x, adv) if res.has_solution else {}
    attacked = _replay(prob, relabelling)
    bound = float(res.bound) if res.bound is not None and math.isfinite(res.bound) \
        else float(open_rows.size)
    bound = min(bound, float(open_rows.size))
    changed_max = min(prob.m, max(0, math.floor(bound + 1e-6)))
    return CollectiveRecord(
        **base, certified_count=prob.m - changed_max, bound=bound,
        incumbent=int(attacked.size) if res.has_solution else None, path=Path.MILP,
        attacked=tuple(tix[attacked].tolist()), relabelling=relabelling,
        solver_status=str(res.termination), gap=res.gap, backend=backend,
        wall_time=time.perf_counter() - t0,
        extra={"milp_rows": int(open_rows.size), "n_binaries": form.n_integer,
               "solver_incumbent": res.incumbent, **threat_extra})
