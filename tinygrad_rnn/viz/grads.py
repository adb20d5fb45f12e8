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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_rnn.engine import unbroadcast
from tinygrad_rnn.tensor import Tensor


def gradients(tensors: Sequence[Tensor]) -> dict[Tensor, np.ndarray]:
    """{tensor: dL/dtensor} for the ``tensors`` (in creation order) that have one: their
    ``.grad``, or, for a freed tensor, the sum of what its consumers among ``tensors``
    pass back to it. Tensors no gradient reached are left out."""
    grads: dict[Tensor, np.ndarray] = {t: np.asarray(t.grad) for t in tensors
                                       if t.grad is not None}
    if not any(t.freed for t in tensors):
        return grads
    missing: dict[Tensor, Any] = {}  # freed tensors: the VJPs received so far, summed
    for v in reversed(tensors):  # consumers are newer than what they read
        g = grads.get(v)
        if g is None and v in missing:
            g = grads[v] = missing.pop(v)
        if g is None or v.grad_fn is None \
                or not any(u.freed and u.grad is None for u in v.grad_fn.inputs):
            continue
        for u, g_u in zip(v.grad_fn.inputs, _vjps(v, g)):  # noqa: B905 (a short tuple: skip)
            if g_u is not None and u.freed and u.grad is None and u.requires_grad:
                g_u = unbroadcast(np.asarray(g_u), u.shape)
                missing[u] = g_u if u not in missing else missing[u] + g_u
    return grads


def _vjps(v: Tensor, g: np.ndarray) -> Sequence[Any]:
    """What v's op sends each input, given v's gradient g (() if it cannot be replayed)."""
    assert v.grad_fn is not None
    try:
        return tuple(v.grad_fn.backward(g))
    except Exception:  # an op that cannot be replayed: its inputs are drawn without heat
        return ()
