"""``t += x``, ``t -= x``, ``t *= x``, ``t /= x`` on a Tensor -- as in PyTorch where it matters.

The graph has no in-place ops. Without these methods Python would run ``t = t - x``
instead, which is right for ``loss += term`` but silently wrong for torch's hand-written
update ``with no_grad(): for p in model.parameters(): p -= lr * p.grad``: the loop
variable is rebound to a new tensor and the parameter never changes. So:

* inside ``no_grad()`` the tensor's value is updated (``t.data`` becomes the result, in
  ``t``'s dtype and shape) and ``t`` itself is returned -- the parameter update works;
* while the graph is recorded, a leaf that requires grad (a parameter) is refused, as
  torch refuses it: the update belongs inside ``no_grad()`` (or use an optimizer);
* any other tensor gets the new tensor ``t op x``, recorded as usual (``loss += term``).
  Unlike torch, other names for the old tensor keep the old value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_rnn.context import STATE

if TYPE_CHECKING:
    from tinygrad_rnn.tensor import Tensor


def _inplace(symbol: str, ufunc: np.ufunc, method: str) -> Callable[[Tensor, Any], Tensor]:
    def update(self: Tensor, other: Any) -> Tensor:
        if STATE.grad_enabled:
            if self.requires_grad and self.grad_fn is None:
                raise RuntimeError(
                    f"{symbol}: this tensor (shape {self.shape}) is a leaf that requires grad "
                    f"(a parameter) and cannot be changed in place while the graph is "
                    f"recorded; update it inside `with tg.no_grad():` (p {symbol} ...) or "
                    f"with an optimizer (optim.SGD)")
            return getattr(self, method)(other)  # a new tensor, recorded as usual
        # (_value refuses a value the lean graph freed)
        value = other._value(symbol) if hasattr(other, "_value") else other
        result = ufunc(self._value(symbol), value)
        if np.shape(result) != self.shape:
            raise ValueError(f"{symbol}: the result has shape {np.shape(result)}, but an "
                             f"in-place update must keep the tensor's shape {self.shape}")
        # a new array: the graph keeps the values it was recorded with
        self.data = np.asarray(result, dtype=self.data.dtype)
        return self

    update.__name__ = f"__i{method.strip('_')}__"
    update.__doc__ = (f"``t {symbol} x``: inside ``no_grad()`` update t's value; a parameter "
                      f"is refused while the graph is recorded; otherwise ``t {symbol[0]} x``.")
    return update


iadd = _inplace("+=", np.add, "__add__")
isub = _inplace("-=", np.subtract, "__sub__")
imul = _inplace("*=", np.multiply, "__mul__")
itruediv = _inplace("/=", np.true_divide, "__truediv__")
