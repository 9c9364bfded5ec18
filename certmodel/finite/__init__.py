"""Finite-width networks that match the kernels, trained on the certificates' objectives.

Every certificate in certmodel is exact for the infinite-width network (the kernel SVM or
kernel regression with its NTK). This package builds the *finite* networks behind the kernels
(:mod:`certmodel.finite._layers` mirrors :mod:`certmodel.kernels._layers` layer by layer),
trains them by full-batch gradient descent on the same objective, and measures how far a
network someone actually trains is from the kernel — and whether certificates transfer.

* :class:`FiniteNetwork` — the network of an architecture at a width and seed;
* :func:`fit_hinge` / :func:`fit_squared` — GD on the soft-margin hinge (kernel SVM) / squared
  loss (kernel ridge, NTK gradient flow);
* :func:`empirical_ntk` — the network's NTK, which tends to ``kernels.ntk`` as the width grows;
* :mod:`certmodel.finite.study` — agreement with the kernel learner and transfer of
  certificates, per width (``certmodel validate``).

jax is imported lazily (only when a network is evaluated).
"""

from certmodel.finite._architectures import FINITE_ARCHS
from certmodel.finite._network import FiniteNetwork, empirical_ntk
from certmodel.finite._train import FiniteFit, fit_hinge, fit_squared, pm_labels

__all__ = ["FINITE_ARCHS", "FiniteNetwork", "empirical_ntk", "FiniteFit", "fit_hinge",
           "fit_squared", "pm_labels"]
