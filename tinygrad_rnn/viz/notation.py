"""Names on the picture: PyTorch's (the default) or the lectures' (``notation="lecture"``).

PyTorch names are the library's own: ``weight_hh_l0``, ``h``, ``c``, the gates i f g o.
The lectures write the same quantities as (see ``nn/cells.py`` for the correspondence):

    Elman RNN  s_t = tanh(x_t W_x + s_{t−1} W_s)   W_x = weight_ihᵀ, W_s = weight_hhᵀ
    LSTM       Γ_u Γ_f c̃ Γ_o = i f g o,  c⟨t⟩ = c,  a⟨t⟩ = h
    GRU        Γ_r = r, 1 − Γ_u = z, c̃ = n,  c⟨t⟩ = a⟨t⟩ = h
    simple GRU Γ_u = u, c̃ = c

In lecture notation a state or input of step t carries its step: s_3, a⟨3⟩, x⟨3⟩.
"""

from __future__ import annotations

NOTATIONS = ("pytorch", "lecture")

GATE_NAMES = {
    "pytorch": {"LSTMCell": {"i": "i", "f": "f", "g": "g", "o": "o"},
                "GRUCell": {"r": "r", "z": "z", "n": "n"},
                "SimpleGRUCell": {"u": "u", "c": "c̃"}},
    "lecture": {"LSTMCell": {"i": "Γ_u", "f": "Γ_f", "g": "c̃", "o": "Γ_o"},
                "GRUCell": {"r": "Γ_r", "z": "1 − Γ_u", "n": "c̃"},
                "SimpleGRUCell": {"u": "Γ_u", "c": "c̃"}},
}

# lecture names of the states and the input, by the cell that makes them ("{t}": the step)
STATES = {
    "RNNCell": {"h": "s_{t}", "x": "x_{t}"},
    "LSTMCell": {"h": "a⟨{t}⟩", "c": "c⟨{t}⟩", "x": "x⟨{t}⟩"},
    "GRUCell": {"h": "c⟨{t}⟩", "x": "x⟨{t}⟩"},
    "SimpleGRUCell": {"h": "c⟨{t}⟩", "x": "x⟨{t}⟩"},
}

# lecture names of the parameters (the PyTorch name stays on the second line)
PARAMS = {
    "RNNCell": {"weight_ih": "W_x", "weight_hh": "W_s", "bias_ih": "b (ih part)",
                "bias_hh": "b (hh part)"},
    "LSTMCell": {"weight_ih": "W_x [Γ_u Γ_f c̃ Γ_o]", "weight_hh": "W_a [Γ_u Γ_f c̃ Γ_o]",
                 "bias_ih": "b [Γ_u Γ_f c̃ Γ_o] (ih)", "bias_hh": "b [Γ_u Γ_f c̃ Γ_o] (hh)",
                 "weight_ch": "peepholes [Γ_u Γ_f Γ_o]"},
    "GRUCell": {"weight_ih": "W_x [Γ_r 1−Γ_u c̃]", "weight_hh": "W_c [Γ_r 1−Γ_u c̃]",
                "bias_ih": "b [Γ_r 1−Γ_u c̃] (ih)", "bias_hh": "b [Γ_r 1−Γ_u c̃] (hh)"},
    "SimpleGRUCell": {"weight_ih": "W_x [Γ_u c̃]", "weight_hh": "W_c [Γ_u c̃]",
                      "bias_ih": "b [Γ_u c̃] (ih)", "bias_hh": "b [Γ_u c̃] (hh)"},
}


def check(notation: object) -> str:
    if notation not in NOTATIONS:
        raise ValueError(f"draw: notation must be one of {NOTATIONS}, got {notation!r}: use "
                         f"'pytorch' (the library's names) or 'lecture' (W_x, s_t, Γ_u, c⟨t⟩)")
    return str(notation)


def gate_name(notation: str, cell: str, letter: str, role: str) -> str:
    """The name of a gate (role "act"/"pre") or of its complement (role "minus")."""
    name = GATE_NAMES[notation][cell][letter]
    if role != "minus":
        return name
    return name.removeprefix("1 − ") if name.startswith("1 − ") else f"1 − {name}"


def state_name(notation: str, name: str, cell: str | None, t: int | None) -> str:
    """A named tensor of step t: unchanged in PyTorch notation; s_3, a⟨3⟩... in lecture."""
    if notation == "pytorch" or t is None:
        return name
    pattern = STATES.get(cell or "", {}).get(name)
    if pattern is None:  # a learner's own name: add the step
        return f"{name}_{t}" if cell in (None, "RNNCell") else f"{name}⟨{t}⟩"
    return pattern.format(t=t)


def folded_name(notation: str, name: str, cell: str | None) -> str:
    """A state or input in the folded view, where t is a letter: h_t, or s_t, a⟨t⟩, x⟨t⟩
    in lecture notation."""
    pattern = STATES.get(cell or "", {}).get(name) if notation == "lecture" else None
    return f"{name}_t" if pattern is None else pattern.format(t="t")


def param_name(notation: str, name: str, cell: str | None) -> str | None:
    """The lecture name of a layer's parameter (``weight_hh_l0_reverse`` -> "W_s"), or
    None when there is none (PyTorch notation, or a name the table does not know)."""
    if notation == "pytorch" or cell is None:
        return None
    base = name.split("_l")[0] if "_l" in name else name
    return PARAMS.get(cell, {}).get(base)
