"""``Tensor``: a NumPy array that remembers which op made it from which inputs.

Every op on tensors returns a new tensor whose ``grad_fn`` is the op (a ``Function``) holding
the input tensors. ``backward()`` walks that chain in reverse (see ``engine.py``). Nothing
here knows about time steps: an RNN is a Python loop of ops, and its unrolled graph is just
a long chain of these nodes.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_rnn.context import STATE

if TYPE_CHECKING:
    from tinygrad_rnn.engine import Contribution
    from tinygrad_rnn.function import Function

_ids = itertools.count()

Axis = int | tuple[int, ...] | None


def _pick_axis(axis: Axis, dim: Axis, op: str) -> Axis:
    """Accept NumPy's ``axis=`` or PyTorch's ``dim=`` (not both)."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: give axis= or dim=, not both")
        return dim
    return axis


class Tensor:
    """An n-dimensional array that records the graph of the ops applied to it.

    Args:
        data: array-like. Python numbers and lists become float32 (bools stay bool);
            NumPy arrays keep their dtype (float64 stays float64, which gradcheck needs).
        requires_grad: if True, ``backward()`` computes ``.grad`` for this tensor.
            Needs a floating dtype.
        dtype: optional NumPy dtype to convert ``data`` to.
        name: optional label, shown by ``repr`` and the graph renderer ("h", "W_s", ...).

    Attributes:
        data (np.ndarray), grad (np.ndarray | None, same shape as data),
        requires_grad (bool), name (str | None), scope (the scope path at creation).

    ``.grad`` accumulates: every ``backward()`` adds into the ``.grad`` of each tensor it
    reaches (leaves and, by default, intermediates), as PyTorch does for leaves; call
    ``zero_grad()`` (or an optimizer's) between steps. Treat ``.grad`` of intermediate
    tensors as read-only: the engine may share one array between several tensors.
    """

    __array_ufunc__ = None  # make NumPy defer to our reflected operators: array * tensor

    # The attributes every tensor has are slots: an op's output sets these seven and gets
    # no per-object dict (smaller graphs; measured for speed: no difference either way).
    __slots__ = ("data", "grad", "requires_grad", "name", "scope", "grad_fn", "_id",
                 "__dict__", "__weakref__")
    data: np.ndarray
    grad: np.ndarray | None
    requires_grad: bool
    name: str | None  # a slot too: the layers name every step's x, h and c
    scope: str
    grad_fn: Function | None  # the op that made this tensor (None: a leaf or a constant)
    _id: int
    # Rarely set attributes: class defaults, overridden in the instance's __dict__.
    _origin: weakref.ref[Tensor] | None = None
    contributions: list[Contribution] | None = None
    freed: bool = False  # its value was freed by lean_graph() (it now reads as NaN)

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 name: str | None = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if dtype is not None:
            array = np.array(data, dtype=dtype)
        elif isinstance(data, np.ndarray | np.generic):
            array = np.array(data)
        else:
            array = np.array(data)
            if array.dtype.kind == "f":  # Python floats: float32, like torch
                array = array.astype(np.float32)
            elif array.dtype.kind in "iu":  # Python ints: int64, like torch (class indices)
                array = array.astype(np.int64)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"Tensor: data must be numbers or booleans, got {type(data).__name__}"
                            f" (NumPy dtype {array.dtype})")
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(
                f"Tensor: requires_grad=True needs floating-point data, got dtype {array.dtype}"
                f" (shape {array.shape}); pass float data or dtype=np.float32 / np.float64"
            )
        self.data = array
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.scope = STATE.path
        self.grad_fn = None
        self._id = next(_ids)
        self._origin = None
        self.contributions = None

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool, ctx: Function | None) -> Tensor:
        """Fast constructor for op outputs (no conversion or checks: this is the hot path)."""
        t = object.__new__(cls)
        t.data = data
        t.grad = None
        t.name = None
        t.requires_grad = requires_grad
        t.scope = STATE.path
        t.grad_fn = ctx
        t._id = next(_ids)
        return t

    @classmethod
    def _constant(cls, value: Any, dtype: np.dtype | None) -> Tensor:
        """Wrap a Python scalar or array used in an op: not a node to differentiate.
        Numbers take the floating ``dtype`` of the op's tensors (no silent float64); a
        ``dtype`` that is not floating (or None) leaves NumPy's own."""
        if (type(value) is float or type(value) is int) and dtype is not None \
                and dtype.kind == "f":
            key = (value, dtype)
            cached = _scalar_constants.get(key)
            if cached is None:  # constants are never mutated, so one object serves all uses
                if len(_scalar_constants) > 1024:
                    _scalar_constants.clear()
                cached = cls._make(np.asarray(value, dtype=dtype), False, None)
                cached.scope = ""  # shared across scopes, so it belongs to none
                _scalar_constants[key] = cached
            return cached
        array = np.asarray(value)
        if dtype is not None and dtype.kind == "f" and array.dtype != dtype \
                and array.dtype.kind in "iuf":
            array = array.astype(dtype)
        return cls._make(array, False, None)

    # ---- basic properties -------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def numel(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert, this one has shape "
                             f"{self.shape}")
        return self.data.item()  # type: ignore[no-any-return]

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing this data, cut from the graph (truncated BPTT uses it).

        The new tensor remembers (weakly) what it was cut from, so the renderer can draw
        the cut edge.
        """
        t = Tensor._make(self.data, False, None)
        t.name = self.name
        t._origin = weakref.ref(self)
        return t

    def __getstate__(self) -> dict[str, Any]:
        """For pickle and copy: the slots and the instance dict as one dict (every pickle
        protocol, 0 and 1 included, which cannot read slots by themselves)."""
        state = {name: getattr(self, name) for name in _SLOTS if hasattr(self, name)}
        state.update(self.__dict__)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: needs floating-point data, got {self.dtype}")
        self.requires_grad = flag
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, grad: Any = None, *, keep_grads: bool = True,
                 contributions: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every tensor this one depends on.

        Args:
            grad: dL/d(self); may be omitted only when ``self`` has one element (a loss).
            keep_grads: keep ``.grad`` on intermediate tensors too (each h_t, so a learner
                can print dL/dh_t per step). False keeps only leaves' gradients and frees
                each intermediate gradient as soon as it has been used: faster, less memory.
            contributions: also record, on every leaf reached, the list of per-use
                gradient contributions ``leaf.contributions`` -- see ``engine.backward``.
        """
        from tinygrad_rnn.engine import backward

        backward(self, grad, keep_grads=keep_grads, contributions=contributions)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20,
                               edgeitems=2, prefix="Tensor(")
        if self.freed:
            body = "<value freed by lean_graph()>"
        extras = [f"shape={self.shape}", f"dtype={self.dtype}"]
        if self.requires_grad:
            extras.append("requires_grad=True")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn.name}")
        if self.name:
            extras.append(f"name={self.name!r}")
        if self.scope:
            extras.append(f"scope={self.scope!r}")
        return f"Tensor({body}, {', '.join(extras)})"

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a Tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    # ---- arithmetic (each line is one primitive op from ops.py) -------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.Add.apply(self, _operand(other, self))

    def __radd__(self, other: Any) -> Tensor:
        return _ops.Add.apply(_operand(other, self), self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(self, _operand(other, self))

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(_operand(other, self), self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(self, _operand(other, self))

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(_operand(other, self), self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(self, _operand(other, self))

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(_operand(other, self), self)

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __pow__(self, exponent: float) -> Tensor:
        if isinstance(exponent, Tensor):
            raise TypeError("pow: the exponent must be a Python number (x ** 2), not a Tensor")
        return _ops.Pow.apply(self, exponent=float(exponent))

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(other, self)

    # comparisons give boolean masks, outside the graph (use them with ``where``)
    def __lt__(self, other: Any) -> Tensor:
        return Tensor._make(self.data < _raw(other), False, None)

    def __le__(self, other: Any) -> Tensor:
        return Tensor._make(self.data <= _raw(other), False, None)

    def __gt__(self, other: Any) -> Tensor:
        return Tensor._make(self.data > _raw(other), False, None)

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._make(self.data >= _raw(other), False, None)

    # ---- elementwise functions ----------------------------------------------------------
    def exp(self) -> Tensor:
        return _ops.Exp.apply(self)

    def log(self) -> Tensor:
        return _ops.Log.apply(self)

    def tanh(self) -> Tensor:
        return _ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return _ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return _ops.ReLU.apply(self)

    def sqrt(self) -> Tensor:
        return _ops.Pow.apply(self, exponent=0.5)

    def matmul(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(self, other)

    # ---- reductions ---------------------------------------------------------------------
    def sum(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool | None = None) -> Tensor:
        return _ops.Sum.apply(self, axis=_pick_axis(axis, dim, "sum"),
                              keepdims=keepdims if keepdim is None else keepdim)

    def mean(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool | None = None) -> Tensor:
        return _ops.Mean.apply(self, axis=_pick_axis(axis, dim, "mean"),
                               keepdims=keepdims if keepdim is None else keepdim)

    def max(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool | None = None) -> Tensor:
        """Maximum values (unlike ``torch.max(x, dim)``, no indices: see ``argmax``);
        where several entries tie, the gradient is split equally among them."""
        return _ops.Max.apply(self, axis=_pick_axis(axis, dim, "max"),
                              keepdims=keepdims if keepdim is None else keepdim)

    # ---- shape ------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape=shape)

    view = reshape

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert an axis of length 1 at ``dim`` (a reshape)."""
        shape = list(self.shape)
        shape.insert(dim if dim >= 0 else self.ndim + 1 + dim, 1)
        return _ops.Reshape.apply(self, shape=tuple(shape))

    def squeeze(self, dim: int | None = None) -> Tensor:
        """Drop axes of length 1 (only ``dim`` if given) -- a reshape."""
        if dim is None:
            shape = tuple(n for n in self.shape if n != 1)
        else:
            if self.shape[dim] != 1:
                return self
            shape = tuple(n for i, n in enumerate(self.shape) if i != dim % self.ndim)
        return _ops.Reshape.apply(self, shape=shape)

    def flatten(self) -> Tensor:
        return _ops.Reshape.apply(self, shape=(-1,))

    def transpose(self, *axes: Any) -> Tensor:
        """Reverse the axes, permute them (``transpose(2, 0, 1)``), or swap two of a
        3-D+ tensor PyTorch-style (``transpose(0, 1)`` swaps axes 0 and 1)."""
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            axes = tuple(axes[0])
        if len(axes) == 2 and self.ndim != 2:
            perm = list(range(self.ndim))
            perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
            axes = tuple(perm)
        return _ops.Transpose.apply(self, axes=axes or None)

    def permute(self, *axes: int) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            axes = tuple(axes[0])
        return _ops.Transpose.apply(self, axes=axes)

    @property
    def T(self) -> Tensor:
        """Reverse the axes (the matrix transpose for 2-D)."""
        return _ops.Transpose.apply(self, axes=None)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.GetItem.apply(self, index=index)

    def split(self, sizes: int | Sequence[int], axis: int = 0, *,
              dim: int | None = None) -> list[Tensor]:
        """Split along ``axis`` (default 0, as ``torch.split``) into pieces of ``sizes``: an
        int gives pieces of that size (the last may be shorter), a list gives those sizes.
        Each piece is a ``GetItem`` slice."""
        axis = axis if dim is None else dim
        n = self.shape[axis]
        if isinstance(sizes, int):
            if sizes <= 0:
                raise ValueError(f"split: size must be positive, got {sizes}")
            sizes = [min(sizes, n - s) for s in range(0, n, sizes)]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {list(sizes)} do not add up to {n}, the length of "
                             f"axis {axis} of shape {self.shape}")
        pieces, start = [], 0
        lead = (slice(None),) * (axis % self.ndim)
        for size in sizes:
            pieces.append(self[lead + (slice(start, start + size),)])
            start += size
        return pieces

    def chunk(self, chunks: int, axis: int = 0, *, dim: int | None = None) -> list[Tensor]:
        """Split into ``chunks`` pieces along ``axis`` (default 0, as ``torch.chunk``): each
        of ceil(n / chunks) entries, the last possibly shorter. The cells cut their gates
        apart with ``pre.chunk(4, axis=-1)``."""
        axis = axis if dim is None else dim
        n = self.shape[axis]
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        return self.split(max(-(-n // chunks), 1), axis)

    def __iter__(self) -> Iterator[Tensor]:
        """Iterate over the first axis (each row is a ``GetItem`` of this tensor)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(len(self)):
            yield self[i]

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def argmax(self, axis: int | None = None, keepdims: bool = False, *,
               dim: int | None = None) -> Tensor:
        """Indices of the maxima (integers, outside the graph) -- ``max`` returns values only."""
        axis = axis if dim is None else dim
        return Tensor(np.argmax(self.data, axis=axis, keepdims=keepdims))

    def float(self) -> Tensor:
        """A float32 copy, outside the graph if the dtype changes (as ``.detach()``)."""
        return self if self.dtype == np.float32 else Tensor(self.data.astype(np.float32))

    def double(self) -> Tensor:
        """A float64 copy, outside the graph if the dtype changes (as ``.detach()``)."""
        return self if self.dtype == np.float64 else Tensor(self.data.astype(np.float64))

    def dim(self) -> int:
        return self.data.ndim


_scalar_constants: dict[tuple[Any, np.dtype], Tensor] = {}
_SLOTS = tuple(n for n in Tensor.__slots__ if n not in ("__dict__", "__weakref__"))


def _operand(value: Any, like: Tensor) -> Tensor:
    """The other operand of an arithmetic operator as a tensor: a number or array becomes
    a constant of ``like``'s floating dtype (the fast path for ``x * 2`` and ``1.0 - z``)."""
    return value if isinstance(value, Tensor) else Tensor._constant(value, like.data.dtype)


def _raw(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


from tinygrad_rnn import ops as _ops  # noqa: E402  (ops needs Tensor defined first)
