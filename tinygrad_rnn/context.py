"""Global recording state: whether ops build a graph, and the current scope path.

Three small pieces of state live here, shared by every op:

* grad mode -- inside ``no_grad()`` ops compute values but record no graph (evaluation,
  numeric differences, optimizer updates);
* lean mode -- inside ``lean_graph()`` the cells and layers free the values of each
  step's internal tensors once the step is done (memory, not speed);
* the scope stack -- ``with scope("t=3"):`` stamps every tensor created inside with the
  path of the open scopes (``"layer0/fwd/t=3"``). The engine never looks at it; the RNN
  layers open one scope per layer, direction and time step, and the renderer and the
  gradient-flow analysis group nodes by it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


class _State:
    """Mutable module state (one object, so hot paths read one global)."""

    __slots__ = ("grad_enabled", "lean", "scopes", "path")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.lean = False  # lean_graph(): cells free their internal values after each step
        self.scopes: list[str] = []
        self.path = ""  # "/".join(scopes), cached because every new tensor reads it


STATE = _State()


def is_grad_enabled() -> bool:
    """True when ops record the graph needed for ``backward()``."""
    return STATE.grad_enabled


def no_grad() -> AbstractContextManager[None]:
    """Run ops without recording a graph (like ``torch.no_grad``)."""
    return _setting("grad_enabled", False)


def enable_grad() -> AbstractContextManager[None]:
    """Re-enable graph recording inside a ``no_grad()`` block."""
    return _setting("grad_enabled", True)


def lean_graph() -> AbstractContextManager[None]:
    """Record a lean graph: after each step of a cell or RNN layer, the values of the
    step's internal tensors are freed, keeping only what backward needs (see ``lean.py``).
    Gradients are unchanged; memory per step drops to about what a hand-written BPTT
    keeps. Combine with ``backward(keep_grads=False)`` for the least memory."""
    return _setting("lean", True)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while a long graph is recorded.

    An unrolled graph is many small objects (tensors, ops, their input tuples) that all
    live until backward; the generational collector re-scans them as they age -- at
    T = 10,000 one full pass over the whole heap per forward -- so without the pause a
    step costs more the longer the sequence. The graph has no reference cycles, so
    reference counting frees it all the same. The RNN layers record inside this; use it
    around a hand-written loop over a cell too.
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


@contextmanager
def _setting(name: str, value: bool) -> Iterator[None]:
    """Set one flag of STATE for the block, restoring the previous value after it."""
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
        self.previous = previous = STATE.path
        STATE.scopes.append(self.name)
        STATE.path = f"{previous}/{self.name}" if previous else self.name
        return STATE.path

    def __exit__(self, *exc: object) -> None:
        STATE.scopes.pop()
        STATE.path = self.previous


def current_scope() -> str:
    """The path of the open scopes ("" at top level)."""
    return STATE.path
