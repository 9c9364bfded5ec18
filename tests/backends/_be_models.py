"""Model factories shared by the backend tests (tiny MILPs with brute-forced optima).

Imported by the ``test_*`` files of this folder (pytest puts the folder on ``sys.path``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap

from certmodel.milp.standard_form import StandardForm, compile_model

# Optimum of hard_knapsack(50, 5, seed=1) (maximisation), proven by Gurobi 13 in 19 s with
# MIPGap=0, MIPGapAbs=0.5 and confirmed by HiGHS 1.15 (kOptimal, about 500 s, 1 thread).
HARD_OPT = 14171.0


def tiny_form() -> StandardForm:
    """max 8a + 11b + 6c + 4d + 2.5 over binaries a..d and 0 <= e <= 2 with
    5a + 7b + 4c + 3d <= 14 (knapsack), 1 <= a + b + c + d <= 3 (ranged row),
    e == a + d (equality row).  Optimum 23.5 (b, c, d), LP relaxation 24.5."""
    m = pyo.ConcreteModel()
    m.a, m.b, m.c, m.d = (pyo.Var(domain=pyo.Binary) for _ in range(4))
    m.e = pyo.Var(bounds=(0, 2))
    m.knap = pyo.Constraint(expr=5 * m.a + 7 * m.b + 4 * m.c + 3 * m.d <= 14)
    m.card = pyo.Constraint(expr=pyo.inequality(1, m.a + m.b + m.c + m.d, 3))
    m.link = pyo.Constraint(expr=m.e - m.a - m.d == 0)
    m.obj = pyo.Objective(expr=8 * m.a + 11 * m.b + 6 * m.c + 4 * m.d + 2.5,
                          sense=pyo.maximize)
    form = compile_model(m)
    form.model = m  # keep the Pyomo model alive for the tests that need its variables
    return form


def tiny_points(form: StandardForm):
    """Every integer point of :func:`tiny_form` (e is determined by the equality row)."""
    m = form.model
    for a, b, c, d in itertools.product((0, 1), repeat=4):
        yield form.vector(ComponentMap([(m.a, a), (m.b, b), (m.c, c), (m.d, d),
                                        (m.e, a + d)]))


def feasible(form: StandardForm, x: np.ndarray, tol: float = 1e-6) -> bool:
    """x satisfies rows, column bounds and integrality of ``form``."""
    ax = form.A @ x
    return bool(np.all(ax >= form.row_lower - tol) and np.all(ax <= form.row_upper + tol)
                and np.all(x >= form.col_lower - tol) and np.all(x <= form.col_upper + tol)
                and np.all(np.abs(x[form.integrality] - np.round(x[form.integrality])) <= tol))


def brute_force(form: StandardForm, c: np.ndarray, c0: float, maximize: bool,
                lower=None, upper=None) -> float | None:
    """Optimum of ``c @ x + c0`` over :func:`tiny_points` (None if infeasible)."""
    best = None
    for x in tiny_points(form):
        if lower is not None and (np.any(x < lower - 1e-9) or np.any(x > upper + 1e-9)):
            continue
        if not feasible(form, x):
            continue
        v = float(c @ x + c0)
        if best is None or (v > best if maximize else v < best):
            best = v
    return best


def infeasible_form() -> StandardForm:
    """Two binaries that must sum to at least 3."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1], domain=pyo.Binary)
    m.c = pyo.Constraint(expr=m.x[0] + m.x[1] >= 3)
    m.o = pyo.Objective(expr=m.x[0] + 2 * m.x[1])
    return compile_model(m)


def lp_form() -> StandardForm:
    """min x + y s.t. x + 2y >= 2, 3x + y >= 3, x, y >= 0: optimum 1.4 at (0.8, 0.6)."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, None))
    m.y = pyo.Var(bounds=(0, None))
    m.c1 = pyo.Constraint(expr=m.x + 2 * m.y >= 2)
    m.c2 = pyo.Constraint(expr=3 * m.x + m.y >= 3)
    m.o = pyo.Objective(expr=m.x + m.y)
    return compile_model(m)


def hard_knapsack_data(n: int = 50, m: int = 5, seed: int = 1):
    """Multi-dimensional 0/1 knapsack (capacities half the row sums, profits correlated
    with weights) from a portable LCG, so the data never depend on numpy's streams."""
    state = seed * 2654435761 % 2**32 or 1
    vals = []
    for _ in range(m * n + n):
        state = (1103515245 * state + 12345) % 2**31
        vals.append(state)
    W = np.array([1 + v % 999 for v in vals[: m * n]], float).reshape(m, n)
    p = np.round(W.sum(0) / m) + np.array([1 + v % 99 for v in vals[m * n:]], float)
    cap = np.floor(W.sum(1) / 2)
    return W, p, cap


def hard_form() -> StandardForm:
    """max p @ x s.t. W x <= cap, x binary (50 columns, 5 rows; optimum :data:`HARD_OPT`).
    Takes HiGHS and Gurobi many seconds with one thread: used for time limits/decisions."""
    W, p, cap = hard_knapsack_data()
    n, rows = W.shape[1], W.shape[0]
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(n), domain=pyo.Binary)
    m.w = pyo.Constraint(range(rows),
                         rule=lambda m, i: sum(W[i, j] * m.x[j] for j in range(n)) <= cap[i])
    m.o = pyo.Objective(expr=sum(p[j] * m.x[j] for j in range(n)), sense=pyo.maximize)
    return compile_model(m)
