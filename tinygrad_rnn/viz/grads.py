"""The gradient of every drawn tensor, including those a lean graph did not keep.

After ``loss.backward()`` every tensor that kept its value also keeps its gradient
(``.grad``). The internal tensors of a cell step in the default (lean) graph keep neither:
their values were freed once the step was done, and backward passed their gradients on
without storing them. A picture still wants them -- the heat of each op inside a step,
the per-use terms that flow from a weight into each step -- so they are recomputed here,
the way backward made them: a freed tensor's gradient is the sum of the VJPs its
consumers send it, and each consumer's VJP is replayed from that consumer's gradient
(the ops kept what their backward needs, and backward has no side effects). Nothing is
stored on the tensors; drawing changes nothing.

That sum is only whole when every consumer is drawn: a picture of c_t alone does not
hold the output gate that also read the step's pre-activations. Every op that read a freed
tensor lies on the way to one of its step's outputs (h_t, c_t: ``grad_fn.step_ends``), so the
picture must hold each of them that gradient flowed through (one that received none -- the
h_T of a loss on c_T only -- adds nothing); when it does not, the recomputed gradients are
left out (``Gradients.whole`` is False) rather than drawn wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_rnn.engine import unbroadcast
from tinygrad_rnn.tensor import Tensor


@dataclass
class Gradients:
    """{tensor: dL/dtensor} for the drawn tensors that have one (``grads``); ``whole`` is
    False when the freed tensors' gradients could not be recomputed whole (left out)."""

    grads: dict[Tensor, np.ndarray] = field(default_factory=dict)
    whole: bool = True


def gradients(tensors: Sequence[Tensor]) -> Gradients:
    """The gradient of each of ``tensors`` (in creation order): its ``.grad``, or, for a
    freed tensor, the sum of what its consumers among ``tensors`` pass back to it."""
    stored = {t: np.asarray(t.grad) for t in tensors if t.grad is not None}
    if not stored or not any(t.freed for t in tensors):  # (before backward: no heat at all)
        return Gradients(stored)
    drawn = set(tensors)
    # (fast/lean.py sets step_ends, weak references, on the op that made each freed tensor)
    ends = {end for t in tensors if t.freed for end in getattr(t.grad_fn, "step_ends", ())}
    # (with backward(keep_grads=False) no output kept a .grad: none can be told apart)
    kept = any(t.grad is not None for t in tensors if t.grad_fn is not None)
    if not all(_accounted(end(), drawn, kept) for end in ends):
        return Gradients(stored, whole=False)
    grads = dict(stored)
    received: dict[Tensor, Any] = {}  # freed tensors: the VJPs received so far, summed
    for v in reversed(tensors):  # consumers are newer than what they read
        if v.freed and v in received:
            grads[v] = received.pop(v)
        g = grads.get(v)
        if g is None or v.grad_fn is None or not any(u.freed for u in v.grad_fn.inputs):
            continue
        for u, g_u in zip(v.grad_fn.inputs, vjps(v, g) or ()):  # noqa: B905 (short: skip)
            if g_u is not None and u.freed and u.requires_grad:
                g_u = unbroadcast(np.asarray(g_u), u.shape)
                received[u] = g_u if u not in received else received[u] + g_u
    return Gradients(grads)


def _accounted(end: Tensor | None, drawn: set[Tensor], kept: bool) -> bool:
    """Whether a step output's share of the gradients is in the picture: it is drawn, or
    no gradient flowed through it (it keeps no ``.grad`` where backward kept them). One
    that is gone cannot be told apart: no."""
    return end is not None and (end in drawn or (kept and end.grad is None))


def vjps(v: Tensor, g: np.ndarray) -> tuple[Any, ...] | None:
    """What v's op sends each of its inputs, replayed from v's gradient g (backward has no
    side effects); None when the op cannot be replayed (then those edges get no heat)."""
    assert v.grad_fn is not None
    try:
        return tuple(v.grad_fn.backward(g))
    except Exception:
        return None
