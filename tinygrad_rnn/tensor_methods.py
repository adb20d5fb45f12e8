# The methods annotate ``self: Tensor`` (their real type); mypy calls a self type that is a
# subclass of the mixin an error ("misc"), which is all this line silences.
# mypy: disable-error-code="misc"
"""PyTorch's Tensor methods beyond the core: abs, clamp, min/max with indices, norm, var,
gather, repeat, ... -- ``Tensor`` inherits them from ``TorchMethods``.

Each is one primitive op or a composite of primitives, so its gradient comes from the
derivative table in ``ops.py`` (``Abs`` and ``Clone`` are the two primitives added for
them; everything else is built from existing ones):

    clamp         two Where's                 min(dim)/max(dim)   gather of arg{min,max}
    min()         -max(-x)                    norm, var, std      sums, Pow, Where
    masked_fill   Where                       gather, repeat      GetItem with index arrays
    expand        Add of a broadcast zero     softmax             functional.softmax

The ops module is imported inside the methods: ``tensor.py`` imports this module before
``ops.py`` can be imported (ops needs ``Tensor``).
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from tinygrad_rnn import shaping
from tinygrad_rnn.context import freed_message
from tinygrad_rnn.promotion import promoted

if TYPE_CHECKING:
    from tinygrad_rnn.tensor import Tensor

Dims = int | tuple[int, ...] | None


class ValuesIndices(NamedTuple):
    """What ``x.max(dim)`` / ``x.min(dim)`` return, as ``torch.return_types.max``."""

    values: Tensor
    indices: Tensor


def _dim(owner: str, dim: Any, ndim: int) -> int:
    """``dim`` as a non-negative axis of an ``ndim``-D tensor (0-d tensors accept 0, -1)."""
    if isinstance(dim, bool):
        raise TypeError(f"{owner}: dim must be an int, got {dim!r}")
    try:
        d = operator.index(dim)
    except TypeError:
        raise TypeError(f"{owner}: dim must be an int, got {type(dim).__name__} "
                        f"{dim!r}") from None
    n = max(ndim, 1)
    if not -n <= d < n:
        raise IndexError(f"{owner}: dim {d} is out of range for a {ndim}-D tensor (expected "
                         f"{-n}..{n - 1})")
    return d % n


def _sizes(sizes: tuple[Any, ...]) -> tuple[int, ...]:
    """``repeat(2, 3)`` or ``repeat((2, 3))``."""
    if len(sizes) == 1 and isinstance(sizes[0], tuple | list):
        return tuple(sizes[0])
    return tuple(sizes)


def _reduced_count(shape: tuple[int, ...], dim: Dims) -> int:
    if dim is None:
        return int(np.prod(shape, dtype=np.int64))
    dims = (dim,) if isinstance(dim, int) else dim
    return int(np.prod([shape[d] for d in dims], dtype=np.int64))


def parse_to(owner: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> np.dtype | None:
    """The dtype asked for by ``.to(...)`` (None: keep it). There are no devices: every array
    is a NumPy array in main memory, so "cpu" is accepted and anything else is refused."""
    kwargs = dict(kwargs)
    kwargs.pop("non_blocking", None)
    kwargs.pop("copy", None)
    targets = [*args, *(kwargs.pop(k) for k in ("device", "dtype") if k in kwargs)]
    if kwargs:
        raise TypeError(f"{owner}: unexpected arguments {sorted(kwargs)}")
    dtype = None
    for target in targets:
        if target is None:
            continue
        if isinstance(_array(target), np.ndarray):  # .to(other_tensor): take its dtype
            target = _array(target).dtype
        kind = type(target).__module__.split(".")[0], type(target).__name__
        if isinstance(target, str) or kind == ("torch", "device"):
            device = str(target)
            if device.split(":")[0] != "cpu":
                raise ValueError(f"{owner}: tinygrad_rnn has no devices (asked for "
                                 f"{device!r}): every tensor is a NumPy array in main memory. "
                                 f"'cpu' is accepted and changes nothing; for a dtype pass "
                                 f"np.float32 or np.float64")
            continue
        if kind == ("torch", "dtype"):  # torch.float64 -> float64
            target = str(target).removeprefix("torch.")
        try:
            dtype = np.dtype(target)
        except TypeError:
            raise TypeError(f"{owner}: cannot convert to {target!r}: expected a device ('cpu') "
                            f"or a NumPy dtype (np.float32, np.float64)") from None
    return dtype


def _array(value: Any) -> Any:
    """A tensor's array; anything else as it is."""
    from tinygrad_rnn.tensor import Tensor
    return value.data if isinstance(value, Tensor) else value


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """``tg.where`` (here: creation.py imports tensor.py, which imports this module). A
    number takes the tensor branch's floating dtype, an integer branch a floating one's;
    the condition is copied (the graph locks its arrays: not the caller's mask)."""
    from tinygrad_rnn import ops
    from tinygrad_rnn.tensor import Tensor
    cond = condition._value("where") if isinstance(condition, Tensor) else np.array(condition)
    dtype = next((t.dtype for t in (a, b) if isinstance(t, Tensor) and t.dtype.kind == "f"),
                 None)
    a = a if isinstance(a, Tensor) else Tensor._constant(a, dtype)
    b = b if isinstance(b, Tensor) else Tensor._constant(b, dtype)
    return ops.Where.apply(Tensor._make(cond, False, None), *promoted((a, b), Tensor))


class TorchMethods:
    """The PyTorch-named methods of ``Tensor`` (see the module docstring)."""

    __slots__ = ()

    # ---- elementwise ------------------------------------------------------------------
    def abs(self: Tensor) -> Tensor:
        """|x| (the primitive ``Abs``; its gradient at 0 is 0, as torch's)."""
        from tinygrad_rnn import ops
        return ops.Abs.apply(self)

    def __abs__(self: Tensor) -> Tensor:
        return self.abs()

    def pow(self: Tensor, exponent: float) -> Tensor:
        """x ** exponent, for a number ``exponent``."""
        return self ** exponent

    def clamp(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """Limit to [min, max] (either may be None; numbers or tensors).

        Built from two Where's: the gradient passes where min <= x <= max (boundaries
        included, as torch) and goes to ``min``/``max`` (if tensors) where they are taken.
        """
        if min is None and max is None:
            raise ValueError("clamp: give at least one of min and max")
        out = self
        if min is not None:
            out = where(out.data < _array(min), min, out)
        if max is not None:
            out = where(out.data > _array(max), max, out)
        return out

    clip = clamp

    def numpy(self: Tensor) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self._value("numpy")

    def item(self: Tensor) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert, this one has shape "
                             f"{self.shape}")
        return self._value("item").item()  # type: ignore[no-any-return]

    def tolist(self: Tensor) -> Any:
        return self._value("tolist").tolist()

    def __format__(self: Tensor, spec: str) -> str:
        """``f"{loss:.4f}"``: a one-element tensor formats as its number (as in torch)."""
        if not spec:
            return str(self)
        if self.data.size != 1:
            raise ValueError(f"format {spec!r}: only one-element tensors format as a number, "
                             f"this one has shape {self.shape}; format t.tolist() instead")
        return format(self.item(), spec)

    def _value(self: Tensor, what: str) -> np.ndarray:
        """``data``, refused when a lean graph freed it (it would read as NaN)."""
        if self.freed:
            raise RuntimeError(freed_message(self, what))
        return self.data

    def retain_grad(self: Tensor) -> None:
        """PyTorch's way to keep a non-leaf's ``.grad``. Here every tensor that keeps its
        value keeps its gradient too (``backward()``'s default), so this only checks that
        it can: the internal tensors of a cell step in the default lean graph keep
        neither, and are refused with what to do (record in ``tg.full_graph()``)."""
        self._value("retain_grad")

    def clone(self: Tensor) -> Tensor:
        """A copy in a new array, still in the graph (the primitive ``Clone``: dx = g)."""
        from tinygrad_rnn import ops
        return ops.Clone.apply(self)

    def masked_fill(self: Tensor, mask: Any, value: float) -> Tensor:
        """``value`` where ``mask`` (boolean, broadcastable to x) is true, else x (Where)."""
        m = np.asarray(_array(mask))
        if m.dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be boolean, got dtype {m.dtype}")
        if np.broadcast_shapes(m.shape, self.shape) != self.shape:
            raise ValueError(f"masked_fill: mask of shape {m.shape} does not broadcast to the "
                             f"tensor's shape {self.shape}")
        return where(m, value, self)

    # ---- reductions with indices ----------------------------------------------------------
    def max(self: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Dims = None,
            keepdims: bool | None = None) -> Any:
        """``x.max()``: the maximum (a tensor). ``x.max(dim)``: ``(values, indices)`` as torch,
        the gradient going to the entry at ``indices`` (the first maximum).
        ``x.max(axis=...)`` (NumPy's spelling, axis may be a tuple): values only, ties share
        the gradient equally (as ``amax``)."""
        from tinygrad_rnn import ops
        if dim is None:
            axis = shaping.pick_axis(axis, None, "max", self.shape)
            return ops.Max.apply(self, axis=axis, keepdims=keepdim if keepdims is None
                                 else keepdims)
        return _with_indices(self, "max", dim, keepdim, axis, keepdims)

    def min(self: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Dims = None,
            keepdims: bool | None = None) -> Any:
        """As ``max``, for the minimum (values-only forms are -max(-x))."""
        from tinygrad_rnn import ops
        if dim is None:
            axis = shaping.pick_axis(axis, None, "min", self.shape)
            return -ops.Max.apply(-self, axis=axis, keepdims=keepdim if keepdims is None
                                  else keepdims)
        return _with_indices(self, "min", dim, keepdim, axis, keepdims)

    def amax(self: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
        """Maximum values over ``dim`` (int or tuple); ties share the gradient equally."""
        from tinygrad_rnn import ops
        return ops.Max.apply(self, axis=dim, keepdims=keepdim)

    def amin(self: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
        """Minimum values over ``dim``: -amax(-x)."""
        return -((-self).amax(dim, keepdim))

    def argmin(self: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Indices of the minima (integers, outside the graph)."""
        return type(self)(np.argmin(self._value("argmin"), axis=dim, keepdims=keepdim))

    # ---- statistics -------------------------------------------------------------------------
    def var(self: Tensor, dim: Dims = None, unbiased: bool | None = None,
            keepdim: bool = False, *, correction: int | None = None) -> Tensor:
        """Σ (x − mean)² / (n − correction) over ``dim``; correction 1 (Bessel's, torch's
        default) unless ``unbiased=False`` or ``correction=0``."""
        if unbiased is not None and correction is not None:
            raise TypeError("var: give unbiased= or correction=, not both")
        c = correction if correction is not None else (0 if unbiased is False else 1)
        n = _reduced_count(self.shape, dim)
        if n - c <= 0:
            raise ValueError(f"var: {n} entries with correction={c} leave no degrees of "
                             f"freedom (n - correction = {n - c}); use correction=0")
        d = self - self.mean(axis=dim, keepdims=True)
        return (d * d).sum(axis=dim, keepdims=keepdim) / float(n - c)

    def std(self: Tensor, dim: Dims = None, unbiased: bool | None = None,
            keepdim: bool = False, *, correction: int | None = None) -> Tensor:
        """√var (same arguments)."""
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def norm(self: Tensor, p: Any = "fro", dim: Dims = None, keepdim: bool = False) -> Tensor:
        """The p-norm over ``dim`` (all entries by default): p = 2 or "fro", 1, inf, -inf, or
        any number p >= 1, (Σ |x|ᵖ)^(1/p).

        The gradient of a norm at a zero vector is taken as 0, as torch does: the root is
        computed under a Where that avoids d√s/ds = ∞ at s = 0.
        """
        if p == "fro":
            p = 2
        if isinstance(p, bool) or not isinstance(p, int | float) or not (p >= 1):
            raise ValueError(f"norm: p must be 'fro' or a number >= 1 (or inf), got {p!r}")
        if p == math.inf:
            return self.abs().amax(dim, keepdim)
        if p == -math.inf:
            return self.abs().amin(dim, keepdim)
        if p == 1:
            return self.abs().sum(axis=dim, keepdims=keepdim)
        s = (self * self) if p == 2 else self.abs() ** p
        s = s.sum(axis=dim, keepdims=keepdim)
        zero = s.data == 0
        safe = where(zero, 1.0, s)
        return where(zero, 0.0, safe ** (1.0 / p))

    def softmax(self: Tensor, dim: int) -> Tensor:
        """softmax(x)_i = exp(x_i - m) / Σ_j exp(x_j - m) over ``dim``, m = max_j x_j
        (a constant: it cancels mathematically, and keeps exp from overflowing)."""
        e = (self - self.data.max(axis=dim, keepdims=True)).exp()
        return e / e.sum(axis=dim, keepdims=True)

    def log_softmax(self: Tensor, dim: int) -> Tensor:
        """log softmax(x)_i = x_i - m - log Σ_j exp(x_j - m) over ``dim``, m = max_j x_j
        (a constant, as in ``softmax``)."""
        shifted = self - self.data.max(axis=dim, keepdims=True)
        return shifted - shifted.exp().sum(axis=dim, keepdims=True).log()

    # ---- shape and indexing ---------------------------------------------------------------
    def t(self: Tensor) -> Tensor:
        """The transpose of a matrix (0-D and 1-D tensors are returned as they are)."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor of at most 2 dimensions, got shape "
                             f"{self.shape}; use transpose(dim0, dim1) or permute")
        return self.T

    def gather(self: Tensor, dim: int, index: Any) -> Tensor:
        """``out[i][j][k] = x[index[i][j][k]][j][k]`` for dim = 0 (and so on): ``index`` has
        x's number of dimensions, is no larger than x in the other dims, and gives the
        output's shape. One GetItem with index arrays (repeats accumulate in backward)."""
        d = _dim("gather", dim, self.ndim)
        idx = np.asarray(_array(index))
        if idx.dtype.kind not in "iu":
            raise TypeError(f"gather: index must hold integers, got dtype {idx.dtype}")
        if idx.ndim != self.ndim or any(i > n for k, (i, n) in
                                        enumerate(zip(idx.shape, self.shape, strict=True))
                                        if k != d):
            raise ValueError(f"gather: index of shape {idx.shape} does not fit a tensor of shape "
                             f"{self.shape} along dim {d}: it needs {self.ndim} dimensions, each "
                             f"but dim {d} no larger than the tensor's")
        if idx.size and (idx.min() < -self.shape[d] or idx.max() >= self.shape[d]):
            raise IndexError(f"gather: index values must lie in [0, {self.shape[d]}) for dim "
                             f"{d} of shape {self.shape}, got {idx.min()}..{idx.max()}")
        grid: list[np.ndarray] = list(np.indices(idx.shape, sparse=True))
        grid[d] = idx
        return self[tuple(grid)]

    def expand(self: Tensor, *sizes: Any) -> Tensor:
        """Broadcast to ``sizes`` (-1 keeps a dimension; new dimensions go in front): an Add
        of a broadcast zero, so the gradient sums over the copies. Unlike torch, the result
        is a new array, not a view."""
        sizes = _sizes(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {len(sizes)} sizes {sizes} for a tensor of "
                             f"{self.ndim} dimensions {self.shape}")
        target = tuple(self.shape[i - lead] if s == -1 and i >= lead else s
                       for i, s in enumerate(sizes))
        for i, n in enumerate(self.shape):
            if n != 1 and target[lead + i] != n:
                raise ValueError(f"expand: shape {self.shape} cannot be expanded to {sizes}: "
                                 f"dimension {i} has size {n}, not 1")
        if any(s < 0 for s in target):
            raise ValueError(f"expand: -1 is only allowed for existing dimensions, got {sizes}")
        return self + np.broadcast_to(np.zeros((), self.dtype), target)

    def expand_as(self: Tensor, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def repeat(self: Tensor, *sizes: Any) -> Tensor:
        """Tile: repeat ``sizes[i]`` times along dimension i (extra sizes add dimensions in
        front), as ``torch.Tensor.repeat`` (NumPy's ``tile``). One GetItem with index
        arrays: the gradient of each entry sums over its copies."""
        sizes = _sizes(sizes)
        if len(sizes) < self.ndim or any(not isinstance(s, int) or s < 0 for s in sizes):
            raise ValueError(f"repeat: needs one non-negative int per dimension (at least "
                             f"{self.ndim} for shape {self.shape}), got {sizes}")
        x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
        index = np.ix_(*[np.tile(np.arange(n), r) for n, r in zip(x.shape, sizes, strict=True)])
        return x[index]

    # ---- dtype and device -------------------------------------------------------------------
    def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        """``x.to(np.float64)``, ``x.to('cpu')``, ``x.to(other)``: a dtype change gives a new
        tensor outside the graph (as ``float()``/``double()``), so a tensor that requires
        grad is refused; there are no devices ('cpu' changes nothing)."""
        dtype = parse_to("Tensor.to", args, kwargs)
        if dtype is None or dtype == self.dtype:
            return self
        return shaping.cast(self, dtype, "to")

    def __array__(self: Tensor, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """``np.asarray(t)``: the values (as torch's ``t.numpy()``). A tensor that requires
        grad is refused, as in torch: the array would be outside the graph."""
        if self.requires_grad:
            raise TypeError("np.asarray/np.array of a tensor that requires grad: the array would "
                            "be outside the graph; use t.detach().numpy() (or t.data) if that "
                            "is meant")
        data = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return data.copy() if copy else data

    def cpu(self: Tensor) -> Tensor:
        """The tensor itself: every tensor lives in main memory."""
        return self

    def cuda(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        raise ValueError("cuda: tinygrad_rnn has no devices: every tensor is a NumPy array in "
                         "main memory (see 'Coming from PyTorch' in the docs)")


def _with_indices(x: Tensor, op: str, dim: Any, keepdim: bool, axis: Dims,
                  keepdims: bool | None) -> ValuesIndices:
    """max/min over ``dim``: (values, indices), the values gathered at the indices."""
    if axis is not None:
        raise TypeError(f"{op}: give dim= (values and indices) or axis= (values), not both")
    if keepdims is not None:
        keepdim = keepdims
    d = _dim(op, dim, x.ndim)
    if x.ndim == 0:  # torch allows dim 0 of a 0-d tensor: the value itself, index 0
        return ValuesIndices(x.clone(), type(x)(np.zeros((), np.int64)))
    if x.shape[d] == 0:
        raise ValueError(f"{op}: dim {d} of shape {x.shape} is empty: no {op}imum to take")
    pick = np.argmax if op == "max" else np.argmin
    idx = pick(x.data, axis=d, keepdims=True)
    values = x.gather(d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return ValuesIndices(values, type(x)(idx.astype(np.int64)))
