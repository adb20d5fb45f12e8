"""Tensor ops as top-level functions, spelled as torch's: ``tg.exp(x)`` is ``x.exp()``.

Each is exactly the method of the same name (so the same op in the graph); arguments that
are not tensors are converted with ``tg.tensor`` first.
"""

from __future__ import annotations

from typing import Any

from tinygrad_rnn.tensor import Tensor

__all__ = ["abs", "clamp", "exp", "log", "log_softmax", "matmul", "max", "mean", "min", "neg",
           "pow", "relu", "sigmoid", "softmax", "sqrt", "sum", "tanh"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def abs(input: Any) -> Tensor:  # noqa: A001
    """|x|."""
    return _t(input).abs()


def exp(input: Any) -> Tensor:
    """eˣ."""
    return _t(input).exp()


def log(input: Any) -> Tensor:
    """ln x."""
    return _t(input).log()


def sqrt(input: Any) -> Tensor:
    """√x."""
    return _t(input).sqrt()


def tanh(input: Any) -> Tensor:
    """tanh x."""
    return _t(input).tanh()


def sigmoid(input: Any) -> Tensor:
    """σ(x) = 1 / (1 + e⁻ˣ)."""
    return _t(input).sigmoid()


def relu(input: Any) -> Tensor:
    """max(x, 0)."""
    return _t(input).relu()


def neg(input: Any) -> Tensor:
    """−x."""
    return -_t(input)


def pow(input: Any, exponent: float) -> Tensor:  # noqa: A001
    """xᵖ for a number p."""
    return _t(input) ** exponent


def clamp(input: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """``input.clamp(min, max)``."""
    return _t(input).clamp(min, max)


def matmul(input: Any, other: Any) -> Tensor:
    """input @ other (NumPy's matmul rules)."""
    return _t(input) @ other


def sum(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Σ over ``dim`` (all by default)."""
    return _t(input).sum(dim=dim, keepdim=keepdim)


def mean(input: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The mean over ``dim`` (all by default)."""
    return _t(input).mean(dim=dim, keepdim=keepdim)


def max(input: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """``input.max()`` (a tensor) or ``input.max(dim)`` (values, indices)."""
    return _t(input).max(dim, keepdim)


def min(input: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """``input.min()`` (a tensor) or ``input.min(dim)`` (values, indices)."""
    return _t(input).min(dim, keepdim)


def softmax(input: Any, dim: int) -> Tensor:
    """softmax(x)_i = exp(x_i) / Σ_j exp(x_j) over ``dim`` (as ``torch.softmax``)."""
    return _t(input).softmax(dim)


def log_softmax(input: Any, dim: int) -> Tensor:
    """log_softmax(x)_i = x_i - log Σ_j exp(x_j) over ``dim`` (as ``torch.log_softmax``)."""
    return _t(input).log_softmax(dim)
