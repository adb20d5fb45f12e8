"""Recording state: whether ops build a graph, and the current scope path -- per thread.

Small pieces of state, read by every op of the calling thread:

* grad mode -- inside ``no_grad()`` ops compute values but record no graph (evaluation,
  numeric differences, optimizer updates); ``set_grad_enabled(mode)`` sets it from a flag;
* lean mode -- on by default (``full_graph()`` turns it off): the cells and layers free
  the values of each step's internal tensors once the step is done, and backward keeps
  no gradient for them (memory; see ``fast/lean.py``);
* the scope stack -- ``with scope("t=3"):`` stamps every tensor created inside with the
  path of the open scopes (``"layer0/fwd/t=3"``). The engine never looks at it; the RNN
  layers open one scope per layer, direction and time step, and the renderer and the
  gradient-flow analysis group nodes by it;
* anomaly mode and whether the fast path is on (set by ``anomaly.py`` and ``fast/``).

Each thread has its own copy (``threading.local``), as in PyTorch: one thread inside
``no_grad()`` does not stop another thread's ops from being recorded.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

# Every tensor gets the next creation number: a tensor is always newer than its inputs.
new_id = itertools.count().__next__

# TINYGRAD_RNN_PLAIN=1 (read once, at import) starts every thread with the fast path off.
FAST_DEFAULT = os.environ.get("TINYGRAD_RNN_PLAIN", "").strip() in ("", "0")


class _State(threading.local):
    """The calling thread's recording state (one object, so hot paths read one global;
    each thread sees its own attributes, initialised by ``__init__`` on first use)."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.lean = True  # cells free their internal values after each step (full_graph(): no)
        self.anomaly = False  # detect_anomaly(): check every op's values (anomaly.py)
        self.anomaly_forward = self.anomaly_backward = True  # ... in these phases
        self.fast = FAST_DEFAULT  # the speed machinery of fast/ is used
        self.path = ""  # the open scopes joined by "/" (every new tensor reads it)


STATE = _State()


def is_grad_enabled() -> bool:
    """True when ops record the graph needed for ``backward()``."""
    return STATE.grad_enabled


@overload
def no_grad() -> AbstractContextManager[None]: ...
@overload
def no_grad(func: F) -> F: ...
def no_grad(func: Any = None) -> Any:
    """Run ops without recording a graph (like ``torch.no_grad``): ``with tg.no_grad():``,
    or as a decorator of a function, ``@tg.no_grad()`` or ``@tg.no_grad``."""
    return _grad_mode(False, func, "no_grad")


@overload
def enable_grad() -> AbstractContextManager[None]: ...
@overload
def enable_grad(func: F) -> F: ...
def enable_grad(func: Any = None) -> Any:
    """Re-enable graph recording inside a ``no_grad()`` block (also a decorator, with or
    without parentheses, as ``no_grad``)."""
    return _grad_mode(True, func, "enable_grad")


def _grad_mode(mode: bool, func: Any, owner: str) -> Any:
    """The block setting grad mode to ``mode``; given a function (a decorator without
    parentheses, ``@tg.no_grad``), that function run in the block at every call."""
    if func is None:
        return _setting("grad_enabled", mode)
    if not callable(func):
        raise TypeError(f"{owner}: takes no arguments (use `with tg.{owner}():`), or decorates "
                        f"a function; got {type(func).__name__} {func!r:.40}; to set the "
                        f"mode from a flag use tg.set_grad_enabled(flag)")
    return _setting("grad_enabled", mode)(func)


class set_grad_enabled:  # noqa: N801 (torch's name; used like a function)
    """Turn graph recording on or off for this thread, as ``torch.set_grad_enabled``:
    called, it sets the mode at once (``tg.set_grad_enabled(False)`` as a statement);
    used as ``with tg.set_grad_enabled(is_training):``, it also restores the previous
    mode when the block ends."""

    __slots__ = ("previous",)

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: mode must be True or False, got "
                            f"{type(mode).__name__} {mode!r:.40}")
        self.previous = STATE.grad_enabled
        STATE.grad_enabled = mode

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        STATE.grad_enabled = self.previous


def full_graph() -> AbstractContextManager[None]:
    """Record the full graph: every intermediate tensor keeps its value and, after
    ``backward()``, its gradient -- the inside of every cell step too (each gate, each
    pre-activation), for op-level inspection and pictures. The default (lean) graph frees
    a step's internal values once the step is done and keeps neither their values nor
    their gradients; the step's outputs (h_t, c_t), the values the ops saved for backward
    and everything made outside a step are kept either way. Costs about 3x the memory
    for an LSTM. (With the fast path off every graph is a full graph.)"""
    return _setting("lean", False)


def lean_graph() -> AbstractContextManager[None]:
    """Record a lean graph -- the default, so this only matters inside ``full_graph()``:
    after each step of a cell or RNN layer, the values of the step's internal tensors
    are freed, keeping only what backward needs (see ``fast/lean.py``; a part of the fast
    path, so it does nothing when that is off). Leaves' gradients are unchanged; memory
    per step drops to about what a hand-written BPTT keeps. Combine with
    ``backward(keep_grads=False)`` for the least memory."""
    return _setting("lean", True)


@contextmanager
def _setting(name: str, value: bool) -> Iterator[None]:
    """Set one flag of this thread's STATE for the block, restoring the previous value after it."""
    previous = getattr(STATE, name)
    setattr(STATE, name, value)
    try:
        yield
    finally:
        setattr(STATE, name, previous)


class scope:  # noqa: N801 (used like a function: ``with scope("t=3"):``)
    """Stamp every tensor created inside with this scope appended to the current path.

    Scopes nest: ``with scope("layer0"), scope("fwd"), scope("t=3"):`` gives the path
    ``"layer0/fwd/t=3"``. ``__enter__`` returns the full path. (A small class rather than
    a generator: the RNN layers open three scopes per time step.)
    """

    __slots__ = ("name", "previous")

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"scope: name must be a non-empty string without '/', got "
                             f"{name!r}")
        self.name = name
        self.previous = ""

    def __enter__(self) -> str:
        # (each STATE access looks up this thread's copy: read and write the path once)
        self.previous = previous = STATE.path
        path = STATE.path = f"{previous}/{self.name}" if previous else self.name
        return path

    def __exit__(self, *exc: object) -> None:
        STATE.path = self.previous


def current_scope() -> str:
    """The path of the open scopes ("" at top level)."""
    return STATE.path


def freed_message(t: Any, what: str) -> str:
    """Why a tensor a lean graph freed cannot be read, and what to do."""
    return (f"{what}: this tensor ({t.grad_fn.name if t.grad_fn else 'a leaf'} at "
            f"{t.scope or 'top level'!r}, shape {t.shape}) is internal to a cell step, and "
            f"the default lean graph freed its value and keeps no gradient for it; record "
            f"the forward inside `with tg.full_graph():` to keep every value and gradient")
