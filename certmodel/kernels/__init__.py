"""Closed-form neural tangent kernels of (graph) neural networks.

The NTK of an infinitely wide network is the kernel of a bias-free SVM that the certificates
work with. Kernels are composed from layer functions over an immutable :class:`Kernel`
(neural-tangents style), so an architecture is a few lines::

    from certmodel.kernels import Kernel, serial, propagate, dense, relu
    def gcn(x: Kernel, S, depth):
        return serial(propagate(S), dense(), *[serial(relu(), propagate(S), dense())] * depth)(x)

Public entry points: :func:`ntk` (all nodes of a graph / all points), :func:`ntk_cross`
(test × train, non-graph architectures), :func:`graph_operator`, :func:`architectures`.
:mod:`certmodel.kernels.empirical` checks the closed forms against finite networks (jax).
"""

from certmodel.kernels._api import architectures, graph_operator, ntk, ntk_cross
from certmodel.kernels._kernel import Kernel, input_kernel
from certmodel.kernels._layers import add_skip, dense, linear, propagate, relu, serial
from certmodel.kernels._operators import appnp_operator
from certmodel.kernels._relu import relu_expectations

__all__ = [
    "ntk",
    "ntk_cross",
    "graph_operator",
    "appnp_operator",
    "architectures",
    "Kernel",
    "input_kernel",
    "serial",
    "dense",
    "relu",
    "linear",
    "propagate",
    "add_skip",
    "relu_expectations",
]
