"""The primitive ops: the whole derivative table of tinygrad_rnn, one small class per op.

Each op's docstring is its math: the forward on the left, the vector-Jacobian product
(what ``backward`` returns, given the output gradient ``g``) on the right, and the code is
that formula. ``backward`` returns one array (or None) per input; broadcasting is undone
by the engine, not here. Everything else -- softmax, cross-entropy, the RNN/GRU/LSTM
cells -- is built from these.

This file is the textbook: nothing in it exists for speed. (The fast path, ``fast/``,
replaces a few of these rules with equal but cheaper ones -- see ``fast/rules.py``.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn.function import Function, ShapeError
from tinygrad_rnn.tensor import Tensor

Grads = tuple[np.ndarray | None, ...]


# ---- elementwise binary (inputs may broadcast) -------------------------------------------


class Add(Function):
    """y = a + b;  da = g,  db = g"""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, g: np.ndarray) -> Grads:
        need_a, need_b = self.needs_grad
        return (g if need_a else None), (g if need_b else None)


class Sub(Function):
    """y = a - b;  da = g,  db = -g"""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b

    def backward(self, g: np.ndarray) -> Grads:
        need_a, need_b = self.needs_grad
        return (g if need_a else None), (-g if need_b else None)


class Mul(Function):
    """y = a * b;  da = g * b,  db = g * a"""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        return a * b

    def backward(self, g: np.ndarray) -> Grads:
        need_a, need_b = self.needs_grad
        return (g * self.b if need_a else None), (g * self.a if need_b else None)


class Div(Function):
    """y = a / b;  da = g / b,  db = -g * a / b**2 = -g * y / b"""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.b = b
        self.y = a / b
        return self.y

    def backward(self, g: np.ndarray) -> Grads:
        need_a, need_b = self.needs_grad
        ga = g / self.b if need_a else None
        gb = -g * self.y / self.b if need_b else None
        return ga, gb


class Where(Function):
    """y = where(c, a, b) (c a boolean constant);  da = g where c else 0,  db = g where not c"""

    def forward(self, c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if c.dtype != np.bool_:
            raise ShapeError(f"Where: the condition must be boolean, got dtype {c.dtype}")
        self.c = c
        return np.where(c, a, b)

    def backward(self, g: np.ndarray) -> Grads:
        _, need_a, need_b = self.needs_grad
        zero = np.zeros((), dtype=g.dtype)
        ga = np.where(self.c, g, zero) if need_a else None
        gb = np.where(self.c, zero, g) if need_b else None
        return None, ga, gb


# ---- elementwise unary ------------------------------------------------------------------


class Neg(Function):
    """y = -x;  dx = -g"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return -x

    def backward(self, g: np.ndarray) -> Grads:
        return (-g,)


class Pow(Function):
    """y = x ** p (p a constant number);  dx = g * p * x ** (p - 1)"""

    def forward(self, x: np.ndarray, exponent: float) -> np.ndarray:
        self.x, self.p = x, exponent
        return x**exponent if x.dtype.kind != "f" else x ** x.dtype.type(exponent)

    def backward(self, g: np.ndarray) -> Grads:
        p = self.x.dtype.type(self.p)
        if self.p == 0.0:  # x**0 = 1 is constant: 0, also at x = 0 (where 0 * 0**-1 is NaN)
            return (np.zeros_like(g),)
        if self.p == 2.0:  # the common square: no pow call
            return (g * (2 * self.x),)
        return (g * (p * self.x ** (p - 1)),)


class Exp(Function):
    """y = exp(x);  dx = g * y"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.y = np.exp(x)
        return self.y

    def backward(self, g: np.ndarray) -> Grads:
        return (g * self.y,)


class Log(Function):
    """y = log(x);  dx = g / x"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return np.log(x)

    def backward(self, g: np.ndarray) -> Grads:
        return (g / self.x,)


class Tanh(Function):
    """y = tanh(x);  dx = g * (1 - y**2)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.y = np.tanh(x)
        return self.y

    def backward(self, g: np.ndarray) -> Grads:
        return (g * (1 - self.y * self.y),)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x));  dx = g * y * (1 - y)

    Computed as (1 + tanh(x/2)) / 2, which equals the sigmoid and never overflows
    (the naive exp(-x) overflows for x < -88 in float32).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.y = 0.5 * (1 + np.tanh(0.5 * x))
        return self.y

    def backward(self, g: np.ndarray) -> Grads:
        return (g * self.y * (1 - self.y),)


class ReLU(Function):
    """y = max(x, 0);  dx = g * (x > 0)   (the derivative at the kink x = 0 is taken as 0)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x > 0
        return np.maximum(x, x.dtype.type(0))  # (not x * mask: -inf * 0 is NaN)

    def backward(self, g: np.ndarray) -> Grads:
        return (g * self.mask,)


# ---- matrix product -----------------------------------------------------------------------


class MatMul(Function):
    """y = a @ b (NumPy's rules: 2-D, batched with broadcasting, 1-D promoted);
    da = g @ b^T,  db = a^T @ g"""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"MatMul: both operands need at least 1 dimension, got shapes "
                             f"{a.shape} @ {b.shape}; use * to scale by a scalar")
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != k_b:
            where = "first" if b.ndim == 1 else "second-to-last"
            raise ShapeError(
                f"MatMul: shapes {a.shape} @ {b.shape} do not fit: the last axis of a "
                f"({a.shape[-1]}) must equal the {where} axis of b ({k_b}). Check the layer "
                f"sizes, or transpose an operand (w.T)"
            )
        self.a, self.b = a, b
        return a @ b

    def backward(self, g: np.ndarray) -> Grads:
        a, b = self.a, self.b
        need_a, need_b = self.needs_grad
        if a.ndim == 1 and b.ndim == 1:  # dot product: g is a scalar
            return (g * b if need_a else None), (g * a if need_b else None)
        # NumPy promotes a 1-D a to a row (1, K) and a 1-D b to a column (K, 1), then drops
        # that axis from the result: do the same to g, use the matrix rule, drop it again.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g[..., None, :] if a.ndim == 1 else g
        g2 = g2[..., None] if b.ndim == 1 else g2
        ga = g2 @ np.swapaxes(b2, -1, -2) if need_a else None  # g @ bᵀ
        gb = np.swapaxes(a2, -1, -2) @ g2 if need_b else None  # aᵀ @ g
        return _drop_promoted(ga, a, -2), _drop_promoted(gb, b, -1)


def _drop_promoted(grad: np.ndarray | None, operand: np.ndarray, axis: int) -> Any:
    """Remove the axis MatMul added to a 1-D operand (its gradient must be 1-D again)."""
    if grad is None or operand.ndim != 1:
        return grad
    return grad[..., 0, :] if axis == -2 else grad[..., 0]


class Linear(Function):
    """y = x @ Wᵀ + b (x (..., I), W (O, I), b (O,) or none);
    dx = g @ W,  dW = gᵀ @ x,  db = Σ g (summed over the leading axes of x)

    One op for the affine map of ``nn.Linear`` and of every RNN cell: the weight gradient
    comes out directly in W's layout, and the graph has one node per use of the weight.
    """

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1] or (
                b is not None and b.shape != (w.shape[0],)):
            bias = "" if b is None else f" + b {b.shape}"
            raise ShapeError(
                f"Linear: x {x.shape} @ Wᵀ{bias} with W {w.shape} do not fit: W must be "
                f"(out_features, in_features) = (O, {x.shape[-1] if x.ndim else '?'}), x must "
                f"end in in_features, and b must be (O,)")
        self.x, self.w = x, w
        return x @ w.T if b is None else x @ w.T + b

    def backward(self, g: np.ndarray) -> Grads:
        need = self.needs_grad
        gx = g @ self.w if need[0] else None
        g2 = g.reshape(-1, g.shape[-1])  # the leading axes of x are a batch: sum over them
        x2 = self.x.reshape(-1, self.x.shape[-1])
        gw = g2.T @ x2 if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if need[2] else None)


# ---- reductions ---------------------------------------------------------------------------


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Normalise an axis argument (None, int or tuple) to a tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axes) if ndim else ()


def _reduced_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    axes = _axes(axis, len(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _keepdims_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """The shape of a reduction over ``axis`` with keepdims=True."""
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum(x, axis);  dx = g broadcast back over the summed axes"""

    def forward(self, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return np.asarray(x.sum(axis=axis, keepdims=keepdims))

    def backward(self, g: np.ndarray) -> Grads:
        if not self.keepdims:
            g = g.reshape(_keepdims_shape(self.shape, self.axis))
        return (np.broadcast_to(g, self.shape),)


class Mean(Function):
    """y = mean(x, axis) = sum(x, axis) / n;  dx = g / n broadcast back over the axes"""

    def forward(self, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        y = np.asarray(x.mean(axis=axis, keepdims=keepdims))
        self.n = x.size // max(y.size, 1) if x.size else 1
        return y

    def backward(self, g: np.ndarray) -> Grads:
        if not self.keepdims:
            g = g.reshape(_keepdims_shape(self.shape, self.axis))
        return (np.broadcast_to(g / g.dtype.type(self.n), self.shape),)


class Max(Function):
    """y = max(x, axis);  dx = g at the maximal entries, 0 elsewhere.

    Tie rule: when several entries share the maximum, the gradient is split equally
    among them (so the gradients still sum to g, and the rule is symmetric). A NaN is the
    maximum where it appears (as in PyTorch): it gets the gradient.
    """

    def forward(self, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        if x.size == 0:
            raise ShapeError(f"Max: cannot take the max of an empty tensor of shape {x.shape}")
        self.x, self.axis, self.keepdims = x, axis, keepdims
        self.y = np.asarray(x.max(axis=axis, keepdims=True))
        if keepdims:
            return self.y
        return self.y.reshape(_reduced_shape(x.shape, axis))

    def backward(self, g: np.ndarray) -> Grads:
        if not self.keepdims:
            g = g.reshape(self.y.shape)
        mask = self.x == self.y
        if self.x.dtype.kind == "f" and np.isnan(self.y).any():
            mask |= np.isnan(self.x)  # (NaN == NaN is false)
        count = mask.sum(axis=self.axis, keepdims=True)
        return (mask * (g / count.astype(g.dtype)),)


# ---- shape and indexing -------------------------------------------------------------------


class Reshape(Function):
    """y = reshape(x, shape);  dx = reshape(g, x.shape)"""

    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g: np.ndarray) -> Grads:
        return (g.reshape(self.shape),)


class Transpose(Function):
    """y = transpose(x, axes);  dx = transpose(g, inverse permutation of axes)"""

    def forward(self, x: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
        if axes is not None and sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
            raise ShapeError(f"Transpose: axes {axes} are not a permutation of the "
                             f"{x.ndim} axes of shape {x.shape}")
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g: np.ndarray) -> Grads:
        if self.axes is None:
            return (g.transpose(),)
        return (g.transpose(np.argsort(self.axes)),)


class GetItem(Function):
    """y = x[index];  dx = zeros like x with g added at index
    (integer-array indices may repeat an element: those gradients accumulate)."""

    def forward(self, x: np.ndarray, index: Any) -> np.ndarray:
        self.shape, self.index = x.shape, _plain_index(index)
        return x[self.index]  # (apply makes a NumPy scalar a 0-d array)

    def backward(self, g: np.ndarray) -> Grads:
        dx = np.zeros(self.shape, dtype=g.dtype)
        np.add.at(dx, self.index, g)  # unlike dx[index] += g, adds once per repeat
        return (dx,)


def _plain_index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        for part in index:  # rebuild the tuple only when it holds a tensor
            if isinstance(part, Tensor):
                return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


class Concat(Function):
    """y = concatenate([x1, ..., xn], axis);  dxi = the slice of g that xi occupies"""

    def forward(self, *xs: np.ndarray, axis: int = 0) -> np.ndarray:
        self.axis = axis
        self.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    def backward(self, g: np.ndarray) -> Grads:
        return tuple(np.split(g, self.bounds, axis=self.axis))


class Stack(Function):
    """y = stack([x1, ..., xn], axis);  dxi = g taken at position i of the new axis"""

    def forward(self, *xs: np.ndarray, axis: int = 0) -> np.ndarray:
        y = np.stack(xs, axis=axis)
        self.axis = axis % y.ndim
        return y

    def backward(self, g: np.ndarray) -> Grads:
        lead = (slice(None),) * self.axis  # views into g, not copies: a 10,000-step
        return tuple(g[lead + (i,)] if need else None  # output's gradient is not doubled
                     for i, need in enumerate(self.needs_grad))


# ---- added for PyTorch's Tensor methods (tensor_methods.py) -------------------------------


class Abs(Function):
    """y = abs(x);  dx = g * sign(x)   (sign(0) = 0: no gradient at the kink, as torch)"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return np.abs(x)

    def backward(self, g: np.ndarray) -> Grads:
        return (g * np.sign(self.x),)


class Clone(Function):
    """y = a copy of x (a new array);  dx = g"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, g: np.ndarray) -> Grads:
        return (g,)
