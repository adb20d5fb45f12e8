"""Multi-layer, optionally bidirectional ``RNN``, ``GRU`` and ``LSTM`` -- a Python loop.

Backpropagation through time is not written here. ``forward`` is a plain loop that calls the
cell maths of ``cells.py`` once per time step with the *same* weight tensors, so the graph
it records is the unrolled network, in which every weight has one use per step. The
engine's generic backward pass adds up the gradient of every use: that sum is BPTT.

Each step runs inside ``scope(f"layer{k}")``, ``scope("fwd" | "bwd")``, ``scope(f"t={t}")``
and the cell's own scope, so every node records where it belongs, e.g.
``layer0/bwd/t=3/LSTMCell``. The backward direction visits t = T, ..., 1 but labels each
step by its position in the sequence. The per-step input slice is named "x" and the new
states "h" (and "c") for the graph renderer.

Shapes follow ``torch.nn.RNN``/``GRU``/``LSTM`` (D = 2 if bidirectional else 1):

    input   (T, B, I), or (B, T, I) with batch_first, or (T, I) unbatched
    h0, c0  (D·num_layers, B, H), or (D·num_layers, H) unbatched; zeros if omitted
    output  (T, B, D·H) (batch_first: (B, T, D·H); unbatched: (T, D·H)) -- the last
            layer's h at every step, the two directions concatenated (fwd first)
    h_n, c_n  (D·num_layers, B, H): the final state of every layer and direction, in the
            order layer0 fwd, layer0 bwd, layer1 fwd, ...

Parameters are registered on the layer itself with PyTorch's names and order --
``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` and the same with
``_reverse`` for the backward direction -- so ``load_state_dict`` takes a torch state dict
converted with ``.numpy()`` unchanged. Layer k > 0 reads the previous layer's output, so its
``weight_ih_l{k}`` is (G·H, D·H).

Variable-length batches: pass ``lengths`` (one int per batch element, 1..T; any order).
A step t beyond a sequence's length leaves that sequence's state unchanged and outputs zero
(as ``pad_packed_sequence`` does), via ``where`` masks, so no gradient reaches the padded
steps; the backward direction starts at each sequence's own last real step. The final
states are those after each sequence's last real step.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_rnn import fast
from tinygrad_rnn.context import scope
from tinygrad_rnn.creation import concat, stack, where
from tinygrad_rnn.functional import dropout as dropout_fn
from tinygrad_rnn.nn.cells import (
    as_input,
    check_nonlinearity,
    check_size,
    gru_step,
    lstm_step,
    rnn_step,
    simple_gru_step,
)
from tinygrad_rnn.nn.module import Module, Parameter
from tinygrad_rnn.rng import get_rng
from tinygrad_rnn.tensor import Tensor

State = tuple[Tensor, ...]  # (h,) or (h, c)


class _Recurrent(Module):
    """The loop shared by RNN, GRU and LSTM; subclasses supply ``_step`` (one cell step)."""

    cell_scope = "RNNCell"  # the scope the cell maths runs in (the cell class's name)
    state_names: tuple[str, ...] = ("h",)
    training: bool  # set by Module

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bias: bool,
                 batch_first: bool, dropout: float, bidirectional: bool,
                 rng: np.random.Generator | int | None, dtype: Any, gates: int,
                 peephole: bool = False) -> None:
        super().__init__()
        kind = type(self).__name__
        self.input_size = check_size(kind, "input_size", input_size)
        self.hidden_size = check_size(kind, "hidden_size", hidden_size)
        self.num_layers = check_size(kind, "num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, int | float) \
                or not 0.0 <= dropout < 1.0:
            raise ValueError(f"{kind}: dropout must be a number in [0, 1), got {dropout!r}")
        if dropout > 0 and self.num_layers == 1:
            warnings.warn(f"{kind}: dropout={dropout} acts only between layers, and "
                          f"num_layers=1", stacklevel=3)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        self.gates = gates
        self.peephole = peephole
        gen = get_rng(rng)
        self._dropout_rng = gen if rng is not None else None  # None: the global generator

        # torch's order and init: per layer, per direction, w_ih, w_hh, b_ih, b_hh, each
        # drawn from U(−1/√H, 1/√H) in that order.
        k = 1.0 / math.sqrt(self.hidden_size)
        gh = gates * self.hidden_size
        for layer in range(self.num_layers):
            width = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            for suffix in ("", "_reverse")[: self.num_directions]:
                shapes: dict[str, tuple[int, ...]] = {
                    f"weight_ih_l{layer}{suffix}": (gh, width),
                    f"weight_hh_l{layer}{suffix}": (gh, self.hidden_size)}
                if bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (gh,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (gh,)
                if peephole:
                    shapes[f"weight_ch_l{layer}{suffix}"] = (3 * self.hidden_size,)
                for name, shape in shapes.items():
                    setattr(self, name, Parameter(gen.uniform(-k, k, shape), dtype))

    # ---- the per-(layer, direction) weights ---------------------------------------------
    def _weights(self, layer: int, direction: int) -> dict[str, Tensor | None]:
        suffix = "_reverse" if direction else ""
        return {kind: getattr(self, f"{kind}_l{layer}{suffix}", None)
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_ch")}

    def _step(self, x: Tensor, state: State, w: dict[str, Any]) -> State:
        raise NotImplementedError

    # ---- checks ---------------------------------------------------------------------------
    def _input(self, x: Any) -> tuple[Tensor, bool]:
        """The input as (T, B, I) time-major, and whether it came batched."""
        kind = type(self).__name__
        x = as_input(kind, x, self.parameters()[0].dtype)  # weight_ih_l0's
        layout = "(batch, seq_len, input_size)" if self.batch_first \
            else "(seq_len, batch, input_size)"
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size or x.shape[0] == 0 \
                or (x.ndim == 3 and x.shape[1] == 0):
            raise ValueError(f"{kind}: input has shape {x.shape}, expected {layout} or "
                             f"(seq_len, input_size) unbatched, with input_size="
                             f"{self.input_size} and non-empty sequence and batch")
        if x.ndim == 2:
            return x.unsqueeze(1), False
        return (x.transpose(0, 1) if self.batch_first else x), True

    def _initial(self, hx: Any, batch: int, batched: bool, dtype: np.dtype) -> list[State]:
        """One state tuple per (layer, direction), from ``hx`` or zeros."""
        kind = type(self).__name__
        n = self.num_layers * self.num_directions
        count = len(self.state_names)
        if hx is None:
            zero = Tensor(np.zeros((batch, self.hidden_size), dtype=dtype))
            return [(zero,) * count for _ in range(n)]
        if count == 2:
            if not isinstance(hx, tuple | list) or len(hx) != 2:
                raise TypeError(f"{kind}: the initial state must be a pair (h0, c0), got "
                                f"{type(hx).__name__}")
            given = list(hx)
        else:
            given = [hx]
        expected = (n, batch, self.hidden_size) if batched else (n, self.hidden_size)
        checked = []
        for name, h in zip(self.state_names, given, strict=True):
            h = as_input(kind, h, dtype)
            if h.shape != expected:
                raise ValueError(
                    f"{kind}: {name}0 has shape {h.shape}, expected {expected} "
                    f"(num_layers*num_directions={n}, "
                    + ("batch, " if batched else "") + f"hidden_size={self.hidden_size})"
                    + ("" if batched else " for an unbatched input"))
            checked.append(h if batched else h.unsqueeze(1))
        return [tuple(h[j] for h in checked) for j in range(n)]

    def _masks(self, lengths: Any, steps: int, batch: int) -> list[np.ndarray | None]:
        """Per step t = 1..T: a (B, 1) bool mask of the sequences still running, or None
        when all are (the common case, which then needs no masking ops)."""
        if lengths is None:
            return [None] * steps
        kind = type(self).__name__
        raw = lengths.data if isinstance(lengths, Tensor) else lengths
        if not isinstance(raw, Sequence | np.ndarray) or isinstance(raw, str):
            raise TypeError(f"{kind}: lengths must be a sequence of ints (one per batch "
                            f"element), got {type(lengths).__name__}")
        array = np.asarray(raw)
        if array.size and array.dtype.kind not in "iu":
            raise TypeError(f"{kind}: lengths must be integers, got dtype {array.dtype}")
        if array.shape != (batch,):
            raise ValueError(f"{kind}: lengths has shape {array.shape}, expected ({batch},): "
                             f"one length per batch element")
        if array.min() < 1 or array.max() > steps:
            raise ValueError(f"{kind}: every length must lie in 1..{steps} (the sequence "
                             f"length), got {array.tolist()}")
        masks: list[np.ndarray | None] = []
        for t in range(1, steps + 1):
            running = (array >= t).reshape(batch, 1)
            masks.append(None if running.all() else running)
        return masks

    # ---- the loop ---------------------------------------------------------------------------
    def forward(self, input: Any, hx: Any = None, *, lengths: Any = None,
                first_step: int = 1) -> Any:
        """Run the sequence; ``first_step`` numbers the time-step scopes (``t=first_step`` for
        the first element), so that consecutive chunks of truncated BPTT are labelled
        t = 1..T across the whole sequence, not 1..k in every chunk."""
        if isinstance(first_step, bool) or not isinstance(first_step, int) or first_step < 1:
            raise ValueError(f"{type(self).__name__}: first_step must be a positive int, got "
                             f"{first_step!r}")
        x, batched = self._input(input)
        steps, batch = x.shape[0], x.shape[1]
        states = self._initial(hx, batch, batched, x.dtype)
        masks = self._masks(lengths, steps, batch)
        zero = Tensor(np.zeros((), dtype=x.dtype))  # the output at padded steps
        finals: list[State] = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                state = states[layer * self.num_directions + direction]
                w = self._weights(layer, direction)
                order = range(1, steps + 1) if direction == 0 else range(steps, 0, -1)
                hs: list[Tensor] = [zero] * steps
                with scope(f"layer{layer}"), scope("bwd" if direction else "fwd"), \
                        fast.recording((steps, batch, self.hidden_size), x.dtype) as rec:
                    for t in order:
                        with scope(f"t={t + first_step - 1}"):
                            xt = layer_input[t - 1]
                            xt.name = "x"
                            with scope(self.cell_scope):
                                new = rec.step(self._step, xt, state, w)  # = self._step(...)
                            mask = masks[t - 1]
                            if mask is None:
                                hs[t - 1] = new[0]
                            else:  # finished sequences keep their state and output 0
                                hs[t - 1] = where(mask, new[0], zero)
                                new = tuple(where(mask, a, b)
                                            for a, b in zip(new, state, strict=True))
                            for tensor, name in zip(new, self.state_names, strict=True):
                                tensor.name = name
                            rec.output(t - 1, hs[t - 1])  # lean_graph(): kept in one array
                            state = new
                    outputs.append(stack(hs))
                finals.append(state)
            with scope(f"layer{layer}"):
                out = outputs[0] if len(outputs) == 1 else concat(outputs, axis=-1)
                if self.dropout and self.training and layer < self.num_layers - 1:
                    out = dropout_fn(out, self.dropout, True, self._dropout_rng)
            layer_input = out
        output = layer_input
        final = tuple(stack([s[i] for s in finals]) for i in range(len(self.state_names)))
        if not batched:
            output = output.squeeze(1)
            final = tuple(f.squeeze(1) for f in final)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (final[0] if len(final) == 1 else final)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        for flag in ("batch_first", "bidirectional"):
            if getattr(self, flag):
                text += f", {flag}=True"
        if not self.bias:
            text += ", bias=False"
        if self.dropout:
            text += f", dropout={self.dropout}"
        return text


class RNN(_Recurrent):
    """Multi-layer Elman RNN: h_t = φ(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh) per layer,
    φ = tanh or relu (lecture: s_t = φ(x_t·W_x + s_{t−1}·W_s + b)).

    ``rnn(x, h0=None, *, lengths=None)`` -> ``(output, h_n)``; shapes in the module docstring.
    Parameters per layer k: weight_ih_l{k} (H, I or D·H), weight_hh_l{k} (H, H), biases (H,).
    """

    cell_scope = "RNNCell"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False,
                 rng: np.random.Generator | int | None = None, dtype: Any = np.float32) -> None:
        checked = check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng, dtype, gates=1)
        self.nonlinearity = checked

    def _step(self, x: Tensor, state: State, w: dict[str, Any]) -> State:
        return (rnn_step(x, state[0], w["weight_ih"], w["weight_hh"], w["bias_ih"],
                         w["bias_hh"], self.nonlinearity),)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", nonlinearity={self.nonlinearity!r}"
                                       if self.nonlinearity != "tanh" else "")


class GRU(_Recurrent):
    """Multi-layer GRU. ``cell="full"`` (default): PyTorch's GRU, gates r, z, n (see
    ``GRUCell``); ``cell="simple"``: the lectures' update-gate-only GRU, gates u, c (see
    ``SimpleGRUCell``; weights (2H, ·)).

    ``gru(x, h0=None, *, lengths=None)`` -> ``(output, h_n)``; shapes in the module docstring.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, rng: np.random.Generator | int | None = None,
                 dtype: Any = np.float32, cell: str = "full") -> None:
        if cell not in ("full", "simple"):
            raise ValueError(f"GRU: cell must be 'full' or 'simple', got {cell!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng, dtype, gates=3 if cell == "full" else 2)
        self.cell = cell
        self.cell_scope = "GRUCell" if cell == "full" else "SimpleGRUCell"

    def _step(self, x: Tensor, state: State, w: dict[str, Any]) -> State:
        step = gru_step if self.cell == "full" else simple_gru_step
        return (step(x, state[0], w["weight_ih"], w["weight_hh"], w["bias_ih"],
                     w["bias_hh"]),)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", cell='simple'" if self.cell == "simple" else "")


class LSTM(_Recurrent):
    """Multi-layer LSTM (gates i, f, g, o; see ``LSTMCell``), optionally with peepholes
    (then each layer and direction also has ``weight_ch_l{k}`` (3H,) = (w_ci, w_cf, w_co)).

    ``lstm(x, (h0, c0)=None, *, lengths=None)`` -> ``(output, (h_n, c_n))``.
    """

    cell_scope = "LSTMCell"
    state_names = ("h", "c")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, rng: np.random.Generator | int | None = None,
                 dtype: Any = np.float32, peephole: bool = False) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng, dtype, gates=4, peephole=bool(peephole))

    def _step(self, x: Tensor, state: State, w: dict[str, Any]) -> State:
        return lstm_step(x, state[0], state[1], w["weight_ih"], w["weight_hh"], w["bias_ih"],
                         w["bias_hh"], w["weight_ch"])

    def extra_repr(self) -> str:
        return super().extra_repr() + (", peephole=True" if self.peephole else "")
