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
hold the output gate that also read the step's pre-activations. The kept tensors tell:
a step's inputs (h_{t-1}, c_{t-1}, x_t) kept their ``.grad``, and the same replay must
give it back. When it does not, the recomputed gradients are dropped (``Gradients.whole``
is False) rather than drawn wrong.
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
    if not any(t.freed for t in tensors):
        return Gradients(stored)
    grads = dict(stored)
    received: dict[Tensor, Any] = {}  # the VJPs each tensor received from the drawn ones
    checked: set[Tensor] = set()  # kept tensors that a freed tensor passed a gradient to
    for v in reversed(tensors):  # consumers are newer than what they read
        if v.freed and v in received:
            grads[v] = received[v]
        g = grads.get(v)
        if g is None or v.grad_fn is None:
            continue
        for u, g_u in zip(v.grad_fn.inputs, vjps(v, g) or ()):  # noqa: B905 (short: skip)
            if g_u is None or not u.requires_grad:
                continue
            g_u = unbroadcast(np.asarray(g_u), u.shape)
            received[u] = g_u if u not in received else received[u] + g_u
            if v.freed and not u.freed and u.grad_fn is not None:
                checked.add(u)
    if all(_same(received[u], stored[u]) for u in checked if u in stored):
        return Gradients(grads)
    return Gradients(stored, whole=False)


def _same(replayed: np.ndarray, kept: np.ndarray) -> bool:
    """Equal up to the rounding of a different order of additions."""
    scale = float(np.max(np.abs(kept))) if kept.size else 0.0
    return bool(np.allclose(replayed, kept, rtol=1e-4, atol=1e-6 * scale))


def vjps(v: Tensor, g: np.ndarray) -> tuple[Any, ...] | None:
    """What v's op sends each of its inputs, replayed from v's gradient g (backward has no
    side effects); None when the op cannot be replayed (then those edges get no heat)."""
    assert v.grad_fn is not None
    try:
        return tuple(v.grad_fn.backward(g))
    except Exception:
        return None
