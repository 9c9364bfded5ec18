"""Architecture registry: each architecture is a short composition of kernel layers.

A builder maps the input kernel ``x`` (Σ = X Xᵀ, Θ = 0) — and, for graph architectures, the
graph operator ``S`` — to the kernel of the network's scalar output; ``ntk`` of the result is
the NTK. Depth ``L`` counts hidden (ReLU) layers. Conventions follow labelcert-spec §3.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import scipy.sparse as sp

from certmodel._validation import check_choice, check_scalar
from certmodel.kernels._kernel import Kernel
from certmodel.kernels._layers import (
    add_skip,
    dense,
    linear,
    propagate,
    relu,
    relu_covariance,
    serial,
)
from certmodel.kernels._operators import appnp_operator

__all__ = ["Architecture", "REGISTRY", "REQUIRED"]

REQUIRED = object()
"""Marker for an architecture option without a default."""


@dataclass(frozen=True)
class Architecture:
    """A registered architecture.

    ``build(x, S, depth=..., **options) -> Kernel`` (``S`` is None for non-graph ones);
    ``normalization`` is the default graph normalisation; ``options`` maps each accepted
    option to its default (or :data:`REQUIRED`); ``scale_inputs`` divides X Xᵀ by the input
    dimension d (standard NTK fan-in); ``fixed_depth_in_parity`` makes parity mode ignore
    ``depth`` as the reference does.
    """

    name: str
    build: Callable[..., Kernel]
    graph: bool
    normalization: str | None = None
    options: Mapping[str, object] = field(default_factory=dict)
    scale_inputs: bool = False
    fixed_depth_in_parity: bool = False


# --- option validators ------------------------------------------------------------------------

def _alpha(v):
    return check_scalar(v, "alpha", numbers.Real, min_val=0.0, max_val=1.0)


def _iterations(v):
    return check_scalar(v, "iterations", numbers.Integral, min_val=0)


def _bias_var(v):
    return check_scalar(v, "bias_var", numbers.Real, min_val=0.0)


def _skip_branch(v):
    return check_choice(v, "skip_branch", ("linear", "relu"))


OPTION_CHECKS: dict[str, Callable] = {
    "alpha": _alpha,
    "iterations": _iterations,
    "bias_var": _bias_var,
    "skip_branch": _skip_branch,
}


# --- compositions ---------------------------------------------------------------------------------

def _gcn_family(x: Kernel, S, depth: int, activation=relu) -> Kernel:
    """Σ⁽⁰⁾ = S G Sᵀ, K_0 = Σ⁽⁰⁾; per layer Σ⁽ˡ⁾ = S E_l Sᵀ, K_l = Σ⁽ˡ⁾ + S(K_{l−1} ∘ Ė_l)Sᵀ."""
    layer = serial(activation(), propagate(S), dense())
    return serial(propagate(S), dense(), *[layer] * depth)(x)


def _gcn(x, S, *, depth):
    return _gcn_family(x, S, depth)


def _sgc(x, S, *, depth):
    """Linear activation: K = (L + 1) S^{L+1} G (S^{L+1})ᵀ."""
    return _gcn_family(x, S, depth, activation=linear)


def _gcn_skip_pc(x, S, *, depth, skip_branch):
    """Σ⁽⁰⁾ = S G Sᵀ (``relu`` branch: S E_x Sᵀ with E_x from Φ(G)); Σ⁽ˡ⁾ = S E_l Sᵀ + Σ⁽⁰⁾."""
    first = serial(propagate(S), dense()) if skip_branch == "linear" else \
        serial(relu(), propagate(S), dense())
    k = first(x)
    skip = relu_covariance(k)   # parity: the skip term aliases Σ⁽⁰⁾, clipped by the first Φ
    layer = serial(relu(), propagate(S), add_skip(skip), dense())
    return serial(*[layer] * depth)(k)


def _gcn_skip_alpha(x, S, *, depth, alpha, skip_branch):
    """Σ⁽⁰⁾ = P G Pᵀ with P = (1 − α)S + αI; Σ⁽ˡ⁾ = (1 − α)² S E_l Sᵀ + α² G.

    ``relu`` branch: G is replaced by E_x from Φ(G). As in the reference, Θ is propagated by
    S without the (1 − α)² factor.
    """
    if skip_branch == "relu":
        x = relu()(x)
    skip_cov = x.nngp
    P = sp.csr_array((1.0 - alpha) * S + alpha * sp.eye_array(S.shape[0], format="csr"))
    layer = serial(relu(), propagate(S),
                   add_skip(skip_cov, scale=(1.0 - alpha) ** 2, skip_scale=alpha ** 2), dense())
    return serial(propagate(P), dense(), *[layer] * depth)(x)


def _mlp_with_bias(x: Kernel, depth: int) -> Kernel:
    """Σ = G + 11ᵀ; per hidden layer Σ' = E + 11ᵀ, Θ' = Θ ∘ Ė + Σ' (bias variance 1)."""
    layer = serial(relu(), dense(bias_var=1.0))
    return serial(dense(bias_var=1.0), *[layer] * depth)(x)


def _mlp(x, S=None, *, depth):
    """K = Σ ∘ Ė + E + 11ᵀ for depth 1 (APPNP with α = 1)."""
    return _mlp_with_bias(x, depth)


def _appnp(x, S, *, depth, alpha, iterations):
    """K = Π K_mlp Πᵀ with the APPNP propagation Π (labelcert-spec §3.3)."""
    return propagate(appnp_operator(S, alpha, iterations))(_mlp_with_bias(x, depth))


def _gin(x, S, *, depth):
    """One GIN layer = aggregation S, then a one-hidden-layer ReLU MLP: K = Σ ∘ Ė + E.

    Consecutive GIN layers are joined by a ReLU.
    """
    gin_layer = serial(propagate(S), dense(), relu(), dense())
    return serial(gin_layer, *[serial(relu(), gin_layer)] * (depth - 1))(x)


def _linear(x, S=None, *, depth):
    """K = X Xᵀ (``depth`` is ignored)."""
    return dense()(x)


def _fc(x, S=None, *, depth, bias_var):
    """Σ⁽⁰⁾ = x·x'/d + σ_b²; Σ⁽ˡ⁾ = E_l + σ_b², Θ⁽ˡ⁾ = Θ⁽ˡ⁻¹⁾ ∘ Ė_l + Σ⁽ˡ⁾."""
    layer = serial(relu(), dense(bias_var=bias_var))
    return serial(dense(bias_var=bias_var), *[layer] * depth)(x)


REGISTRY: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("gcn", _gcn, graph=True, normalization="row"),
        Architecture("sgc", _sgc, graph=True, normalization="row"),
        Architecture("appnp", _appnp, graph=True, normalization="sym",
                     options={"alpha": REQUIRED, "iterations": 10},
                     fixed_depth_in_parity=True),
        Architecture("gin", _gin, graph=True, normalization="none",
                     fixed_depth_in_parity=True),
        Architecture("graphsage", _gcn, graph=True, normalization="graphsage"),
        Architecture("gcn_skip_alpha", _gcn_skip_alpha, graph=True, normalization="row",
                     options={"alpha": 0.2, "skip_branch": "linear"}),
        Architecture("gcn_skip_pc", _gcn_skip_pc, graph=True, normalization="row",
                     options={"skip_branch": "linear"}),
        Architecture("mlp", _mlp, graph=False, fixed_depth_in_parity=True),
        Architecture("linear", _linear, graph=False),
        Architecture("fc", _fc, graph=False, options={"bias_var": 0.0}, scale_inputs=True),
    )
}
