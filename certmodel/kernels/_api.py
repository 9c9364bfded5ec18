"""Public entry points: validate once, then build the kernel from the registry."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from certmodel._validation import check_array, check_choice, check_scalar
from certmodel.exceptions import InvalidParameterError
from certmodel.kernels._architectures import OPTION_CHECKS, REGISTRY, REQUIRED, Architecture
from certmodel.kernels._kernel import input_kernel
from certmodel.kernels._operators import NORMALIZATIONS, make_operator, normalization_name

__all__ = ["ntk", "ntk_cross", "graph_operator", "architectures"]


def architectures() -> list[str]:
    """Names of the registered architectures, e.g. ``["gcn", "sgc", ...]``."""
    return list(REGISTRY)


# --- validation helpers ---------------------------------------------------------------------------

def _check_features(X, name: str):
    """float64 ndarray or CSR matrix of shape (n, d), finite, non-empty."""
    if sp.issparse(X):
        X = sp.csr_array(X, dtype=np.float64)
        if not np.all(np.isfinite(X.data)):
            raise InvalidParameterError(f"{name} must be finite, but some entries are NaN or inf")
    else:
        X = check_array(X, name, ndim=2)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InvalidParameterError(f"{name} must have at least one row and one column, "
                                    f"got shape {X.shape}")
    return X


def _check_adjacency(A, n: int | None, name: str = "A") -> sp.csr_array:
    """Finite, non-negative (n, n) adjacency as a float64 CSR array (a copy)."""
    if sp.issparse(A):
        A = sp.csr_array(A, dtype=np.float64, copy=True)
        values = A.data
    else:
        A = check_array(A, name, ndim=2)
        values = A
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise InvalidParameterError(f"{name} must be a square (N, N) adjacency matrix, "
                                    f"got shape {A.shape}")
    if n is not None and A.shape[0] != n:
        raise InvalidParameterError(f"{name} must have shape ({n}, {n}) to match the {n} rows "
                                    f"of X, got {A.shape}")
    if not np.all(np.isfinite(values)):
        raise InvalidParameterError(f"{name} must be finite, but some entries are NaN or inf")
    if np.any(values < 0):
        raise InvalidParameterError(f"{name} must have non-negative edge weights")
    return sp.csr_array(A)


def graph_propagation(arch: str, spec: Architecture, A, n: int, normalization, options):
    """The propagation matrix of a graph architecture on ``n`` nodes, or ``None`` without one.

    ``S = make_operator(A, norm)`` (sparse) for message-passing layers, and for APPNP the dense
    ``Π = appnp_operator(S, α, K) · I`` (its K-step personalised-PageRank propagation).  A graph
    architecture without ``A``, or ``A`` given to one without a graph, is an error.
    """
    from certmodel.kernels._operators import appnp_operator

    if not spec.graph:
        if A is not None:
            raise InvalidParameterError(f"arch {arch!r} does not use a graph; pass A=None")
        return None
    if A is None:
        raise InvalidParameterError(f"arch {arch!r} is a graph architecture: pass A")
    A = _check_adjacency(A, n)
    norm = spec.normalization if normalization is None else _check_normalization(normalization)
    S = make_operator(A, norm)
    if arch == "appnp":
        return np.asarray(appnp_operator(S, options["alpha"], options["iterations"]) @ np.eye(n))
    return S


def _check_normalization(normalization) -> str:
    canon = normalization_name(normalization)
    if canon is None:
        check_choice(normalization, "normalization",
                     NORMALIZATIONS + ("gin", "row_normalization", "sym_normalization",
                                       "graph_sage_normalization"))
    return canon


def _check_arch(arch) -> Architecture:
    check_choice(arch, "arch", REGISTRY)
    return REGISTRY[arch]


def _check_options(spec: Architecture, options: dict) -> dict:
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        accepted = ", ".join(spec.options) or "none"
        raise InvalidParameterError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for arch {spec.name!r}; "
            f"accepted options: {accepted}")
    out = {}
    for key, default in spec.options.items():
        if key not in options:
            if default is REQUIRED:
                raise InvalidParameterError(f"arch {spec.name!r} requires the option {key!r}")
            out[key] = default
        else:
            out[key] = OPTION_CHECKS[key](options[key])
    return out


def _check_depth_parity(depth, parity, spec: Architecture) -> tuple[int, bool]:
    depth = check_scalar(depth, "depth", numbers.Integral, min_val=1)
    if not isinstance(parity, bool | np.bool_):
        raise InvalidParameterError(f"parity must be a bool, got {parity!r}")
    if parity and spec.fixed_depth_in_parity:
        depth = 1
    return depth, bool(parity)


def _input_scale(spec: Architecture, X) -> float:
    return 1.0 / X.shape[1] if spec.scale_inputs else 1.0


# --- public API -----------------------------------------------------------------------------------

def graph_operator(A, normalization: str = "row") -> sp.csr_array:
    """The graph operator S of a normalisation (labelcert-spec §2).

    Row, sym and GraphSAGE normalisation first rebuild A from its strict upper triangle
    (``triu(A, 1) + triu(A, 1)ᵀ``); ``none`` (alias ``gin``) keeps A and sets its diagonal to 1.

    =============  =====================================================
    ``row``        ``S = D⁻¹(A + I)``, D = row sums of A + I
    ``sym``        ``S = D^{-1/2}(A + I)D^{-1/2}``
    ``graphsage``  ``S = I + D_A⁻¹A`` (zero-degree rows of D_A⁻¹A stay 0)
    ``none``       ``S = A`` with unit diagonal
    =============  =====================================================

    Parameters
    ----------
    A : array-like or scipy.sparse matrix of shape (N, N)
        Non-negative (weighted) adjacency; never modified. Pass ``w * A`` to weigh it.
    normalization : {"row", "sym", "graphsage", "none", "gin"}, default="row"
        The reference's names (``"row_normalization"`` ...) are accepted too.

    Returns
    -------
    S : scipy.sparse.csr_array of shape (N, N), float64

    Raises
    ------
    InvalidParameterError
        A not square, not finite or negative; unknown ``normalization``.

    Examples
    --------
    >>> import numpy as np
    >>> graph_operator(np.array([[0, 1], [1, 0]]), "row").toarray()
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    A = _check_adjacency(A, None)
    return make_operator(A, _check_normalization(normalization))


def ntk(arch: str, X, A=None, *, normalization: str | None = None, depth: int = 1,
        parity: bool = False, **arch_options) -> np.ndarray:
    """Closed-form NTK of an infinitely wide network, between all nodes / points of ``X``.

    Networks are in NTK parameterisation with all parameters i.i.d. N(0, 1) at initialisation,
    the ReLU normalised as ``√2·max(z, 0)`` (the reference's c_σ = 2 arc-cosine kernels:
    ``E_ij = 2E[relu(a)relu(b)]``, equivalently σ_w² = 2 after every ReLU), no biases unless
    stated, and a linear scalar read-out. The first (input) layer uses unit-variance weights
    without a 1/√d factor (so the first pre-activation covariance is exactly ``X Xᵀ`` as in the
    reference), except for ``fc``, which uses the standard 1/√d fan-in scaling. ``depth`` L
    counts hidden ReLU layers.

    =====================  ==============================================================
    ``gcn``                Σ⁽⁰⁾ = SGSᵀ; Σ⁽ˡ⁾ = SE_lSᵀ; K_l = Σ⁽ˡ⁾ + S(K_{l−1}∘Ė_l)Sᵀ
    ``sgc``                as gcn, linear activation: K = (L+1) S^{L+1}G(S^{L+1})ᵀ
    ``graphsage``          gcn with the ``graphsage`` operator
    ``gcn_skip_pc``        gcn with Σ⁽ˡ⁾ = SE_lSᵀ + Σ⁽⁰⁾ (``skip_branch="relu"``: Σ⁽⁰⁾ = SE_xSᵀ,
                           E_x from Φ(G))
    ``gcn_skip_alpha``     Σ⁽⁰⁾ = PGPᵀ, P = (1−α)S + αI; Σ⁽ˡ⁾ = (1−α)²SE_lSᵀ + α²G
                           (``alpha=0.2``; ``skip_branch="relu"`` replaces G by E_x)
    ``appnp``              K = Π K_mlp Πᵀ, Π = ``iterations`` (10) steps of
                           Π ← (1−α)ŜΠ + αI, Ŝ sym-normalised (``alpha`` required)
    ``mlp``                one hidden layer with biases (variance 1): Σ = G + 11ᵀ,
                           K = Σ∘Ė + E + 11ᵀ (= appnp with α = 1)
    ``gin``                Σ = S G Sᵀ with S = A + I (``none``), K = Σ∘Ė + E
    ``linear``             K = X Xᵀ
    ``fc``                 Σ⁽⁰⁾ = XXᵀ/d + σ_b²; Σ⁽ˡ⁾ = E_l + σ_b²; Θ⁽ˡ⁾ = Θ⁽ˡ⁻¹⁾∘Ė_l + Σ⁽ˡ⁾
                           (``bias_var`` σ_b², default 0)
    =====================  ==============================================================

    Here G = X Xᵀ and (E, Ė) = Φ(Σ) are the arc-cosine expectations
    ``E = q κ1(u)``, ``Ė = κ0(u)``, ``q_ij = √(Σ_ii Σ_jj)``, ``u = Σ/q``.

    Parameters
    ----------
    arch : str
        One of :func:`architectures`.
    X : array-like or scipy.sparse matrix of shape (N, d)
        Node / point features (raw, not normalised).
    A : array-like or scipy.sparse matrix of shape (N, N), optional
        Adjacency; required for graph architectures, must be None otherwise.
    normalization : str, optional
        Graph normalisation (:func:`graph_operator`); default per architecture: ``row``
        (GCN family), ``graphsage``, ``sym`` (APPNP's Ŝ), ``none`` (GIN).
    depth : int, default=1
        Number of hidden layers L ≥ 1 (GIN: number of GIN layers; ignored by ``linear``).
    parity : bool, default=False
        Reproduce the reference numerically (labelcert-spec §3, §7 items 1–3): ReLU covariance
        clipping at ``min(Σ_ii, Σ_jj)`` instead of ``√(Σ_ii Σ_jj)``, the clipped Σ reused in
        ``Σ∘Ė`` and as skip-PC term, earlier Θ rounded to float32 for depth ≥ 2, GIN / APPNP /
        MLP ignoring ``depth``, no final symmetrisation. The default is the mathematically
        correct kernel (exactly symmetric, positive semi-definite).
    **arch_options
        ``alpha``, ``iterations``, ``skip_branch``, ``bias_var`` as listed above.

    Returns
    -------
    K : ndarray of shape (N, N), float64

    Raises
    ------
    InvalidParameterError
        Unknown ``arch``/option/normalisation, non-finite X or A, shape mismatch, depth < 1,
        alpha outside [0, 1], ...

    Examples
    --------
    >>> import numpy as np
    >>> X = np.eye(3); A = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    >>> K = ntk("gcn", X, A)
    >>> K.shape, bool(np.allclose(K, K.T))
    ((3, 3), True)
    """
    spec = _check_arch(arch)
    X = _check_features(X, "X")
    depth, parity = _check_depth_parity(depth, parity, spec)
    options = _check_options(spec, arch_options)
    S = None
    if spec.graph:
        if A is None:
            raise InvalidParameterError(f"arch {arch!r} is a graph architecture: pass the "
                                        "adjacency matrix A of shape (N, N)")
        A = _check_adjacency(A, X.shape[0])
        norm = spec.normalization if normalization is None else \
            _check_normalization(normalization)
        S = make_operator(A, norm)
    else:
        if A is not None:
            raise InvalidParameterError(f"arch {arch!r} does not use a graph; pass A=None")
        if normalization is not None:
            raise InvalidParameterError(f"arch {arch!r} does not use a graph; "
                                        "pass normalization=None")
    x = input_kernel(X, scale=_input_scale(spec, X), parity=parity)
    return spec.build(x, S, depth=depth, **options).ntk


_CROSS_ARCHS = ("fc", "linear", "mlp")


def ntk_cross(arch: str, X_train, X_test, *, depth: int = 1, parity: bool = False,
              **arch_options) -> np.ndarray:
    """NTK between test and training points for the non-graph architectures.

    Same kernels and conventions as :func:`ntk` (``fc``, ``linear``, ``mlp``), evaluated
    between two sets: ``K[i, j] = Θ(x_test_i, x_train_j)``, so
    ``ntk_cross(a, X, X) ≈ ntk(a, X)``.

    Parameters
    ----------
    arch : {"fc", "linear", "mlp"}
    X_train : array-like or scipy.sparse matrix of shape (n, d)
    X_test : array-like or scipy.sparse matrix of shape (m, d)
    depth, parity, **arch_options
        As in :func:`ntk` (parity min-clips at ``min(Σ(x, x), Σ(x', x'))``).

    Returns
    -------
    K : ndarray of shape (m, n), float64

    Examples
    --------
    >>> import numpy as np
    >>> ntk_cross("linear", np.eye(2), np.ones((1, 2)))
    array([[1., 1.]])
    """
    check_choice(arch, "arch (for ntk_cross)", _CROSS_ARCHS)
    spec = REGISTRY[arch]
    X_train = _check_features(X_train, "X_train")
    X_test = _check_features(X_test, "X_test")
    if X_test.shape[1] != X_train.shape[1]:
        raise InvalidParameterError(
            f"X_test must have {X_train.shape[1]} columns to match X_train, "
            f"got shape {X_test.shape}")
    depth, parity = _check_depth_parity(depth, parity, spec)
    options = _check_options(spec, arch_options)
    x = input_kernel(X_train, X_test, scale=_input_scale(spec, X_train), parity=parity)
    return spec.build(x, None, depth=depth, **options).ntk
