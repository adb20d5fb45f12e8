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

__all__ = ["cross_entropy", "dropout", "linear", "log_softmax", "mse_loss", "nll_loss",
           "one_hot", "relu", "sigmoid", "softmax", "tanh"]

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
    needs to flow through it. (The same as ``x.log_softmax(dim)``, which computes it.)
    """
    return x.log_softmax(axis if dim is None else dim)


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """softmax(x)_i = exp(x_i - m) / Σ_j exp(x_j - m), m = max_j x_j (overflow-safe; the
    same as ``x.softmax(dim)``, which computes it)."""
    return x.softmax(axis if dim is None else dim)


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _class_targets(scores: Tensor, target: Any, op: str) -> tuple[Tensor, np.ndarray]:
    """Check (N, C) scores against (N,) integer targets in [0, C); a (C,) row and an int
    target count as N = 1."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {t.dtype}")
    if scores.ndim == 1:
        scores, t = scores.reshape(1, -1), t.reshape(1)
    if scores.ndim != 2 or t.shape != (scores.shape[0],):
        raise ValueError(f"{op}: expected input (N, C) and target (N,), got input "
                         f"{scores.shape} and target {t.shape}; reshape a sequence (T, N, C) "
                         f"to (T*N, C) first")
    c = scores.shape[1]
    if t.size and (t.min() < 0 or t.max() >= c):
        raise ValueError(f"{op}: target indices must lie in [0, {c}), got values from "
                         f"{t.min()} to {t.max()}")
    return scores, t


def nll_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: loss_n = -input[n, target_n], for log-probabilities ``input``.

    Args:
        input: (N, C) log-probabilities (e.g. ``log_softmax(logits, dim=1)``), or (C,).
        target: (N,) integer class indices in [0, C) (or a single int for 1-D input).
        reduction: "mean" (over N), "sum" or "none" (per-example losses, shape (N,)).
    """
    scores, t = _class_targets(input, target, "nll_loss")
    return _reduce(-scores[np.arange(len(t)), t], reduction, "nll_loss")


def cross_entropy(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy: loss_n = -log softmax(input_n)[target_n]
    = nll_loss(log_softmax(input, dim=1), target).

    Args:
        input: (N, C) scores (logits), or (C,) for one example.
        target: (N,) integer class indices in [0, C) (or a single int for 1-D logits).
        reduction: "mean" (over N), "sum" or "none" (per-example losses, shape (N,)).
    """
    logits, t = _class_targets(input, target, "cross_entropy")
    picked = log_softmax(logits, axis=1)[np.arange(len(t)), t]
    return _reduce(-picked, reduction, "cross_entropy")


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """(...,) integer class indices -> (..., num_classes) int64 one-hot rows (not
    differentiable, as in torch). ``num_classes=-1``: one more than the largest index."""
    t = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects integer class indices, got dtype {t.dtype}")
    if num_classes == -1:
        if t.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor")
        num_classes = int(t.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) \
            or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive int or -1, got "
                         f"{num_classes!r}")
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"one_hot: class values must lie in [0, {num_classes}), got values "
                         f"from {t.min()} to {t.max()}")
    return Tensor(np.eye(num_classes, dtype=np.int64)[t])


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
