"""The text on the picture: node labels (names, shapes, gate names, numbers) and edge labels.

Names follow the chosen notation (``notation.py``); gates found in the op structure
(``gates.py``) name their nodes in the ops view: "i = σ", "Γ_f = σ", "c̃ = tanh".
With ``show="contributions"`` a parameter's node states |Σ terms| = |∂L/∂W|, the norm of
the whole sum, and each of its edges the norm of that one use's term -- the BPTT sum written
out as numbers (norms of terms do not add up to the norm of their sum; the labels say which
is which).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.viz import notation as names_of
from tinygrad_rnn.viz.collect import Edge, norm
from tinygrad_rnn.viz.gates import Gate, cell_of
from tinygrad_rnn.viz.scopes import split_time
from tinygrad_rnn.viz.views import NodeSpec

SHOWS = ("none", "norm", "stats", "values", "contributions")
ACTIVATION = {"Sigmoid": "σ", "Tanh": "tanh"}


@dataclass
class Labels:
    """What labelling needs to know besides the node itself."""

    show: str = "none"
    notation: str = "pytorch"
    params: dict[Tensor, str] = field(default_factory=dict)  # names from params=
    inline: set[Tensor] = field(default_factory=set)  # constants shown inside their op
    gates: dict[Tensor, Gate] = field(default_factory=dict)
    line_cells: dict[str, str] = field(default_factory=dict)  # line -> its cell type
    param_cells: dict[Tensor, str] = field(default_factory=dict)  # weight -> cell type
    op_names: bool = True  # name the op that made a named tensor ("h 1×4  Mul")
    grads: Mapping[Tensor, np.ndarray] = field(default_factory=dict)  # see grads.py


def escape(text: str) -> str:
    return text.replace("\\", "\\\\")


def shape(t: Tensor) -> str:
    return "×".join(str(n) for n in t.shape) if t.shape else "scalar"


def fmt(x: float) -> str:
    return f"{x:.3g}"


def number(x: float | None) -> str:
    """A gradient norm as printed on the picture: 3 significant digits, kept ("1.00", not
    "1", so numbers side by side read alike); an exact zero is "0"."""
    if x is None:
        return "—"
    return "0" if x == 0 else f"{x:#.3g}"


def _extra_lines(t: Tensor, show: str, grad: np.ndarray | None) -> list[str]:
    """The value line and the gradient line of ``show`` (a lean graph's freed value: "v
    freed"; its gradient is still drawn, recomputed by grads.py)."""
    if show in ("none", "contributions") or t.data.dtype.kind not in "fiu":
        return []
    values = show == "values" and t.data.size <= 8
    return [_line("v", None if t.freed else t.data, show, values),
            *([_line("g", np.asarray(grad), show, values)] if grad is not None else [])]


def _line(letter: str, a: np.ndarray | None, show: str, values: bool) -> str:
    if a is None:
        return f"{letter} freed"
    if values:
        return f"{letter} " + np.array2string(a.ravel(), precision=3, separator=" ")
    if show == "norm":
        return f"|{letter}| {fmt(norm(a) or 0.0)}"
    return f"{letter} [{fmt(float(np.min(a)))}, {fmt(float(np.max(a)))}]" if a.size else letter


def op_title(t: Tensor, inline: set[Tensor]) -> str:
    """The op's name, with inlined constants and short arguments: Sub(1, ·), Pow(·, 2)."""
    fn = t.grad_fn
    assert fn is not None
    name = fn.name
    if name == "GetItem":
        index = getattr(fn, "index", None)
        text = repr(index).replace("slice(None, None, None)", ":")
        return f"GetItem[{text}]" if len(text) <= 16 else name
    args = [fmt(float(u.data.item())) if u in inline else "·" for u in fn.inputs]
    if name == "Pow" and hasattr(fn, "p"):
        args.append(fmt(float(fn.p)))
    if any(a != "·" for a in args):
        return f"{name}({', '.join(args)})"
    return name


def _gate_title(t: Tensor, gate: Gate, notation: str) -> str:
    name = names_of.gate_name(notation, gate.cell, gate.letter, gate.role)
    fn = t.grad_fn
    assert fn is not None
    if gate.role == "act":
        return f"{name} = {ACTIVATION.get(fn.name, fn.name)}(·)"
    if gate.role == "pre":
        return f"{name}: pre-activation"
    return name


def _leaf_name(t: Tensor, spec: NodeSpec, info: Labels) -> list[str]:
    name = t.name or info.params.get(t)
    if spec.kind == "data" and name is None:
        name = "zeros" if not np.any(t.data) else "input"
    elif name is None:
        name = "leaf"
    lecture = names_of.param_name(info.notation, name, info.param_cells.get(t))
    if lecture is not None:
        if info.param_cells.get(t) == "RNNCell" and "weight" in name:
            # the lectures' matrix is the transpose: its shape is the reversed one
            return [lecture, f"= {name}ᵀ  {'×'.join(str(n) for n in t.shape[::-1])}"]
        return [lecture, f"= {name}  {shape(t)}"]
    if spec.kind == "data" and t.name and t.scope:
        before, step, _ = split_time(t.scope)
        name = names_of.state_name(info.notation, name, info.line_cells.get(before), step)
    return [f"{name}{' (detached)' if spec.kind == 'detached' else ''}", shape(t)]


def node_label(spec: NodeSpec, info: Labels, grad_norm: float | None,
               elided: list[tuple[str, float | None]] | None = None) -> str:
    """The label of one node (lines joined by the DOT newline)."""
    if spec.kind == "elided":
        lines = ["…", spec.title]  # "7 steps"
        lines += [f"|Σ| {name}: {number(value)}" for name, value in elided or []]
        return "\\n".join(escape(line) for line in lines)
    if spec.kind == "cell":
        ops = len(spec.members)
        return f"{escape(spec.title)}\\n{ops} op{'s' if ops != 1 else ''}"
    t = spec.members[0]
    if spec.title:  # folded entry: x_t (x⟨t⟩ in lecture notation)
        before, _, _ = split_time(t.scope)
        cell = cell_of(t.scope) or info.line_cells.get(before)
        lines = [names_of.folded_name(info.notation, t.name or "x", cell)
                 if t.name else spec.title, shape(t)]
    elif t.grad_fn is None:
        lines = _leaf_name(t, spec, info)
        if info.show == "contributions" and spec.kind == "param":
            # the norm of the sum of the terms (the edges carry each term's norm; norms of
            # terms do not add up to the norm of their sum, so say which it is)
            lines.append(f"|Σ terms| = {number(grad_norm)}")
    elif t.name:
        before, step, _ = split_time(t.scope)
        cell = cell_of(t.scope) or info.line_cells.get(before)
        name = names_of.state_name(info.notation, t.name, cell, step)
        made_by = f"  {op_title(t, info.inline)}" if info.op_names else ""
        lines = [name, shape(t) + made_by]
    elif t in info.gates:
        lines = [_gate_title(t, info.gates[t], info.notation),
                 f"{shape(t)}  {op_title(t, info.inline)}"]
    else:
        lines = [op_title(t, info.inline), shape(t)]
    lines += _extra_lines(t, info.show, info.grads.get(t))
    return "\\n".join(escape(line) for line in lines)


def edge_label(e: Edge, grad_norm: float | None, loop: bool, from_param: bool,
               show: str, notation: str = "pytorch", cell: str | None = None) -> str | None:
    """"×n" for merged uses, the recurrence of the folded view (its states named in the
    notation, for the ``cell`` type that loops), and -- with show="contributions" -- the
    norm of what this use adds to the parameter's gradient."""
    if loop:
        states = [names_of.folded_name(notation, name, cell) if notation == "lecture"
                  else name for name in e.names]  # (PyTorch's: "h, c (t-1 → t)")
        return ", ".join(states) + " (t-1 → t)" if states else "t-1 → t"
    if show == "contributions" and from_param and e.grads:
        if e.uses > 1:
            return f"Σ{e.uses}: {number(grad_norm)}"
        return number(grad_norm)
    if e.uses > 1:
        return f"×{e.uses}"
    return None
