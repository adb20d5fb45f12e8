"""Drawing the test cases of the op table: the ``Chooser`` questions a case is made of,
``RandomChooser`` (a seeded NumPy generator answers them; ``tinygrad_rnn.testing`` answers
them with Hypothesis instead) and one case generator per kind of op -- each takes a
``Chooser`` and returns a ``Case`` (input shapes and options such as axis, index, exponent).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

from tinygrad_rnn.optable_types import POSITIVE, REAL, Case, Shape

T = TypeVar("T")


# ---- choosing test cases ------------------------------------------------------------------


class Chooser(Protocol):
    """The decisions a test case is made of. ``RandomChooser`` answers them with a seeded
    NumPy generator; ``tinygrad_rnn.testing`` answers them with Hypothesis (which then
    searches and shrinks over them)."""

    def integer(self, low: int, high: int) -> int: ...  # low..high inclusive

    def choice(self, options: Sequence[T]) -> T: ...

    def permutation(self, n: int) -> list[int]: ...

    def flag(self) -> bool: ...

    def mask(self, shape: Shape) -> np.ndarray: ...  # a boolean array

    def shape(self, min_dims: int = 0, max_dims: int = 3) -> Shape: ...

    def broadcast_shapes(self, n: int) -> tuple[Shape, ...]: ...

    def matmul_shapes(self) -> tuple[Shape, Shape]: ...


MATMUL_KINDS = ("1d@1d", "1d@2d", "2d@1d", "2d@2d", "batched@batched", "1d@batched",
                "batched@1d")


class RandomChooser:
    """Answers a ``Chooser``'s questions with ``rng``.

    ``trial`` (0, 1, 2, ...) makes the first trials systematic: trial k uses rank
    ``min_dims + k`` for every shape while that is allowed (so trial 0 is 0-d wherever an
    op accepts it, trial 1 is 1-d, ...) and the k-th kind of matrix product; later trials
    and ``trial=None`` are random.
    """

    def __init__(self, rng: np.random.Generator, trial: int | None = None,
                 max_side: int = 4) -> None:
        self.rng, self.trial, self.max_side = rng, trial, max_side

    def integer(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high + 1))

    def choice(self, options: Sequence[T]) -> T:
        return options[int(self.rng.integers(len(options)))]

    def permutation(self, n: int) -> list[int]:
        return [int(i) for i in self.rng.permutation(n)]

    def flag(self) -> bool:
        return bool(self.rng.integers(2))

    def mask(self, shape: Shape) -> np.ndarray:
        return self.rng.random(shape) < 0.5

    def _rank(self, min_dims: int, max_dims: int) -> int:
        if self.trial is not None and min_dims + self.trial <= max_dims:
            return min_dims + self.trial
        return self.integer(min_dims, max_dims)

    def shape(self, min_dims: int = 0, max_dims: int = 3) -> Shape:
        return tuple(self.integer(1, self.max_side) for _ in range(self._rank(min_dims,
                                                                             max_dims)))

    def broadcast_shapes(self, n: int) -> tuple[Shape, ...]:
        """Shapes made from one full shape by dropping leading axes and shrinking axes to 1."""
        full = self.shape(0, 3)
        result = []
        for _ in range(n):
            kept = full[self.integer(0, len(full)):] if self.flag() else full
            result.append(tuple(1 if self.integer(0, 2) == 0 else m for m in kept))
        return tuple(result)

    def matmul_shapes(self) -> tuple[Shape, Shape]:
        if self.trial is not None and self.trial < len(MATMUL_KINDS):
            kind = MATMUL_KINDS[self.trial]
        else:
            kind = self.choice(MATMUL_KINDS)
        m, k, n = (self.integer(1, self.max_side) for _ in range(3))
        batch_a: Shape = ()
        batch_b: Shape = ()
        if kind == "batched@batched":
            batch_a, batch_b = self.broadcast_shapes(2)
        elif "batched" in kind:
            batch_a = batch_b = self.shape(1, 2)
        left, right = kind.split("@")
        a = (k,) if left == "1d" else (*batch_a, m, k)
        b = (k,) if right == "1d" else (*batch_b, k, n)
        return a, b


# ---- case generators ----------------------------------------------------------------------


def one_shape(ch: Chooser) -> Case:
    return Case((ch.shape(),))


def two_broadcast(ch: Chooser) -> Case:
    return Case(ch.broadcast_shapes(2))


def three_broadcast(ch: Chooser) -> Case:
    return Case(ch.broadcast_shapes(3))


def matmul_case(ch: Chooser) -> Case:
    return Case(ch.matmul_shapes())


def linear_case(ch: Chooser) -> Case:
    """x (..., I) with 0-2 leading axes, W (O, I), b (O,)."""
    i, o = ch.integer(1, 4), ch.integer(1, 4)
    lead = tuple(ch.integer(1, 3) for _ in range(ch.integer(0, 2)))
    return Case(((*lead, i), (o, i), (o,)))


def draw_axis(ch: Chooser, ndim: int) -> int | tuple[int, ...] | None:
    """None, one axis (maybe negative) or a tuple of axes of an ``ndim``-D array."""
    if ndim == 0:
        return ch.choice([None, ()])
    kind = ch.choice(["all", "int", "negative", "tuple"])
    if kind == "all":
        return None
    if kind == "int":
        return ch.integer(0, ndim - 1)
    if kind == "negative":
        return -ch.integer(1, ndim)
    return tuple(sorted(ch.permutation(ndim)[:ch.integer(1, ndim)]))


def reduction_case(ch: Chooser) -> Case:
    shape = ch.shape()
    return Case((shape,), {"axis": draw_axis(ch, len(shape)), "keepdims": ch.flag()})


def pow_case(ch: Chooser) -> Case:
    exponent = ch.choice([2.0, 3.0, 1.0, 0.5, -1.0, 1.5, -0.5])
    domains = (REAL,) if exponent in (1.0, 2.0, 3.0) else (POSITIVE,)
    return Case((ch.shape(),), {"exponent": exponent}, domains)


def reshape_case(ch: Chooser) -> Case:
    shape = ch.shape()
    target = ch.choice(["reversed", "flat", "unsqueeze", "minus-one"])
    new: Shape
    if target == "reversed":
        new = shape[::-1]
    elif target == "flat":
        new = (int(np.prod(shape, dtype=np.int64)),)
    elif target == "unsqueeze":
        new = (1, *shape)
    else:
        new = (-1, *shape[1:]) if shape else (-1,)
    return Case((shape,), {"shape": new})


def transpose_case(ch: Chooser) -> Case:
    shape = ch.shape()
    axes = None if ch.flag() else tuple(ch.permutation(len(shape)))
    return Case((shape,), {"axes": axes})


def getitem_case(ch: Chooser) -> Case:
    """Basic indexing (int, slice, ellipsis, None) and integer-array / boolean indexing,
    including repeated indices, whose gradients must accumulate."""
    shape = ch.shape(1, 3)
    n = shape[0]
    kinds = ["int", "negative", "slice", "ellipsis", "newaxis", "repeat", "mask"]
    if len(shape) >= 2:
        kinds.append("pair")
    kind = ch.choice(kinds)
    index: Any
    if kind == "int":
        index = ch.integer(0, n - 1)
    elif kind == "negative":
        index = -ch.integer(1, n)
    elif kind == "slice":
        start = ch.integer(0, n - 1)
        index = slice(start, ch.integer(start + 1, n), ch.integer(1, 2))
    elif kind == "ellipsis":
        index = (Ellipsis, slice(None, None, -1))
    elif kind == "newaxis":
        index = (None, slice(None))
    elif kind == "repeat":  # repeats guaranteed: more picks than rows, or an explicit pair
        count = ch.integer(1, 2 * n)
        picks = [ch.integer(-n, n - 1) for _ in range(count)]
        index = np.array([picks[0], *picks], dtype=np.int64)
    elif kind == "mask":
        index = ch.mask(shape)
    else:
        size = ch.integer(1, 4)
        index = (np.array([ch.integer(0, n - 1) for _ in range(size)], dtype=np.int64),
                 np.array([ch.integer(0, shape[1] - 1) for _ in range(size)], dtype=np.int64))
    return Case((shape,), {"index": index})


def concat_case(ch: Chooser) -> Case:
    base = ch.shape(1, 3)
    axis = ch.integer(-len(base), len(base) - 1)
    pieces = []
    for _ in range(ch.integer(1, 3)):
        piece = list(base)
        piece[axis] = ch.integer(1, 3)
        pieces.append(tuple(piece))
    return Case(tuple(pieces), {"axis": axis})


def stack_case(ch: Chooser) -> Case:
    base = ch.shape(0, 3)
    count = ch.integer(1, 3)
    return Case((base,) * count, {"axis": ch.integer(-len(base) - 1, len(base))})


def softmax_case(ch: Chooser) -> Case:
    shape = ch.shape(1, 3)
    return Case((shape,), {"axis": ch.integer(-len(shape), len(shape) - 1)})


def cross_entropy_case(ch: Chooser) -> Case:
    classes = ch.integer(1, 5)
    reduction = ch.choice(["mean", "sum", "none"])
    if ch.integer(0, 3) == 0:  # one example: logits (C,), an int target
        return Case(((classes,),), {"target": ch.integer(0, classes - 1),
                                    "reduction": reduction})
    n = ch.integer(1, 4)
    target = np.array([ch.integer(0, classes - 1) for _ in range(n)], dtype=np.int64)
    return Case(((n, classes),), {"target": target, "reduction": reduction})


def mse_case(ch: Chooser) -> Case:
    shape = ch.shape()
    return Case((shape, shape), {"reduction": ch.choice(["mean", "sum", "none"])})


def dropout_case(ch: Chooser) -> Case:
    # A fixed seed: every call of the built function draws the same mask, so the
    # function is deterministic and numeric differences make sense.
    return Case((ch.shape(),), {"p": ch.choice([0.0, 0.25, 0.5, 0.8]),
                                "seed": ch.integer(0, 2**16)})
