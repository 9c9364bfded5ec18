"""Model factories shared by the backend tests (tiny MILPs with brute-forced optima).

They live in :mod:`certmodel.backends.testing` (the conformance helper for plug-in authors);
re-exported here for the ``test_*`` files of this folder.
"""

from certmodel.backends.testing import (  # noqa: F401
    HARD_OPT,
    brute_force,
    feasible,
    hard_form,
    hard_knapsack_data,
    infeasible_form,
    lp_form,
    tiny_form,
    tiny_points,
)
