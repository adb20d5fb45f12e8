"""What one row of the op table is made of (``tinygrad_rnn.optable`` holds the rows).

    Domain   where the values of one input come from (any real, positives, away from a
             kink, distinct values, a constant condition)
    Case     one test case: the input shapes, the op's options, maybe its own domains
    OpSpec   one row: name, math, build, NumPy reference, domains, case generator

``optable_cases.py`` draws the ``Case`` objects; ``optable.py`` and ``optable_methods.py``
list the rows.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_rnn.tensor import Tensor

if TYPE_CHECKING:  # only for annotations: optable_cases imports this module
    from tinygrad_rnn.optable_cases import Chooser

Shape = tuple[int, ...]
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


# ---- test cases and rows -----------------------------------------------------------------


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


@dataclass(frozen=True)
class OpSpec:
    """One row of the op table (its fields are described in ``optable.py``)."""

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


def doc_math(obj: Any) -> str:
    """The first paragraph of a docstring, on one line."""
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())
