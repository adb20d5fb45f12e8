"""A lean graph: free the values inside each time step that backward does not need.

By default the graph keeps every intermediate tensor with its value, so a learner can
inspect any node (``out.grad_fn.inputs[0].data``) and the renderer can print values. That
costs memory: an LSTM step makes about 20 tensors of (batch, hidden) or (batch, 4·hidden),
while its backward needs only the 7 that the ops saved (the gate activations, c, tanh(c),
h) -- which is all a hand-written BPTT keeps.

Inside ``with tg.lean_graph():`` the cells and RNN layers call ``free_values`` after each
step: every tensor the step made, except its outputs (the new h and c), drops its array.
The graph itself is unchanged; an array that an op saved for its backward stays alive
through that op, every other one is freed by reference counting. A freed tensor keeps its
shape and dtype (the engine checks gradients against them) and reads as NaN, so a value
used by mistake is visibly wrong, never silently so; ``t.freed`` says which. Only tensors
that an op of the step made are freed (a leaf made in a step, such as a cached constant,
may be shared with later steps). Each step's output h is kept directly in the layer's
output array, which is made read-only once filled: later steps saved views of it.
"""

from __future__ import annotations

import weakref
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
    stack = list(outputs)
    seen = {id(t) for t in outputs}  # the outputs are kept; the rest is visited once
    freed = 0
    while stack:
        fn = stack.pop().grad_fn
        if fn is None:
            continue
        for inp in fn.inputs:
            # only what an op of this step made: a leaf made in the step may be shared
            # (a cached constant such as the 1.0 of 1 - z serves every later step too)
            if inp.grad_fn is None or inp._id < since or id(inp) in seen:
                continue
            seen.add(id(inp))
            stack.append(inp)
            if inp.data.dtype.kind == "f":
                inp.data = _placeholder(inp.data.shape, inp.data.dtype)
                inp.freed = True
                freed += 1
    return freed


def output_buffer(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A (T, ...) array for a lean layer's outputs, filled by ``store_in`` step by step
    and handed out by ``stacked`` (made read-only first, see ``seal``)."""
    buffer = np.empty(shape, dtype)
    _BUFFERS[id(buffer)] = buffer
    return buffer


def store_in(buffer: np.ndarray, i: int, t: Tensor) -> None:
    """Copy ``t``'s value into ``buffer[i]`` and make ``t`` a view of it: a layer keeps each
    step's output h directly in its (T, ...) output array, as a hand-written BPTT keeps
    hs[t], instead of h plus a stacked copy. ``t``'s old array is freed unless an op saved
    it; ``stacked`` then turns the views back into the buffer without a copy."""
    view = buffer[i]
    view[...] = t.data
    t.data = view


def seal(buffer: np.ndarray) -> None:
    """Make a filled output buffer read-only: the next steps' ops saved views of it for
    backward, so writing into the layer's output in place would change the gradients."""
    buffer.flags.writeable = False


def stacked(xs: Sequence[np.ndarray]) -> np.ndarray | None:
    """The ``output_buffer`` whose slices ``xs[0], xs[1], ...`` are, in order, if there is
    one, else None (then stacking copies, as it always does outside a lean graph)."""
    if not STATE.lean or not xs:
        return None
    base = xs[0].base
    if base is None or _BUFFERS.get(id(base)) is not base \
            or base.shape != (len(xs), *xs[0].shape):
        return None
    start, step = base.ctypes.data, base.strides[0]
    inner = base.strides[1:]
    for i, x in enumerate(xs):
        if x.base is not base or x.ctypes.data != start + i * step \
                or x.shape != base.shape[1:] or x.strides != inner:
            return None
    return base


# the buffers output_buffer made and that are still alive (nothing else is stacked in place)
_BUFFERS: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()


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
