"""The op table as data: every primitive op and every composite, ready to be checked.

One row (an ``OpSpec``) per primitive op class in ``ops.py``, per public function in
``functional.py`` and per composite Tensor method (``optable_methods.py``):

    name        "MatMul", "Sum", ... (primitives), "F.softmax", "x.clamp", ... (composites)
    math        the first paragraph of its docstring: the forward and the VJP
    build       a function building the op from tensors: ``build(*tensors, **options)``
    reference   the same computation in plain NumPy (None where no formula is deterministic)
    domains     per input, where its values must come from (``Domain``): any real number,
                positives (log), away from a kink (relu), distinct values (max), or a
                constant that is not differentiated (the condition of where)
    cases       draws one test case -- the input shapes and the options (axis, index,
                exponent, ...) -- from a ``Chooser``

The same table drives ``tests/test_ops.py`` (Hypothesis draws the cases, through
``tinygrad_rnn.testing.op_examples``) and the ``tinygrad-rnn gradcheck`` command (a seeded
NumPy generator draws them, through ``RandomChooser``), so both check exactly the same ops.
Nothing here needs Hypothesis.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F
from tinygrad_rnn import ops
from tinygrad_rnn.tensor import Tensor

Shape = tuple[int, ...]
T = TypeVar("T")
Reference = Callable[..., Any]  # NumPy arrays in, an array (or NumPy scalar) out


# ---- input domains ------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """Where the values of one input come from.

    Values are uniform in [low, high], at least ``margin`` away from each of ``avoid``,
    all different from each other if ``distinct``. ``requires_grad=False`` marks an input
    that is data, not differentiated (the condition of ``where``).
    """

    name: str
    low: float = -3.0
    high: float = 3.0
    avoid: tuple[float, ...] = ()
    margin: float = 0.0
    distinct: bool = False
    requires_grad: bool = True

    def sample(self, rng: np.random.Generator, shape: Shape) -> np.ndarray:
        """A float64 array of ``shape`` from this domain."""
        size = int(np.prod(shape, dtype=np.int64))
        if self.distinct:  # a shuffled, evenly spaced grid: no two values closer than spacing
            spacing = (self.high - self.low) / max(size, 1)
            grid = self.low + rng.uniform(0, spacing / 2) + spacing * rng.permutation(size)
            return grid.reshape(shape)
        values = rng.uniform(self.low, self.high, size=size)
        for _ in range(1000):  # redraw the few values that fell too close to a point
            bad = np.zeros(size, dtype=bool)
            for p in self.avoid:
                bad |= np.abs(values - p) < self.margin
            if not bad.any():
                break
            values[bad] = rng.uniform(self.low, self.high, size=int(bad.sum()))
        return values.reshape(shape)


REAL: Domain = Domain("real")
POSITIVE: Domain = Domain("positive", low=0.2, high=3.0)  # log, sqrt, x ** -1: slopes ~ 1/x**2
NONZERO: Domain = Domain("nonzero", avoid=(0.0,), margin=0.5)  # a divisor
AWAY_FROM_KINK: Domain = Domain("away from 0", avoid=(0.0,), margin=0.01)  # relu's kink
DISTINCT: Domain = Domain("distinct", distinct=True)  # max: no ties, so it is differentiable
CONDITION: Domain = Domain("condition (constant)", requires_grad=False)  # where(c > 0, a, b)


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


@dataclass(frozen=True)
class Case:
    """One test case of an op: the input shapes and the op's options.

    ``domains`` overrides the op's domains for this case (``x ** 2`` takes any real x,
    ``x ** 0.5`` needs positives).
    """

    shapes: tuple[Shape, ...]
    options: dict[str, Any] = field(default_factory=dict)
    domains: tuple[Domain, ...] | None = None

    def describe(self) -> str:
        """``(3, 1), (4,)  axis=1`` -- for messages."""
        text = ", ".join(str(s) for s in self.shapes)
        extra = " ".join(f"{k}={_short(v)}" for k, v in self.options.items())
        return f"{text}  {extra}" if extra else text


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.tolist()}" if value.size <= 6 else f"array(shape={value.shape})"
    if isinstance(value, tuple) and any(isinstance(v, np.ndarray) for v in value):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    return repr(value)


# ---- the table rows -----------------------------------------------------------------------


@dataclass(frozen=True)
class OpSpec:
    """One row of the op table (see the module docstring)."""

    name: str
    kind: str  # "primitive" or "composite"
    math: str
    build: Callable[..., Tensor]
    reference: Reference | None
    domains: tuple[Domain, ...]
    cases: Callable[[Chooser], Case]
    op_class: type | None = None  # the ops.py class a primitive's build must record

    def domains_for(self, case: Case) -> tuple[Domain, ...]:
        domains = case.domains or self.domains
        if len(domains) != len(case.shapes):  # variadic ops (concat, stack): one domain
            domains = tuple(domains[0] for _ in case.shapes)
        return domains

    def call(self, case: Case) -> Callable[..., Tensor]:
        """``fn(*tensors)`` for this case, as ``gradcheck`` wants it."""
        return lambda *xs: self.build(*xs, **case.options)

    def inputs(self, case: Case, rng: np.random.Generator) -> list[Tensor]:
        """Fresh float64 input tensors for ``case``, each drawn from its domain."""
        return [Tensor(d.sample(rng, s), requires_grad=d.requires_grad)
                for d, s in zip(self.domains_for(case), case.shapes, strict=True)]


def _math(obj: Any) -> str:
    """The first paragraph of a docstring, on one line."""
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _primitive(cls: type, build: Callable[..., Tensor], reference: Reference,
               domains: tuple[Domain, ...], cases: Callable[[Chooser], Case]) -> OpSpec:
    return OpSpec(cls.__name__, "primitive", _math(cls), build, reference, domains, cases,
                  op_class=cls)


def _composite(fn: Callable[..., Any], build: Callable[..., Tensor],
               reference: Reference | None, domains: tuple[Domain, ...],
               cases: Callable[[Chooser], Case], primitive: type | None = None) -> OpSpec:
    math = _math(fn)
    if not math and primitive is not None:  # a thin wrapper: its math is the primitive's
        math = f"= {primitive.__name__}: {_math(primitive)}"
    return OpSpec(f"F.{fn.__name__}", "composite", math, build, reference, domains, cases)


# ---- case generators ----------------------------------------------------------------------


def _one_shape(ch: Chooser) -> Case:
    return Case((ch.shape(),))


def _two_broadcast(ch: Chooser) -> Case:
    return Case(ch.broadcast_shapes(2))


def _three_broadcast(ch: Chooser) -> Case:
    return Case(ch.broadcast_shapes(3))


def _matmul(ch: Chooser) -> Case:
    return Case(ch.matmul_shapes())


def _linear(ch: Chooser) -> Case:
    """x (..., I) with 0-2 leading axes, W (O, I), b (O,)."""
    i, o = ch.integer(1, 4), ch.integer(1, 4)
    lead = tuple(ch.integer(1, 3) for _ in range(ch.integer(0, 2)))
    return Case(((*lead, i), (o, i), (o,)))


def _axis(ch: Chooser, ndim: int) -> int | tuple[int, ...] | None:
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


def _reduction(ch: Chooser) -> Case:
    shape = ch.shape()
    return Case((shape,), {"axis": _axis(ch, len(shape)), "keepdims": ch.flag()})


def _pow(ch: Chooser) -> Case:
    exponent = ch.choice([2.0, 3.0, 1.0, 0.5, -1.0, 1.5, -0.5])
    domains = (REAL,) if exponent in (1.0, 2.0, 3.0) else (POSITIVE,)
    return Case((ch.shape(),), {"exponent": exponent}, domains)


def _reshape(ch: Chooser) -> Case:
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


def _transpose(ch: Chooser) -> Case:
    shape = ch.shape()
    axes = None if ch.flag() else tuple(ch.permutation(len(shape)))
    return Case((shape,), {"axes": axes})


def _getitem(ch: Chooser) -> Case:
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


def _concat(ch: Chooser) -> Case:
    base = ch.shape(1, 3)
    axis = ch.integer(-len(base), len(base) - 1)
    pieces = []
    for _ in range(ch.integer(1, 3)):
        piece = list(base)
        piece[axis] = ch.integer(1, 3)
        pieces.append(tuple(piece))
    return Case(tuple(pieces), {"axis": axis})


def _stack(ch: Chooser) -> Case:
    base = ch.shape(0, 3)
    count = ch.integer(1, 3)
    return Case((base,) * count, {"axis": ch.integer(-len(base) - 1, len(base))})


def _softmax_case(ch: Chooser) -> Case:
    shape = ch.shape(1, 3)
    return Case((shape,), {"axis": ch.integer(-len(shape), len(shape) - 1)})


def _cross_entropy_case(ch: Chooser) -> Case:
    classes = ch.integer(1, 5)
    reduction = ch.choice(["mean", "sum", "none"])
    if ch.integer(0, 3) == 0:  # one example: logits (C,), an int target
        return Case(((classes,),), {"target": ch.integer(0, classes - 1),
                                    "reduction": reduction})
    n = ch.integer(1, 4)
    target = np.array([ch.integer(0, classes - 1) for _ in range(n)], dtype=np.int64)
    return Case(((n, classes),), {"target": target, "reduction": reduction})


def _mse_case(ch: Chooser) -> Case:
    shape = ch.shape()
    return Case((shape, shape), {"reduction": ch.choice(["mean", "sum", "none"])})


def _dropout_case(ch: Chooser) -> Case:
    # A fixed seed: every call of the built function draws the same mask, so the
    # function is deterministic and numeric differences make sense.
    return Case((ch.shape(),), {"p": ch.choice([0.0, 0.25, 0.5, 0.8]),
                                "seed": ch.integer(0, 2**16)})


# ---- NumPy references ---------------------------------------------------------------------


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _np_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))  # type: ignore[no-any-return]


def _np_reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return np.asarray(loss.mean())
    if reduction == "sum":
        return np.asarray(loss.sum())
    return loss


def _np_cross_entropy(x: np.ndarray, target: Any, reduction: str) -> np.ndarray:
    logits = x.reshape(1, -1) if x.ndim == 1 else x
    t = np.asarray(target).reshape(-1)
    picked = _np_log_softmax(logits, 1)[np.arange(len(t)), t]
    return _np_reduce(-picked, reduction)


def _np_nll_loss(x: np.ndarray, target: Any, reduction: str) -> np.ndarray:
    scores = x.reshape(1, -1) if x.ndim == 1 else x
    t = np.asarray(target).reshape(-1)
    return _np_reduce(-scores[np.arange(len(t)), t], reduction)


def _transpose_build(x: Tensor, axes: tuple[int, ...] | None) -> Tensor:
    return x.T if axes is None else x.permute(*axes)


# ---- the table ----------------------------------------------------------------------------

R1 = (REAL,)
R2 = (REAL, REAL)

TABLE: tuple[OpSpec, ...] = (
    # elementwise binary (inputs broadcast)
    _primitive(ops.Add, lambda a, b: a + b, np.add, R2, _two_broadcast),
    _primitive(ops.Sub, lambda a, b: a - b, np.subtract, R2, _two_broadcast),
    _primitive(ops.Mul, lambda a, b: a * b, np.multiply, R2, _two_broadcast),
    _primitive(ops.Div, lambda a, b: a / b, np.divide, (REAL, NONZERO), _two_broadcast),
    _primitive(ops.Where, lambda c, a, b: tg.where(c > 0, a, b),
               lambda c, a, b: np.where(c > 0, a, b), (CONDITION, REAL, REAL),
               _three_broadcast),
    # elementwise unary
    _primitive(ops.Neg, lambda x: -x, np.negative, R1, _one_shape),
    _primitive(ops.Pow, lambda x, exponent: x ** exponent,
               lambda x, exponent: np.power(x, exponent), (POSITIVE,), _pow),
    _primitive(ops.Exp, lambda x: x.exp(), np.exp, R1, _one_shape),
    _primitive(ops.Log, lambda x: x.log(), np.log, (POSITIVE,), _one_shape),
    _primitive(ops.Tanh, lambda x: x.tanh(), np.tanh, R1, _one_shape),
    _primitive(ops.Sigmoid, lambda x: x.sigmoid(), _np_sigmoid, R1, _one_shape),
    _primitive(ops.ReLU, lambda x: x.relu(), lambda x: np.maximum(x, 0.0), (AWAY_FROM_KINK,),
               _one_shape),
    # matrix product
    _primitive(ops.MatMul, lambda a, b: a @ b, np.matmul, R2, _matmul),
    _primitive(ops.Linear, lambda x, w, b: F.linear(x, w, b), lambda x, w, b: x @ w.T + b,
               (REAL, REAL, REAL), _linear),
    # reductions
    _primitive(ops.Sum, lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
               lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims), R1,
               _reduction),
    _primitive(ops.Mean, lambda x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims),
               lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims), R1,
               _reduction),
    _primitive(ops.Max, lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims),
               lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
               (DISTINCT,), _reduction),
    # shape and indexing
    _primitive(ops.Reshape, lambda x, shape: x.reshape(shape),
               lambda x, shape: np.reshape(x, shape), R1, _reshape),
    _primitive(ops.Transpose, _transpose_build, lambda x, axes: np.transpose(x, axes), R1,
               _transpose),
    _primitive(ops.GetItem, lambda x, index: x[index], lambda x, index: x[index], R1,
               _getitem),
    _primitive(ops.Concat, lambda *xs, axis: tg.concat(xs, axis=axis),
               lambda *xs, axis: np.concatenate(xs, axis=axis), R1, _concat),
    _primitive(ops.Stack, lambda *xs, axis: tg.stack(xs, axis=axis),
               lambda *xs, axis: np.stack(xs, axis=axis), R1, _stack),
    # added for PyTorch's Tensor methods
    _primitive(ops.Abs, lambda x: x.abs(), np.abs, (AWAY_FROM_KINK,), _one_shape),
    _primitive(ops.Clone, lambda x: x.clone(), np.copy, R1, _one_shape),
    # composites (functional.py)
    _composite(F.tanh, F.tanh, np.tanh, R1, _one_shape, ops.Tanh),
    _composite(F.sigmoid, F.sigmoid, _np_sigmoid, R1, _one_shape, ops.Sigmoid),
    _composite(F.relu, F.relu, lambda x: np.maximum(x, 0.0), (AWAY_FROM_KINK,), _one_shape,
               ops.ReLU),
    _composite(F.linear, F.linear, lambda x, w, b: x @ w.T + b, (REAL, REAL, REAL), _linear,
               ops.Linear),
    _composite(F.softmax, lambda x, axis: F.softmax(x, axis=axis),
               lambda x, axis: np.exp(_np_log_softmax(x, axis)), R1, _softmax_case),
    _composite(F.log_softmax, lambda x, axis: F.log_softmax(x, axis=axis), _np_log_softmax, R1,
               _softmax_case),
    _composite(F.cross_entropy,
               lambda x, target, reduction: F.cross_entropy(x, target, reduction=reduction),
               _np_cross_entropy, R1, _cross_entropy_case),
    _composite(F.nll_loss,
               lambda x, target, reduction: F.nll_loss(x, target, reduction=reduction),
               _np_nll_loss, R1, _cross_entropy_case),
    _composite(F.mse_loss, lambda a, b, reduction: F.mse_loss(a, b, reduction=reduction),
               lambda a, b, reduction: _np_reduce((a - b) ** 2, reduction), R2, _mse_case),
    _composite(F.dropout, lambda x, p, seed: F.dropout(x, p, training=True, rng=seed), None,
               R1, _dropout_case),
)


# The composite Tensor methods (x.clamp, x.norm, ...) have their rows in optable_methods.py,
# which builds them with the helpers above (so it is imported here, at the end).
from tinygrad_rnn.optable_methods import ROWS as _METHOD_ROWS  # noqa: E402

TABLE += _METHOD_ROWS

# Public functions of functional.py with no row: not differentiable (integer output).
NOT_DIFFERENTIABLE = ("one_hot",)


def names() -> list[str]:
    return [spec.name for spec in TABLE]


def select(pattern: str | None = None) -> list[OpSpec]:
    """The rows whose name matches ``pattern`` case-insensitively; without an ``F.`` prefix
    composites match too (``"tanh"`` selects ``Tanh`` and ``F.tanh``, ``"F.tanh"`` only the
    composite). All rows for None."""
    if pattern is None:
        return list(TABLE)
    key = pattern.lower()
    if key.startswith("f."):
        return [s for s in TABLE if s.name.lower() == key]
    return [s for s in TABLE if s.name.lower().removeprefix("f.") == key]
