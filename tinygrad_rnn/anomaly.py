"""Anomaly mode: stop at the first op that makes a NaN or an infinity, and say where.

    with tinygrad_rnn.anomaly.detect_anomaly():
        out, h = rnn(x)
        loss = ...
        loss.backward()

Inside the block every op's output is checked right after its forward, and every
vector-Jacobian product right after the op's backward. The first non-finite value raises
``AnomalyError`` naming the op, the phase (forward/backward), its scope -- and so the layer,
direction and time step (``layer0/fwd/t=7/RNNCell``) -- and its input shapes. In an
exploding RNN this points at the step where the values (or gradients) overflowed.

How: the engine is not changed. While some thread is inside the block, ``Function.apply``
(which every op goes through) and the ``backward`` method of every ``Function`` subclass
and the fast path's backward rules are replaced with checking wrappers; when the last
thread leaves, they are restored. The mode is per thread, as PyTorch's: the
wrappers check only in a thread that is inside the block. The checks cost a pass over
every array, so use the mode to debug, not to train.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from tinygrad_rnn import fast
from tinygrad_rnn.context import STATE
from tinygrad_rnn.function import Function
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.viz.scopes import parse_scope


class AnomalyError(FloatingPointError):
    """An op produced NaN or inf. Attributes: op, phase ("forward"/"backward"), scope,
    layer, direction, t, input_shapes, kind ("nan" or "inf")."""

    def __init__(self, op: str, phase: str, scope: str, input_shapes: list[tuple[int, ...]],
                 kind: str, detail: str = "") -> None:
        info = parse_scope(scope)
        self.op, self.phase, self.scope, self.kind = op, phase, scope, kind
        self.layer, self.direction, self.t = info.layer, info.direction, info.t
        self.input_shapes = input_shapes
        where = ", ".join(f"{k} {v}" for k, v in (("layer", info.layer),
                                                   ("direction", info.direction),
                                                   ("t", info.t)) if v is not None)
        shapes = ", ".join(str(s) for s in input_shapes)
        super().__init__(
            f"{phase} of {op} produced {kind} at scope {scope or '(top level)'!r}"
            f"{f' ({where})' if where else ''}; input shapes {shapes}{detail}")


def _kind(a: Any) -> str | None:
    """'nan' or 'inf' if the floating array holds one, else None."""
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fc":
        return None
    if np.isfinite(a).all():
        return None
    return "nan" if np.isnan(a).any() else "inf"


def _subclasses(base: type) -> list[type]:
    """Every subclass of ``base``, found with an explicit stack."""
    found: list[type] = []
    stack: list[type] = list(base.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls not in found:
            found.append(cls)
            stack.extend(cls.__subclasses__())
    return found


def _checked_apply(original: Callable[..., Tensor]) -> Any:
    def apply(cls: type[Function], *args: Any, **kwargs: Any) -> Tensor:
        out = original(cls, *args, **kwargs)
        if out.grad_fn is not None and STATE.anomaly:
            _check_backward_of(cls)  # (an op class defined after the block began)
        kind = _kind(out.data) if STATE.anomaly and STATE.anomaly_forward else None
        if kind is not None:
            shapes = [np.shape(a.data if isinstance(a, Tensor) else a) for a in args]
            bad = [i for i, a in enumerate(args)
                   if _kind(np.asarray(a.data if isinstance(a, Tensor) else a)) is not None]
            detail = (f"; input {bad[0]} already held non-finite values (the anomaly came "
                      f"from outside this op)") if bad else ""
            raise AnomalyError(cls.__name__, "forward", STATE.path, shapes, kind, detail)
        return out

    return classmethod(apply)


def _checked_backward(original: Callable[..., Any]) -> Callable[..., Any]:
    def backward(self: Function, grad: np.ndarray) -> Any:
        grads = original(self, grad)
        if not (STATE.anomaly and STATE.anomaly_backward):
            return grads
        for i, g in enumerate(grads):
            kind = _kind(fast.to_array(g))  # (the engine gets g unchanged)
            if kind is not None:
                shapes = [t.shape for t in getattr(self, "inputs", ())]
                came_in = _kind(np.asarray(grad))
                detail = (f"; the incoming gradient already held {came_in}" if came_in
                          else "") + f" (the gradient for input {i})"
                raise AnomalyError(self.name, "backward", self.scope, shapes, kind, detail)
        return grads

    backward.__wrapped__ = original  # type: ignore[attr-defined]
    backward.anomaly_checked = True  # type: ignore[attr-defined]
    return backward


def _check_backward_of(cls: type) -> None:
    """Wrap the backward ``cls`` uses if it is not wrapped yet: an op class defined (or
    imported) inside the block did not exist when the block began."""
    owner = next((c for c in cls.__mro__ if "backward" in c.__dict__), Function)
    if owner is Function or getattr(owner.__dict__["backward"], "anomaly_checked", False):
        return
    with _lock:
        method = owner.__dict__["backward"]
        if _users and not getattr(method, "anomaly_checked", False):
            _saved.append((owner, "backward", method))
            owner.backward = _checked_backward(method)  # type: ignore[attr-defined]


_lock = threading.Lock()
_users = 0  # how many threads are inside a block: the first patches, the last restores
_saved: list[tuple[Any, str, Any]] = []  # (class, method name, the original method)


@contextmanager
def detect_anomaly(forward: bool = True, backward: bool = True) -> Iterator[None]:
    """Raise ``AnomalyError`` at the first NaN/inf made by an op's forward (``forward``) or
    by its backward (``backward``) inside the block, in this thread. Nested blocks are
    allowed."""
    previous = (STATE.anomaly, STATE.anomaly_forward, STATE.anomaly_backward)
    _enter()
    STATE.anomaly, STATE.anomaly_forward, STATE.anomaly_backward = True, forward, backward
    try:
        yield
    finally:
        STATE.anomaly, STATE.anomaly_forward, STATE.anomaly_backward = previous
        _leave()


def _enter() -> None:
    global _users
    with _lock:
        _users += 1
        if _users == 1:
            _patch()


def _leave() -> None:
    global _users
    with _lock:
        _users -= 1
        if _users == 0:
            _restore()


def _patch() -> None:
    """Wrap apply, every op's own backward and the fast backward rules still in use."""
    rules: dict[Any, Any] = dict(fast.BACKWARD)
    _saved.append((fast, "BACKWARD", rules))
    in_use = {op: rule for op, (method, rule) in rules.items() if op.backward is method}
    saved_apply = Function.__dict__["apply"]
    _saved.append((Function, "apply", saved_apply))
    Function.apply = _checked_apply(saved_apply.__func__)  # type: ignore[method-assign]
    for op in _subclasses(Function):
        if "backward" in op.__dict__:
            cls: Any = op
            _saved.append((cls, "backward", cls.__dict__["backward"]))
            cls.backward = _checked_backward(cls.__dict__["backward"])
    fast.BACKWARD = {op: (op.backward, _checked_backward(rule))
                     for op, rule in in_use.items()}


def _restore() -> None:
    for owner, name, original in _saved:
        setattr(owner, name, original)
    _saved.clear()
