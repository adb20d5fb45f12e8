"""A lean graph: free the values inside each time step that backward does not need.

(Part of the fast path: with it off, every graph is the full graph.)

A full graph (``with tg.full_graph():``) keeps every intermediate tensor with its value
and, after backward, its gradient, so a learner can inspect any node
(``out.grad_fn.inputs[0].data``). That costs memory: an LSTM step makes about 20 tensors
of (batch, hidden) or (batch, 4·hidden), while its backward needs only the 7 that the ops
saved (the gate activations, c, tanh(c), h) -- which is all a hand-written BPTT keeps.

So by default (and inside ``lean_graph()``) the cells and RNN layers call ``free_values``
after each step: every tensor the step made, except its outputs (the new h and c), drops
its array, and backward keeps no gradient for it (``engine.backward``). The pictures
recompute those gradients when they draw (``viz/grads.py``).
The graph itself is unchanged; an array that an op saved for its backward stays alive
through that op, every other one is freed by reference counting. A freed tensor keeps its
shape and dtype (the engine checks gradients against them) and reads as NaN, so a value
used by mistake is visibly wrong, never silently so; ``t.freed`` says which. Only tensors
that an op of the step made are freed (a leaf made in a step, such as a cached constant,
may be shared with later steps). Each step's output h is kept directly in the layer's
output array, which is made read-only once filled: later steps saved views of it.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_rnn.context import STATE, new_id

if TYPE_CHECKING:
    from tinygrad_rnn.tensor import Tensor


def step_mark() -> int:
    """A creation number: every tensor made after this call has a larger ``_id``. (Outside
    ``lean_graph()`` it is 0 and takes no number, so node numbering is unchanged.)"""
    return new_id() if STATE.lean else 0


def free_values(outputs: Sequence[Tensor], since: int) -> int:
    """In a lean graph, free the arrays of the tensors made since ``since`` (a
    ``step_mark()``) that ``outputs`` were computed from, except ``outputs`` themselves.
    Returns how many were freed (0 outside a lean graph).

    The walk is iterative and stops at tensors older than the mark (the step's inputs and
    the weights), so it visits only the step's own nodes.
    """
    if not STATE.lean:
        return 0
    stack = list(outputs)
    kept = {id(t) for t in outputs}  # the outputs, and visited tensors that are not floats
    # the creation numbers of the step's outputs: every op that read a freed tensor is on
    # the way to one of them, so a picture holding them all can recompute its gradient
    # (viz/grads.py). (Numbers, not the tensors: no reference cycle.) Kept on the op that
    # made each freed tensor, ``grad_fn.step_ends``.
    ends = tuple(t._id for t in outputs)
    freed = 0
    while stack:
        fn = stack.pop().grad_fn
        if fn is None:
            continue
        for inp in fn.inputs:
            # only what an op of this step made (the oldest test first: most inputs are
            # weights and the step's inputs); a leaf made in the step may be shared (a
            # cached constant such as the 1.0 of 1 - z serves every later step too)
            if inp._id < since or inp.grad_fn is None or inp.freed or id(inp) in kept:
                continue
            stack.append(inp)
            data = inp.data
            if data.dtype.kind != "f":
                kept.add(id(inp))
                continue
            inp.data = _placeholder(data.shape, data.dtype)
            inp.freed = True
            # (on the op, whose __dict__ exists already: no new object per freed tensor)
            inp.grad_fn.step_ends = ends  # type: ignore[attr-defined]
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
    # (the ops of the previous step locked their views of the buffer, and with them the
    # buffer itself: unlock it to write the next slice -- the locked views stay locked)
    buffer.setflags(write=True)
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
    if not STATE.lean or not STATE.grad_enabled or not xs:  # (no_grad: a fresh array)
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


def step(maths: Callable[..., Any], *args: Any) -> Any:
    """``maths(*args)`` -- one step of a cell, returning a tensor or a tuple of them -- with,
    inside ``lean_graph()``, the values of the step's internal tensors freed afterwards."""
    mark = step_mark()
    out = maths(*args)
    free_values(out if isinstance(out, tuple) else (out,), mark)
    return out


class Recording:
    """The bookkeeping of one RNN layer's loop over T steps (one direction).

    ``step(maths, *args)`` runs one step; ``output(i, h)`` hands over the step's output h.
    ``fast``: the garbage collector is paused for the block (``gc_paused``), and inside
    ``lean_graph()`` each step's internal values are freed (``step``) and each h is kept
    directly in the layer's (T, ...) output array (``store_in``), sealed read-only when the
    block ends. Otherwise both only run the maths.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, fast: bool) -> None:
        # (outside grad mode nothing saves views of the outputs: no buffer to seal)
        self.lean = fast and STATE.lean and STATE.grad_enabled
        self.buffer = output_buffer(shape, dtype) if self.lean else None
        self.paused: AbstractContextManager[None] = gc_paused() if fast else nullcontext()

    def __enter__(self) -> Recording:
        self.paused.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.buffer is not None:
            seal(self.buffer)
        self.paused.__exit__(*exc)

    def step(self, maths: Callable[..., Any], *args: Any) -> Any:
        return step(maths, *args) if self.lean else maths(*args)

    def output(self, i: int, h: Tensor) -> None:
        if self.buffer is not None:
            store_in(self.buffer, i, h)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while a long graph is recorded.

    An unrolled graph is many small objects (tensors, ops, their input tuples) that all
    live until backward; the generational collector re-scans them as they age -- at
    T = 10,000 one full pass over the whole heap per forward -- so without the pause a
    step costs more the longer the sequence. The graph has no reference cycles, so
    reference counting frees it all the same. The RNN layers record inside this (when
    the fast path is on); use it around a hand-written loop over a cell too.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:  # never unfreeze what the program froze itself
            # Move what was allocated meanwhile to the oldest generation in one list
            # splice; otherwise the first young collection after gc.enable() would scan
            # the whole new graph.
            gc.freeze()
            gc.unfreeze()
        gc.enable()
