"""The dtype of several tensors that meet in one op (``+``, ``@``, ``cat``, ``where``, ...).

The rule is PyTorch's: an integer or
boolean tensor meeting a floating one takes the floating dtype (int64 with float32 gives
float32, where NumPy would give float64). Floating dtypes among themselves are left to
NumPy (float32 with float64 gives float64, as in torch), and so are integers and booleans
among themselves (int64 with bool gives int64). See docs/dtypes-and-inplace.md.

No import of ``Tensor`` here (the caller passes the class): ``tensor_methods`` uses this
module, and ``tensor.py`` imports ``tensor_methods``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_rnn.tensor import Tensor


def promoted(items: tuple[Any, ...], tensor: type[Tensor]) -> tuple[Any, ...]:
    """``items`` with each integer or boolean ``tensor`` among floating ones converted to
    their (promoted) floating dtype; everything else (constants too) as it is. Integer and
    boolean tensors never require grad, so the converted copy loses no gradient."""
    dtypes = {t.data.dtype for t in items if isinstance(t, tensor)}
    if len(dtypes) < 2:  # the common case: one dtype, nothing to promote
        return items
    floats = [d for d in dtypes if d.kind == "f"]
    if not floats or len(floats) == len(dtypes):
        return items
    dtype = np.result_type(*floats)
    return tuple(tensor._make(t.data.astype(dtype), False, None)
                 if isinstance(t, tensor) and t.data.dtype.kind != "f" else t for t in items)
