"""Reusable Pyomo blocks of the bilevel → KKT → MILP reformulation (one concept per module).

=================  ==========================================================================
module             block / function
=================  ==========================================================================
``adversary``      label flips with a budget (binary), one-hot relabelling (multiclass)
``products``       exact linearisation of ±1 label × bounded quantity (McCormick for y ∈ {±1})
``bigm``           provably valid big-M values ``C r_i ∓ 1`` with provenance
``kkt``            KKT system of the bias-free SVM (stationarity, products, slackness)
``objectives``     logits, flip indicators and conflict cuts (collective), exact max over rivals
``flipcut``        optional valid inequality: optimality of the retrained SVM vs the clean one
=================  ==========================================================================
"""

from certmodel.milp.blocks.adversary import add_binary_adversary, add_multiclass_adversary
from certmodel.milp.blocks.bigm import BigM, svm_big_m
from certmodel.milp.blocks.flipcut import add_flip_optimality_cut
from certmodel.milp.blocks.kkt import LINEARIZATIONS, add_svm_kkt, kkt_point
from certmodel.milp.blocks.objectives import (
    add_conflict_cuts,
    add_flip_indicators,
    add_max_over,
    logit_bound,
    logit_expression,
)
from certmodel.milp.blocks.products import add_signed_product

__all__ = [
    "BigM",
    "LINEARIZATIONS",
    "add_binary_adversary",
    "add_conflict_cuts",
    "add_flip_indicators",
    "add_flip_optimality_cut",
    "add_max_over",
    "add_multiclass_adversary",
    "add_signed_product",
    "add_svm_kkt",
    "kkt_point",
    "logit_bound",
    "logit_expression",
    "svm_big_m",
]
