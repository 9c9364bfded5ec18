"""The certificate MILPs, composed from the blocks of :mod:`certmodel.milp.blocks`.

Each class builds its Pyomo model **once** (per labelled set, labels, C and budget),
compiles it to a :class:`~certmodel.milp.standard_form.StandardForm`, loads it into a
backend, and then only swaps the objective per test point (spec §8: never rebuild per node).
``.model`` is open: an edit after construction is picked up at the next solve (structural
fingerprint, :mod:`certmodel.milp.compiled`), never ignored.

==========================  ================================================================
class                       certificate (objective)
==========================  ================================================================
:class:`BinaryMILP`         sample-wise binary, Thm 1: ``min s·p_t`` (one model, all t);
                            also each one-vs-rest sub-problem of the inexact multiclass
                            certificate (App. A.2: ``min p_{k*}`` / ``max p_k`` per class)
:class:`MulticlassMILP`     exact multiclass, Thm 3: ``min p_{k*} − max_{k≠k*} p_k``
                            (``rivals="split"``: one objective ``p_{k*} − p_k`` per rival on
                            one model; ``rivals="max"``: the max block with binaries)
:class:`CollectiveMILP`     collective, Thm 2/4: ``max Σ_t c_t`` over indicator binaries
==========================  ================================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyomo.environ as pyo

from certmodel.backends.base import Backend, DecisionTarget, SolveOptions, SolveResult
from certmodel.milp.blocks import (
    add_binary_adversary,
    add_conflict_cuts,
    add_flip_indicators,
    add_max_over,
    add_multiclass_adversary,
    add_svm_kkt,
    kkt_point,
    logit_bound,
    logit_expression,
)
from certmodel.milp.compiled import CompiledModel
from certmodel.milp.standard_form import Sense, StandardForm

__all__ = ["BinaryMILP", "MulticlassMILP", "CollectiveMILP"]


class _LoadedModel:
    """A model compiled into one backend (:class:`~certmodel.milp.compiled.CompiledModel`):
    edits to :attr:`model` after construction are picked up at the next solve (recompiled,
    column maps rebuilt, objective and warm-start vectors remapped), never ignored."""

    model: pyo.ConcreteModel

    def _load(self, backend: str | Backend, options: SolveOptions | None) -> None:
        self.compiled = CompiledModel(self.model, backend, options)
        self._columns_changed()

    @property
    def form(self) -> StandardForm:
        return self.compiled.form

    @property
    def backend(self) -> Backend:
        return self.compiled.backend

    def _columns_changed(self) -> None:
        """Rebuild the column maps (subclasses); called after every (re)compilation."""

    def refresh(self) -> bool:
        """Recompile now if :attr:`model` was edited; True if it was."""
        if self.compiled.refresh() is None:
            return False
        self._columns_changed()
        return True

    def _cols(self, var, index) -> np.ndarray:
        """Column of each variable, ``-1`` for a fixed one (not a column)."""
        return np.array([self.form._index.get(id(var[k]), -1) for k in index], dtype=np.int64)

    @property
    def size(self) -> tuple[int, int, int]:
        """(columns, rows, integer columns) of the compiled model."""
        return self.form.n_cols, self.form.n_rows, self.form.n_integer

    def write(self, path: str | Path) -> Path:
        """Write the model (with its current objective) as MPS/LP for solver benchmarking."""
        self.refresh()
        return self.backend.write(path)

    def satisfies(self, x: np.ndarray, tol: float = 1e-6) -> bool:
        """Does ``x`` satisfy every constraint of the compiled model (rows, bounds,
        integrality, SOS1 sets, indicator rows) up to a relative ``tol``?  Used to check that
        a witness meets constraints a user added (``certify(..., customize=...)``)."""
        return form_satisfied(self.form, x, tol)

    def solve(self, c: np.ndarray, sense: Sense, *, warm_start: np.ndarray | None = None,
              decision: DecisionTarget | None = None,
              options: SolveOptions | None = None) -> SolveResult:
        """Solve with objective vector ``c`` (in the column layout of the last compilation;
        remapped if the model was edited since)."""
        before = self.compiled.compilations
        res = self.compiled.solve(c, sense, warm_start=warm_start, decision=decision,
                                  options=options)
        if self.compiled.compilations != before:
            self._columns_changed()
        return res


def form_satisfied(form: StandardForm, x: np.ndarray, tol: float = 1e-6) -> bool:
    """``x`` within every row range, column bound, integrality, SOS1 set and indicator row
    of ``form`` up to ``tol`` relative to ``1 + |bound|``."""
    x = np.asarray(x, dtype=float)
    if x.shape != (form.n_cols,) or not np.all(np.isfinite(x)):
        return False

    def slack(v, b):
        return tol * (1.0 + np.abs(np.where(np.isfinite(b), b, 0.0)))

    r = form.A @ x
    if np.any(r < form.row_lower - slack(r, form.row_lower)) or \
            np.any(r > form.row_upper + slack(r, form.row_upper)):
        return False
    if np.any(x < form.col_lower - slack(x, form.col_lower)) or \
            np.any(x > form.col_upper + slack(x, form.col_upper)):
        return False
    xi = x[form.integrality]
    if np.any(np.abs(xi - np.round(xi)) > tol):
        return False
    for cols in form.sos1:
        if np.count_nonzero(np.abs(x[cols]) > tol) > 1:
            return False
    for ind in form.indicators:
        if round(x[ind.binary]) == ind.active_value and \
                float(ind.coefficients @ x[ind.columns]) > ind.rhs + tol * (1 + abs(ind.rhs)):
            return False
    return True


def _put(x: np.ndarray, cols: np.ndarray, values) -> None:
    """``x[cols] = values`` skipping columns ``-1`` (fixed variables)."""
    cols = np.asarray(cols)
    keep = cols >= 0
    x[cols[keep]] = np.broadcast_to(np.asarray(values, dtype=float), cols.shape)[keep]


def _kkt_columns(lm: _LoadedModel, kkt, n: int) -> dict[str, np.ndarray]:
    I = range(n)
    cols = {name: lm._cols(getattr(kkt, name), I)
            for name in ("alpha", "z", "u", "v", "s", "t", "w") if hasattr(kkt, name)}
    if kkt.linearization == "compact":
        cols["h"] = lm._cols(kkt.h, I)
    else:
        cols["R"] = np.array([lm.form._index.get(id(v), -1) for v in kkt.R.values()],
                             dtype=np.int64)
        cols["R_index"] = np.array(list(kkt.R.keys()), dtype=np.int64).reshape(-1, 2)
    return cols


def _fill_kkt(x: np.ndarray, cols: dict, point: dict) -> None:
    for name in ("alpha", "z", "u", "v", "s", "t", "w", "h"):
        if name in cols:
            _put(x, cols[name], point[name])
    if "R" in cols:
        idx = cols["R_index"]
        _put(x, cols["R"], point["R"][idx[:, 0], idx[:, 1]])


class BinaryMILP(_LoadedModel):
    """Sample-wise binary certificate model ``𝓑(y) + budget`` (spec §5.2), objective swapped.

    Parameters
    ----------
    K : ndarray (n, n)
        Training kernel.
    y_pm : ndarray (n,)
        Clean labels in {−1, +1}.
    C : float
    budget : int or float
        Number of flips (a cost budget when ``threat`` has per-point costs).
    linearization : {"compact", "reference"}
    backend : str or Backend
    g_bounds : (L, U), optional
        Valid bounds on ``(K z)_i`` for every relabelling within the budget (bound
        tightening; see :func:`certmodel.labelcert.kernel_z_bounds`).
    threat : ResolvedThreat, optional
        Flippable mask and per-point costs (:mod:`certmodel.milp.blocks.adversary`).
    """

    def __init__(self, K, y_pm, C: float, budget: int, *, linearization: str = "compact",
                 backend: str | Backend = "highs", options: SolveOptions | None = None,
                 g_bounds: tuple | None = None, threat=None, complementarity: str = "bigm"):
        self.K = np.asarray(K, dtype=float)
        self.y_pm = np.asarray(y_pm, dtype=float)
        self.C = float(C)
        self.budget = budget
        self.linearization = linearization
        self.g_bounds = g_bounds
        n = len(self.y_pm)
        m = pyo.ConcreteModel(name="labelcert_binary")
        adv = add_binary_adversary(m, "adversary", self.y_pm, self.budget, threat)
        kkt = add_svm_kkt(m, "svm", self.K, self.C, lambda i: adv.y[i],
                          linearization=linearization, g_bounds=g_bounds,
                          complementarity=complementarity)
        # the real objective: sign · p_t for the test point in the mutable params (swapped
        # per test point as a vector by :meth:`objective`, without touching the model)
        m.k_test = pyo.Param(range(n), initialize=0.0, mutable=True)
        m.sign = pyo.Param(initialize=1.0, mutable=True)
        m.obj = pyo.Objective(expr=m.sign * sum(m.k_test[j] * kkt.z[j] for j in range(n)))
        self.model, self.adv, self.kkt, self.n = m, adv, kkt, n
        self._load(backend, options)

    def _columns_changed(self) -> None:
        self.flip_cols = self._cols(self.adv.flip, range(self.n))
        self.kkt_cols = _kkt_columns(self, self.kkt, self.n)

    def objective(self, k_t: np.ndarray, sign: float = 1.0) -> np.ndarray:
        """Coefficients of ``sign · p_t = sign · Σ_j k_t[j] z_j``."""
        self.refresh()
        c = np.zeros(self.form.n_cols)
        _put(c, self.kkt_cols["z"], sign * np.asarray(k_t, dtype=float))
        return c

    def start(self, flips: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Full MIP start from a relabelling (flip mask) and the SVM's α for those labels."""
        self.refresh()
        flips = np.asarray(flips, dtype=bool)
        y = np.where(flips, -self.y_pm, self.y_pm)
        x = np.zeros(self.form.n_cols)
        _put(x, self.flip_cols, flips.astype(float))
        _fill_kkt(x, self.kkt_cols, kkt_point(self.K, self.C, y, alpha, self.linearization,
                                              self.g_bounds))
        return x

    def flips_of(self, x: np.ndarray) -> np.ndarray:
        """Flip mask of a solution vector (fixed flip variables read their fixed value)."""
        return self.form.values_of(x, [self.adv.flip[i] for i in range(self.n)]) > 0.5


class MulticlassMILP(_LoadedModel):
    """Exact multiclass certificate (spec §5.4): one-vs-rest KKT blocks + one-hot adversary.

    With ``rivals="split"`` (default) one model serves every test point and every rival:
    the worst margin ``min_labels (p_a − max_{k≠a} p_k) = min_{k≠a} min_labels (p_a − p_k)``
    is found rival by rival with objective swaps.  With ``rivals="max"`` the model for one
    test point carries the exact max block (``test_kernel_row`` and ``top`` required).
    """

    def __init__(self, K, labels, n_classes: int, C: float, budget: int, *,
                 linearization: str = "compact", backend: str | Backend = "highs",
                 options: SolveOptions | None = None, rivals: str = "split",
                 test_kernel_row: np.ndarray | None = None, top: int | None = None,
                 threat=None, complementarity: str = "bigm"):
        self.K = np.asarray(K, dtype=float)
        self.labels = np.asarray(labels, dtype=int)
        self.n_classes = int(n_classes)
        self.C = float(C)
        self.budget = budget
        self.linearization = linearization
        self.rivals = rivals
        n = len(self.labels)
        m = pyo.ConcreteModel(name="labelcert_multiclass")
        adv = add_multiclass_adversary(m, "adversary", self.labels, self.n_classes, self.budget,
                                       threat)
        m.svm = pyo.Block(range(self.n_classes))
        kkts = []
        for k in range(self.n_classes):
            kkts.append(add_svm_kkt(m.svm[k], "kkt", self.K, self.C,
                                    lambda i, k=k: adv.y[k, i], linearization=linearization,
                                    complementarity=complementarity))
        if rivals == "max":
            if test_kernel_row is None or top is None:
                raise ValueError("rivals='max' needs test_kernel_row and top")
            k_t = np.asarray(test_kernel_row, dtype=float)
            self.k_t, self.top = k_t, int(top)
            P = logit_bound(k_t, self.C)
            p = {k: logit_expression(k_t, kkts[k].z) for k in range(self.n_classes)}
            rivals_p = {k: p[k] for k in range(self.n_classes) if k != top}
            mx = add_max_over(m, "rival_max", rivals_p, {k: -P for k in rivals_p},
                              {k: P for k in rivals_p})
            m.obj = pyo.Objective(expr=p[top] - mx.m)
            self.max_block = mx
        else:
            m.obj = pyo.Objective(expr=kkts[0].z[0])
        self.model, self.adv, self.kkts, self.n = m, adv, kkts, n
        self._load(backend, options)

    def _columns_changed(self) -> None:
        adv, n = self.adv, self.n
        self.onehot_cols = np.array([[self.form._index.get(id(adv.onehot[i, k]), -1)
                                      for k in range(self.n_classes)] for i in range(n)])
        self.kkt_cols = [_kkt_columns(self, kk, n) for kk in self.kkts]

    def objective(self, k_t: np.ndarray, top: int, rival: int) -> np.ndarray:
        """Coefficients of ``p_top − p_rival``."""
        self.refresh()
        c = np.zeros(self.form.n_cols)
        k_t = np.asarray(k_t, dtype=float)
        for cls, sgn in ((top, 1.0), (rival, -1.0)):
            cols = self.kkt_cols[cls]["z"]
            np.add.at(c, cols[cols >= 0], sgn * k_t[cols >= 0])
        return c

    def start(self, labels: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        """MIP start from a labelling and the K one-vs-rest α vectors (shape (K, n))."""
        self.refresh()
        labels = np.asarray(labels, dtype=int)
        x = np.zeros(self.form.n_cols)
        onehot = np.eye(self.n_classes)[labels]
        _put(x, self.onehot_cols.ravel(), onehot.ravel())
        for k in range(self.n_classes):
            y = np.where(labels == k, 1.0, -1.0)
            _fill_kkt(x, self.kkt_cols[k], kkt_point(self.K, self.C, y, alphas[k],
                                                      self.linearization))
        if self.rivals == "max":
            # rival max block: pick the largest rival logit
            x = self._start_max(x)
        return x

    def _start_max(self, x: np.ndarray) -> np.ndarray:
        """Set the max block's ``m`` and ``β`` to the largest rival logit of the start."""
        mx = self.max_block
        logits = {k: float(self.k_t @ self.form.values_of(x, self.kkts[k].z.values()))
                  for k in mx.K}
        best = max(logits, key=logits.get)
        x[self.form.column_of(mx.m)] = logits[best]
        for k in mx.K:
            x[self.form.column_of(mx.beta[k])] = 1.0 if k == best else 0.0
        return x

    def labels_of(self, x: np.ndarray) -> np.ndarray:
        """Labelling encoded in a solution vector."""
        vals = self.form.values_of(x, [self.adv.onehot[i, k] for i in range(self.n)
                                       for k in range(self.n_classes)])
        return np.argmax(vals.reshape(self.n, self.n_classes), axis=1)


class CollectiveMILP(_LoadedModel):
    """Collective certificate (spec §5.3): one relabelling, ``max Σ_t c_t`` over test points.

    ``margins_sign[t] = s_t`` is the clean sign of test point ``t``; ``c_t = 1`` requires
    ``s_t p_t ≤ 0`` (a tie counts as changed).  ``logit_bounds``: valid upper bounds on the
    signed margins (tighter indicator big-M); ``g_bounds``: valid bounds on ``K z`` (tighter
    KKT big-M); ``conflicts``: sets of test rows (indices into ``K_test``) proven never to
    change together, added as ``Σ_{t ∈ T} c_t ≤ |T| − 1``.
    """

    def __init__(self, K, y_pm, C: float, budget: int, K_test, signs, *,
                 linearization: str = "compact", backend: str | Backend = "highs",
                 options: SolveOptions | None = None, g_bounds: tuple | None = None,
                 logit_bounds: np.ndarray | None = None, threat=None,
                 complementarity: str = "bigm", conflicts=()):
        self.K = np.asarray(K, dtype=float)
        self.y_pm = np.asarray(y_pm, dtype=float)
        self.C = float(C)
        self.budget = budget
        self.linearization = linearization
        K_test = np.asarray(K_test, dtype=float)
        signs = np.asarray(signs, dtype=float)
        n = len(self.y_pm)
        m = pyo.ConcreteModel(name="labelcert_collective")
        adv = add_binary_adversary(m, "adversary", self.y_pm, self.budget, threat)
        self.g_bounds = g_bounds
        kkt = add_svm_kkt(m, "svm", self.K, self.C, lambda i: adv.y[i],
                          linearization=linearization, g_bounds=g_bounds,
                          complementarity=complementarity)
        margins = [signs[t] * logit_expression(K_test[t], kkt.z) for t in range(len(K_test))]
        bounds = [logit_bound(K_test[t], self.C) for t in range(len(K_test))]
        if logit_bounds is not None:  # valid upper bounds on the signed margins
            bounds = [max(0.0, min(b, float(u))) for b, u in zip(bounds, logit_bounds)]
        ind = add_flip_indicators(m, "flipped", margins, bounds)
        if len(conflicts):
            add_conflict_cuts(m, "conflicts", ind.c, conflicts)
        m.obj = pyo.Objective(expr=ind.count, sense=pyo.maximize)
        self.model, self.adv, self.kkt, self.ind, self.n = m, adv, kkt, ind, n
        self.K_test, self.signs = K_test, signs
        self._load(backend, options)

    def _columns_changed(self) -> None:
        self.flip_cols = self._cols(self.adv.flip, range(self.n))
        self.c_cols = self._cols(self.ind.c, range(len(self.K_test)))
        self.kkt_cols = _kkt_columns(self, self.kkt, self.n)

    def start(self, flips: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        self.refresh()
        flips = np.asarray(flips, dtype=bool)
        y = np.where(flips, -self.y_pm, self.y_pm)
        x = np.zeros(self.form.n_cols)
        _put(x, self.flip_cols, flips.astype(float))
        point = kkt_point(self.K, self.C, y, alpha, self.linearization, self.g_bounds)
        _fill_kkt(x, self.kkt_cols, point)
        _put(x, self.c_cols, (self.signs * (self.K_test @ point["z"]) <= 0).astype(float))
        return x

    def flips_of(self, x: np.ndarray) -> np.ndarray:
        return self.form.values_of(x, [self.adv.flip[i] for i in range(self.n)]) > 0.5

    def solve_count(self, *, warm_start=None, options=None) -> SolveResult:
        """Solve the model's own objective (``max Σ_t c_t`` unless edited)."""
        before = self.compiled.compilations
        res = self.compiled.solve(None, None, warm_start=warm_start, options=options)
        if self.compiled.compilations != before:
            self._columns_changed()
        return res
