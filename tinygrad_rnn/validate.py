"""Checks of user-given numbers, shared by the optimizers, schedulers, clipping and layers.

Each returns the value normalised (a float, an int) or raises an error that names the
owner (``"Adam"``, ``"nn.Linear"``), the argument and the value.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np


def number(owner: str, name: str, value: Any, low: float = 0.0,
           high: float = math.inf, high_open: bool = False, allow_inf: bool = False) -> float:
    """``value`` as a float in [low, high] (or [low, high)), else a clear error; +inf only
    if ``allow_inf``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} "
                        f"{value!r}")
    v = float(value)
    if allow_inf and v == math.inf:
        return v
    too_high = v >= high if high_open else v > high
    if not math.isfinite(v) or v < low or too_high:
        bracket = ")" if high_open else "]"
        upper = f"{high}{bracket}" if math.isfinite(high) else "∞)"
        raise ValueError(f"{owner}: invalid {name} {value!r}; it must be a finite number in "
                         f"[{low}, {upper}")
    return v


def nonnegative(owner: str, name: str, value: Any) -> float:
    """A number in [0, ∞) (a learning rate, eps, a weight decay)."""
    return number(owner, name, value)


def below_one(owner: str, name: str, value: Any) -> float:
    """A decay rate in [0, 1) (momentum of an average: beta, alpha)."""
    return number(owner, name, value, high=1.0, high_open=True)


def betas(owner: str, name: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, tuple | list | np.ndarray) or len(value) != 2:
        raise ValueError(f"{owner}: {name} must be a pair (beta1, beta2), got {value!r}")
    return (below_one(owner, f"{name}[0]", value[0]), below_one(owner, f"{name}[1]", value[1]))


def flag(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def size(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    """A layer's size argument (``in_features``, ``hidden_size``, ``num_layers``, ...) as an
    int >= ``minimum``: ``nn.Linear(2.5, 3)`` and ``nn.Linear(-1, 3)`` are refused."""
    if isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an int, got the bool {value!r}")
    try:
        n = operator.index(value)  # ints and NumPy integers; not 2.5, not 2.0
    except TypeError:
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} "
                        f"{value!r}") from None
    if n < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {n}")
    return n
