"""Re-export of the flip-indicator block (see :mod:`.objectives`) under its own name."""

from certmodel.milp.blocks.objectives import add_flip_indicators

__all__ = ["add_flip_indicators"]
