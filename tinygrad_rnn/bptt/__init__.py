"""BPTT written out by hand: the lectures' formulas in plain NumPy, to check the engine against.

``tinygrad_rnn.bptt.reference`` holds the hand-derived gradients (Elman path sums and
recursion, cell and sequence backward passes); no autodiff is used in this package.
"""

from tinygrad_rnn.bptt import reference

__all__ = ["reference"]
