"""Fast versions of a few ops' forward and backward, keyed by op class.

Each rule computes what the textbook rule in ``ops.py`` computes (equal up to rounding
order); ``fast.forward`` and ``fast.vjp`` use them while the fast path is on, and the op's
own method otherwise. A forward rule is ``rule(fn, *arrays, **kwargs) -> array`` and must
save what the op's own ``backward`` reads; a backward rule is ``rule(fn, g) -> grads``.

* ``Linear`` -- forward: for a float32 batch, ``x @ Wᵀ`` as ``(W @ xᵀ)ᵀ`` (OpenBLAS's sgemm
  with a transposed right operand was 1.35-1.7x slower for every RNN shape measured) and
  the bias added in place; backward: dW as an unwritten ``ProductGrad(g, x)``, so the
  engine multiplies the T uses of a weight in one product (``grads.py``).
* ``MatMul`` (2-D) -- backward: both gradients as ``ProductGrad``.
* ``GetItem`` -- backward: a ``SliceGrad``, so the gate slices of a step fill one array.
* ``Stack`` -- forward: a lean layer's outputs are already one array (``lean.stacked``);
  F-ordered pieces (Linear's float32 outputs) are stacked into a C-ordered array, which
  later reshapes need not copy.
* ``Tanh``, ``Sigmoid`` -- 1 and 0.5 as 0-d arrays of the dtype: NumPy combines an array
  with a 0-d array of its own dtype about 0.3 µs faster than with a Python number, a third
  of an elementwise op's cost on the small arrays of an RNN step; Sigmoid works in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_rnn import ops
from tinygrad_rnn.fast import BACKWARD, FORWARD
from tinygrad_rnn.fast.grads import ProductGrad, SliceGrad
from tinygrad_rnn.fast.lean import stacked


def _rule(table: dict[type, Any], op: Any) -> Callable[..., Any]:
    """Register the decorated function as ``op``'s fast forward or backward rule."""
    method = op.forward if table is FORWARD else op.backward

    def register(rule: Callable[..., Any]) -> Callable[..., Any]:
        table[op] = (method, rule)
        if table is FORWARD:
            op.fast_forward = True  # Function.apply: call it through fast.forward
        return rule

    return register


_ONE_HALF: dict[np.dtype, tuple[np.ndarray, np.ndarray]] = {}


def _one_half(dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """1 and 0.5 as 0-d arrays of ``dtype``."""
    pair = _ONE_HALF.get(dtype)
    if pair is None:
        pair = _ONE_HALF[dtype] = (np.ones((), dtype), np.full((), 0.5, dtype))
    return pair


@_rule(FORWARD, ops.Linear)
def linear_forward(fn: ops.Linear, x: np.ndarray, w: np.ndarray,
                   b: np.ndarray | None = None) -> np.ndarray:
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1] or (
            b is not None and b.shape != (w.shape[0],)):
        return fn.forward(x, w, b)  # the textbook forward checks and explains the shapes
    fn.x, fn.w = x, w
    batch = x.ndim == 2 and x.shape[0] > 1 and x.dtype == np.float32
    y = (w @ x.T).T if batch else x @ w.T
    if b is None:
        return y
    if b.dtype == y.dtype:
        y += b  # y is a new array: add the bias in place (no second (..., O) array)
        return y
    return y + b


@_rule(BACKWARD, ops.Linear)
def linear_backward(fn: ops.Linear, g: np.ndarray) -> tuple[Any, ...]:
    need = fn.needs_grad
    x, w = fn.x, fn.w
    gx = g @ w if need[0] else None
    if g.ndim != 2:  # the leading axes are a batch: sum over them
        g, x = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
    gw = ProductGrad(g, x) if need[1] else None
    if len(need) == 2:
        return gx, gw
    # db = Σ_rows g, with the ufunc itself (g.sum goes through a Python wrapper first)
    return gx, gw, (np.add.reduce(g, axis=0) if need[2] else None)


@_rule(BACKWARD, ops.MatMul)
def matmul_backward(fn: ops.MatMul, g: np.ndarray) -> tuple[Any, ...]:
    a, b = fn.a, fn.b
    if a.ndim != 2 or b.ndim != 2:
        return fn.backward(g)
    need_a, need_b = fn.needs_grad
    # da = g @ bᵀ = (gᵀ)ᵀ (bᵀ),  db = aᵀ @ g
    return (ProductGrad(g.T, b.T) if need_a else None), (ProductGrad(a, g) if need_b else None)


_BASIC = (int, slice, type(None), type(Ellipsis))


def is_basic(index: Any) -> bool:
    """Basic indexing (ints, slices, None, ...) never repeats an element and gives a view.
    (A bool is an int to Python but a mask to NumPy: advanced.)"""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if not isinstance(part, _BASIC) or part is True or part is False:
            return False
    return True


@_rule(BACKWARD, ops.GetItem)
def getitem_backward(fn: ops.GetItem, g: np.ndarray) -> tuple[Any, ...]:
    # unwritten: the engine fills one array from all the slices of x (the gates of a step)
    return (SliceGrad(fn.shape, fn.index, g, is_basic(fn.index)),)


@_rule(FORWARD, ops.Stack)
def stack_forward(fn: ops.Stack, *xs: np.ndarray, axis: int = 0) -> np.ndarray:
    y = stacked(xs) if axis == 0 else None  # a lean layer's outputs: already stacked
    if y is None:
        out = None
        if xs and not xs[0].flags.c_contiguous:
            shape = list(xs[0].shape)
            shape.insert(axis % (len(shape) + 1), len(xs))
            out = np.empty(shape, np.result_type(*xs))
        y = np.stack(xs, axis=axis, out=out)
    fn.axis = axis % y.ndim
    return y


@_rule(BACKWARD, ops.Tanh)
def tanh_backward(fn: ops.Tanh, g: np.ndarray) -> tuple[Any, ...]:
    y = fn.y
    one, _ = _one_half(y.dtype)
    return (g * (one - y * y),)


@_rule(FORWARD, ops.Sigmoid)
def sigmoid_forward(fn: ops.Sigmoid, x: np.ndarray) -> np.ndarray:
    if x.dtype.kind != "f":
        return fn.forward(x)
    one, half = _one_half(x.dtype)
    y = np.tanh(x * half)
    y += one
    y *= half
    fn.y = y
    return y


@_rule(BACKWARD, ops.Sigmoid)
def sigmoid_backward(fn: ops.Sigmoid, g: np.ndarray) -> tuple[Any, ...]:
    y = fn.y
    one, _ = _one_half(y.dtype)
    return (g * (y * (one - y)),)
