"""A lean graph: free the values inside each time step that backward does not need.

By default the graph keeps every intermediate tensor with its value, so a learner can
inspect any node (``out._ctx.inputs[0].data``) and the renderer can print values. That
costs memory: an LSTM step makes about 20 tensors of (batch, hidden) or (batch, 4·hidden),
while its backward needs only the 7 that the ops saved (the gate activations, c, tanh(c),
h) -- which is all a hand-written BPTT keeps.

Inside ``with tg.lean_graph():`` the cells and RNN layers call ``free_values`` after each
step: every tensor the step made, except its outputs (the new h and c), drops its array.
The graph itself is unchanged; an array that an op saved for its backward stays alive
through that op, every other one is freed by reference counting. A freed tensor keeps its
shape and dtype (the engine checks gradients against them) and reads as NaN, so a value
used by mistake is visibly wrong, never silently so; ``t.freed`` says which.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinygrad_rnn.context import STATE
from tinygrad_rnn.tensor import Tensor, _ids


def step_mark() -> int:
    """A creation number: every tensor made after this call has a larger ``_id``. (Outside
    ``lean_graph()`` it is 0 and takes no number, so node numbering is unchanged.)"""
    return next(_ids) if STATE.lean else 0


def free_values(outputs: Sequence[Tensor], since: int) -> int:
    """In a lean graph, free the arrays of the tensors made since ``since`` (a
    ``step_mark()``) that ``outputs`` were computed from, except ``outputs`` themselves.
    Returns how many were freed (0 outside ``lean_graph()``).

    The walk is iterative and stops at tensors older than the mark (the step's inputs and
    the weights), so it visits only the step's own nodes.
    """
    if not STATE.lean:
        return 0
    keep = {id(t) for t in outputs}
    stack = list(outputs)
    seen: set[int] = set(keep)
    freed = 0
    while stack:
        fn = stack.pop()._ctx
        if fn is None:
            continue
        for inp in fn.inputs:
            if inp._id < since or id(inp) in seen:
                continue
            seen.add(id(inp))
            stack.append(inp)
            if inp.data.dtype.kind == "f":
                inp.data = _placeholder(inp.data.shape, inp.data.dtype)
                inp.freed = True
                freed += 1
    return freed


def store_in(buffer: np.ndarray, i: int, t: Tensor) -> None:
    """Copy ``t``'s value into ``buffer[i]`` and make ``t`` a view of it: a layer keeps each
    step's output h directly in its (T, ...) output array, as a hand-written BPTT keeps
    hs[t], instead of h plus a stacked copy. ``t``'s old array is freed unless an op saved
    it; ``stacked(buffer, ...)`` then turns the views back into the buffer without a copy."""
    view = buffer[i]
    view[...] = t.data
    t.data = view


def stacked(xs: Sequence[np.ndarray]) -> np.ndarray | None:
    """The array whose consecutive slices along axis 0 ``xs`` are, if there is one (the
    buffer of ``store_in``), else None. Only in a lean graph: elsewhere stacking copies."""
    if not STATE.lean or not xs:
        return None
    base = xs[0].base
    if base is None or base.shape != (len(xs), *xs[0].shape) or not base.flags.c_contiguous:
        return None
    start, step = base.ctypes.data, base.strides[0]
    for i, x in enumerate(xs):
        if x.base is not base or x.ctypes.data != start + i * step:
            return None
    return base


_PLACEHOLDERS: dict[tuple[tuple[int, ...], np.dtype], np.ndarray] = {}


def _placeholder(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A read-only all-NaN array of ``shape`` that takes no memory (a broadcast 0-d NaN),
    shared by the freed tensors of that shape and dtype."""
    key = (shape, dtype)
    array = _PLACEHOLDERS.get(key)
    if array is None:
        if len(_PLACEHOLDERS) > 256:
            _PLACEHOLDERS.clear()
        array = _PLACEHOLDERS[key] = np.broadcast_to(np.full((), np.nan, dtype), shape)
    return array
