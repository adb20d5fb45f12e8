"""The lectures' hand-derived backward passes, in plain NumPy: the ground truth for the engine.

Nothing here uses autodiff. Every gradient is a formula from the curriculum (sections 2, 3,
5 and 6) written out by hand, and the tests check each one against finite differences.
The engine's tests then check the graph walk against these functions.

Three parts, one module each (all re-exported here):

* :mod:`~tinygrad_rnn.bptt.reference_elman` — the Elman RNN in the lectures' notation
  (row vectors: s_t = tanh(x_t W_x + s_{t−1} W_s + b), y_t = s_t W_y, E = Σ_t (d_t − y_t)²)
  and BPTT twice: as the O(T²) sum over paths of the lecture formula
  (:func:`elman_bptt_terms`, :func:`elman_bptt`) and as the O(T) backward recursion
  (:func:`elman_bptt_recursive`), the factorisation that reverse-mode autodiff performs.
* :mod:`~tinygrad_rnn.bptt.reference_cells` — one step of the RNN, GRU, simplified GRU,
  LSTM and peephole LSTM cells in PyTorch's weight layout, each with a hand-derived backward.
* :mod:`~tinygrad_rnn.bptt.reference_sequences` — those cells over T steps, back-propagated
  by calling the cell backward in a loop.

Conventions. Arrays carry the batch on the first axis (after time): a sequence is (T, B, I),
one step's input (B, I), a state (B, H); 1-D inputs are not supported. Batch rows are
independent, and losses and parameter gradients are SUMS over the batch (no mean).
Use float64 arrays when comparing against these functions.
"""

from tinygrad_rnn.bptt.reference_cells import (
    gru_backward,
    gru_forward,
    lstm_backward,
    lstm_forward,
    peephole_lstm_backward,
    peephole_lstm_forward,
    rnn_cell_backward,
    rnn_cell_forward,
    sigmoid,
    simple_gru_backward,
    simple_gru_forward,
)
from tinygrad_rnn.bptt.reference_elman import (
    BPTTTerms,
    elman_bptt,
    elman_bptt_recursive,
    elman_bptt_terms,
    elman_forward,
    elman_loss,
)
from tinygrad_rnn.bptt.reference_sequences import (
    gru_sequence_backward,
    gru_sequence_forward,
    lstm_sequence_backward,
    lstm_sequence_forward,
    peephole_lstm_sequence_backward,
    peephole_lstm_sequence_forward,
    rnn_sequence_backward,
    rnn_sequence_forward,
    simple_gru_sequence_backward,
    simple_gru_sequence_forward,
)

__all__ = [
    "BPTTTerms",
    "elman_bptt",
    "elman_bptt_recursive",
    "elman_bptt_terms",
    "elman_forward",
    "elman_loss",
    "gru_backward",
    "gru_forward",
    "gru_sequence_backward",
    "gru_sequence_forward",
    "lstm_backward",
    "lstm_forward",
    "lstm_sequence_backward",
    "lstm_sequence_forward",
    "peephole_lstm_backward",
    "peephole_lstm_forward",
    "peephole_lstm_sequence_backward",
    "peephole_lstm_sequence_forward",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "rnn_sequence_backward",
    "rnn_sequence_forward",
    "sigmoid",
    "simple_gru_backward",
    "simple_gru_forward",
    "simple_gru_sequence_backward",
    "simple_gru_sequence_forward",
]
