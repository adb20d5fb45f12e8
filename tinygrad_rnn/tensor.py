"""``Tensor``: a NumPy array that remembers which op made it from which inputs.

Every op on tensors returns a new tensor whose ``grad_fn`` is the op (a ``Function``) holding
the input tensors. ``backward()`` walks that chain in reverse (see ``engine.py``). Nothing
here knows about time steps: an RNN is a Python loop of ops, and its unrolled graph is just
a long chain of these nodes.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_rnn import fast, inplace, pickling, shaping
from tinygrad_rnn.context import STATE, new_id
from tinygrad_rnn.promotion import promoted
from tinygrad_rnn.tensor_methods import TorchMethods

if TYPE_CHECKING:
    from tinygrad_rnn.engine import Contribution
    from tinygrad_rnn.function import Function

Axis = int | tuple[int, ...] | None


class Tensor(TorchMethods):
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
    freed: bool = False  # a lean graph freed its value (it reads as NaN) and keeps no grad

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 name: str | None = None) -> None:
        if isinstance(data, Tensor):
            data = data._value("Tensor")  # (a freed value would be copied as real NaNs)
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
        self._id = new_id()
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
        t._id = new_id()
        return t

    @classmethod
    def _constant(cls, value: Any, dtype: np.dtype | None) -> Tensor:
        """Wrap a Python scalar or array used in an op: not a node to differentiate.
        Numbers take the floating ``dtype`` of the op's tensors (no silent float64); a
        ``dtype`` that is not floating (or None) leaves NumPy's own. (The fast path keeps
        one tensor per number: ``fast.constant``.)"""
        return fast.constant(value, dtype, cls._new_constant)  # type: ignore[no-any-return]

    @classmethod
    def _new_constant(cls, value: Any, dtype: np.dtype | None) -> Tensor:
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{type(value).__name__} {value!r:.60}: the other operand must be "
                            f"a Tensor, a number or an array of numbers")
        if dtype is not None and dtype.kind == "f" and array.dtype != dtype \
                and array.dtype.kind in "iuf":
            array = array.astype(dtype)
        elif array is value:  # the caller's own array: the graph may make it read-only
            array = array.copy()
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

    def detach(self) -> Tensor:
        """A new leaf sharing this data, cut from the graph (truncated BPTT uses it).

        The new tensor remembers (weakly) what it was cut from, so the renderer can draw
        the cut edge.
        """
        t = Tensor._make(self._value("detach"), False, None)
        t.name = self.name
        t._origin = weakref.ref(self)
        return t

    # copy and pickle keep the values, not the graph (pickling.py)
    __getstate__ = pickling.getstate
    __setstate__ = pickling.setstate

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: needs floating-point data, got {self.dtype}")
        if not flag and self.grad_fn is not None:  # it would cut the graph: as in torch
            raise RuntimeError(
                f"requires_grad_(False): you can only change requires_grad flags of leaf "
                f"tensors; this one was made by {self.grad_fn.name}. To use its value without "
                f"a gradient, use t.detach().")
        self.requires_grad = bool(flag)
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, grad: Any = None, retain_graph: bool | None = None, *,
                 gradient: Any = None, keep_grads: bool = True,
                 contributions: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every tensor this one depends on.

        Args:
            grad: dL/d(self); may be omitted only when ``self`` has one element (a loss).
                ``gradient=`` is torch's name for it (give one of the two).
            retain_graph: accepted for torch's code and ignored: the graph is always kept,
                so ``backward()`` may run again (it adds the gradients again).
            keep_grads: keep ``.grad`` on intermediate tensors too (each h_t, so a learner
                can print dL/dh_t per step) -- on every one that kept its value: a step's
                internal tensors in the default lean graph keep neither (``full_graph()``
                keeps all). False keeps only leaves' gradients and frees each intermediate
                gradient as soon as it has been used: faster, less memory.
            contributions: also record, on every leaf reached, the list of per-use
                gradient contributions ``leaf.contributions`` -- see ``engine.backward``.
        """
        from tinygrad_rnn.engine import backward

        if gradient is not None:
            if grad is not None:
                raise TypeError("backward: give grad= or gradient= (torch's name), not both")
            grad = gradient
        if not isinstance(retain_graph, bool | None):
            raise TypeError(f"backward: retain_graph must be True, False or None, got "
                            f"{retain_graph!r:.40}")
        backward(self, grad, keep_grads=keep_grads, contributions=contributions)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20,
                               edgeitems=2, prefix="Tensor(")
        if self.freed:
            body = "<value freed: inside a cell step; record in tg.full_graph() to keep it>"
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
        return bool(self._value("bool"))

    # ---- arithmetic (each line is one primitive op from ops.py) -------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.Add.apply(*_pair(self, other, "Add (+)"))

    def __radd__(self, other: Any) -> Tensor:
        a, b = _pair(self, other, "Add (+)")
        return _ops.Add.apply(b, a)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(*_pair(self, other, "Sub (-)"))

    def __rsub__(self, other: Any) -> Tensor:
        a, b = _pair(self, other, "Sub (-)")
        return _ops.Sub.apply(b, a)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(*_pair(self, other, "Mul (*)"))

    def __rmul__(self, other: Any) -> Tensor:
        a, b = _pair(self, other, "Mul (*)")
        return _ops.Mul.apply(b, a)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(*_pair(self, other, "Div (/)"))

    def __rtruediv__(self, other: Any) -> Tensor:
        a, b = _pair(self, other, "Div (/)")
        return _ops.Div.apply(b, a)

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __pow__(self, exponent: float) -> Tensor:
        if isinstance(exponent, Tensor):
            raise TypeError("pow: the exponent must be a Python number (x ** 2), not a Tensor")
        return _ops.Pow.apply(self, exponent=float(exponent))

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(*_pair(self, other, "MatMul (@)"))

    def __rmatmul__(self, other: Any) -> Tensor:
        a, b = _pair(self, other, "MatMul (@)")
        return _ops.MatMul.apply(b, a)

    # comparisons: boolean masks outside the graph (for ``where``); freed values refused
    def __lt__(self, other: Any) -> Tensor:
        return Tensor._make(self._value("<") < _raw(other, "<"), False, None)

    def __le__(self, other: Any) -> Tensor:
        return Tensor._make(self._value("<=") <= _raw(other, "<="), False, None)

    def __gt__(self, other: Any) -> Tensor:
        return Tensor._make(self._value(">") > _raw(other, ">"), False, None)

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._make(self._value(">=") >= _raw(other, ">="), False, None)

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
        return _ops.MatMul.apply(*_pair(self, other, "MatMul (@)"))

    # ---- reductions ---------------------------------------------------------------------
    def sum(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool | None = None) -> Tensor:
        return _ops.Sum.apply(self, axis=shaping.pick_axis(axis, dim, "sum", self.shape),
                              keepdims=keepdims if keepdim is None else keepdim)

    def mean(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool | None = None) -> Tensor:
        return _ops.Mean.apply(self, axis=shaping.pick_axis(axis, dim, "mean", self.shape),
                               keepdims=keepdims if keepdim is None else keepdim)

    # ---- shape ------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape=shape)

    view = reshape

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

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    # t += x etc. (inplace.py): inside no_grad() t's value changes (torch's p -= lr * p.grad)
    __iadd__, __isub__ = inplace.iadd, inplace.isub
    __imul__, __itruediv__ = inplace.imul, inplace.itruediv

    # shape sugar, written with the methods above (shaping.py)
    unsqueeze = shaping.unsqueeze
    squeeze = shaping.squeeze
    flatten = shaping.flatten
    transpose = shaping.transpose
    split = shaping.split
    chunk = shaping.chunk
    __iter__ = shaping.iterate
    argmax = shaping.argmax
    float = shaping.to_float32
    double = shaping.to_float64
    dim = shaping.dim


def _pair(t: Tensor, other: Any, op: str) -> tuple[Tensor, Tensor]:
    """The operands of an arithmetic operator (or ``@``) as tensors of one dtype.

    A number or array becomes a constant of ``t``'s floating dtype (``x * 2`` stays
    float32); an integer or boolean tensor meeting a floating one takes the floating dtype
    (PyTorch's promotion: int64 × float32 -> float32, where NumPy would give float64).
    Two floating tensors follow NumPy (float32 with float64 gives float64, as in torch)."""
    if not isinstance(other, Tensor):
        try:
            return t, Tensor._constant(other, t.data.dtype)
        except TypeError as e:  # "a + 'x'": name the op and both operands
            raise TypeError(f"{op}: cannot combine a Tensor of shape {t.shape} and dtype "
                            f"{t.dtype} with {e}") from None
    if t.data.dtype is other.data.dtype:  # the common case: nothing to promote
        return t, other
    return promoted((t, other), Tensor)  # type: ignore[return-value]


def _raw(value: Any, op: str) -> Any:
    return value._value(op) if isinstance(value, Tensor) else value


from tinygrad_rnn import ops as _ops  # noqa: E402  (ops needs Tensor defined first)
