"""Adding up the gradients of a tensor used many times -- cheaply.

A weight used at every time step gets one gradient per use, and BPTT is their sum. For
``y = x @ Wᵀ`` the use at step t contributes ``g_tᵀ x_t`` (an (O, I) matrix), so summing
T of them written out costs T matrix products and T additions of an (O, I) array. The same
sum is one product of stacked factors::

    Σ_t g_tᵀ x_t  =  [g_1; ...; g_T]ᵀ [x_1; ...; x_T]

which is what a hand-written "fused" BPTT does after its time loop (dW = dAᵀ X). So an op's
``backward`` may return, instead of an array, one of two *unwritten* gradients:

* ``Outer(a, b)`` -- the product ``aᵀ b`` (``Linear`` and ``MatMul`` give their weight
  gradient this way);
* ``Scatter(shape, index, g)`` -- zeros of ``shape`` with ``g`` at ``index`` (``GetItem``:
  the four gate slices of an LSTM step fill one array instead of four zero-filled ones).

The engine adds a tensor's gradients in a ``Sum``, which keeps the ``Outer`` factors and
multiplies them in one product when the tensor is reached (or earlier, once the stacked
factors would take more memory than the product itself, so memory stays bounded), and
writes ``Scatter`` pieces into one array. ``dense(g)`` writes any gradient out as an array.
The result equals the plain sum up to floating-point rounding order.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Outer:
    """The gradient ``aᵀ b`` not yet computed: a (N, O), b (N, I) -> (O, I)."""

    __slots__ = ("a", "b", "shape", "dtype")

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        self.a, self.b = a, b
        self.shape = (a.shape[1], b.shape[1])
        self.dtype = a.dtype if a.dtype == b.dtype else np.result_type(a.dtype, b.dtype)

    def total(self) -> np.ndarray:
        return self.a.T @ self.b


class Scatter:
    """The gradient of ``x[index]``: zeros of ``shape`` with ``g`` at ``index`` (repeated
    integer indices add up) -- written out only when needed."""

    __slots__ = ("shape", "index", "g", "basic", "dtype")

    def __init__(self, shape: tuple[int, ...], index: Any, g: np.ndarray, basic: bool) -> None:
        self.shape, self.index, self.g, self.basic = shape, index, g, basic
        self.dtype = g.dtype

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


def dense(g: Any) -> Any:
    """``g`` written out as an array (arrays and None are returned as they are)."""
    return g.total() if isinstance(g, Outer | Scatter | Sum) else g


class Sum:
    """The gradients of one tensor's several uses, being added up by the engine.

    ``dense`` is the sum of the arrays and scatters so far; ``owned`` says whether this
    object allocated it (an array an op handed out may be shared with other tensors, so it
    is never modified). ``Outer`` terms wait in ``outers`` to be multiplied in one product.
    """

    __slots__ = ("dense", "owned", "outers", "rows")

    def __init__(self, first: Any) -> None:
        self.dense: np.ndarray | None = None
        self.owned = False
        self.outers: list[Outer] = []
        self.rows = 0
        self.add(first)

    def add(self, g: Any) -> None:
        kind = type(g)
        if kind is Outer:
            self.outers.append(g)
            self.rows += g.a.shape[0]
            rows, cols = g.shape
            if self.rows * (rows + cols) > rows * cols:  # the factors outgrew the product
                self._add_dense(self._product(), mine=True)
        elif kind is Scatter:
            if self.dense is None:
                self.dense, self.owned = g.total(), True
            else:
                # (an op on 0-d arrays gives a NumPy scalar: np.array makes it an array)
                if not self.owned or type(self.dense) is not np.ndarray:
                    self.dense, self.owned = np.array(self.dense), True
                g.add_into(self.dense)
        else:
            self._add_dense(g)

    def _add_dense(self, g: np.ndarray, mine: bool = False) -> None:
        """Add an array; ``mine``: nobody else holds it, so it may become the sum."""
        if self.dense is None:
            self.dense, self.owned = g, mine
        elif self.owned:
            self.dense += g
        else:
            self.dense, self.owned = self.dense + g, True

    def _product(self) -> np.ndarray:
        outers, self.outers, self.rows = self.outers, [], 0
        if len(outers) == 1:
            return outers[0].total()
        a = np.concatenate([o.a for o in outers])
        b = np.concatenate([o.b for o in outers])
        return a.T @ b

    def total(self) -> np.ndarray:
        if self.outers:
            self._add_dense(self._product(), mine=True)
        assert self.dense is not None
        return self.dense
