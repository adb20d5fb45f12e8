"""Recurrent cells -- one time step of an RNN, GRU or LSTM -- built from primitive ops only.

Nothing here has a backward pass. A cell is a handful of matmuls, adds, sigmoids and tanhs;
the engine differentiates it like any other expression. Run a cell in a loop with the same
weight tensors and the engine's sum over the uses of each weight *is* backpropagation
through time (see ``recurrent.py``).

Conventions (PyTorch's, so a converted torch state dict loads unchanged):

* row vectors: x is (batch, input_size) -- or (input_size,) for one example -- and the
  state h is (batch, hidden_size) -- or (hidden_size,);
* ``weight_ih`` (G·H, I) and ``weight_hh`` (G·H, H) hold the G gates stacked by rows,
  ``bias_ih``/``bias_hh`` (G·H,); the pre-activations of all gates come out of one product
  ``x @ weight_ihᵀ + bias_ih + h @ weight_hhᵀ + bias_hh`` and are cut apart with ``chunk``;
* gate order: GRU (r, z, n), LSTM (i, f, g, o), the simplified GRU (u, c).

The lectures write the same cells with stacked weights acting on [a⟨t−1⟩, x⟨t⟩]:
W_u[a⟨t−1⟩, x⟨t⟩] + b_u is our ``h @ W_hh[u]ᵀ + x @ W_ih[u]ᵀ + b_ih[u] + b_hh[u]`` (the
lecture's single bias b_u is our b_ih[u] + b_hh[u]). Each cell's docstring gives both forms.

The ``*_step`` functions hold the maths and take the weights as arguments, so the cells and
the multi-layer ``RNN``/``GRU``/``LSTM`` share one implementation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_rnn import fast
from tinygrad_rnn.functional import linear
from tinygrad_rnn.nn.module import Module, Parameter
from tinygrad_rnn.rng import get_rng
from tinygrad_rnn.tensor import Tensor

NONLINEARITIES = ("tanh", "relu")

# ---- the maths of one step (shared by the cells and the layers) --------------------------


def _affine(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """x @ weightᵀ + bias: (B, I) @ (I, G·H) -> (B, G·H)  (or (I,) -> (G·H,)).

    One ``Linear`` op per use, created inside the step's scope, so each weight's gradient
    contribution of each time step is recorded with that step."""
    return linear(x, weight, bias)


def rnn_step(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor,
             bias_ih: Tensor | None, bias_hh: Tensor | None,
             nonlinearity: str = "tanh") -> Tensor:
    """h' = φ(x @ W_ihᵀ + b_ih + h @ W_hhᵀ + b_hh), φ = tanh or relu."""
    pre = _affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)
    return pre.tanh() if nonlinearity == "tanh" else pre.relu()


def gru_step(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor,
             bias_ih: Tensor | None, bias_hh: Tensor | None) -> Tensor:
    """The full GRU (PyTorch's formula, gates r, z, n):

        r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)
        z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
        n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))
        h' = (1 − z) ⊙ n + z ⊙ h
    """
    gi_r, gi_z, gi_n = _affine(x, weight_ih, bias_ih).chunk(3, axis=-1)
    gh_r, gh_z, gh_n = _affine(h, weight_hh, bias_hh).chunk(3, axis=-1)
    r = (gi_r + gh_r).sigmoid()
    z = (gi_z + gh_z).sigmoid()
    n = (gi_n + r * gh_n).tanh()
    return (1.0 - z) * n + z * h


def simple_gru_step(x: Tensor, h: Tensor, weight_ih: Tensor, weight_hh: Tensor,
                    bias_ih: Tensor | None, bias_hh: Tensor | None) -> Tensor:
    """The lectures' simplified GRU (update gate only; gates u, c):

        Γ_u = σ(x W_iuᵀ + b_iu + h W_huᵀ + b_hu)
        c̃  = tanh(x W_icᵀ + b_ic + h W_hcᵀ + b_hc)
        h' = Γ_u ⊙ c̃ + (1 − Γ_u) ⊙ h
    """
    u, c = (_affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)).chunk(2, axis=-1)
    gate_u = u.sigmoid()
    return gate_u * c.tanh() + (1.0 - gate_u) * h


def lstm_step(x: Tensor, h: Tensor, c: Tensor, weight_ih: Tensor, weight_hh: Tensor,
              bias_ih: Tensor | None, bias_hh: Tensor | None,
              weight_ch: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The LSTM (PyTorch's formula, gates i, f, g, o), optionally with peepholes:

        i = σ(x W_iiᵀ + b_ii + h W_hiᵀ + b_hi [+ w_ci ⊙ c])
        f = σ(x W_ifᵀ + b_if + h W_hfᵀ + b_hf [+ w_cf ⊙ c])
        g = tanh(x W_igᵀ + b_ig + h W_hgᵀ + b_hg)
        c' = f ⊙ c + i ⊙ g
        o = σ(x W_ioᵀ + b_io + h W_hoᵀ + b_ho [+ w_co ⊙ c'])
        h' = o ⊙ tanh(c')

    ``weight_ch`` (3H,) holds the peephole diagonals (w_ci, w_cf, w_co); None: no peepholes.
    """
    pre = _affine(x, weight_ih, bias_ih) + _affine(h, weight_hh, bias_hh)
    i, f, g, o = pre.chunk(4, axis=-1)
    if weight_ch is not None:
        w_ci, w_cf, w_co = weight_ch.chunk(3, axis=-1)
        i = i + w_ci * c
        f = f + w_cf * c
    c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
    if weight_ch is not None:
        o = o + w_co * c_new
    h_new = o.sigmoid() * c_new.tanh()
    return h_new, c_new


# ---- argument checks ---------------------------------------------------------------------


def check_size(module: str, name: str, value: Any) -> int:
    """A positive int size (input_size, hidden_size, num_layers)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{module}: {name} must be a positive int, got {value!r}")
    return int(value)


def check_nonlinearity(module: str, nonlinearity: Any) -> str:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{module}: unknown nonlinearity {nonlinearity!r}; expected one of "
                         f"{NONLINEARITIES}")
    return str(nonlinearity)


def as_input(module: str, x: Any, dtype: np.dtype) -> Tensor:
    """x as a Tensor of the module's dtype (array-likes are converted; Tensors must match)."""
    if not isinstance(x, Tensor):
        try:
            return Tensor(np.asarray(x, dtype=dtype))
        except (TypeError, ValueError) as e:
            raise TypeError(f"{module}: input must be a Tensor or an array, got "
                            f"{type(x).__name__}") from e
    if x.dtype != dtype:
        raise TypeError(f"{module}: input has dtype {x.dtype} but the parameters are {dtype}; "
                        f"convert the module (.double() / .float()) or the input "
                        f"(Tensor(x.data.astype(np.{dtype})))")
    return x


def check_state(module: str, name: str, h: Any, expected: tuple[int, ...],
                dtype: np.dtype) -> Tensor:
    """A given state must be a Tensor of exactly the expected shape and the module's dtype."""
    h = as_input(module, h, dtype) if not isinstance(h, Tensor) else h
    if h.shape != expected:
        raise ValueError(f"{module}: {name} has shape {h.shape}, expected {expected} "
                         f"(batch, hidden_size) for this input -- or (hidden_size,) when x is "
                         f"1-D")
    if h.dtype != dtype:
        raise TypeError(f"{module}: {name} has dtype {h.dtype} but the parameters are {dtype}")
    return h


# ---- the cell modules --------------------------------------------------------------------


class _Cell(Module):
    """Shared parts: the torch-named parameters, their init, and the input/state checks."""

    gates = 1
    scope_name: str | None = None

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 rng: np.random.Generator | int | None = None, dtype: Any = np.float32,
                 peephole: bool = False) -> None:
        super().__init__()
        kind = type(self).__name__
        self.input_size = check_size(kind, "input_size", input_size)
        self.hidden_size = check_size(kind, "hidden_size", hidden_size)
        self.bias = bool(bias)
        gen = get_rng(rng)
        # torch: every parameter ~ U(−1/√H, 1/√H), drawn in parameter order
        k = 1.0 / math.sqrt(self.hidden_size)
        gh = self.gates * self.hidden_size
        self.weight_ih = Parameter(gen.uniform(-k, k, (gh, self.input_size)), dtype)
        self.weight_hh = Parameter(gen.uniform(-k, k, (gh, self.hidden_size)), dtype)
        self.bias_ih: Parameter | None = Parameter(gen.uniform(-k, k, gh), dtype) if bias else None
        self.bias_hh: Parameter | None = Parameter(gen.uniform(-k, k, gh), dtype) if bias else None
        self.weight_ch: Parameter | None = None
        if peephole:
            self.weight_ch = Parameter(gen.uniform(-k, k, 3 * self.hidden_size), dtype)

    def _input(self, x: Any) -> Tensor:
        kind = type(self).__name__
        x = as_input(kind, x, self.weight_ih.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{kind}: input x has shape {x.shape}, expected "
                             f"(batch, {self.input_size}) or ({self.input_size},) "
                             f"(input_size={self.input_size})")
        return x

    def _state(self, x: Tensor, h: Any, name: str) -> Tensor:
        """The given state, checked, or zeros shaped like the output."""
        shape = x.shape[:-1] + (self.hidden_size,)
        if h is None:
            return Tensor(np.zeros(shape, dtype=x.dtype))
        return check_state(type(self).__name__, name, h, shape, x.dtype)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class RNNCell(_Cell):
    """Elman cell: h' = φ(x @ W_ihᵀ + b_ih + h @ W_hhᵀ + b_hh), φ = tanh (default) or relu.

    Lecture notation: s_t = φ(x_t·W_x + s_{t−1}·W_s + b), i.e. W_x = W_ihᵀ, W_s = W_hhᵀ,
    b = b_ih + b_hh; or a⟨t⟩ = g(W_aa a⟨t−1⟩ + W_ax x⟨t⟩ + b_a) with W_aa = W_hh, W_ax = W_ih.

    Shapes: x (B, I) or (I,); h (B, H) or (H,) (zeros if omitted) -> h' like h.
    Parameters: weight_ih (H, I), weight_hh (H, H), bias_ih (H,), bias_hh (H,).
    """

    gates = 1
    scope_name = "RNNCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", rng: np.random.Generator | int | None = None,
                 dtype: Any = np.float32) -> None:
        checked = check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, rng, dtype)
        self.nonlinearity = checked

    def forward(self, x: Any, h: Any = None) -> Tensor:
        x = self._input(x)
        h = self._state(x, h, "h")
        h_new = fast.step(rnn_step, x, h, self.weight_ih, self.weight_hh, self.bias_ih,
                          self.bias_hh, self.nonlinearity)  # = rnn_step(x, h, ...)
        h_new.name = "h"
        return h_new

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class GRUCell(_Cell):
    """Full GRU cell (PyTorch's formula; gates r, z, n stacked in that order):

        r  = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)              relevance gate Γ_r
        z  = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)              1 − Γ_u (see below)
        n  = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))     candidate c̃
        h' = (1 − z) ⊙ n + z ⊙ h

    Lecture notation: Γ_r = σ(W_r[c⟨t−1⟩, x⟨t⟩] + b_r), c̃ = tanh(W_c[Γ_r ⊙ c⟨t−1⟩, x⟨t⟩] + b_c),
    c⟨t⟩ = Γ_u ⊙ c̃ + (1 − Γ_u) ⊙ c⟨t−1⟩, a⟨t⟩ = c⟨t⟩. PyTorch's z plays the role of 1 − Γ_u,
    and applies r after the hidden product (r ⊙ (W_hn h + b_hn)), a common variant.

    Shapes: x (B, I) or (I,); h (B, H) or (H,) (zeros if omitted) -> h' like h.
    Parameters: weight_ih (3H, I), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,).
    """

    gates = 3
    scope_name = "GRUCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 rng: np.random.Generator | int | None = None, dtype: Any = np.float32) -> None:
        super().__init__(input_size, hidden_size, bias, rng, dtype)

    step = staticmethod(gru_step)  # the maths of one step (SimpleGRUCell swaps it)

    def forward(self, x: Any, h: Any = None) -> Tensor:
        x = self._input(x)
        h = self._state(x, h, "h")
        h_new = fast.step(self.step, x, h, self.weight_ih, self.weight_hh, self.bias_ih,
                          self.bias_hh)  # = self.step(x, h, ...)
        h_new.name = "h"
        return h_new


class SimpleGRUCell(GRUCell):
    """The lectures' simplified GRU: an update gate, no relevance gate (gates u, c).

        Γ_u = σ(x W_iuᵀ + b_iu + h W_huᵀ + b_hu)
        c̃  = tanh(x W_icᵀ + b_ic + h W_hcᵀ + b_hc)
        h'  = Γ_u ⊙ c̃ + (1 − Γ_u) ⊙ h

    Lecture notation: Γ_u = σ(W_u[c⟨t−1⟩, x⟨t⟩] + b_u), c̃ = tanh(W_c[c⟨t−1⟩, x⟨t⟩] + b_c),
    c⟨t⟩ = Γ_u ⊙ c̃ + (1 − Γ_u) ⊙ c⟨t−1⟩, a⟨t⟩ = c⟨t⟩. When Γ_u ≈ 0, h' ≈ h: the gradient
    passes back unchanged.

    Shapes: x (B, I) or (I,); h (B, H) or (H,) (zeros if omitted) -> h' like h.
    Parameters: weight_ih (2H, I), weight_hh (2H, H), bias_ih (2H,), bias_hh (2H,).
    """

    gates = 2
    scope_name = "SimpleGRUCell"
    step = staticmethod(simple_gru_step)


class LSTMCell(_Cell):
    """LSTM cell (PyTorch's formula; gates i, f, g, o stacked in that order):

        i  = σ(x W_iiᵀ + b_ii + h W_hiᵀ + b_hi)      update (input) gate Γ_u
        f  = σ(x W_ifᵀ + b_if + h W_hfᵀ + b_hf)      forget gate Γ_f
        g  = tanh(x W_igᵀ + b_ig + h W_hgᵀ + b_hg)   candidate c̃
        o  = σ(x W_ioᵀ + b_io + h W_hoᵀ + b_ho)      output gate Γ_o
        c' = f ⊙ c + i ⊙ g                            c⟨t⟩ = Γ_u ⊙ c̃ + Γ_f ⊙ c⟨t−1⟩
        h' = o ⊙ tanh(c')                             a⟨t⟩ = Γ_o ⊙ tanh(c⟨t⟩)

    ``peephole=True`` adds diagonal weights ``weight_ch`` (3H,) = (w_ci, w_cf, w_co): the
    gates i and f also see c (+ w_ci ⊙ c, + w_cf ⊙ c) and o sees c' (+ w_co ⊙ c').

    Call: ``cell(x, (h, c))`` (or ``cell(x)`` for zero states) -> ``(h', c')``.
    Shapes: x (B, I) or (I,); h, c (B, H) or (H,).
    Parameters: weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,)
    [, weight_ch (3H,)].
    """

    gates = 4
    scope_name = "LSTMCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 peephole: bool = False, rng: np.random.Generator | int | None = None,
                 dtype: Any = np.float32) -> None:
        super().__init__(input_size, hidden_size, bias, rng, dtype, peephole=peephole)
        self.peephole = bool(peephole)

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        x = self._input(x)
        if hx is None:
            h = c = self._state(x, None, "h")
        else:
            if not isinstance(hx, tuple | list) or len(hx) != 2:
                raise TypeError(f"LSTMCell: the state must be a pair (h, c), got "
                                f"{type(hx).__name__}")
            h, c = self._state(x, hx[0], "h"), self._state(x, hx[1], "c")
        h_new, c_new = fast.step(lstm_step, x, h, c, self.weight_ih, self.weight_hh,
                                 self.bias_ih, self.bias_hh, self.weight_ch)
        h_new.name, c_new.name = "h", "c"
        return h_new, c_new

    def extra_repr(self) -> str:
        return super().extra_repr() + (", peephole=True" if self.peephole else "")
