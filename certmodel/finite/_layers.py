"""Finite-width layers: the networks whose infinite-width limits are :mod:`certmodel.kernels`.

Every kernel layer of :mod:`certmodel.kernels._layers` has a finite counterpart here with the
same name and the same arguments, so an architecture is written twice in the same words (see
:mod:`certmodel.finite._architectures`). NTK parameterisation, all trainable weights i.i.d.
N(0, 1) at initialisation, ``m`` the fan-in (number of columns of the layer input):

==================  ===================================================  =====================
layer               finite network                                       kernel map (limit)
==================  ===================================================  =====================
``dense(b, w)``     ``z = √w · u W / √m + √b · β``  (W, β trained)        ``Σ' = wΣ + b``
``dense`` on input  ``z = √w · √s_in · X W + √b · β`` (fan-in absorbed)  ``Σ' = w·s_in·XXᵀ + b``
``relu()``          ``u = √2 · max(z, 0)``                               ``Σ' = E``
``linear()``        ``u = z``                                            unchanged
``propagate(S)``    ``u = S z`` over nodes                               ``Σ' = SΣSᵀ``
``add_skip(ξ)``     ``u = √s z + √t ξ``, ξ fixed, zero mean, cov C       ``Σ' = sΣ + tC``
``random_input()``  ``u = X V`` with V ~ N(0, 1) *fixed* (not trained)   input Σ = XXᵀ, Θ = 0
==================  ===================================================  =====================

``random_input`` realises the kernels' convention that a non-linearity applied directly to the
input kernel acts on a Gaussian with covariance ``XXᵀ`` that carries no tangent kernel (Θ = 0).

**Tangent scale.** ``dense(..., tangent=c)`` stores ``W̃ = W / √c`` and applies ``√c · W̃``: the
function at initialisation is unchanged, but the layer's contribution to the empirical NTK is
multiplied by ``c`` (a per-layer learning rate). The reference's ``gcn_skip_alpha`` kernel keeps
Θ unscaled through ``add_skip(scale=s)`` (labelcert-spec §3.2), which a finite network reproduces
with ``tangent = s^{-k}`` on the layers before ``k`` such skips.

A layer is a pair ``(init, apply)``:

* ``init(rng, cols, norm, ctx) -> (cols', norm', params, consts)`` draws the parameters with a
  ``numpy.random.Generator`` (``norm`` is the fan-in divisor, ``None`` for the raw input;
  ``ctx`` is the full-graph context, used to build fixed skip branches);
* ``apply(params, consts, ctx, u) -> u'`` in ``jax.numpy``; ``ctx`` holds the graph operators
  restricted to the current node set (``ctx["rows"]`` indexes into all nodes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["Layer", "serial", "dense", "relu", "linear", "propagate", "add_skip",
           "random_input"]


class Layer(NamedTuple):
    """A finite layer: ``init`` draws parameters, ``apply`` evaluates it (module docstring)."""

    init: Callable
    apply: Callable


def _jnp():
    import jax.numpy as jnp

    return jnp


def serial(*layers: Layer) -> Layer:
    """Compose left to right; params and consts are lists, one entry per layer."""

    def init(rng, cols, norm, ctx):
        params, consts = [], []
        for layer in layers:
            cols, norm, p, c = layer.init(rng, cols, norm, ctx)
            params.append(p)
            consts.append(c)
        return cols, norm, params, consts

    def apply(params, consts, ctx, u):
        for layer, p, c in zip(layers, params, consts, strict=True):
            u = layer.apply(p, c, ctx, u)
        return u

    return Layer(init, apply)


def dense(bias_var: float = 0.0, weight_var: float = 1.0, *, width: int | None = None,
          tangent: float = 1.0) -> Layer:
    """``z = √w · u W / √m + √b · β`` (NTK parameterisation); ``width=1`` is the read-out.

    ``width=None`` uses the network's hidden width ``ctx["width"]``. On the raw input
    (``norm is None``) the fan-in is absorbed: ``z = √w · √s_in · X W + √b · β`` with
    ``s_in = ctx["input_scale"]``, so that ``Σ' = w · s_in · XXᵀ + b`` as in the kernels.
    The input weight is stored under ``"W_in"`` (training may reparameterise it).
    """

    def init(rng, cols, norm, ctx):
        out = ctx["width"] if width is None else width
        is_input = norm is None
        fan = ctx["input_scale"] if is_input else 1.0 / norm
        factor = float(np.sqrt(weight_var * fan * tangent))
        key = "W_in" if is_input else "W"
        p = {key: rng.standard_normal((cols, out)) / np.sqrt(tangent)}
        c = {"factor": factor, "bias": 0.0}
        if bias_var > 0.0:
            p["b"] = rng.standard_normal(out) / np.sqrt(tangent)
            c["bias"] = float(np.sqrt(bias_var * tangent))
        return out, out, p, c

    def apply(p, c, ctx, u):
        key = "W_in" if "W_in" in p else "W"
        z = (u @ p[key]) * c["factor"]
        if "b" in p:
            z = z + c["bias"] * p["b"]
        return z

    return Layer(init, apply)


def relu() -> Layer:
    """``u = √2 · max(z, 0)`` (the normalised ReLU of the kernels)."""
    sq2 = float(np.sqrt(2.0))

    def init(rng, cols, norm, ctx):
        return cols, norm, {}, {}

    def apply(p, c, ctx, u):
        xp = np if isinstance(u, np.ndarray) else _jnp()   # numpy while building skip branches
        return sq2 * xp.maximum(u, 0.0)

    return Layer(init, apply)


def linear() -> Layer:
    """Identity activation."""

    def init(rng, cols, norm, ctx):
        return cols, norm, {}, {}

    def apply(p, c, ctx, u):
        return u

    return Layer(init, apply)


def propagate(op: str = "S") -> Layer:
    """``u = S z`` over the nodes, ``S = ctx[op]`` (rows and columns of the current node set)."""

    def init(rng, cols, norm, ctx):
        return cols, norm, {}, {}

    def apply(p, c, ctx, u):
        return ctx[op] @ u

    return Layer(init, apply)


def random_input() -> Layer:
    """``u = X V`` with a fixed (untrained) Gaussian ``V`` of the hidden width: per unit a
    Gaussian with covariance ``s_in · XXᵀ`` and no tangent kernel — what a non-linearity applied
    to the kernels' input kernel assumes. The features of all nodes are computed once."""

    def init(rng, cols, norm, ctx):
        h = ctx["width"]
        V = rng.standard_normal((cols, h)) * np.sqrt(ctx["input_scale"])
        return h, h, {}, {"features": np.asarray(ctx["X"] @ V)}

    def apply(p, c, ctx, u):
        return c["features"][ctx["rows"]]

    return Layer(init, apply)


def add_skip(branch: Layer, *, scale: float = 1.0, skip_scale: float = 1.0,
             random_signs: bool = False) -> Layer:
    """``u = √s z + √t ξ`` with ξ the output of ``branch`` on the input, drawn once and fixed.

    The branch gets its own (untrained) parameters, so ξ is independent of the trained path
    and adds only to the covariance (``Σ' = sΣ + tC``, Θ unchanged up to the factor ``s``, see
    the tangent scale in the module docstring). ``random_signs`` multiplies each unit of ξ by a
    fixed random ±1 so that ξ has mean zero (needed when the branch ends in a ReLU).
    """
    rs, rt = float(np.sqrt(scale)), float(np.sqrt(skip_scale))

    def init(rng, cols, norm, ctx):
        _, _, bp, bc = branch.init(rng, ctx["X"].shape[1], None, ctx)
        full = dict(ctx, rows=np.arange(ctx["X"].shape[0]))
        xi = np.asarray(branch.apply(_to_numpy(bp), bc, full, ctx["X"]), dtype=np.float64)
        if xi.shape[1] != cols:
            raise ValueError(f"skip branch width {xi.shape[1]} != path width {cols}")
        if random_signs:
            xi = xi * rng.choice((-1.0, 1.0), size=xi.shape[1])
        return cols, norm, {}, {"xi": xi}

    def apply(p, c, ctx, u):
        return rs * u + rt * c["xi"][ctx["rows"]]

    return Layer(init, apply)


def _to_numpy(tree):
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_to_numpy(v) for v in tree]
    return np.asarray(tree)
