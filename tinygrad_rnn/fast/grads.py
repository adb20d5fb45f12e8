"""Unwritten gradients: adding up the gradients of a tensor used many times, cheaply.

A weight used at every time step gets one gradient per use, and BPTT is their sum. For
``y = x @ Wᵀ`` the use at step t contributes ``g_tᵀ x_t`` (an (O, I) matrix), so summing
T of them written out costs T matrix products and T additions of an (O, I) array. The same
sum is one product of stacked factors::

    Σ_t g_tᵀ x_t  =  [g_1; ...; g_T]ᵀ [x_1; ...; x_T]

which is what a hand-written "fused" BPTT does after its time loop (dW = dAᵀ X). So the
fast path's VJP rules (``rules.py``) may return, instead of an array, one of two
*unwritten* gradients:

* ``ProductGrad(a, b)`` -- the product ``aᵀ b`` (``Linear`` and ``MatMul`` give their
  weight gradient this way);
* ``SliceGrad(shape, index, g)`` -- zeros of ``shape`` with ``g`` at ``index``
  (``GetItem``: the four gate slices of an LSTM step fill one array instead of four
  zero-filled ones).

The engine adds a tensor's gradients with ``fast.add``, which keeps them in a ``GradSum``:
it keeps the ``ProductGrad`` factors and multiplies them in one product when the tensor is
reached (or earlier, once the stacked factors would take more memory than the product
itself, so memory stays bounded), and writes ``SliceGrad`` pieces into one array.
``to_array(g)`` writes any gradient out as an array. The result equals the plain sum up to
floating-point rounding order. ``ops.py`` knows nothing of this: its VJPs are textbook.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ProductGrad:
    """The gradient ``aᵀ b`` not yet multiplied out: a (N, O), b (N, I) -> (O, I).

    (A sum over the N rows of the outer products a_nᵀ b_n, hence the sum of T of them is
    one product of the stacked factors.)"""

    __slots__ = ("a", "b", "shape", "dtype")

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a, self.b = a, b
        self.shape = (a.shape[1], b.shape[1])
        self.dtype = a.dtype if a.dtype == b.dtype else np.result_type(a.dtype, b.dtype)

    def total(self) -> np.ndarray:
        return self.a.T @ self.b

    def astype(self, dtype: Any) -> np.ndarray:
        return self.total().astype(dtype)


class SliceGrad:
    """The gradient of ``x[index]``: zeros of ``shape`` with ``g`` at ``index`` (repeated
    integer indices add up) -- written out only when needed."""

    __slots__ = ("shape", "index", "g", "basic", "dtype")

    def __init__(self, shape: tuple[int, ...], index: Any, g: np.ndarray, basic: bool) -> None:
        self.shape, self.index, self.g, self.basic = shape, index, g, basic
        self.dtype = g.dtype

    def astype(self, dtype: Any) -> np.ndarray:
        return self.total().astype(dtype)

    def total(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.dtype)
        self.add_into(out)
        return out

    def add_into(self, out: np.ndarray) -> None:
        if self.basic:  # basic indexing never repeats an element, and gives a view
            view = out[self.index]
            if type(view) is np.ndarray:
                view += self.g  # adds into out (one NumPy call, no write-back)
            else:  # every axis indexed by an int: a scalar, not a view
                out[self.index] += self.g
        else:
            np.add.at(out, self.index, self.g)


def to_array(g: Any) -> Any:
    """``g`` written out as an array (arrays and None are returned as they are)."""
    if type(g) is np.ndarray or g is None:  # the common case, checked first
        return g
    return g.total() if isinstance(g, _UNWRITTEN) else g


class GradSum:
    """The gradients of one tensor's several uses, being added up by the engine.

    ``array`` is the sum of the arrays and slices so far; ``owned`` says whether this
    object allocated it (an array an op handed out may be shared with other tensors, so it
    is never modified). ``ProductGrad`` terms wait in ``products`` to be multiplied in one
    product.
    """

    __slots__ = ("array", "owned", "products", "rows")

    def __init__(self, first: Any) -> None:
        self.array: np.ndarray | None = None
        self.owned = False
        self.products: list[ProductGrad] = []
        self.rows = 0
        self.add(first)

    def add(self, g: Any) -> None:
        kind = type(g)
        if kind is ProductGrad:
            self.products.append(g)
            self.rows += g.a.shape[0]
            rows, cols = g.shape
            if self.rows * (rows + cols) > rows * cols:  # the factors outgrew the product
                self._add_array(self._product(), mine=True)
        elif kind is SliceGrad:
            if self.array is None:
                self.array, self.owned = g.total(), True
            else:
                # (an op on 0-d arrays gives a NumPy scalar: np.array makes it an array)
                if not self.owned or type(self.array) is not np.ndarray:
                    self.array, self.owned = np.array(self.array), True
                g.add_into(self.array)
        else:
            self._add_array(g)

    def _add_array(self, g: np.ndarray, mine: bool = False) -> None:
        """Add an array; ``mine``: nobody else holds it, so it may become the sum."""
        if self.array is None:
            self.array, self.owned = g, mine
        elif self.owned:
            self.array += g
        else:
            self.array, self.owned = self.array + g, True

    def _product(self) -> np.ndarray:
        products, self.products, self.rows = self.products, [], 0
        if len(products) == 1:
            return products[0].total()
        a = np.concatenate([o.a for o in products])
        b = np.concatenate([o.b for o in products])
        return a.T @ b

    def total(self) -> np.ndarray:
        if self.products:
            self._add_array(self._product(), mine=True)
        assert self.array is not None
        return self.array


_UNWRITTEN = (ProductGrad, SliceGrad, GradSum)


def add(previous: Any, g: Any) -> GradSum:
    """previous + g, kept as a ``GradSum``: it adds in place into an array it made itself,
    and multiplies the factors of the weight gradients of all the uses in one product."""
    if type(previous) is GradSum:
        previous.add(g)
        return previous
    total = GradSum(previous)
    total.add(g)
    return total
