"""Hypothesis strategies for property tests of your own ops, cells and models.

A property test states something that must hold for *every* input ("the engine's gradient
equals numeric differences") and lets Hypothesis search for a counterexample: shapes of
every rank including 0-d and 1-d, broadcasting pairs, matrix-product shapes, and float64
values kept inside each op's safe domain (log of positives, away from relu's kink, no ties
for max). A failing case is shrunk to a small one and printed.

    >>> from hypothesis import given, settings
    >>> import tinygrad_rnn.testing as tgt
    >>> from tinygrad_rnn.gradcheck import gradcheck
    >>> @settings(max_examples=20, deadline=None)
    ... @given(tgt.tensors(tgt.shapes(max_dims=2)))
    ... def test_tanh(x):
    ...     assert gradcheck(lambda x: x.tanh(), [x])
    >>> test_tanh()

Hypothesis is an optional dependency (the ``test`` extra): ``pip install "tinygrad_rnn[test]"``.
Every ``shape`` argument below may be a tuple or a strategy of tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as e:  # keep the library importable without the test extra
    raise ImportError(
        "tinygrad_rnn.testing needs the 'hypothesis' package, which is not installed. "
        "Install the test extra: pip install 'tinygrad_rnn[test]' (or: pip install hypothesis)"
    ) from e

from tinygrad_rnn.optable import Case, Domain, OpSpec
from tinygrad_rnn.tensor import Tensor

Shape = tuple[int, ...]
ShapeArg = Shape | st.SearchStrategy[Shape]

__all__ = [
    "arrays",
    "arrays_away_from",
    "broadcastable_shapes",
    "distinct_arrays",
    "domain_arrays",
    "matmul_shapes",
    "op_examples",
    "positive_arrays",
    "shapes",
    "tensors",
]


# ---- shapes -----------------------------------------------------------------------------


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
           max_side: int = 5) -> st.SearchStrategy[Shape]:
    """Array shapes of ``min_dims``..``max_dims`` axes, each of length ``min_side``..``max_side``.

    ``min_dims=0`` includes the 0-d shape ``()`` (a scalar tensor).

        >>> from hypothesis import given
        >>> @given(shapes(max_dims=2))
        ... def test(shape):
        ...     assert len(shape) <= 2
        >>> test()
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(n: int = 2, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
                         max_side: int = 4) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of ``n`` shapes that broadcast together (NumPy rules), e.g. ``((3, 1), (4,))``.

    Shapes of different ranks, axes of length 1 and the 0-d shape all occur, so an op
    tested with these meets every case the engine's ``unbroadcast`` must undo.

        >>> from hypothesis import given
        >>> @given(broadcastable_shapes(n=2))
        ... def test(pair):
        ...     np.broadcast_shapes(*pair)      # never raises
        >>> test()
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side,
    ).map(lambda b: tuple(b.input_shapes))


_MATMUL_KINDS = ("1d@1d", "1d@2d", "2d@1d", "2d@2d", "batched@batched", "1d@batched",
                 "batched@1d")


@st.composite
def matmul_shapes(draw: st.DrawFn, max_side: int = 4,
                  max_batch_dims: int = 2) -> tuple[Shape, Shape]:
    """Pairs ``(a_shape, b_shape)`` that ``np.matmul`` accepts, covering every case:

    1-D·1-D (a dot product), 1-D·2-D, 2-D·1-D, 2-D·2-D, and batched stacks of matrices whose
    batch axes broadcast against each other (``(2, 1, 3, 4) @ (5, 4, 2)``), also against a
    1-D operand.

        >>> from hypothesis import given
        >>> @given(matmul_shapes())
        ... def test(pair):
        ...     a, b = pair
        ...     np.ones(a) @ np.ones(b)         # never raises
        >>> test()
    """
    side = st.integers(1, max_side)
    m, k, n = draw(side), draw(side), draw(side)
    kind = draw(st.sampled_from(_MATMUL_KINDS))
    batch_a: Shape = ()
    batch_b: Shape = ()
    if kind == "batched@batched":  # batch axes broadcast against each other
        batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=max_batch_dims, max_side=3)).input_shapes
    elif "batched" in kind:  # a stack of matrices times one vector (or the reverse)
        batch_a = batch_b = draw(shapes(1, max_batch_dims, max_side=3))
    left, right = kind.split("@")
    a = (k,) if left == "1d" else (*batch_a, m, k)
    b = (k,) if right == "1d" else (*batch_b, k, n)
    return a, b


# ---- arrays -----------------------------------------------------------------------------


def _floats(low: float, high: float, dtype: Any) -> st.SearchStrategy[float]:
    if np.dtype(dtype) == np.float32:
        # Hypothesis wants float32 bounds (0.2 is none): take the nearest ones inside.
        low32, high32 = np.float32(low), np.float32(high)
        if low32 < low:
            low32 = np.nextafter(low32, np.float32(np.inf))
        if high32 > high:
            high32 = np.nextafter(high32, np.float32(-np.inf))
        return st.floats(float(low32), float(high32), allow_nan=False, allow_infinity=False,
                         allow_subnormal=False, width=32)
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def arrays(shape: ShapeArg, low: float = -3.0, high: float = 3.0,
           dtype: Any = np.float64) -> st.SearchStrategy[np.ndarray]:
    """Float arrays of ``shape`` with values in [low, high] (no NaN, no infinities).

    The default float64 is what ``gradcheck`` needs.

        >>> from hypothesis import given
        >>> @given(arrays((2, 3)))
        ... def test(a):
        ...     assert a.shape == (2, 3) and a.dtype == np.float64 and np.all(abs(a) <= 3)
        >>> test()
    """
    return hnp.arrays(dtype, shape, elements=_floats(low, high, dtype))


def positive_arrays(shape: ShapeArg, low: float = 0.2, high: float = 3.0,
                    dtype: Any = np.float64) -> st.SearchStrategy[np.ndarray]:
    """Arrays with values in [low, high], low > 0: the domain of log, sqrt and a divisor.

    ``low`` stays well above 0 so that numeric differences of log(x) or 1/x, whose slopes
    grow like 1/x**2, are still accurate.

        >>> from hypothesis import given
        >>> @given(positive_arrays((4,)))
        ... def test(a):
        ...     assert np.all(a > 0)
        >>> test()
    """
    if not low > 0:
        raise ValueError(f"positive_arrays: low must be > 0, got {low}")
    return arrays(shape, low, high, dtype)


def arrays_away_from(shape: ShapeArg, points: Sequence[float] = (0.0,), margin: float = 0.01,
                     low: float = -3.0, high: float = 3.0,
                     dtype: Any = np.float64) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose values all stay at least ``margin`` away from each of ``points``.

    Use it where the function has a kink (relu at 0): a central difference straddling the
    kink measures the average of the two one-sided slopes, which is no bug of the op. The
    margin only has to exceed gradcheck's step (eps = 1e-6).

        >>> from hypothesis import given
        >>> @given(arrays_away_from((3, 3), points=(0.0,), margin=0.1))
        ... def test(a):
        ...     assert np.all(abs(a) >= 0.1)
        >>> test()
    """
    pts = tuple(float(p) for p in points)
    # Draw from the allowed intervals directly (a filter would reject most of the values
    # Hypothesis likes to try, such as 0.0); the filter only guards rounding at the ends.
    allowed, start = [], low
    for p in sorted(pts):
        end = float(np.nextafter(p - margin, -np.inf))
        if end >= start:
            allowed.append((start, min(end, high)))
        start = max(start, float(np.nextafter(p + margin, np.inf)))
    if start <= high:
        allowed.append((start, high))
    allowed = [(a, b) for a, b in allowed if a <= b]
    if not allowed:
        raise ValueError(f"arrays_away_from: no value in [{low}, {high}] is {margin} away "
                         f"from all of {pts}")
    elements = st.one_of(*(_floats(a, b, dtype) for a, b in allowed)).filter(
        lambda v: all(abs(v - p) >= margin for p in pts))
    return hnp.arrays(dtype, shape, elements=elements)


@st.composite
def distinct_arrays(draw: st.DrawFn, shape: ShapeArg, low: float = -3.0, high: float = 3.0,
                    dtype: Any = np.float64) -> np.ndarray:
    """Arrays whose values are all different, by at least (high - low) / (2 * size).

    Use them for max: with no ties, max is differentiable and its numeric differences
    are exact; ties are tested separately on constructed inputs. The values are a random
    permutation of an evenly spaced grid, shifted by a random offset.

        >>> from hypothesis import given
        >>> @given(distinct_arrays((2, 3)))
        ... def test(a):
        ...     assert len(np.unique(a)) == a.size
        >>> test()
    """
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    size = int(np.prod(shape, dtype=np.int64))
    spacing = (high - low) / max(size, 1)
    order = draw(st.permutations(range(size)))
    offset = draw(st.floats(0.0, spacing / 2, allow_subnormal=False))
    values = low + offset + spacing * np.asarray(order, dtype=np.float64)
    return values.reshape(shape).astype(dtype)


def tensors(shape: ShapeArg, requires_grad: bool = True,
            values: st.SearchStrategy[np.ndarray] | None = None,
            name: str | None = None) -> st.SearchStrategy[Tensor]:
    """Tensors of ``shape`` with values from ``arrays(shape)`` (float64), or from ``values``.

    ``values`` may be any array strategy above, to keep a tensor in an op's domain:
    ``tensors((3,), values=positive_arrays((3,)))``. The tensors keep the dtype of those
    arrays (``values=arrays(shape, dtype=np.float32)`` gives float32 tensors, e.g. to test
    a forward in float32; ``gradcheck`` needs float64); integer or boolean arrays become
    float64.

        >>> from hypothesis import given
        >>> @given(tensors(shapes(max_dims=2)))
        ... def test(x):
        ...     assert x.dtype == np.float64 and x.requires_grad
        >>> test()
    """
    source = arrays(shape) if values is None else values
    return source.map(lambda a: Tensor(_float_array(a), requires_grad=requires_grad,
                                       name=name))


def _float_array(a: Any) -> np.ndarray:
    """``a`` as an array, keeping a float dtype (float16/32/64) and making the rest float64."""
    a = np.asarray(a)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


# ---- the op table (tinygrad_rnn.optable) --------------------------------------------------


class _DrawChooser:
    """Answers ``optable.Chooser``'s questions with Hypothesis draws (so they shrink)."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def choice(self, options: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(list(options)))

    def permutation(self, n: int) -> list[int]:
        return self.draw(st.permutations(range(n)))

    def flag(self) -> bool:
        return self.draw(st.booleans())

    def mask(self, shape: Shape) -> np.ndarray:
        return self.draw(hnp.arrays(np.bool_, shape))

    def shape(self, min_dims: int = 0, max_dims: int = 3) -> Shape:
        return self.draw(shapes(min_dims, max_dims, max_side=4))

    def broadcast_shapes(self, n: int) -> tuple[Shape, ...]:
        return self.draw(broadcastable_shapes(n))

    def matmul_shapes(self) -> tuple[Shape, Shape]:
        return self.draw(matmul_shapes())


def domain_arrays(domain: Domain, shape: ShapeArg) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays from an ``optable.Domain`` (positives, away from a kink, distinct...)."""
    if domain.distinct:
        return distinct_arrays(shape, domain.low, domain.high)
    if domain.avoid:
        return arrays_away_from(shape, domain.avoid, domain.margin, domain.low, domain.high)
    return arrays(shape, domain.low, domain.high)


@st.composite
def op_examples(draw: st.DrawFn, spec: OpSpec) -> tuple[Case, list[Tensor]]:
    """One test case of a row of the op table and its float64 input tensors.

        >>> from hypothesis import given, settings
        >>> from tinygrad_rnn.optable import select
        >>> from tinygrad_rnn.gradcheck import gradcheck
        >>> (spec,) = select("MatMul")
        >>> @settings(max_examples=10, deadline=None)
        ... @given(op_examples(spec))
        ... def test_matmul(example):
        ...     case, inputs = example
        ...     assert gradcheck(spec.call(case), inputs)
        >>> test_matmul()
    """
    case = spec.cases(_DrawChooser(draw))
    inputs = []
    for domain, shape in zip(spec.domains_for(case), case.shapes, strict=True):
        values = draw(domain_arrays(domain, shape))
        inputs.append(Tensor(values, requires_grad=domain.requires_grad))
    return case, inputs
