"""Tensor creation helpers, and the ops that take several tensors (concat, stack, where).

Random helpers take an optional ``rng`` (a ``np.random.Generator`` or an int seed); without
one they use the global generator that ``tinygrad_rnn.manual_seed`` resets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_rnn import ops, tensor_methods
from tinygrad_rnn.function import SHARED
from tinygrad_rnn.promotion import promoted
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


def _like(owner: str, t: Any) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{owner}: expects a Tensor, got {type(t).__name__}")
    return t


def _torch_dtype(*values: Any) -> np.dtype:
    """torch's default dtype for Python numbers: bool, else int64 if all are ints, else
    float32."""
    kinds = {np.asarray(v).dtype.kind for v in values}
    if kinds == {"b"}:
        return np.dtype(np.bool_)
    return np.dtype(np.int64) if kinds <= {"i", "u", "b"} else np.dtype(np.float32)


def zeros_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``input``'s shape and (unless ``dtype``) dtype."""
    t = _like("zeros_like", input)
    return Tensor(np.zeros(t.shape, dtype=dtype or t.dtype), requires_grad)


def ones_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of ``input``'s shape and (unless ``dtype``) dtype."""
    t = _like("ones_like", input)
    return Tensor(np.ones(t.shape, dtype=dtype or t.dtype), requires_grad)


def full(size: Shape, fill_value: Any, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; its dtype follows the value as in
    torch (float -> float32, int -> int64, bool -> bool) unless ``dtype`` is given."""
    shape = (size,) if isinstance(size, int) else tuple(size)
    return Tensor(np.full(shape, fill_value), requires_grad, dtype=dtype or _torch_dtype(
        fill_value))


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """[start, end) in steps of ``step`` (``arange(5)`` is 0..4): int64 if every argument
    is an int, else float32, as in torch."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    return Tensor(np.arange(start, end, step), requires_grad,
                  dtype=dtype or _torch_dtype(start, end, step))


def eye(n: int, m: int | None = None, dtype: Any = np.float32,
        requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (m = n by default)."""
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad)


def rand(*shape: Any, rng: np.random.Generator | int | None = None, dtype: Any = np.float32,
         requires_grad: bool = False) -> Tensor:
    """Samples from U[0, 1); pass ``rng`` to reproduce."""
    data = get_rng(rng).random(_shape(shape)).astype(dtype)
    return Tensor(data, requires_grad)


def randint(*args: Any, size: Shape | None = None,
            rng: np.random.Generator | int | None = None, dtype: Any = np.int64) -> Tensor:
    """Random integers in [low, high): ``randint(high, size)`` or ``randint(low, high,
    size)``, as torch."""
    if size is not None:
        args = (*args, size)
    if len(args) == 2:
        args = (0, *args)
    if len(args) != 3:
        raise TypeError("randint: call randint(high, size) or randint(low, high, size)")
    low, high, shape = args
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return Tensor(get_rng(rng).integers(low, high, size=shape).astype(dtype))


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory and dtype (as torch's: writes to one show in the
    other; tinygrad_rnn itself never writes into an array in place)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expects a numpy.ndarray, got {type(array).__name__}")
    t = Tensor(array[()] if array.ndim == 0 else array[:0])  # the checks, on no data
    t.data = array
    SHARED[id(array)] = array  # never locked by a graph (function.lock): it stays shared
    return t


def _tensors(items: Sequence[Any], op: str) -> tuple[Any, ...]:
    if isinstance(items, Tensor) or not isinstance(items, Sequence) or not items:
        raise TypeError(f"{op}: expects a non-empty list of tensors")
    return promoted(tuple(items), Tensor)  # int with float: float, as the operators


def concat(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``torch.cat``)."""
    return ops.Concat.apply(*_tensors(tensors, "concat"), axis=axis if dim is None else dim)


cat = concat


def stack(tensors: Sequence[Tensor], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new axis (``torch.stack``)."""
    return ops.Stack.apply(*_tensors(tensors, "stack"), axis=axis if dim is None else dim)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Pick ``a`` where ``condition`` is true, else ``b`` (the condition is not differentiated).

    ``a`` and ``b`` are tensors or numbers; a number takes the floating dtype of the tensor
    branch, and an integer tensor branch meeting a floating one takes its dtype (as in
    torch). Used to mask padded time steps of variable-length batches.
    """
    return tensor_methods.where(condition, a, b)
