"""Shape sugar of ``Tensor``, written with its primitive methods (no op of its own).

``split``/``chunk`` are ``GetItem`` slices, ``unsqueeze``/``squeeze``/``flatten`` are
``reshape``s; ``argmax``, ``float`` and ``double`` give new tensors outside the graph.
Each is a plain function of the tensor ``x``; ``Tensor`` takes them as its methods
(``split = shaping.split``), so ``x.split(2)`` is ``shaping.split(x, 2)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_rnn.tensor import Tensor


def check_dim(dim: Any, ndim: int, op: str, shape: tuple[int, ...]) -> int:
    """``dim`` as an axis in [0, ndim): an int in [-ndim, ndim), else a clear error (as
    PyTorch's "Dimension out of range"; a 0-d tensor takes 0 and -1, as in torch)."""
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
        raise TypeError(f"{op}: a dimension must be an int, got {type(dim).__name__} {dim!r} "
                        f"(tensor of shape {shape})")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension {dim} is out of range for a tensor of shape {shape} "
                         f"(expected {-n}..{n - 1})")
    return int(dim) % n


def pick_axis(axis: Any, dim: Any, op: str, shape: tuple[int, ...]) -> Any:
    """Accept NumPy's ``axis=`` or PyTorch's ``dim=`` (not both): None, an int or a tuple
    of ints, each in range for ``shape``."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: give axis= or dim=, not both")
        axis = dim
    if isinstance(axis, list):
        axis = tuple(axis)
    for a in axis if isinstance(axis, tuple) else () if axis is None else (axis,):
        check_dim(a, len(shape), op, shape)
    return axis


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert an axis of length 1 at ``dim`` (a reshape)."""
    shape = list(x.shape)
    shape.insert(check_dim(dim, x.ndim + 1, "unsqueeze", x.shape), 1)
    return x.reshape(tuple(shape))


def squeeze(x: Tensor, dim: int | None = None) -> Tensor:
    """Drop axes of length 1 (only ``dim`` if given) -- a reshape."""
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        dim = check_dim(dim, x.ndim, "squeeze", x.shape)
        if x.ndim == 0 or x.shape[dim] != 1:
            return x
        shape = tuple(n for i, n in enumerate(x.shape) if i != dim)
    return x.reshape(shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim`` .. ``end_dim`` (inclusive) into one, as ``torch.flatten``:
    (B, T, H).flatten(1) is (B, T·H); flatten() is 1-D."""
    if x.ndim == 0:
        return x.reshape(1)
    start = check_dim(start_dim, x.ndim, "flatten", x.shape)
    end = check_dim(end_dim, x.ndim, "flatten", x.shape)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for "
                         f"shape {x.shape}")
    merged = int(np.prod(x.shape[start:end + 1]))
    return x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])


def split(x: Tensor, sizes: int | Sequence[int], axis: int = 0, *,
          dim: int | None = None) -> list[Tensor]:
    """Split along ``axis`` (default 0, as ``torch.split``) into pieces of ``sizes``: an
    int gives pieces of that size (the last may be shorter), a list gives those sizes.
    Each piece is a ``GetItem`` slice."""
    axis = check_dim(axis if dim is None else dim, x.ndim, "split", x.shape)
    n = x.shape[axis]
    if isinstance(sizes, int):
        if sizes <= 0:
            raise ValueError(f"split: size must be positive, got {sizes}")
        sizes = [min(sizes, n - s) for s in range(0, n, sizes)]  # they add up to n
    else:
        _check_sizes(sizes, axis, x.shape)
    pieces, start = [], 0
    lead = (slice(None),) * (axis % x.ndim)
    for size in sizes:
        pieces.append(x[lead + (slice(start, start + size),)])
        start += size
    return pieces


def _check_sizes(sizes: Sequence[int], axis: int, shape: tuple[int, ...]) -> None:
    n = shape[axis]
    if any(not isinstance(k, int | np.integer) or k < 0 for k in sizes):
        raise ValueError(f"split: sizes must be non-negative ints, got {list(sizes)} "
                         f"(axis {axis} of shape {shape} has length {n})")
    if sum(sizes) != n:
        raise ValueError(f"split: sizes {list(sizes)} do not add up to {n}, the length of "
                         f"axis {axis} of shape {shape}")


def chunk(x: Tensor, chunks: int, axis: int = 0, *, dim: int | None = None) -> list[Tensor]:
    """Split into ``chunks`` pieces along ``axis`` (default 0, as ``torch.chunk``): each
    of ceil(n / chunks) entries, the last possibly shorter. The cells cut their gates
    apart with ``pre.chunk(4, axis=-1)``."""
    axis = axis if dim is None else dim
    n = x.shape[axis]
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    return x.split(max(-(-n // chunks), 1), axis)


def iterate(x: Tensor) -> Iterator[Tensor]:
    """Iterate over the first axis (each row is a ``GetItem`` of this tensor)."""
    if x.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    for i in range(len(x)):
        yield x[i]


def argmax(x: Tensor, axis: int | None = None, keepdims: bool = False, *,
           dim: int | None = None) -> Tensor:
    """Indices of the maxima (integers, outside the graph) -- ``max`` returns values only."""
    axis = axis if dim is None else dim
    return type(x)(np.argmax(x._value("argmax"), axis=axis, keepdims=keepdims))


def to_float32(x: Tensor) -> Tensor:
    """A float32 copy, outside the graph (as ``.detach()``), or x itself if float32."""
    return x if x.dtype == np.float32 else cast(x, np.float32, "float")


def to_float64(x: Tensor) -> Tensor:
    """A float64 copy, outside the graph (as ``.detach()``), or x itself if float64."""
    return x if x.dtype == np.float64 else cast(x, np.float64, "double")


def cast(x: Tensor, dtype: Any, method: str) -> Tensor:
    """A copy of ``x`` in ``dtype``, outside the graph, for ``x.to(dtype)``, ``x.float()``
    and ``x.double()`` (``method`` names the caller in the message). There is no
    differentiable cast: a copy that silently left the graph would give the tensor no
    gradient, so a tensor that requires grad is refused."""
    if x.requires_grad:
        raise TypeError(f"Tensor.{method}(): converting a tensor that requires grad from "
                        f"{x.dtype} to {np.dtype(dtype)} would cut it from the graph (there is "
                        f"no differentiable cast); create it in {np.dtype(dtype)} from the "
                        f"start, or use x.detach().{method}() if leaving the graph is meant")
    return type(x)(x.data.astype(dtype))


def dim(x: Tensor) -> int:
    return x.data.ndim


def transpose(x: Tensor, *axes: Any) -> Tensor:
    """Reverse the axes (``transpose()``), permute them as NumPy does (``transpose(2, 0, 1)``
    or ``transpose((1, 0))``), or swap two axes as PyTorch does: ``transpose(0, 1)``,
    two separate dims, swaps them for any number of dimensions (also 2-D)."""
    as_permutation = len(axes) == 1 and isinstance(axes[0], tuple | list)
    if as_permutation:
        axes = tuple(axes[0])
    for a in axes:
        check_dim(a, x.ndim, "transpose", x.shape)
    if len(axes) == 2 and not as_permutation:
        perm = list(range(x.ndim))
        perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
        axes = tuple(perm)
    return x.permute(*axes) if axes else x.T
