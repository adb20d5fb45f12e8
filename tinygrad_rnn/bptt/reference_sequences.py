"""A cell unrolled over T steps, and BPTT as a loop over the cell's hand-written backward.

Every ``*_sequence_forward(xs, state0, weight_ih, weight_hh, bias_ih=None, bias_hh=None)``
returns ``hs`` (T, B, H) — h_1 .. h_T — and the final state (h_T, or (h_T, c_T) for the
LSTMs). Every ``*_sequence_backward`` takes the same arguments plus the upstream gradients

* ``dhs`` (T, B, H): ∂L/∂h_t on every output (None: zeros), like the ``output`` of torch.nn.RNN;
* ``dstate_final``: ∂L/∂(final state) — dh_T (B, H), or (dh_T, dc_T) for the LSTMs (None:
  zeros), like torch's ``h_n`` (and ``c_n``). h_T is in both, so its two gradients add;

and returns a dict with "dxs" (T, B, I), "dh0" (B, H) (and "dc0" for the LSTMs),
"dweight_ih", "dweight_hh", "dbias_ih" / "dbias_hh" (if that bias was given) and, for the
peephole LSTM, "dweight_ch". The initial state may be None (zeros; "dh0" is still returned).

The backward loop is BPTT in its O(T) form: walk t = T .. 1, add the gradient arriving
from the future state to the one on the output h_t, run the cell backward, and ADD its
weight gradients — the same weights were used at every step, so their gradient is the sum
of one contribution per step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn.bptt import reference_cells as cells

__all__ = [
    "gru_sequence_backward",
    "gru_sequence_forward",
    "lstm_sequence_backward",
    "lstm_sequence_forward",
    "peephole_lstm_sequence_backward",
    "peephole_lstm_sequence_forward",
    "rnn_sequence_backward",
    "rnn_sequence_forward",
    "simple_gru_sequence_backward",
    "simple_gru_sequence_forward",
]


def _unroll(step, xs, state0, params):
    """Run ``step(x_t, state, *params)`` for t = 1..T -> (hs (T, B, H), final state, caches)."""
    state, hs, caches = state0, [], []
    for x_t in xs:
        state, cache = step(x_t, state, *params)
        hs.append(state[0] if isinstance(state, tuple) else state)  # the output is h_t
        caches.append(cache)
    return np.stack(hs), state, caches


def _backward_loop(step_backward, caches, dhs, dstate_final, lstm: bool) -> dict:
    """BPTT over the cached steps, t = T .. 1; ``lstm``: the state is (h, c) rather than h."""
    if lstm:
        dh, dc = (None, None) if dstate_final is None else dstate_final
    else:
        dh, dc = dstate_final, None
    dh = np.zeros_like(caches[-1]["h_prev"]) if dh is None else dh
    if lstm and dc is None:
        dc = np.zeros_like(dh)
    dxs: list[Any] = [None] * len(caches)
    total: dict[str, np.ndarray] = {}
    for t in reversed(range(len(caches))):
        if dhs is not None:
            dh = dh + dhs[t]  # h_t went both to the output and into step t + 1
        step = step_backward((dh, dc) if lstm else dh, caches[t])
        dxs[t] = step.pop("dx")
        dh, dc = step.pop("dh_prev"), step.pop("dc_prev", None)  # on to step t − 1
        for name, grad in step.items():  # the weights' contribution of this step, summed
            total[name] = total[name] + grad if name in total else grad
    total["dxs"] = np.stack(dxs)
    total["dh0"] = dh
    if lstm:
        assert dc is not None
        total["dc0"] = dc
    return total


# ---- plain RNN ---------------------------------------------------------------------------


def rnn_sequence_forward(
    xs, state0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"
):
    """h_t = φ(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh), t = 1..T -> (hs, h_T)."""
    params = (weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
    hs, h_T, _ = _unroll(cells.rnn_cell_forward, xs, state0, params)
    return hs, h_T


def rnn_sequence_backward(
    xs,
    state0,
    weight_ih,
    weight_hh,
    bias_ih=None,
    bias_hh=None,
    dhs=None,
    dstate_final=None,
    nonlinearity="tanh",
) -> dict:
    """BPTT through :func:`rnn_sequence_forward`: :func:`rnn_cell_backward` in a loop."""
    params = (weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity)
    _, _, caches = _unroll(cells.rnn_cell_forward, xs, state0, params)
    return _backward_loop(cells.rnn_cell_backward, caches, dhs, dstate_final, lstm=False)


# ---- GRU and the simplified GRU ----------------------------------------------------------


def gru_sequence_forward(xs, state0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """:func:`gru_forward` over t = 1..T -> (hs, h_T)."""
    params = (weight_ih, weight_hh, bias_ih, bias_hh)
    hs, h_T, _ = _unroll(cells.gru_forward, xs, state0, params)
    return hs, h_T


def gru_sequence_backward(
    xs, state0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, dhs=None, dstate_final=None
) -> dict:
    """BPTT through :func:`gru_sequence_forward`: :func:`gru_backward` in a loop."""
    params = (weight_ih, weight_hh, bias_ih, bias_hh)
    _, _, caches = _unroll(cells.gru_forward, xs, state0, params)
    return _backward_loop(cells.gru_backward, caches, dhs, dstate_final, lstm=False)


def simple_gru_sequence_forward(xs, state0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """:func:`simple_gru_forward` over t = 1..T -> (hs, h_T)."""
    params = (weight_ih, weight_hh, bias_ih, bias_hh)
    hs, h_T, _ = _unroll(cells.simple_gru_forward, xs, state0, params)
    return hs, h_T


def simple_gru_sequence_backward(
    xs, state0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, dhs=None, dstate_final=None
) -> dict:
    """BPTT through :func:`simple_gru_sequence_forward`: :func:`simple_gru_backward` in a loop."""
    params = (weight_ih, weight_hh, bias_ih, bias_hh)
    _, _, caches = _unroll(cells.simple_gru_forward, xs, state0, params)
    return _backward_loop(cells.simple_gru_backward, caches, dhs, dstate_final, lstm=False)


# ---- LSTM and the peephole LSTM (state (h, c)) -------------------------------------------


def lstm_sequence_forward(xs, state0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """:func:`lstm_forward` over t = 1..T; state0 = (h_0, c_0) or None -> (hs, (h_T, c_T))."""
    params = (weight_ih, weight_hh, bias_ih, bias_hh)
    hs, final, _ = _unroll(cells.lstm_forward, xs, state0, params)
    return hs, final


def lstm_sequence_backward(
    xs, state0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, dhs=None, dstate_final=None
) -> dict:
    """BPTT through :func:`lstm_sequence_forward`: :func:`lstm_backward` in a loop.

    ``dstate_final`` = (dh_T, dc_T) (either may be None). dc flows back only along the
    cell-state path c_T → c_{T−1} → …, scaled by the forget gates (dc_prev = dc ⊙ Γ_f).
    """
    params = (weight_ih, weight_hh, bias_ih, bias_hh)
    _, _, caches = _unroll(cells.lstm_forward, xs, state0, params)
    return _backward_loop(cells.lstm_backward, caches, dhs, dstate_final, lstm=True)


def peephole_lstm_sequence_forward(
    xs, state0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, weight_ch=None
):
    """:func:`peephole_lstm_forward` over t = 1..T -> (hs, (h_T, c_T))."""
    params = (weight_ih, weight_hh, bias_ih, bias_hh, weight_ch)
    hs, final, _ = _unroll(cells.peephole_lstm_forward, xs, state0, params)
    return hs, final


def peephole_lstm_sequence_backward(
    xs,
    state0,
    weight_ih,
    weight_hh,
    bias_ih=None,
    bias_hh=None,
    weight_ch=None,
    dhs=None,
    dstate_final=None,
) -> dict:
    """BPTT through :func:`peephole_lstm_sequence_forward` (also returns "dweight_ch")."""
    params = (weight_ih, weight_hh, bias_ih, bias_hh, weight_ch)
    _, _, caches = _unroll(cells.peephole_lstm_forward, xs, state0, params)
    return _backward_loop(cells.peephole_lstm_backward, caches, dhs, dstate_final, lstm=True)
