"""Tensor creation helpers, and the ops that take several tensors (concat, stack, where).

Random helpers take an optional ``rng`` (a ``np.random.Generator`` or an int seed); without
one they use the global generator that ``tinygrad_rnn.manual_seed`` resets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_rnn import ops
from tinygrad_rnn.rng import get_rng
from tinygrad_rnn.tensor import Tensor

Shape = int | Sequence[int]


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and not isinstance(shape[0], int):
        return tuple(shape[0])
    return tuple(shape)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None,
           name: str | None = None) -> Tensor:
    """``Tensor(data, ...)``, spelled like ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def zeros(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False,
          name: str | None = None) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad, name=name)


def ones(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False,
         name: str | None = None) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad, name=name)


def randn(*shape: Any, rng: np.random.Generator | int | None = None, dtype: Any = np.float32,
          requires_grad: bool = False, name: str | None = None) -> Tensor:
    """Standard normal samples; pass ``rng=np.random.default_rng(seed)`` to reproduce."""
    rng = get_rng(rng)
    return Tensor(rng.standard_normal(_shape(shape)).astype(dtype), requires_grad, name=name)


def uniform(*shape: Any, low: float = 0.0, high: float = 1.0,
            rng: np.random.Generator | int | None = None, dtype: Any = np.float32,
            requires_grad: bool = False, name: str | None = None) -> Tensor:
    """Samples from U(low, high); pass ``rng`` to reproduce."""
    rng = get_rng(rng)
    data = rng.uniform(low, high, size=_shape(shape)).astype(dtype)
    return Tensor(data, requires_grad, name=name)


def _tensors(items: Sequence[Any], op: str) -> tuple[Any, ...]:
    if isinstance(items, Tensor) or not isinstance(items, Sequence) or not items:
        raise TypeError(f"{op}: expects a non-empty list of tensors")
    return tuple(items)


def concat(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``torch.cat``)."""
    return ops.Concat.apply(*_tensors(tensors, "concat"), axis=axis if dim is None else dim)


cat = concat


def stack(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new axis (``torch.stack``)."""
    return ops.Stack.apply(*_tensors(tensors, "stack"), axis=axis if dim is None else dim)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Pick ``a`` where ``condition`` is true, else ``b`` (the condition is not differentiated).

    Used to mask padded time steps of variable-length batches.
    """
    # a copy: the graph makes its arrays read-only, which must not reach the caller's mask
    cond = condition.data if isinstance(condition, Tensor) else np.array(condition)
    # constants take the floating dtype of the tensor branch (Function.apply would take the
    # dtype of the first tensor argument, which here is the boolean condition)
    dtype = next((t.dtype for t in (a, b) if isinstance(t, Tensor) and t.dtype.kind == "f"),
                 None)
    a = a if isinstance(a, Tensor) else Tensor._constant(a, dtype)
    b = b if isinstance(b, Tensor) else Tensor._constant(b, dtype)
    return ops.Where.apply(Tensor._make(cond, False, None), a, b)
