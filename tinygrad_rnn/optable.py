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

This module lists the rows; what a row is made of (``Domain``, ``Case``, ``OpSpec``) is in
``optable_types.py``, how the cases are drawn (``Chooser``, ``RandomChooser``, the case
generators) in ``optable_cases.py``. Every name is importable from here as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F
from tinygrad_rnn import ops
from tinygrad_rnn.optable_cases import (
    MATMUL_KINDS,
    Chooser,
    RandomChooser,
    concat_case,
    cross_entropy_case,
    dropout_case,
    getitem_case,
    linear_case,
    matmul_case,
    mse_case,
    one_shape,
    pow_case,
    reduction_case,
    reshape_case,
    softmax_case,
    stack_case,
    three_broadcast,
    transpose_case,
    two_broadcast,
)
from tinygrad_rnn.optable_methods import ROWS as METHOD_ROWS
from tinygrad_rnn.optable_types import (
    AWAY_FROM_KINK,
    CONDITION,
    DISTINCT,
    NONZERO,
    POSITIVE,
    REAL,
    Case,
    Domain,
    OpSpec,
    Reference,
    Shape,
    doc_math,
)
from tinygrad_rnn.tensor import Tensor

# the names this module has always offered, wherever they are defined now
__all__ = ["AWAY_FROM_KINK", "CONDITION", "DISTINCT", "MATMUL_KINDS", "NONZERO",
           "NOT_DIFFERENTIABLE", "POSITIVE", "REAL", "TABLE", "Case", "Chooser", "Domain",
           "OpSpec", "RandomChooser", "Reference", "Shape", "names", "select"]


# ---- building rows ------------------------------------------------------------------------


def _primitive(cls: type, build: Callable[..., Tensor], reference: Reference,
               domains: tuple[Domain, ...], cases: Callable[[Chooser], Case]) -> OpSpec:
    return OpSpec(cls.__name__, "primitive", doc_math(cls), build, reference, domains, cases,
                  op_class=cls)


def _composite(fn: Callable[..., Any], build: Callable[..., Tensor],
               reference: Reference | None, domains: tuple[Domain, ...],
               cases: Callable[[Chooser], Case], primitive: type | None = None) -> OpSpec:
    math = doc_math(fn)
    if not math and primitive is not None:  # a thin wrapper: its math is the primitive's
        math = f"= {primitive.__name__}: {doc_math(primitive)}"
    return OpSpec(f"F.{fn.__name__}", "composite", math, build, reference, domains, cases)


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
    _primitive(ops.Add, lambda a, b: a + b, np.add, R2, two_broadcast),
    _primitive(ops.Sub, lambda a, b: a - b, np.subtract, R2, two_broadcast),
    _primitive(ops.Mul, lambda a, b: a * b, np.multiply, R2, two_broadcast),
    _primitive(ops.Div, lambda a, b: a / b, np.divide, (REAL, NONZERO), two_broadcast),
    _primitive(ops.Where, lambda c, a, b: tg.where(c > 0, a, b),
               lambda c, a, b: np.where(c > 0, a, b), (CONDITION, REAL, REAL),
               three_broadcast),
    # elementwise unary
    _primitive(ops.Neg, lambda x: -x, np.negative, R1, one_shape),
    _primitive(ops.Pow, lambda x, exponent: x ** exponent,
               lambda x, exponent: np.power(x, exponent), (POSITIVE,), pow_case),
    _primitive(ops.Exp, lambda x: x.exp(), np.exp, R1, one_shape),
    _primitive(ops.Log, lambda x: x.log(), np.log, (POSITIVE,), one_shape),
    _primitive(ops.Tanh, lambda x: x.tanh(), np.tanh, R1, one_shape),
    _primitive(ops.Sigmoid, lambda x: x.sigmoid(), _np_sigmoid, R1, one_shape),
    _primitive(ops.ReLU, lambda x: x.relu(), lambda x: np.maximum(x, 0.0), (AWAY_FROM_KINK,),
               one_shape),
    # matrix product
    _primitive(ops.MatMul, lambda a, b: a @ b, np.matmul, R2, matmul_case),
    _primitive(ops.Linear, lambda x, w, b: F.linear(x, w, b), lambda x, w, b: x @ w.T + b,
               (REAL, REAL, REAL), linear_case),
    # reductions
    _primitive(ops.Sum, lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
               lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims), R1,
               reduction_case),
    _primitive(ops.Mean, lambda x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims),
               lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims), R1,
               reduction_case),
    _primitive(ops.Max, lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims),
               lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
               (DISTINCT,), reduction_case),
    # shape and indexing
    _primitive(ops.Reshape, lambda x, shape: x.reshape(shape),
               lambda x, shape: np.reshape(x, shape), R1, reshape_case),
    _primitive(ops.Transpose, _transpose_build, lambda x, axes: np.transpose(x, axes), R1,
               transpose_case),
    _primitive(ops.GetItem, lambda x, index: x[index], lambda x, index: x[index], R1,
               getitem_case),
    _primitive(ops.Concat, lambda *xs, axis: tg.concat(xs, axis=axis),
               lambda *xs, axis: np.concatenate(xs, axis=axis), R1, concat_case),
    _primitive(ops.Stack, lambda *xs, axis: tg.stack(xs, axis=axis),
               lambda *xs, axis: np.stack(xs, axis=axis), R1, stack_case),
    # added for PyTorch's Tensor methods
    _primitive(ops.Abs, lambda x: x.abs(), np.abs, (AWAY_FROM_KINK,), one_shape),
    _primitive(ops.Clone, lambda x: x.clone(), np.copy, R1, one_shape),
    # composites (functional.py)
    _composite(F.tanh, F.tanh, np.tanh, R1, one_shape, ops.Tanh),
    _composite(F.sigmoid, F.sigmoid, _np_sigmoid, R1, one_shape, ops.Sigmoid),
    _composite(F.relu, F.relu, lambda x: np.maximum(x, 0.0), (AWAY_FROM_KINK,), one_shape,
               ops.ReLU),
    _composite(F.linear, F.linear, lambda x, w, b: x @ w.T + b, (REAL, REAL, REAL),
               linear_case, ops.Linear),
    _composite(F.softmax, lambda x, axis: F.softmax(x, axis=axis),
               lambda x, axis: np.exp(_np_log_softmax(x, axis)), R1, softmax_case),
    _composite(F.log_softmax, lambda x, axis: F.log_softmax(x, axis=axis), _np_log_softmax, R1,
               softmax_case),
    _composite(F.cross_entropy,
               lambda x, target, reduction: F.cross_entropy(x, target, reduction=reduction),
               _np_cross_entropy, R1, cross_entropy_case),
    _composite(F.nll_loss,
               lambda x, target, reduction: F.nll_loss(x, target, reduction=reduction),
               _np_nll_loss, R1, cross_entropy_case),
    _composite(F.mse_loss, lambda a, b, reduction: F.mse_loss(a, b, reduction=reduction),
               lambda a, b, reduction: _np_reduce((a - b) ** 2, reduction), R2, mse_case),
    _composite(F.dropout, lambda x, p, seed: F.dropout(x, p, training=True, rng=seed), None,
               R1, dropout_case),
)

# the composite Tensor methods (x.clamp, x.norm, ...): their rows are in optable_methods.py
TABLE += METHOD_ROWS

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
