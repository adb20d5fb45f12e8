"""Copying and pickling a tensor: the values, not the history.

``copy.copy``, ``copy.deepcopy`` and ``pickle`` go through ``Tensor.__getstate__`` and
``Tensor.__setstate__``, which are the two functions below.

Kept: ``data``, ``grad``, ``requires_grad``, ``name``, ``scope`` (and ``freed``). A tensor
whose value a lean graph freed is stored as its shape and dtype only, and comes back freed:
its value reads as NaN and is refused, as the original's (no full-size array of NaN).
Dropped: the op that made the tensor -- the graph -- so a copy or an unpickled tensor is a
leaf (as ``torch`` unpickles one), and copying a 1,000,000-op chain is one array copy, not
a recursion through every op; also dropped: ``contributions`` and the link to the tensor it
was detached from. (A plain dict: pickle protocols 0 and 1 cannot read slots by themselves.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_rnn.context import new_id

if TYPE_CHECKING:
    from tinygrad_rnn.tensor import Tensor

KEPT = ("data", "grad", "requires_grad", "name", "scope", "freed")


def getstate(t: Tensor) -> dict[str, Any]:
    """What a copy or a pickle of ``t`` holds: its values, not its history."""
    state = {name: getattr(t, name) for name in KEPT}
    if t.freed:  # no value to keep: its shape and dtype
        state["data"] = ("freed", t.data.shape, t.data.dtype.str)
    return state


def setstate(t: Tensor, state: dict[str, Any]) -> None:
    """Fill a new tensor from ``getstate``'s dict: a leaf, numbered as a new tensor."""
    for name, value in state.items():
        if name in KEPT:  # (older pickles also hold the graph: not restored)
            setattr(t, name, value)
    if type(t.data) is tuple:  # a freed value: the all-NaN stand-in, which takes no memory
        _, shape, dtype = t.data
        t.data = np.broadcast_to(np.full((), np.nan, np.dtype(dtype)), shape)
    t.grad_fn = None
    t._id = new_id()  # a new tensor: numbered after every existing one
