"""Composite functions built from primitive ops (no backward of their own).

Because each is a composition of ops from ``ops.py``, its gradient comes from the engine;
the property tests check it against numeric differences all the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn import ops
from tinygrad_rnn.rng import get_rng
from tinygrad_rnn.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def tanh(x: Tensor) -> Tensor:
    """y = tanh(x) (the primitive ``Tanh``)."""
    return ops.Tanh.apply(x)


def sigmoid(x: Tensor) -> Tensor:
    """y = σ(x) = 1 / (1 + exp(-x)) (the primitive ``Sigmoid``, overflow-safe)."""
    return ops.Sigmoid.apply(x)


def relu(x: Tensor) -> Tensor:
    """y = max(x, 0) (the primitive ``ReLU``)."""
    return ops.ReLU.apply(x)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ weightᵀ + bias (the primitive ``Linear``): x (..., I), weight (O, I), bias (O,)."""
    if bias is None:
        return ops.Linear.apply(x, weight)
    return ops.Linear.apply(x, weight, bias)


def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """log softmax(x)_i = x_i - m - log Σ_j exp(x_j - m), with m = max_j x_j.

    Subtracting the max keeps exp from overflowing. m is a constant (computed on the
    array): the result does not depend on m mathematically (it cancels), so no gradient
    needs to flow through it.
    """
    axis = axis if dim is None else dim
    shifted = x - x.data.max(axis=axis, keepdims=True)
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """softmax(x)_i = exp(x_i - m) / Σ_j exp(x_j - m), m = max_j x_j (overflow-safe)."""
    axis = axis if dim is None else dim
    e = (x - x.data.max(axis=axis, keepdims=True)).exp()
    return e / e.sum(axis=axis, keepdims=True)


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def cross_entropy(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy: loss_n = -log softmax(logits_n)[target_n].

    Args:
        logits: (N, C) scores, or (C,) for one example.
        target: (N,) integer class indices in [0, C) (or a single int for 1-D logits).
        reduction: "mean" (over N), "sum" or "none" (per-example losses, shape (N,)).
    """
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype "
                        f"{t.dtype}")
    if logits.ndim == 1:
        logits, t = logits.reshape(1, -1), t.reshape(1)
    if logits.ndim != 2 or t.shape != (logits.shape[0],):
        raise ValueError(f"cross_entropy: expected logits (N, C) and target (N,), got logits "
                         f"{logits.shape} and target {t.shape}; reshape a sequence (T, N, C) "
                         f"to (T*N, C) first")
    c = logits.shape[1]
    if t.size and (t.min() < 0 or t.max() >= c):
        raise ValueError(f"cross_entropy: target indices must lie in [0, {c}), got values from "
                         f"{t.min()} to {t.max()}")
    picked = log_softmax(logits, axis=1)[np.arange(len(t)), t]
    return _reduce(-picked, reduction, "cross_entropy")


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((input - target)**2) (reduction as in cross_entropy)."""
    tshape = target.shape if isinstance(target, Tensor) else np.shape(target)
    if tuple(tshape) != input.shape:
        raise ValueError(f"mse_loss: input {input.shape} and target {tuple(tshape)} must have "
                         f"the same shape")
    return _reduce((input - target) ** 2, reduction, "mse_loss")


def dropout(x: Tensor, p: float = 0.5, training: bool = True,
            rng: np.random.Generator | int | None = None) -> Tensor:
    """Inverted dropout: zero each entry with probability p, scale the rest by 1/(1-p)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    rng = get_rng(rng)
    mask = (rng.random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1.0 - p)
    return x * mask
