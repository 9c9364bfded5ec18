"""Empirical NTK of finite jax networks, to verify the closed forms of ``kernels.ntk``.

Each architecture is written out as a finite network in NTK parameterisation whose infinite-width
limit is the closed-form kernel (all parameters ``θ ~ N(0, 1)``, ``φ(z) = √2·max(z, 0)``, h the
width, S the graph operator, Π the APPNP propagation):

=================  ========================================================================
gcn / graphsage    ``z¹ = S X W⁰``; ``zˡ⁺¹ = S φ(zˡ) Wˡ / √h``; ``f = S φ(z^L) w / √h``
sgc                as gcn with ``φ(z) = z``
gin                per GIN layer ``y = φ(S u Wₐ c) W_b / √h`` (``u = X``, ``c = 1`` first,
                   then ``u = φ(y)``, ``c = 1/√h``); ``f = y`` of the last layer
mlp / appnp        ``z¹ = X W⁰ + b⁰``; ``zˡ⁺¹ = φ(zˡ) Wˡ / √h + bˡ``; ``f = Π(φ(z^L) w / √h + b)``
fc                 ``z¹ = X W⁰ / √d + σ_b b⁰``; ``zˡ⁺¹ = φ(zˡ) Wˡ / √h + σ_b bˡ``; same read-out
linear             ``f = X w``
=================  ========================================================================

The empirical NTK ``Θ̂ = Σ_θ (∂f/∂θ)(∂f/∂θ)ᵀ`` is averaged over ``n_init`` initialisations;
it converges to the closed form as ``h → ∞`` (relative error ~ 1/√(h · n_init)).
jax is imported lazily and run in float64 via ``jax.enable_x64`` without touching the global
configuration.
"""

from __future__ import annotations

import numbers

import numpy as np

from certmodel._validation import check_choice, check_scalar
from certmodel.kernels._api import (
    _check_depth_parity,
    _check_features,
    _check_options,
    graph_propagation,
)
from certmodel.kernels._architectures import REGISTRY

__all__ = ["empirical_ntk", "EMPIRICAL_ARCHS"]

_JACOBIAN_LIMIT = 20_000_000   # entries of the full Jacobian before switching to streaming

EMPIRICAL_ARCHS = ("gcn", "sgc", "graphsage", "gin", "appnp", "mlp", "fc", "linear")


def _param_shapes(arch: str, d: int, h: int, depth: int, bias: bool) -> dict[str, tuple]:
    """Parameter shapes of the finite network (module docstring)."""
    shapes: dict[str, tuple] = {}
    if arch == "linear":
        shapes["w"] = (d,)
    elif arch == "gin":
        for i in range(depth):
            shapes[f"Wa{i}"] = (d if i == 0 else h, h)
            shapes[f"Wb{i}"] = (h, h) if i < depth - 1 else (h,)
    else:
        shapes["W0"] = (d, h)
        for i in range(1, depth):
            shapes[f"W{i}"] = (h, h)
        shapes["w"] = (h,)
        if bias:
            for i in range(depth):
                shapes[f"b{i}"] = (h,)
            shapes["b"] = ()
    return shapes


def _forward(jnp, arch: str, X, S, depth: int, h: int, bias_std: float):
    """The finite network ``params -> f`` of shape (N,) (module docstring)."""
    sq2 = np.sqrt(2.0)
    rh = 1.0 / np.sqrt(h)

    def phi(z):
        return z if arch == "sgc" else sq2 * jnp.maximum(z, 0.0)

    def f(p):
        if arch == "linear":
            return X @ p["w"]
        if arch in ("gcn", "sgc", "graphsage"):
            z = S @ (X @ p["W0"])
            for i in range(1, depth):
                z = S @ (phi(z) @ p[f"W{i}"]) * rh
            return S @ (phi(z) @ p["w"]) * rh
        if arch == "gin":
            u, c = X, 1.0
            for i in range(depth):
                y = phi(S @ (u @ p[f"Wa{i}"]) * c) @ p[f"Wb{i}"] * rh
                u, c = phi(y), rh
            return y
        # mlp / appnp / fc
        in_scale = 1.0 / np.sqrt(X.shape[1]) if arch == "fc" else 1.0
        z = X @ p["W0"] * in_scale + bias_std * p["b0"]
        for i in range(1, depth):
            z = phi(z) @ p[f"W{i}"] * rh + bias_std * p[f"b{i}"]
        out = phi(z) @ p["w"] * rh + bias_std * p["b"]
        return out if S is None else S @ out

    return f


def empirical_ntk(arch: str, X, A=None, *, width: int = 512, n_init: int = 4, seed: int = 0,
                  depth: int = 1, normalization: str | None = None, average: bool = True,
                  **arch_options) -> np.ndarray:
    """Average empirical NTK of ``n_init`` finite networks of the given ``width``.

    Parameters
    ----------
    arch : {"gcn", "sgc", "graphsage", "gin", "appnp", "mlp", "fc", "linear"}
    X : array-like of shape (N, d)
    A : array-like of shape (N, N), optional
        Adjacency, for the graph architectures.
    width : int, default=512
        Hidden width h.
    n_init : int, default=4
        Number of independent initialisations averaged.
    seed : int, default=0
        Seed of the ``numpy.random.Generator`` that draws the parameters.
    depth, normalization, **arch_options
        As in :func:`certmodel.kernels.ntk` (``alpha``/``iterations`` for appnp, ``bias_var``
        for fc).
    average : bool, default=True
        Return the mean over initialisations; ``False`` returns every initialisation's kernel.

    Returns
    -------
    K : ndarray of shape (N, N), or (n_init, N, N) when ``average=False``; float64
        ``mean_init Σ_θ (∂f/∂θ)(∂f/∂θ)ᵀ``.
    """
    check_choice(arch, "arch (for empirical_ntk)", EMPIRICAL_ARCHS)
    spec = REGISTRY[arch]
    X = _check_features(X, "X")
    X = X.toarray() if hasattr(X, "toarray") else X
    depth, _ = _check_depth_parity(depth, False, spec)
    options = _check_options(spec, arch_options)
    width = check_scalar(width, "width", numbers.Integral, min_val=1)
    n_init = check_scalar(n_init, "n_init", numbers.Integral, min_val=1)
    seed = check_scalar(seed, "seed", numbers.Integral, min_val=0)
    S = graph_propagation(arch, spec, A, X.shape[0], normalization, options)
    if S is not None and arch != "appnp":
        S = S.toarray()
    bias = arch in ("mlp", "appnp", "fc")
    bias_std = np.sqrt(options.get("bias_var", 1.0))
    samples = _run(arch, X, S, depth, width, n_init, seed, bias, bias_std)
    samples = (samples + np.swapaxes(samples, 1, 2)) / 2
    return samples.mean(axis=0) if average else samples


def _run(arch, X, S, depth, width, n_init, seed, bias, bias_std) -> np.ndarray:
    """The empirical NTK of each initialisation, shape (n_init, N, N)."""
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        Xj = jnp.asarray(X, dtype=jnp.float64)
        Sj = None if S is None else jnp.asarray(S, dtype=jnp.float64)
        f = _forward(jnp, arch, Xj, Sj, depth, width, bias_std)
        n = X.shape[0]

        shapes = _param_shapes(arch, X.shape[1], width, depth, bias)
        n_params = sum(int(np.prod(shape)) for shape in shapes.values())

        def ntk_jacobian(params):
            # Θ̂ = Σ_θ J_θ J_θᵀ from the full Jacobian (fast to compile, memory N·#params).
            J = jax.jacrev(f)(params)
            return sum(jnp.tensordot(j, j, axes=(tuple(range(1, j.ndim)),) * 2)
                       for j in jax.tree_util.tree_leaves(J))

        def ntk_streaming(params):
            # Θ̂ e_i = J (Jᵀ e_i): one vjp and one jvp per point keeps memory O(#params).
            _, vjp = jax.vjp(f, params)

            def column(e):
                (ct,) = vjp(e)
                return jax.jvp(f, (params,), (ct,))[1]

            return jax.lax.map(column, jnp.eye(n, dtype=jnp.float64))

        ntk_of = jax.jit(ntk_jacobian if n * n_params <= _JACOBIAN_LIMIT else ntk_streaming)
        rng = np.random.default_rng(seed)
        out = np.empty((n_init, n, n))
        for i in range(n_init):     # all parameters i.i.d. N(0, 1)
            params = {name: jnp.asarray(rng.standard_normal(shape))
                      for name, shape in shapes.items()}
            out[i] = np.asarray(ntk_of(params), dtype=np.float64)
    return out
