"""Op-table rows for the composite Tensor methods of ``tensor_methods.py`` (``x.clamp``,
``x.norm``, ``x.gather``, ...): each with a plain NumPy reference, input domains that keep
away from its kinks, and a case generator -- so the property tests and the ``gradcheck``
command check them exactly like the rows of ``optable.py``, which appends these."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_rnn.optable_cases import Chooser, draw_axis
from tinygrad_rnn.optable_types import (
    AWAY_FROM_KINK,
    DISTINCT,
    REAL,
    Case,
    Domain,
    OpSpec,
    Reference,
    doc_math,
)
from tinygrad_rnn.tensor import Tensor

AWAY_FROM_BOUNDS = Domain("away from ±1", avoid=(-1.0, 1.0), margin=0.01)  # clamp's kinks
DISTINCT_POSITIVE = Domain("distinct positive", low=0.2, high=3.0, distinct=True)  # norm inf


def _method(name: str, build: Callable[..., Tensor], reference: Reference,
            domains: tuple[Domain, ...], cases: Callable[[Chooser], Case]) -> OpSpec:
    return OpSpec(f"x.{name}", "composite", doc_math(getattr(Tensor, name)), build, reference,
                  domains, cases)


# ---- case generators ----------------------------------------------------------------------


def _clamp(ch: Chooser) -> Case:
    bounds = ch.choice([(-1.0, 1.0), (-1.0, None), (None, 1.0)])
    return Case((ch.shape(),), {"min": bounds[0], "max": bounds[1]})


def _norm(ch: Chooser) -> Case:
    shape = ch.shape(1, 3)
    p = ch.choice([2, 1, 3, math.inf])
    domains = (DISTINCT_POSITIVE,) if p == math.inf else (AWAY_FROM_KINK,)
    return Case((shape,), {"p": p, "dim": draw_axis(ch, len(shape)), "keepdim": ch.flag()},
                domains)


def _var(ch: Chooser) -> Case:
    """Every axis of length >= 2, with distinct values (the DISTINCT domain): equal values
    have variance 0, where √ has no derivative (std's gradient is NaN there, in torch too)."""
    shape = tuple(max(n, 2) for n in ch.shape(1, 3))
    return Case((shape,), {"dim": draw_axis(ch, len(shape)), "correction": ch.choice([0, 1]),
                           "keepdim": ch.flag()})


def _dim_case(ch: Chooser) -> Case:
    shape = ch.shape(1, 3)
    return Case((shape,), {"dim": ch.integer(-len(shape), len(shape) - 1),
                           "keepdim": ch.flag()})


def _masked_fill(ch: Chooser) -> Case:
    shape = ch.shape()
    return Case((shape,), {"mask": ch.mask(shape), "value": 0.5})


def _gather(ch: Chooser) -> Case:
    shape = ch.shape(1, 3)
    dim = ch.integer(0, len(shape) - 1)
    index_shape = tuple(ch.integer(1, 4) if a == dim else ch.integer(1, n)
                        for a, n in enumerate(shape))
    index = np.array([ch.integer(0, shape[dim] - 1)
                      for _ in range(int(np.prod(index_shape)))], dtype=np.int64)
    return Case((shape,), {"dim": dim, "index": index.reshape(index_shape)})


def _expand(ch: Chooser) -> Case:
    shape = tuple(1 if ch.flag() else n for n in ch.shape(0, 2))
    lead = tuple(ch.integer(1, 3) for _ in range(ch.integer(0, 1)))
    target = lead + tuple(ch.integer(1, 3) if n == 1 else n for n in shape)
    return Case((shape,), {"sizes": target})


def _repeat(ch: Chooser) -> Case:
    shape = ch.shape(0, 2)
    sizes = tuple(ch.integer(1, 3) for _ in range(len(shape) + ch.integer(0, 1)))
    return Case((shape,), {"sizes": sizes})


# ---- NumPy references -----------------------------------------------------------------------


def _np_norm(x: np.ndarray, p: float, dim: Any, keepdim: bool) -> np.ndarray:
    if p == math.inf:
        return np.asarray(np.abs(x).max(axis=dim, keepdims=keepdim))
    return np.asarray((np.abs(x) ** p).sum(axis=dim, keepdims=keepdim) ** (1.0 / p))


def _np_extreme(pick: Callable[..., Any]) -> Reference:
    return lambda x, dim, keepdim: np.asarray(pick(x, axis=dim, keepdims=keepdim))


def _np_gather(x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    grid: list[np.ndarray] = list(np.indices(index.shape, sparse=True))
    grid[dim] = index
    return x[tuple(grid)]  # type: ignore[no-any-return]


ROWS: tuple[OpSpec, ...] = (
    _method("clamp", lambda x, min, max: x.clamp(min, max),
            lambda x, min, max: np.clip(x, -np.inf if min is None else min,
                                        np.inf if max is None else max),
            (AWAY_FROM_BOUNDS,), _clamp),
    _method("norm", lambda x, p, dim, keepdim: x.norm(p, dim, keepdim), _np_norm,
            (AWAY_FROM_KINK,), _norm),
    _method("var", lambda x, dim, correction, keepdim: x.var(dim, keepdim=keepdim,
                                                             correction=correction),
            lambda x, dim, correction, keepdim: np.asarray(np.var(x, axis=dim, ddof=correction,
                                                                  keepdims=keepdim)),
            (DISTINCT,), _var),
    _method("std", lambda x, dim, correction, keepdim: x.std(dim, keepdim=keepdim,
                                                             correction=correction),
            lambda x, dim, correction, keepdim: np.asarray(np.std(x, axis=dim, ddof=correction,
                                                                  keepdims=keepdim)),
            (DISTINCT,), _var),
    _method("max", lambda x, dim, keepdim: x.max(dim, keepdim).values, _np_extreme(np.max),
            (DISTINCT,), _dim_case),
    _method("min", lambda x, dim, keepdim: x.min(dim, keepdim).values, _np_extreme(np.min),
            (DISTINCT,), _dim_case),
    _method("masked_fill", lambda x, mask, value: x.masked_fill(mask, value),
            lambda x, mask, value: np.where(mask, value, x), (REAL,), _masked_fill),
    _method("gather", lambda x, dim, index: x.gather(dim, index), _np_gather, (REAL,),
            _gather),
    _method("expand", lambda x, sizes: x.expand(*sizes),
            lambda x, sizes: np.broadcast_to(x, sizes).copy(), (REAL,), _expand),
    _method("repeat", lambda x, sizes: x.repeat(*sizes), lambda x, sizes: np.tile(x, sizes),
            (REAL,), _repeat),
)
