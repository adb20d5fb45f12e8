"""Finding the gates of a GRU or LSTM in the ops view, from the op structure alone.

A cell computes all gate pre-activations in one product and cuts them apart with
``chunk`` (see ``nn/cells.py``): gate k of G is the ``GetItem`` that takes columns
[k·H, (k+1)·H) of a (…, G·H) tensor. The cell type comes from the scope the layer opens
around the cell's maths ("…/t=3/LSTMCell"), and fixes the gate order:

    LSTMCell       i f g o        (PyTorch's order)
    GRUCell        r z n
    SimpleGRUCell  u c            (the lectures' simplified GRU)

From the chunks the names travel forward through the few ops that build a gate:

    pre    the chunk itself, and an Add/Sub of pre-activations of that gate only
           (GRU: gi_r + gh_r; LSTM with peepholes: i + w_ci ⊙ c)
    act    Sigmoid or Tanh of a pre-activation: the gate itself (i = σ(·))
    minus  Sub(1, gate): the complement (1 − z)

Nothing here is RNN-specific beyond the table of names, and a learner's own cell written
with ``chunk`` inside ``scope("LSTMCell")`` is named the same way.
"""

from __future__ import annotations

from typing import NamedTuple

from tinygrad_rnn.tensor import Tensor

GATES = {"LSTMCell": ("i", "f", "g", "o"), "GRUCell": ("r", "z", "n"),
         "SimpleGRUCell": ("u", "c")}


class Gate(NamedTuple):
    """The gate a tensor belongs to: the cell type, the gate letter and its role."""

    cell: str
    letter: str
    role: str  # "pre" | "act" | "minus"


def cell_of(scope: str) -> str | None:
    """The innermost scope component that names a gated cell ("…/t=3/LSTMCell")."""
    for part in reversed(scope.split("/") if scope else []):
        if part in GATES:
            return part
    return None


def _chunk_gate(t: Tensor, cell: str) -> str | None:
    """The gate letter of a GetItem that cuts gate k out of the last axis, else None."""
    fn = t.grad_fn
    index = getattr(fn, "index", None)
    if fn is None or not isinstance(index, tuple) or not index:
        return None
    last = index[-1]
    full = all(isinstance(i, slice) and i == slice(None) for i in index[:-1])
    (source,) = fn.inputs[:1] or (None,)
    if not full or not isinstance(last, slice) or source is None or last.step not in (None, 1):
        return None
    letters = GATES[cell]
    width, rem = divmod(source.shape[-1], len(letters))
    start = last.start or 0
    if rem or width == 0 or len(index) != source.ndim or start % width \
            or (last.stop or 0) - start != width:
        return None
    return letters[start // width]


def gates(tensors: list[Tensor]) -> dict[Tensor, Gate]:
    """The gate of every tensor that is part of one (``tensors`` in creation order)."""
    found: dict[Tensor, Gate] = {}
    for t in tensors:
        fn = t.grad_fn
        cell = cell_of(t.scope) if fn is not None else None
        if fn is None or cell is None:
            continue
        name = fn.name
        known = [found.get(u) for u in fn.inputs]
        if name == "GetItem":
            letter = _chunk_gate(t, cell)
            if letter is not None:
                found[t] = Gate(cell, letter, "pre")
        elif name in ("Add", "Sub"):
            tagged = {g for g in known if g is not None}
            if len(tagged) == 1:
                (g,) = tagged
                if g.role == "pre":
                    found[t] = g
                elif g.role == "act" and name == "Sub" and known[0] is None \
                        and fn.inputs[0].data.size == 1:
                    found[t] = Gate(cell, g.letter, "minus")  # 1 − z
        elif name in ("Sigmoid", "Tanh") and known and known[0] is not None \
                and known[0].role == "pre":
            found[t] = Gate(cell, known[0].letter, "act")
    return found
