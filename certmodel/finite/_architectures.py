"""Finite networks of the registered architectures, composed exactly like their kernels.

Each builder mirrors the function of the same name in :mod:`certmodel.kernels._architectures`
layer by layer (compare the two files side by side); the last ``dense`` is the scalar read-out
(``width=1``). ``linear`` has no hidden layer (``f = X w``; the width is unused).
``hops`` gives how many graph propagations separate a node's logit from the input (the
receptive field used in training; ``None``: a dense operator, all nodes).
"""

from __future__ import annotations

from certmodel.finite._layers import (
    Layer,
    add_skip,
    dense,
    linear,
    propagate,
    random_input,
    relu,
    serial,
)

__all__ = ["FINITE_BUILDERS", "FINITE_ARCHS", "hops"]


def _gcn_family(depth: int, activation=relu) -> Layer:
    """``f = S φ(… S φ(S X W⁰) W¹/√h …) w/√h`` (kernel: ``_gcn_family``)."""
    layers = [serial(activation(), propagate("S"), dense()) for _ in range(depth - 1)]
    readout = serial(activation(), propagate("S"), dense(width=1))
    return serial(propagate("S"), dense(), *layers, readout)


def _gcn(*, depth):
    return _gcn_family(depth)


def _sgc(*, depth):
    return _gcn_family(depth, activation=linear)


def _gcn_skip_pc(*, depth, skip_branch):
    """Σ⁽ˡ⁾ = S E_l Sᵀ + Σ⁽⁰⁾: a fixed independent copy ξ of the first layer joins every block."""
    def first():
        if skip_branch == "linear":
            return serial(propagate("S"), dense())
        return serial(random_input(), relu(), propagate("S"), dense())

    def block(width=None):
        return serial(relu(), propagate("S"), add_skip(first()), dense(width=width))

    return serial(first(), *[block() for _ in range(depth - 1)], block(width=1))


def _gcn_skip_alpha(*, depth, alpha, skip_branch):
    """Σ⁽⁰⁾ = P G Pᵀ; Σ⁽ˡ⁾ = (1 − α)² S E_l Sᵀ + α² G with ξ ~ fixed features of covariance G
    (``relu`` branch: E_x). The reference keeps Θ unscaled by (1 − α)², so the layer before
    ``k`` skips trains with tangent scale ``(1 − α)^{-2k}`` (see :mod:`._layers`)."""
    s = (1.0 - alpha) ** 2
    if s == 0.0:
        raise ValueError("gcn_skip_alpha with alpha = 1 has no trained path (finite network)")
    if skip_branch == "linear":
        head, branch, signs = [], random_input(), False
    else:
        head, branch, signs = [random_input(), relu()], serial(random_input(), relu()), True

    def block(k, width=None):
        return serial(relu(), propagate("S"),
                      add_skip(branch, scale=s, skip_scale=alpha ** 2, random_signs=signs),
                      dense(width=width, tangent=s ** -(depth - k)))

    blocks = [block(k) for k in range(1, depth)] + [block(depth, width=1)]
    return serial(*head, propagate("P"), dense(tangent=s ** -depth), *blocks)


def _mlp_with_bias(depth: int) -> Layer:
    """``z¹ = X W⁰ + β⁰``; ``zˡ⁺¹ = φ(zˡ) Wˡ/√h + βˡ`` (bias variance 1)."""
    layers = [serial(relu(), dense(bias_var=1.0)) for _ in range(depth - 1)]
    return serial(dense(bias_var=1.0), *layers, serial(relu(), dense(bias_var=1.0, width=1)))


def _mlp(*, depth):
    return _mlp_with_bias(depth)


def _appnp(*, depth, alpha, iterations):
    """``f = Π f_mlp`` (Π the APPNP propagation, ``ctx["Pi"]``)."""
    return serial(_mlp_with_bias(depth), propagate("Pi"))


def _gin(*, depth):
    """One GIN layer = aggregation S, then a one-hidden-layer ReLU MLP; layers joined by ReLU."""
    def gin_layer(width=None):
        return serial(propagate("S"), dense(), relu(), dense(width=width))

    if depth == 1:
        return gin_layer(width=1)
    return serial(gin_layer(), *[serial(relu(), gin_layer()) for _ in range(depth - 2)],
                  serial(relu(), gin_layer(width=1)))


def _linear(*, depth):
    return dense(width=1)


def _fc(*, depth, bias_var):
    layers = [serial(relu(), dense(bias_var=bias_var)) for _ in range(depth - 1)]
    return serial(dense(bias_var=bias_var), *layers,
                  serial(relu(), dense(bias_var=bias_var, width=1)))


FINITE_BUILDERS = {
    "gcn": _gcn,
    "sgc": _sgc,
    "graphsage": _gcn,
    "gin": _gin,
    "appnp": _appnp,
    "gcn_skip_alpha": _gcn_skip_alpha,
    "gcn_skip_pc": _gcn_skip_pc,
    "mlp": _mlp,
    "fc": _fc,
    "linear": _linear,
}
FINITE_ARCHS = tuple(FINITE_BUILDERS)


def hops(arch: str, depth: int) -> int | None:
    """Number of propagation steps from the input to the logits (``None``: all nodes)."""
    if arch in ("gcn", "sgc", "graphsage", "gcn_skip_pc", "gcn_skip_alpha"):
        return depth + 1
    if arch == "gin":
        return depth
    if arch == "appnp":
        return None
    return 0
