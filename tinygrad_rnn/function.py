"""``Function``: the base class of every primitive op, and ``apply``, which records the graph.

A primitive op is a small subclass with two methods on NumPy arrays::

    class Tanh(Function):
        '''y = tanh(x);  dx = g * (1 - y**2)'''
        def forward(self, x):
            self.y = np.tanh(x)          # save what backward needs
            return self.y
        def backward(self, g):
            return (g * (1 - self.y * self.y),)

``forward`` gets the inputs' arrays and returns the output array -- exactly one (a tuple of
outputs is refused: write one op per output, or concatenate them). An op whose
output is integer or boolean is not recorded, as in torch: that output cannot require
grad. ``backward`` gets the gradient ``g`` of the loss with respect to that output (same
shape) and returns the vector-Jacobian product for each input: one array (or ``None``)
per input, in input order. A returned array may have the *broadcast* shape; the engine
sums it back to the input's shape once, for every op (``engine.unbroadcast``), so no op
handles broadcasting in its backward.

``apply`` runs ``forward`` and, when grad mode is on and some input requires grad, makes
the op the output's creator (``out.grad_fn``): the op keeps its inputs, so the output knows
its whole history. That chain of creators *is* the computation graph. (``apply`` calls
``fn.forward``; only an op that the fast path has a cheaper rule for -- its class is
marked ``fast_forward`` when ``fast/rules.py`` registers the rule -- goes through
``fast.forward``, which still runs ``fn.forward`` when the fast path is off.)
"""

from __future__ import annotations

import weakref
from typing import Any, ClassVar

import numpy as np

from tinygrad_rnn import fast
from tinygrad_rnn.context import STATE, freed_message
from tinygrad_rnn.tensor import Tensor


class ShapeError(ValueError):
    """An op was given inputs whose shapes do not fit; the message names op and shapes."""


class Function:
    """One primitive op applied once: its inputs, what it saved, and where it was created.

    Attributes set by ``apply`` when the op is recorded:
        inputs:     the input tensors (constants were wrapped as non-grad tensors)
        needs_grad: one bool per input (a tuple); ``backward`` may skip the others
                (return None for them)
        scope:      the scope path open when the op ran ("layer0/fwd/t=3")
    """

    inputs: tuple[Tensor, ...]
    needs_grad: tuple[bool, ...] = ()
    scope: str = ""
    # True on the ops for which the fast path has a cheaper forward (set by fast/rules.py
    # as it registers them): ``apply`` calls those through the seam, ``fast.forward``.
    fast_forward: ClassVar[bool] = False

    def forward(self, *arrays: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError(
            f"{self.name} has no forward: a Function subclass defines forward(self, *arrays) "
            f"that computes the output array from the inputs' NumPy arrays and saves on self "
            f"what backward needs")

    def backward(self, grad: np.ndarray) -> tuple[Any, ...]:  # one array or None per input
        raise NotImplementedError(
            f"{self.name} has no backward: a Function subclass defines backward(self, grad) "
            f"that returns one gradient array (or None) per input, in input order -- for one "
            f"input a 1-tuple, `return (grad * 2,)`")

    @property
    def name(self) -> str:
        return type(self).__name__

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run the op on tensors (or constants) and record it in the graph if needed.

        Python scalars and NumPy arrays are constants: they are not differentiated and take
        the floating dtype of the first tensor argument, so ``x * 2`` stays float32.
        """
        arrays = []
        needs = []  # which inputs require grad
        for a in args:  # a plain loop: this is the hottest code in the library
            # a constant (the operators wrap their own), or a value a lean graph freed
            if not isinstance(a, Tensor) or a.freed:
                return cls.apply(*_wrap_constants(args, cls.__name__), **kwargs)
            arrays.append(a.data)
            needs.append(a.requires_grad)
        fn = cls()
        try:
            if cls.fast_forward:  # the fast path may have a cheaper rule (fast/rules.py)
                out = fast.forward(fn, arrays, kwargs)
            else:
                out = fn.forward(*arrays, **kwargs)
        except ShapeError:
            raise
        except (ValueError, IndexError, TypeError) as e:  # NumPy's message, plus the op's
            raise _forward_error(cls, args, e) from e
        if type(out) is not np.ndarray:  # a NumPy scalar, or a user op's list
            out = _as_array(out, cls)
        if True not in needs or not STATE.grad_enabled or out.dtype.kind != "f":
            # nothing to differentiate (integer and boolean outputs neither: as in torch)
            return Tensor._make(out, False, None)  # not recorded
        # The graph now holds the inputs' and the output's arrays (ops save them for
        # backward): make them read-only, so a later write into them is refused instead
        # of silently changing the gradients (docs/dtypes-and-inplace.md). An op's
        # output is locked when it is made; a leaf when a recorded op first uses it.
        # (positional: setflags(write=False) is ~5x slower; the stubs want a keyword)
        out.setflags(False)  # type: ignore[call-arg]
        for t in args:
            if t.grad_fn is None and t.data.flags.writeable:
                lock(t.data)
        # one shared tuple per pattern, (True,), (True, False), ...: fewer objects for the
        # cyclic garbage collector to track
        pattern = tuple(needs)
        fn.needs_grad = _NEEDS.setdefault(pattern, pattern)
        fn.inputs = args
        out_tensor = Tensor._make(out, True, fn)
        fn.scope = out_tensor.scope  # the scope path open now
        return out_tensor


_NEEDS: dict[tuple[bool, ...], tuple[bool, ...]] = {}


def _as_array(out: Any, cls: type) -> np.ndarray:
    """A forward's result that is not an ndarray: a NumPy scalar or a list of numbers
    becomes an array. A tuple (PyTorch's multi-output habit) or a list of arrays is
    refused: ``np.asarray`` would silently stack the outputs into one array."""
    if isinstance(out, tuple) or (isinstance(out, list) and any(
            isinstance(o, np.ndarray | Tensor) for o in out)):
        raise TypeError(
            f"{cls.__name__}.forward returned a {type(out).__name__} of {len(out)} values: "
            f"an op has exactly one output array. Write one op per output, or concatenate "
            f"the outputs into one array (np.concatenate) and split the result tensor "
            f"(Tensor.split), with backward taking the gradient of the concatenation")
    return np.asarray(out)


# id -> array, for the arrays given to ``from_numpy`` (weak: an entry goes with its array)
SHARED: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()


def lock(array: np.ndarray) -> None:
    """Make ``array`` -- and the array it is a view of -- refuse writes.

    A step's ``x[t]`` is a view of the sequence x: locking only the view would let
    ``x.data[...] = ...`` change what the op saved. (Views taken *before* this call keep
    their own flag and stay writable: that hole is documented.) An array the user shares
    with a tensor through ``from_numpy`` is left writable: sharing is what was asked for
    (as in torch, writes through it are then not detected)."""
    base = array.base
    if SHARED and (SHARED.get(id(array)) is array
                   or (base is not None and SHARED.get(id(base)) is base)):
        return  # (a step x[t] of a shared batch is a view of it)
    array.setflags(False)  # type: ignore[call-arg]
    if type(base) is np.ndarray and base.flags.writeable:
        base.setflags(False)  # type: ignore[call-arg]


def _forward_error(cls: type, args: tuple[Tensor, ...], e: Exception) -> Exception:
    """NumPy's message about the op's inputs, with the op's name, shapes and dtypes."""
    shapes = ", ".join(str(t.shape) for t in args)
    dtypes = ", ".join(str(t.dtype) for t in args)
    error = IndexError if isinstance(e, IndexError) else \
        TypeError if isinstance(e, TypeError) else ShapeError  # (bool - bool: TypeError)
    return error(f"{cls.__name__}: {e} (input shapes {shapes}; dtypes {dtypes})")


def _wrap_constants(args: tuple[Any, ...], op: str) -> tuple[Tensor, ...]:
    """Wrap the Python scalars and arrays among an op's arguments as non-grad tensors of
    the first tensor argument's floating dtype. A tensor whose value a lean graph freed
    (it reads as NaN) is refused: the op would silently compute NaN."""
    dtype = _first_dtype(args)
    wrapped = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and a.freed:
            raise RuntimeError(freed_message(a, op))
        try:
            wrapped.append(a if isinstance(a, Tensor) else Tensor._constant(a, dtype))
        except TypeError as e:
            raise TypeError(f"{op}: argument {i} is {e}") from None
    return tuple(wrapped)


def _first_dtype(args: tuple[Any, ...]) -> np.dtype | None:
    """The floating dtype of the first tensor argument, which constants take."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.data.dtype
            return dtype if dtype.kind == "f" else None
    return None
