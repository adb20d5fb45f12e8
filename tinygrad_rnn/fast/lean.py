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
    the weights), so it visits only the step's own nodes. The inputs of an op defined
    outside this library are kept: its backward may read them (``self.inputs[0].data``)
    instead of saving what it needs, as the library's ops do.
    """
    if not STATE.lean:
        return 0
    stack = list(outputs)
    visited = {id(t) for t in outputs}
    # the step's outputs: every op that read a freed tensor is on the way to one of them, so
    # a picture holding them all can recompute its gradient (viz/grads.py). Kept on the op
    # that made each freed tensor, ``grad_fn.step_ends``. (Weak references: no reference
    # cycle, and an output that is gone was in no graph that gradients flowed through.)
    ends = tuple(map(weakref.ref, outputs))
    found = []  # the step's float tensors
    kept: set[int] = set()  # the inputs of ops defined outside the library
    while stack:
        fn = stack.pop().grad_fn
        if fn is None:
            continue
        if type(fn) not in _LIBRARY and not _library(type(fn)):
            kept.update(map(id, fn.inputs))
        for inp in fn.inputs:
            # only what an op of this step made (the oldest test first: most inputs are
            # weights and the step's inputs); a leaf made in the step may be shared (a
            # cached constant such as the 1.0 of 1 - z serves every later step too)
            if inp._id < since or inp.grad_fn is None or id(inp) in visited:
                continue
            visited.add(id(inp))
            stack.append(inp)
            if inp.data.dtype.kind == "f" and not inp.freed:
                found.append(inp)
    freed = 0
    for t in found:
        if id(t) in kept:
            continue
        data = t.data
        t.data = _placeholder(data.shape, data.dtype)
        t.freed = True
        # (on the op, whose __dict__ exists already: no new object per freed tensor)
        t.grad_fn.step_ends = ends  # type: ignore[union-attr]
        freed += 1
    return freed


_LIBRARY: set[type] = set()  # the op classes met so far that are this library's


def _library(op: type) -> bool:
    """Whether ``op`` is one of this library's ops (they save what backward reads)."""
    if op.__module__.startswith("tinygrad_rnn."):
        _LIBRARY.add(op)
        return True
    return False


class Outputs:
    """A lean layer's (T, ...) output array, filled step by step: ``store(i, t)`` copies
    step i's output h into ``array[i]`` and makes ``t`` a view of it, as a hand-written
    BPTT keeps hs[t] -- instead of h plus a stacked copy. ``stacked`` then hands out the
    array itself (``seal`` makes it read-only first: later steps saved views of it)."""

    __slots__ = ("array", "views", "__weakref__")

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.array = np.empty(shape, dtype)
        self.views: list[np.ndarray | None] = [None] * shape[0]  # the views handed out
        _OUTPUTS[id(self.array)] = self

    def store(self, i: int, t: Tensor) -> None:
        """Copy ``t``'s value into ``array[i]`` and make ``t`` a view of it (``t``'s old
        array is freed unless an op saved it)."""
        # (the ops of the previous step locked their views of the array, and with them the
        # array itself: unlock it to write the next slice -- the locked views stay locked)
        self.array.setflags(True)  # type: ignore[call-arg]
        view = self.array[i]
        view[...] = t.data
        t.data = self.views[i] = view

    def seal(self) -> None:
        """Make the filled array read-only: the next steps' ops saved views of it for
        backward, so writing into the layer's output in place would change the gradients."""
        self.array.setflags(False)  # type: ignore[call-arg]


def stacked(xs: Sequence[np.ndarray]) -> np.ndarray | None:
    """The array of the ``Outputs`` whose views are ``xs``, in order, if there is one, else
    None (then stacking copies, as it always does outside a lean graph)."""
    if not STATE.lean or not STATE.grad_enabled or not xs:  # (no_grad: a fresh array)
        return None
    base = xs[0].base
    outputs = None if base is None else _OUTPUTS.get(id(base))
    if outputs is None or outputs.array is not base or len(outputs.views) != len(xs):
        return None
    for x, view in zip(xs, outputs.views):  # noqa: B905 (lengths checked above)
        if x is not view:  # the very arrays ``store`` made, in order
            return None
    return base


# the Outputs of the layers still recording (nothing else is stacked in place)
_OUTPUTS: weakref.WeakValueDictionary[int, Outputs] = weakref.WeakValueDictionary()


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
    directly in the layer's (T, ...) output array (``Outputs``), sealed read-only when the
    block ends. Otherwise both only run the maths.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, fast: bool) -> None:
        # (outside grad mode nothing saves views of the outputs: no array to seal)
        self.lean = fast and STATE.lean and STATE.grad_enabled
        self.outputs = Outputs(shape, dtype) if self.lean else None
        self.paused: AbstractContextManager[None] = gc_paused() if fast else nullcontext()

    def __enter__(self) -> Recording:
        self.paused.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.outputs is not None:
            self.outputs.seal()
        self.paused.__exit__(*exc)

    def step(self, maths: Callable[..., Any], *args: Any) -> Any:
        return step(maths, *args) if self.lean else maths(*args)

    def output(self, i: int, h: Tensor) -> None:
        if self.outputs is not None:
            self.outputs.store(i, h)


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
