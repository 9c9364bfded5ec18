"""A finite network of a registered architecture on one graph (or point set), and its NTK.

:class:`FiniteNetwork` draws the parameters (``numpy.random.default_rng(seed)``, so a seed fixes
the network) and evaluates the scalar output ``f_θ`` of every node. Graph networks are
transductive; for point-set architectures (``mlp``, ``fc``, ``linear``) pass the training and
test points stacked as ``X`` (rows do not interact).

**Evaluating on a node subset.** Training only needs the logits of the labelled nodes, which
depend on their ``hops``-hop neighbourhood R only: :meth:`FiniteNetwork.context` restricts
the operators to R (rows of S restricted to R, *not* renormalised), which gives the exact
logits of the labelled nodes. When R has fewer nodes than features, the input layer is
reparameterised exactly: with the thin SVD ``X_R = U Σ Vᵀ`` the input weights ``W`` enter
only through ``X_R W = (UΣ)(VᵀW)``; gradient descent changes ``W`` only inside the row space
of ``X_R`` and ``‖ΔW‖ = ‖VᵀΔW‖`` there, so training ``Ω = VᵀW`` is the same trajectory at a
cost of ``|R|²·h`` instead of ``|R|·d·h`` per layer evaluation (:meth:`lift` maps it back).
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from certmodel._validation import check_choice, check_scalar
from certmodel.finite._architectures import FINITE_BUILDERS, hops
from certmodel.kernels._api import (
    _check_depth_parity,
    _check_features,
    _check_options,
    _input_scale,
    graph_propagation,
)
from certmodel.kernels._architectures import REGISTRY

__all__ = ["FiniteNetwork", "empirical_ntk"]

DTYPES = ("float32", "float64")


def _tree_map(fn, tree):
    if isinstance(tree, dict):
        return {k: _tree_map(fn, v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_tree_map(fn, v) for v in tree]
    return fn(tree)


def _input_weights(tree, path=()):
    """Paths of every trainable input weight ``"W_in"`` in a params tree."""
    if isinstance(tree, dict):
        return [path + ("W_in",)] if "W_in" in tree else []
    out = []
    for i, v in enumerate(tree):
        out += _input_weights(v, path + (i,))
    return out


def _get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def _set(tree, path, value):
    """A copy of ``tree`` with the leaf at ``path`` replaced."""
    if not path:
        return value
    k = path[0]
    if isinstance(tree, dict):
        new = dict(tree)
    else:
        new = list(tree)
    new[k] = _set(tree[k], path[1:], value)
    return new


class FiniteNetwork:
    """A finite-width network in NTK parameterisation whose NTK tends to ``kernels.ntk``.

    Parameters
    ----------
    arch : str
        A registered architecture with a finite network (``certmodel.finite.FINITE_ARCHS``).
    X : array-like of shape (N, d)
        Node / point features.
    A : array-like of shape (N, N), optional
        Adjacency (graph architectures only).
    width : int
        Hidden width h.
    depth : int, default=1
        Hidden layers, as in :func:`certmodel.kernels.ntk`.
    seed : int, default=0
        Seed of the parameter draw.
    normalization : str, optional
        Graph normalisation (default per architecture, as in the kernels).
    dtype : {"float32", "float64"}, default="float32"
        Arithmetic of training and evaluation (parameters are drawn in float64).
    **arch_options
        ``alpha``, ``iterations``, ``skip_branch``, ``bias_var`` as for the kernels.

    Attributes
    ----------
    params0 : list
        The parameters at initialisation (nested lists of dicts of float64 arrays).
    n_params : int
    """

    def __init__(self, arch: str, X, A=None, *, width: int, depth: int = 1, seed: int = 0,
                 normalization: str | None = None, dtype: str = "float32", **arch_options):
        check_choice(arch, "arch (finite network)", FINITE_BUILDERS)
        spec = REGISTRY[arch]
        X = _check_features(X, "X")
        X = X.toarray() if hasattr(X, "toarray") else np.asarray(X, dtype=np.float64)
        self.width = int(check_scalar(width, "width", numbers.Integral, min_val=1))
        self.depth, _ = _check_depth_parity(depth, False, spec)
        self.seed = int(check_scalar(seed, "seed", numbers.Integral, min_val=0))
        self.dtype = check_choice(dtype, "dtype", DTYPES)
        self.options = _check_options(spec, arch_options)
        self.arch = arch
        self.N = X.shape[0]
        self.X = X
        self.ops: dict[str, object] = {}
        S = graph_propagation(arch, spec, A, self.N, normalization, self.options)
        if arch == "appnp":
            self.ops["Pi"] = S
        elif S is not None:
            self.ops["S"] = sp.csr_array(S)
            if arch == "gcn_skip_alpha":
                a = self.options["alpha"]
                self.ops["P"] = sp.csr_array((1.0 - a) * S + a * sp.eye_array(self.N))
        self.input_scale = _input_scale(spec, X)
        self.hops = hops(arch, self.depth)
        self.layer = FINITE_BUILDERS[arch](depth=self.depth, **self.options)
        ctx = self._numpy_context()
        rng = np.random.default_rng(self.seed)
        _, _, params, consts = self.layer.init(rng, X.shape[1], None, ctx)
        self.params0 = _tree_map(lambda a: np.asarray(a, dtype=np.float64), params)
        self.consts = consts
        self.n_params = int(sum(np.size(p) for p in _leaves(self.params0)))

    def __repr__(self) -> str:
        return (f"FiniteNetwork({self.arch!r}, N={self.N}, width={self.width}, "
                f"depth={self.depth}, seed={self.seed}, dtype={self.dtype!r})")

    # --- contexts --------------------------------------------------------------------------

    def _numpy_context(self) -> dict:
        return dict(self.ops, X=self.X, width=self.width, input_scale=self.input_scale,
                    rows=np.arange(self.N))

    def receptive_field(self, nodes) -> np.ndarray:
        """Sorted node ids whose features can reach the logits of ``nodes``."""
        nodes = np.unique(np.asarray(nodes, dtype=np.int64))
        if self.hops is None:
            return np.arange(self.N)
        mask = np.zeros(self.N, dtype=bool)
        mask[nodes] = True
        ops = [op for op in self.ops.values() if sp.issparse(op)]
        for _ in range(self.hops):
            reach = mask.astype(np.float64)
            for op in ops:
                mask |= np.asarray(abs(op).T @ reach).ravel() > 0
        return np.flatnonzero(mask)

    def context(self, rows=None, *, reparameterise: bool = True):
        """``(ctx, params, lift)`` for evaluating the network on the node set ``rows``.

        ``ctx`` holds jax arrays (operators restricted to ``rows``); ``params`` are
        ``params0`` in the (possibly SVD-reparameterised) coordinates and
        ``lift(params) -> params`` maps trained parameters back to the full network.
        """
        import jax.numpy as jnp

        dt = jnp.float32 if self.dtype == "float32" else jnp.float64
        rows = np.arange(self.N) if rows is None else np.asarray(rows, dtype=np.int64)
        Xr = self.X[rows]
        params = self.params0
        paths = _input_weights(params)
        basis = None
        if reparameterise and paths and rows.size < Xr.shape[1]:
            U, sv, Vt = np.linalg.svd(Xr, full_matrices=False)
            Xr = U * sv
            basis = Vt
            for path in paths:
                params = _set(params, path, Vt @ _get(params, path))
        ctx = {"X": jnp.asarray(Xr, dtype=dt), "rows": jnp.asarray(rows),
               "width": self.width, "input_scale": self.input_scale}
        for name, op in self.ops.items():
            sub = op[rows][:, rows]
            ctx[name] = jnp.asarray(sub.toarray() if sp.issparse(sub) else sub, dtype=dt)
        ref = params

        def lift(trained):
            out = _tree_map(lambda a: np.asarray(a, dtype=np.float64), trained)
            if basis is None:
                return out
            for path in paths:
                delta = np.asarray(_get(out, path)) - _get(ref, path)
                out = _set(out, path, _get(self.params0, path) + basis.T @ delta)
            return out

        jparams = _tree_map(lambda a: jnp.asarray(a, dtype=dt), params)
        return ctx, jparams, lift

    def apply_fn(self):
        """``f(params, consts, ctx) -> (|rows|,)`` logits, a pure jax function."""
        layer = self.layer

        def f(params, consts, ctx):
            return layer.apply(params, consts, ctx, ctx["X"])[:, 0]

        return f

    def jax_consts(self):
        import jax.numpy as jnp

        dt = jnp.float32 if self.dtype == "float32" else jnp.float64
        return _tree_map(lambda a: jnp.asarray(a, dtype=dt) if isinstance(a, np.ndarray)
                         else a, self.consts)

    def logits(self, params=None) -> np.ndarray:
        """``f_θ`` of all N nodes (float64 array); ``params`` default to ``params0``."""
        import jax.numpy as jnp

        dt = jnp.float32 if self.dtype == "float32" else jnp.float64
        with _x64(self.dtype):
            ctx, p0, _ = self.context(reparameterise=False)
            p = p0 if params is None else _tree_map(lambda a: jnp.asarray(a, dtype=dt), params)
            return np.asarray(self.apply_fn()(p, self.jax_consts(), ctx), dtype=np.float64)


def _leaves(tree):
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in _leaves(v)]
    if isinstance(tree, list):
        return [x for v in tree for x in _leaves(v)]
    return [tree]


class _x64:
    """``jax.enable_x64`` for float64 networks, a no-op for float32."""

    def __init__(self, dtype: str):
        self.on = dtype == "float64"

    def __enter__(self):
        if self.on:
            import jax

            self._cm = jax.enable_x64(True)
            self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        if self.on:
            return self._cm.__exit__(*exc)
        return False


def empirical_ntk(net: FiniteNetwork, params=None, rows=None) -> np.ndarray:
    """``Θ̂ = Σ_θ (∂f/∂θ)(∂f/∂θ)ᵀ`` of ``net`` between the nodes ``rows`` (default all).

    Evaluated at ``params`` (default the initialisation) on the full network (no
    reparameterisation), from the full Jacobian — meant for small networks and tests.
    """
    import jax

    with _x64(net.dtype):
        ctx, p0, _ = net.context(reparameterise=False)
        if params is not None:
            p0 = _tree_map(lambda a: jax.numpy.asarray(a, dtype=ctx["X"].dtype), params)
        f = net.apply_fn()
        consts = net.jax_consts()
        idx = np.arange(net.N) if rows is None else np.asarray(rows)

        def out(p):
            return f(p, consts, ctx)[idx]

        J = jax.jacrev(out)(p0)
        K = sum(np.tensordot(np.asarray(j, dtype=np.float64), np.asarray(j, dtype=np.float64),
                             axes=(tuple(range(1, np.ndim(j))),) * 2)
                for j in jax.tree_util.tree_leaves(J))
    return (K + K.T) / 2
