"""Kernel layers: functions ``Kernel -> Kernel`` that compose into architectures.

Each factory returns a layer ``fn(k: Kernel) -> Kernel`` (neural-tangents ``kernel_fn`` style);
:func:`serial` composes layers. The finite network behind each layer (NTK parameterisation,
all weights i.i.d. N(0, 1) at initialisation, width h → ∞):

=================  =========================================  ====================================
layer              finite network                              kernel map
=================  =========================================  ====================================
``dense(b, w)``    ``z' = √w · z W / √h + √b · β``             ``Σ' = wΣ + b``, ``Θ' = wΘ + Σ'``
``relu()``         ``z' = √2 · max(z, 0)``                     ``Σ' = E``, ``Θ' = Θ ∘ Ė``  (Φ(Σ))
``linear()``       ``z' = z``                                  unchanged
``propagate(S)``   ``z' = S z`` (nodes)                        ``Σ' = SΣSᵀ``, ``Θ' = SΘSᵀ``
``add_skip(C)``    ``z' = √s z + √t ξ``, ξ ~ GP(0, C) fixed     ``Σ' = sΣ + tC``, ``Θ' = Θ``
=================  =========================================  ====================================

``h`` is the fan-in of the dense layer (for the first layer after :func:`input_kernel` the fan-in
factor is absorbed into the input kernel's ``scale``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

import numpy as np

from certmodel.kernels._kernel import Kernel
from certmodel.kernels._relu import min_clip, relu_expectations

__all__ = ["Layer", "serial", "dense", "relu", "linear", "propagate", "add_skip",
           "relu_covariance"]

Layer = Callable[[Kernel], Kernel]


def _total(terms: tuple) -> np.ndarray:
    """Θ = Θ_1 + … + Θ_l (+ Σ), summed in the reference's order."""
    return reduce(np.add, terms)


def serial(*layers: Layer) -> Layer:
    """Compose layers left to right: ``serial(f, g)(k) == g(f(k))``."""

    def kernel_fn(k: Kernel) -> Kernel:
        for layer in layers:
            k = layer(k)
        return k

    return kernel_fn


def dense(bias_var: float = 0.0, weight_var: float = 1.0) -> Layer:
    """Fully connected layer in NTK parameterisation.

    ``Σ' = σ_w² Σ + σ_b²`` and ``Θ' = σ_w² Θ + Σ'`` (the weights contribute ``σ_w² Σ``, the
    biases ``σ_b²`` to the tangent kernel).
    """

    def kernel_fn(k: Kernel) -> Kernel:
        nngp = k.nngp
        d1, d2 = k.diag1, k.diag2
        if weight_var != 1.0 or bias_var != 0.0:
            nngp = weight_var * nngp + bias_var
            if not k.square:
                d1, d2 = weight_var * d1 + bias_var, weight_var * d2 + bias_var
        if k.parity:
            old = k.terms if weight_var == 1.0 else tuple(weight_var * t for t in k.terms)
            terms = old + (nngp,)          # the last term *is* Σ' (the reference aliases it)
            return k.replace(nngp=nngp, ntk=_total(terms), diag1=d1, diag2=d2, terms=terms)
        ntk = k.ntk + nngp if weight_var == 1.0 else weight_var * k.ntk + nngp
        return k.replace(nngp=nngp, ntk=ntk, diag1=d1, diag2=d2)

    return kernel_fn


def relu_covariance(k: Kernel) -> np.ndarray:
    """The covariance a ReLU layer actually uses: Σ, or the min-clipped Σ in parity mode."""
    if not k.parity:
        return k.nngp
    d1, d2 = k.variances()
    return min_clip(k.nngp, d1, d2)


def _split_aliased(k: Kernel) -> tuple[tuple, bool]:
    """Parity: (earlier NTK terms, whether the last term is the aliased Σ)."""
    if k.terms and k.terms[-1] is k.nngp:
        return k.terms[:-1], True
    return k.terms, False


def _f32(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32).astype(np.float64)


def relu() -> Layer:
    """Normalised ReLU ``√2·max(z, 0)``: ``(E, Ė) = Φ(Σ)``, ``Σ' = E``, ``Θ' = Θ ∘ Ė``.

    In parity mode Σ is min-clipped first (:func:`~certmodel.kernels._relu.min_clip`), the
    clipped Σ replaces the NTK term aliased to it, and every earlier NTK term is rounded to
    float32 before the product (labelcert-spec §3.2).
    """

    def kernel_fn(k: Kernel) -> Kernel:
        d1, d2 = k.variances()
        sigma = relu_covariance(k)
        E, Edot = relu_expectations(sigma, d1, d2, square=k.square)
        if k.parity:
            earlier, aliased = _split_aliased(k)
            terms = tuple(_f32(t) * Edot for t in earlier)
            if aliased:
                terms = terms + (sigma * Edot,)
            ntk = _total(terms) if terms else np.zeros_like(E)
            return k.replace(nngp=E, ntk=ntk, terms=terms)
        return k.replace(nngp=E, ntk=k.ntk * Edot)

    return kernel_fn


def linear() -> Layer:
    """Identity activation (``E = Σ``, ``Ė = 1``); parity mode keeps the float32 round-trip."""

    def kernel_fn(k: Kernel) -> Kernel:
        if not k.parity:
            return k
        earlier, aliased = _split_aliased(k)
        terms = tuple(_f32(t) for t in earlier) + ((k.nngp,) if aliased else ())
        ntk = _total(terms) if terms else k.ntk
        return k.replace(ntk=ntk, terms=terms)

    return kernel_fn


def _sandwich(S, M: np.ndarray, symmetrize: bool) -> np.ndarray:
    """``S M Sᵀ`` with S sparse, dense or a scipy ``LinearOperator``."""
    T = np.asarray(S @ M)
    R = np.asarray(S @ T.T).T
    if symmetrize:
        return (R + R.T) * 0.5
    return np.ascontiguousarray(R)


def propagate(S) -> Layer:
    """Graph propagation ``z' = S z`` over nodes: ``Σ' = SΣSᵀ``, ``Θ' = SΘSᵀ``.

    ``S`` is an (N, N) array, scipy.sparse matrix or ``scipy.sparse.linalg.LinearOperator``.
    Outside parity mode the result is made exactly symmetric (round-off only).
    """

    def kernel_fn(k: Kernel) -> Kernel:
        if not k.square:
            raise ValueError("propagate needs the square kernel of all nodes (graph "
                             "propagation is transductive); build it from all node features")
        sym = not k.parity
        nngp = _sandwich(S, k.nngp, sym)
        if k.parity:
            terms = tuple(_sandwich(S, t, False) for t in k.terms)
            ntk = _total(terms) if terms else np.zeros_like(nngp)
            return k.replace(nngp=nngp, ntk=ntk, terms=terms)
        ntk = _sandwich(S, k.ntk, sym) if np.any(k.ntk) else np.zeros_like(nngp)
        return k.replace(nngp=nngp, ntk=ntk)

    return kernel_fn


def add_skip(cov: np.ndarray, *, scale: float = 1.0, skip_scale: float = 1.0) -> Layer:
    """Add an independent skip branch of covariance ``cov``: ``Σ' = sΣ + t·cov``, ``Θ' = Θ``.

    This is the reference's skip convention (labelcert-spec §3.2): the skip branch enters the
    covariance only; it adds no tangent-kernel term of its own and Θ is not rescaled by ``s``.
    """

    def kernel_fn(k: Kernel) -> Kernel:
        nngp = k.nngp * scale if scale != 1.0 else k.nngp
        return k.replace(nngp=nngp + skip_scale * cov)

    return kernel_fn
