"""Feedforward building blocks: Linear, Embedding, Dropout, Sequential (the MLP refresher).

Shapes follow PyTorch: ``Linear(in_features, out_features)`` stores ``weight`` as
(out_features, in_features) and computes y = x·Wᵀ + b for x of shape (..., in_features).
(The lectures write h = x·W1 with W1 of shape (in, out): that W1 is our ``weight.T``.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_rnn.functional import dropout, linear
from tinygrad_rnn.nn.module import Module, Parameter
from tinygrad_rnn.rng import get_rng
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.validate import size


def _check_last(module: str, x: Tensor, size: int, what: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{module}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim == 0 or x.shape[-1] != size:
        raise ValueError(f"{module}: input of shape {x.shape} must end in {what}={size}")


class Linear(Module):
    """y = x·Wᵀ + b.  x: (..., in_features) -> y: (..., out_features).

    Initialised as PyTorch does: W, b ~ U(−1/√in_features, 1/√in_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: np.random.Generator | int | None = None, dtype: Any = np.float32) -> None:
        super().__init__()
        in_features = size("Linear", "in_features", in_features, minimum=0)
        out_features = size("Linear", "out_features", out_features, minimum=0)
        gen = get_rng(rng)
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(gen.uniform(-bound, bound, (out_features, in_features)), dtype)
        self.bias = Parameter(gen.uniform(-bound, bound, out_features), dtype) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        _check_last("Linear", x, self.in_features, "in_features")
        if x.dtype != self.weight.dtype:  # one rule for every module: no silent dtype change
            raise TypeError(f"Linear: input has dtype {x.dtype} but the parameters are "
                            f"{self.weight.dtype} (as torch: mat1 and mat2 must have the same "
                            f"dtype); convert the module (.double() / .float()) or the input "
                            f"(x.double() / x.float())")
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"


class Embedding(Module):
    """y = W[indices]: a lookup table of ``num_embeddings`` vectors of size ``embedding_dim``.

    indices: integer array of any shape (...) -> y: (..., embedding_dim). The gradient of a
    row used several times is the sum over its uses (GetItem accumulates repeated indices).
    Initialised W ~ N(0, 1) as in PyTorch.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 rng: np.random.Generator | int | None = None, dtype: Any = np.float32) -> None:
        super().__init__()
        self.num_embeddings = size("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = size("Embedding", "embedding_dim", embedding_dim, minimum=0)
        self.weight = Parameter(get_rng(rng).standard_normal((num_embeddings, embedding_dim)),
                                dtype)

    def forward(self, indices: Any) -> Tensor:
        idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            raise IndexError(f"Embedding: indices must lie in [0, {self.num_embeddings}), got "
                             f"values from {idx.min()} to {idx.max()}")
        return self.weight[idx]

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Dropout(Module):
    """Inverted dropout in training mode (zero with probability p, scale by 1/(1−p));
    the identity in eval mode."""

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = get_rng(rng) if rng is not None else None

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Identity(Module):
    """y = x: a placeholder that returns its input (any extra arguments are ignored, as
    torch's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sequential(Module):
    """Apply modules in order: ``Sequential(Linear(2, 8), Tanh(), Linear(8, 1))``.
    Sub-modules are named "0", "1", ... as in PyTorch."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, not a Module")
            setattr(self, str(i), m)

    def __getitem__(self, i: int | slice) -> Any:
        """The i-th module; a slice gives a Sequential of those modules (as in PyTorch)."""
        if isinstance(i, slice):
            return Sequential(*list(self._modules.values())[i])
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x
