"""Full-batch gradient descent of a finite network on the certificate's objective.

**Soft-margin hinge (the kernel SVM of the certificates).** The bias-free SVM the certificates
analyse solves ``min_w ½‖w‖² + C Σ_i max(0, 1 − y_i ⟨w, φ(x_i)⟩)`` (labelcert-spec §4 is its
dual). For the network, ``φ(x) = ∂f(x; θ₀)/∂θ`` and ``w = θ − θ₀``; dividing by ``C``:

    J(θ) = Σ_{i∈L} max(0, 1 − y_i g_i(θ)) + ‖θ − θ₀‖² / (2C),   g(θ) = f(θ) − f(θ₀).

The output is centred (``g``), because the SVM has no offset while a finite network's output
at initialisation is a random function of order 1; the weight penalty pulls towards the
initialisation, because the SVM's ``½‖w‖²`` is the distance travelled in the linearised
model. As ``h → ∞`` the network stays linear in θ and the minimiser of J is the kernel SVM
with the NTK, with ``α_i = C · (the share of the subgradient that point i contributes)``.

The hinge is not differentiable, so plain GD with a fixed step oscillates around the margin;
we use the strongly-convex subgradient schedule ``η_t = C / (t + 1)`` (Pegasos): then
``θ_{t+1} − θ₀ = −(C / (t + 1)) Σ_{s≤t} ∇hinge(θ_s)``, i.e. ``α_i / C`` is the fraction of
steps in which point i violated the margin — in the saturated regime (every ``α_i = C``) the
very first step is already the SVM solution of the linearised network.

**Squared loss (the regression learners).** ``J = ½‖g_L − y‖² + (λ/2)‖θ − θ₀‖²`` with a fixed
step ``1 / (λ_max(Θ̂_LL) + λ)`` (Θ̂ the network's empirical NTK at initialisation): the limit
is kernel ridge regression ``KernelRidge(lam=λ)``. With ``flow_time`` the loss without
penalty is integrated for the time ``η·t`` of :class:`~certmodel.learners.NTKGradientFlow`.

Training stops when the objective changes by less than ``tol`` (relative) over ``window``
steps, or after ``max_steps`` (then ``converged`` is False).
"""

from __future__ import annotations

import dataclasses
import numbers
import resource
import time

import numpy as np

from certmodel._validation import check_scalar
from certmodel.exceptions import InvalidParameterError
from certmodel.finite._network import FiniteNetwork, _x64

__all__ = ["FiniteFit", "fit_hinge", "fit_squared", "pm_labels"]


@dataclasses.dataclass
class FiniteFit:
    """A trained finite network.

    Attributes
    ----------
    logits : ndarray of shape (N,)
        Centred outputs ``g = f(θ) − f(θ₀)`` of every node (the SVM's decision function).
    params : list
        Trained parameters (float64, full network coordinates).
    loss : ndarray
        Objective J after every step.
    steps : int
    converged : bool
        The objective stopped changing (relative change < ``tol`` over ``window`` steps).
    objective : str
        ``"hinge"`` or ``"squared"``.
    wall_time, cpu_time : float
        Seconds (``cpu_time``: user + system CPU of this process, all threads).
    """

    logits: np.ndarray
    params: list
    loss: np.ndarray
    steps: int
    converged: bool
    objective: str
    wall_time: float
    cpu_time: float
    receptive_field: int

    def predict(self, nodes=None) -> np.ndarray:
        """±1 predictions (``g ≥ 0`` ↦ +1, as the kernel SVM)."""
        g = self.logits if nodes is None else self.logits[np.asarray(nodes)]
        return np.where(g >= 0, 1, -1)


def pm_labels(y) -> np.ndarray:
    """±1 labels of a binary task (``classes[1]`` ↦ +1, as :class:`KernelSVM`)."""
    y = np.asarray(y)
    classes = np.unique(y)
    if classes.size != 2:
        raise InvalidParameterError(
            f"y must hold exactly two classes (binary task), got {classes.tolist()}")
    return np.where(y == classes[1], 1.0, -1.0)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _progress(enabled: bool, total: int, label: str):
    if not enabled:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    prog = Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TextColumn("J={task.fields[loss]}"), TimeElapsedColumn(), transient=True)
    prog.start()
    prog.add_task(label, total=total, loss="-")
    return prog


def _check_train(net: FiniteNetwork, train_idx, y):
    if not isinstance(net, FiniteNetwork):
        raise InvalidParameterError(f"net must be a FiniteNetwork, got {type(net).__name__}")
    idx = np.asarray(train_idx)
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
        raise InvalidParameterError(
            f"train_idx must be a non-empty 1-D integer array, got {train_idx!r:.60}")
    if idx.min() < 0 or idx.max() >= net.N or np.unique(idx).size != idx.size:
        raise InvalidParameterError(
            f"train_idx must hold distinct node ids in 0..{net.N - 1}")
    y = np.asarray(y, dtype=np.float64)
    if y.shape != idx.shape:
        raise InvalidParameterError(
            f"y must have shape {idx.shape} to match train_idx, got {y.shape}")
    return idx.astype(np.int64), y


def _run(net, idx, target, objective_of, step_size, *, max_steps, tol, window, progress,
         f0_all, label, key, reparameterise=True):
    """Shared GD loop: returns a :class:`FiniteFit`.

    The restricted context and the compiled step are cached on ``net`` per (objective
    ``key``, training nodes), so retraining the same network on other labels (the transfer
    study) does not recompile; the labels enter the step as an argument.
    """
    import jax
    import jax.numpy as jnp

    t_wall, t_cpu = time.perf_counter(), _cpu()
    with _x64(net.dtype):
        rows = net.receptive_field(idx)
        cache = net.__dict__.setdefault("_train_cache", {})
        ckey = (key, idx.tobytes(), reparameterise)
        if ckey not in cache:
            pos = np.searchsorted(rows, idx)
            ctx, p0, lift = net.context(rows, reparameterise=reparameterise)
            consts = net.jax_consts()
            f = net.apply_fn()
            g0 = f(p0, consts, ctx)[pos]

            def outputs(p):
                return f(p, consts, ctx)[pos] - g0

            J = objective_of(outputs, p0)
            grad_step = jax.jit(lambda p, eta, tgt: _gd(lambda q: J(q, tgt), p, eta))
            cache[ckey] = (ctx, p0, lift, grad_step, step_size(outputs, p0))
        ctx, p0, lift, grad_step, eta_of = cache[ckey]
        dt = ctx["X"].dtype
        tgt = jnp.asarray(target, dtype=dt)
        p = p0
        losses = []
        converged = False
        bar = _progress(progress, max_steps, label)
        try:
            for t in range(max_steps):
                eta = eta_of(t)
                if eta is None:          # a fixed-length schedule is complete
                    converged = True
                    break
                p, val = grad_step(p, jnp.asarray(eta, dtype=dt), tgt)
                losses.append(float(val))
                if bar is not None and t % 10 == 0:
                    bar.update(bar.task_ids[0], completed=t + 1, loss=f"{losses[-1]:.6g}")
                if t >= window:
                    ref = losses[-1 - window]
                    if abs(losses[-1] - ref) <= tol * max(abs(losses[-1]), 1e-12):
                        converged = True
                        break
        finally:
            if bar is not None:
                bar.stop()
        params = lift(p)
    g = net.logits(params) - (net.logits() if f0_all is None else f0_all)
    return FiniteFit(logits=g, params=params, loss=np.asarray(losses), steps=len(losses),
                     converged=converged, objective=label.split()[0],
                     wall_time=time.perf_counter() - t_wall, cpu_time=_cpu() - t_cpu,
                     receptive_field=int(rows.size))


def _gd(J, p, eta):
    import jax

    val, grad = jax.value_and_grad(J)(p)
    return jax.tree_util.tree_map(lambda a, b: a - eta * b, p, grad), val


def _sq_dist(p, p0):
    import jax
    import jax.numpy as jnp

    return sum(jnp.sum((a - b) ** 2) for a, b in
               zip(jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(p0), strict=True))


def fit_hinge(net: FiniteNetwork, train_idx, y, C: float, *, max_steps: int = 3000,
              tol: float = 1e-5, window: int = 100, progress: bool = False,
              f0=None, reparameterise: bool = True) -> FiniteFit:
    """Train ``net`` on the soft-margin hinge objective J (module docstring) by full-batch GD.

    Parameters
    ----------
    net : FiniteNetwork
    train_idx : array of int
        Labelled node ids.
    y : array
        Their labels (two classes; ``classes[1]`` ↦ +1).
    C : float
        SVM box bound (> 0), as in :class:`~certmodel.learners.KernelSVM`.
    max_steps, tol, window
        Stop when J changed by ≤ ``tol·|J|`` over the last ``window`` steps, or after
        ``max_steps``.
    progress : bool
        Show a rich progress bar.
    f0 : ndarray of shape (N,), optional
        ``net.logits()`` (the output at initialisation), to skip recomputing it.
    reparameterise : bool
        Train the input weights in the row space of the receptive field's features (exact;
        :mod:`certmodel.finite._network`). ``False`` trains them directly (slower).
    """
    idx, _ = _check_train(net, train_idx, np.zeros(len(np.asarray(train_idx))))
    ypm = pm_labels(y)
    if ypm.shape != idx.shape:
        raise InvalidParameterError(f"y must have shape {idx.shape}, got {np.shape(y)}")
    C = float(check_scalar(C, "C", numbers.Real, min_val=0, include_min=False))
    _check_loop(max_steps, tol, window)

    def objective_of(outputs, p0):
        import jax.numpy as jnp

        def J(p, tgt):
            g = outputs(p)
            return jnp.sum(jnp.maximum(0.0, 1.0 - tgt * g)) + _sq_dist(p, p0) / (2.0 * C)

        return J

    return _run(net, idx, ypm, objective_of, lambda outputs, p0: (lambda t: C / (t + 1.0)),
                max_steps=max_steps, tol=tol, window=window, progress=progress, f0_all=f0,
                label=f"hinge h={net.width}", key=("hinge", C), reparameterise=reparameterise)


def fit_squared(net: FiniteNetwork, train_idx, y, *, lam: float = 0.0,
                flow_time: float | None = None, lr: float = 1.0, max_steps: int = 5000,
                tol: float = 1e-8, window: int = 200, progress: bool = False,
                f0=None) -> FiniteFit:
    """Train ``net`` on the squared loss towards ±1 targets (module docstring).

    ``lam`` is the ridge parameter (limit :class:`~certmodel.learners.KernelRidge`); with
    ``flow_time`` = t the unpenalised loss is followed for the time ``lr·t`` (limit
    :class:`~certmodel.learners.NTKGradientFlow`) in ``max_steps`` or fewer stable steps.
    """
    idx, _ = _check_train(net, train_idx, np.zeros(len(np.asarray(train_idx))))
    ypm = pm_labels(y)
    lam = float(check_scalar(lam, "lam", numbers.Real, min_val=0))
    _check_loop(max_steps, tol, window)
    if flow_time is not None:
        flow_time = float(check_scalar(flow_time, "flow_time", numbers.Real, min_val=0))
        lr = float(check_scalar(lr, "lr", numbers.Real, min_val=0, include_min=False))
        if lam:
            raise InvalidParameterError("pass either lam or flow_time, not both")

    def objective_of(outputs, p0):
        import jax.numpy as jnp

        def J(p, tgt):
            r = outputs(p) - tgt
            return 0.5 * jnp.sum(r * r) + 0.5 * lam * _sq_dist(p, p0)

        return J

    def step_size(outputs, p0):
        L = _lambda_max(outputs, p0) + lam
        if flow_time is None:
            eta = 1.0 / L
            return lambda t: eta
        total = lr * flow_time
        n = max(1, int(np.ceil(total * L)))
        if n > max_steps:
            raise InvalidParameterError(
                f"flow_time * lr = {total:g} needs {n} stable steps > max_steps = {max_steps}")
        return lambda t: (total / n) if t < n else None

    # a finite-time flow runs its fixed number of steps (its loss need not stop changing)
    tol_used, window_used = (tol, window) if flow_time is None else (0.0, max_steps + 1)
    steps = max_steps if flow_time is None else max_steps + 1   # + 1: the step that ends it
    return _run(net, idx, ypm, objective_of, step_size, max_steps=steps,
                tol=tol_used, window=window_used, progress=progress, f0_all=f0,
                label=f"squared h={net.width}", key=("squared", lam, flow_time, lr, max_steps))


def _lambda_max(outputs, p0, iters: int = 30) -> float:
    """Largest eigenvalue of the empirical NTK ``J Jᵀ`` on the labelled nodes (power method)."""
    import jax
    import jax.numpy as jnp

    _, vjp = jax.vjp(outputs, p0)
    n = outputs(p0).shape[0]
    v = jnp.ones(n, dtype=outputs(p0).dtype) / np.sqrt(n)
    lam = 0.0
    for _ in range(iters):
        (ct,) = vjp(v)
        w = jax.jvp(outputs, (p0,), (ct,))[1]
        lam = float(jnp.linalg.norm(w))
        if lam == 0.0:
            return 1.0
        v = w / lam
    return 1.05 * lam


def _check_loop(max_steps, tol, window):
    check_scalar(max_steps, "max_steps", numbers.Integral, min_val=1)
    check_scalar(tol, "tol", numbers.Real, min_val=0)
    check_scalar(window, "window", numbers.Integral, min_val=1)

