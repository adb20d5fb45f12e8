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
    return _grad_mode(False)


def enable_grad() -> AbstractContextManager[None]:
    """Re-enable graph recording inside a ``no_grad()`` block."""
    return _grad_mode(True)


@contextmanager
def lean_graph() -> Iterator[None]:
    """Record a lean graph: after each step of a cell or RNN layer, the values of the
    step's internal tensors are freed, keeping only what backward needs (see ``lean.py``).
    Gradients are unchanged; memory per step drops to about what a hand-written BPTT
    keeps. Combine with ``backward(keep_grads=False)`` for the least memory."""
    previous = STATE.lean
    STATE.lean = True
    try:
        yield
    finally:
        STATE.lean = previous


@contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    previous = STATE.grad_enabled
    STATE.grad_enabled = enabled
    try:
        yield
    finally:
        STATE.grad_enabled = previous


@contextmanager
def scope(name: str) -> Iterator[str]:
    """Stamp every tensor created inside with this scope appended to the current path.

    Scopes nest: ``with scope("layer0"), scope("fwd"), scope("t=3"):`` gives the path
    ``"layer0/fwd/t=3"``. Yields the full path.
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"scope: name must be a non-empty string without '/', got {name!r}")
    previous = STATE.path
    STATE.scopes.append(name)
    STATE.path = f"{previous}/{name}" if previous else name
    try:
        yield STATE.path
    finally:
        STATE.scopes.pop()
        STATE.path = previous


def current_scope() -> str:
    """The path of the open scopes ("" at top level)."""
    return STATE.path
