"""The fast path: everything that exists only for speed or memory, behind one seam.

The core (``tensor.py``, ``function.py``, ``ops.py``, ``engine.py``) is the textbook: each
op's VJP is its formula, and the engine asks ``fn.backward(g)`` and adds with ``a + b``.
It reaches this package only through the functions below -- the seam -- each of which,
with the fast path off, *is* the textbook step it stands for:

=====================================  ===============================================
seam                                   textbook (fast path off)
=====================================  ===============================================
``forward(fn, arrays, kwargs)``        ``fn.forward(*arrays, **kwargs)``
``vjp(fn, g)``                         ``fn.backward(g)``
``add(a, b)``                          ``a + b``
``to_array(g)``                        ``g`` (only fast rules make unwritten gradients)
``constant(value, dtype, make)``       ``make(value, dtype)`` (a new constant tensor)
``step(maths, *args)`` (cells)         ``maths(*args)``
``recording(shape, dtype)`` (layers)   a block that only runs the maths
=====================================  ===============================================

With the fast path on (the default):

* ``rules.py`` -- cheaper forward/backward rules for a few ops, keyed by op class (dW of
  ``Linear`` as an unwritten product, float32 layouts, ...);
* ``grads.py`` -- unwritten gradients and ``GradSum``, which adds a weight's T uses as one
  matrix product, as a hand-written BPTT does;
* ``lean.py`` -- ``lean_graph()`` freeing each step's internal values, the layers'
  output buffers, and pausing the cyclic garbage collector while a layer records;
* ``allocator.py`` -- the one process-wide change, made at import: glibc's malloc keeps
  freed memory in the process, so each training iteration reuses the last one's memory
  instead of page-faulting it in again (off with the switch, or on its own with
  ``TINYGRAD_RNN_KEEP_MEMORY=0``; ``allocator.release()`` undoes it);
* here -- one cached tensor per scalar constant (the 1.0 of ``1 - z``), keyed by value
  and dtype (zeros and NaN are not cached: 0.0 == -0.0, and NaN equals nothing).

The switch: ``TINYGRAD_RNN_PLAIN=1`` in the environment (read at import) starts every
thread with the fast path off; ``with tinygrad_rnn.fast.disabled():`` turns it off for a
block of the calling thread; ``tinygrad_rnn.fast.enabled()`` says whether it is on. Results
are the same either way up to floating-point rounding order (tested to ~1e-12 in float64).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from tinygrad_rnn.context import FAST_DEFAULT, STATE, _setting
from tinygrad_rnn.fast import allocator, grads, lean
from tinygrad_rnn.fast.grads import to_array
from tinygrad_rnn.fast.lean import gc_paused

if allocator.wanted(FAST_DEFAULT):  # process-wide, so decided once, here (allocator.py)
    allocator.keep()

# op class -> (the op's method the rule replaces, the fast rule); filled by rules.py
# (imported by the package's __init__). A rule is used only while the op's method is still
# that one: an op whose forward or backward was replaced (a test, a learner's experiment)
# runs its own. (A learner who edits ops.py itself: run with TINYGRAD_RNN_PLAIN=1.)
FORWARD: dict[type, tuple[Callable[..., Any], Callable[..., np.ndarray]]] = {}
BACKWARD: dict[type, tuple[Callable[..., Any], Callable[..., tuple[Any, ...]]]] = {}

__all__ = ["add", "constant", "disabled", "enabled", "forward", "gc_paused", "recording",
           "step", "to_array", "vjp"]


def enabled() -> bool:
    """Whether the fast path is on in this thread."""
    return STATE.fast


def disabled() -> AbstractContextManager[None]:
    """Turn the fast path off for the block (this thread): the textbook engine runs."""
    return _setting("fast", False)


def forward(fn: Any, arrays: list[np.ndarray], kwargs: dict[str, Any]) -> np.ndarray:
    """``fn.forward(*arrays, **kwargs)``, or the op's fast rule."""
    rule = FORWARD.get(type(fn))  # (looked up first: most ops have none)
    if rule is None or not STATE.fast or type(fn).forward is not rule[0]:
        return fn.forward(*arrays, **kwargs)  # type: ignore[no-any-return]
    return rule[1](fn, *arrays, **kwargs)


def vjp(fn: Any, g: np.ndarray) -> tuple[Any, ...]:
    """``fn.backward(g)``, or the op's fast rule (which may return unwritten gradients)."""
    rule = BACKWARD.get(type(fn))
    if rule is None or not STATE.fast or type(fn).backward is not rule[0]:
        return fn.backward(g)  # type: ignore[no-any-return]
    return rule[1](fn, g)


def add(a: Any, b: Any) -> Any:
    """``a + b`` for two gradients of one tensor; fast: kept in a ``grads.GradSum``."""
    return grads.add(a, b) if STATE.fast else a + b


_CONSTANTS: dict[tuple[Any, np.dtype | None], Any] = {}


def constant(value: Any, dtype: np.dtype | None, make: Callable[..., Any]) -> Any:
    """The constant tensor ``make(value, dtype)`` for a number in an op (``1.0 - z``);
    fast: one cached tensor per (value, floating dtype) -- constants are never mutated.
    (0.0 == -0.0 and NaN != NaN: zeros and NaN are made anew, never looked up.)"""
    kind = type(value)
    if (kind is not float and kind is not int) or not value or value != value \
            or not STATE.fast:
        return make(value, dtype)
    key = (value, dtype)
    cached = _CONSTANTS.get(key)
    if cached is None:
        cached = make(value, dtype)
        if dtype is None or dtype.kind != "f":  # keeps NumPy's own dtype: not shared
            return cached
        if len(_CONSTANTS) > 1024:
            _CONSTANTS.clear()
        _CONSTANTS[key] = cached
        cached.scope = ""  # shared across scopes, so it belongs to none
    return cached


def step(maths: Callable[..., Any], *args: Any) -> Any:
    """One step of a cell, ``maths(*args)``; fast, in a lean graph (the default; not inside
    ``full_graph()``): the values of the step's internal tensors are freed afterwards
    (``lean.py``)."""
    return lean.step(maths, *args) if STATE.fast else maths(*args)


def recording(shape: tuple[int, ...], dtype: np.dtype) -> lean.Recording:
    """The block in which an RNN layer runs its T steps (one direction), outputs ``shape``
    (T, B, H): ``rec.step(maths, *args)`` runs a step, ``rec.output(i, h)`` hands over
    step i's output. Fast: the garbage collector is paused, and in a lean graph (the
    default) each step is freed and the outputs are kept in one array. Plain: just the
    maths."""
    return lean.Recording(shape, dtype, fast=STATE.fast)
