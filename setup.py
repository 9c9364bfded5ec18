"""Package discovery only (metadata lives in pyproject.toml).

The solver adapters live in the top-level folder ``backends/`` (the design card's layout)
and are installed as the sub-package ``certmodel.backends`` so that no generic top-level
module name is claimed in site-packages.
"""

from setuptools import find_packages, setup

packages = find_packages(include=["certmodel", "certmodel.*"])
packages += ["certmodel.backends"] + [
    "certmodel.backends." + p for p in find_packages(where="backends")
]
setup(packages=packages)
