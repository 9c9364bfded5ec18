"""Bad input raises InvalidParameterError naming the argument, the value and what was expected."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from certmodel.exceptions import InvalidParameterError
from certmodel.kernels import graph_operator, ntk, ntk_cross

X = np.random.default_rng(0).normal(size=(5, 3))
A = np.ones((5, 5)) - np.eye(5)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features(bad):
    Xb = X.copy()
    Xb[1, 2] = bad
    with pytest.raises(InvalidParameterError, match="X must be finite"):
        ntk("gcn", Xb, A)
    with pytest.raises(InvalidParameterError, match="X must be finite"):
        ntk("gcn", sp.csr_matrix(Xb), A)
    with pytest.raises(InvalidParameterError, match="X_test must be finite"):
        ntk_cross("fc", X, Xb)


def test_non_finite_or_negative_adjacency():
    Ab = A.copy()
    Ab[0, 1] = np.nan
    with pytest.raises(InvalidParameterError, match="A must be finite"):
        ntk("gcn", X, Ab)
    with pytest.raises(InvalidParameterError, match="non-negative"):
        ntk("gcn", X, -A)


def test_wrong_shapes():
    with pytest.raises(InvalidParameterError, match=r"A must be a square .* got shape \(5, 4\)"):
        ntk("gcn", X, A[:, :4])
    with pytest.raises(InvalidParameterError, match=r"A must have shape \(5, 5\) .* got \(4, 4\)"):
        ntk("gcn", X, A[:4, :4])
    with pytest.raises(InvalidParameterError, match="X must be a 2-D array"):
        ntk("fc", X[0])
    with pytest.raises(InvalidParameterError, match="X must have at least one row"):
        ntk("fc", np.zeros((0, 3)))
    with pytest.raises(InvalidParameterError, match="X_test must have 3 columns"):
        ntk_cross("fc", X, X[:, :2])


def test_unknown_arch_lists_valid_names():
    with pytest.raises(InvalidParameterError, match="unknown arch 'gat'.*gcn.*appnp.*fc"):
        ntk("gat", X, A)
    with pytest.raises(InvalidParameterError, match="expected one of: fc, linear, mlp"):
        ntk_cross("gcn", X, X)


def test_unknown_normalization_lists_valid_names():
    with pytest.raises(InvalidParameterError, match="unknown normalization 'lap'.*row.*sym"):
        ntk("gcn", X, A, normalization="lap")
    with pytest.raises(InvalidParameterError, match="unknown normalization"):
        graph_operator(A, "lap")


@pytest.mark.parametrize("depth,msg", [(0, "depth == 0, must be >= 1"),
                                       (-2, "depth == -2, must be >= 1"),
                                       (1.5, "depth must be of type Integral")])
def test_bad_depth(depth, msg):
    with pytest.raises(InvalidParameterError, match=msg):
        ntk("gcn", X, A, depth=depth)


@pytest.mark.parametrize("alpha,msg", [(1.5, r"alpha == 1.5, must be <= 1.0"),
                                       (-0.1, r"alpha == -0.1, must be >= 0.0"),
                                       (np.nan, "alpha must be finite")])
@pytest.mark.parametrize("arch", ["appnp", "gcn_skip_alpha"])
def test_alpha_out_of_range(arch, alpha, msg):
    with pytest.raises(InvalidParameterError, match=msg):
        ntk(arch, X, A, alpha=alpha)


def test_options():
    with pytest.raises(InvalidParameterError, match="requires the option 'alpha'"):
        ntk("appnp", X, A)
    with pytest.raises(InvalidParameterError,
                       match="unknown option.*'alpha' for arch 'gcn'; accepted options: none"):
        ntk("gcn", X, A, alpha=0.1)
    with pytest.raises(InvalidParameterError, match="unknown skip_branch 'tanh'"):
        ntk("gcn_skip_pc", X, A, skip_branch="tanh")
    with pytest.raises(InvalidParameterError, match="bias_var == -1"):
        ntk("fc", X, bias_var=-1.0)
    with pytest.raises(InvalidParameterError, match="iterations == -1"):
        ntk("appnp", X, A, alpha=0.1, iterations=-1)
    with pytest.raises(InvalidParameterError, match="parity must be a bool"):
        ntk("fc", X, parity="yes")


def test_graph_argument_consistency():
    with pytest.raises(InvalidParameterError, match="graph architecture: pass the adjacency"):
        ntk("gcn", X)
    with pytest.raises(InvalidParameterError, match="does not use a graph; pass A=None"):
        ntk("fc", X, A)
    with pytest.raises(InvalidParameterError, match="pass normalization=None"):
        ntk("mlp", X, normalization="row")


def test_invalid_parameter_error_is_value_error():
    with pytest.raises(ValueError):
        ntk("gcn", X, A, depth=0)
