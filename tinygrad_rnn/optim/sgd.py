"""SGD with momentum, dampening, weight decay and Nesterov (torch.optim.SGD's rule)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_rnn.optim.optimizer import Optimizer
from tinygrad_rnn.validate import flag, nonnegative


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, weight decay and Nesterov.

    For each parameter θ with gradient g (torch.optim.SGD's rule; μ = momentum,
    τ = dampening, λ = weight_decay, b the momentum buffer)::

        g ← g + λ·θ                              (if λ ≠ 0: L2 regularisation)
        b ← g                                    (first step)
        b ← μ·b + (1 − τ)·g                      (later steps, if μ ≠ 0)
        g ← g + μ·b  if nesterov  else  g ← b    (if μ ≠ 0)
        θ ← θ − lr·g

    With μ = λ = 0 this is the lectures' W_new = W − α·∂E/∂W.
    State per parameter: ``momentum_buffer`` (only when μ ≠ 0).
    """

    checks = {"lr": nonnegative, "momentum": nonnegative,  # noqa: RUF012
              "dampening": nonnegative, "weight_decay": nonnegative, "nesterov": flag}
    state_names = ("momentum_buffer",)

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    def _check_group(self, group: Mapping[str, Any]) -> None:
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        return self.state_names if group["momentum"] != 0 else ()

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray],
                group: Mapping[str, Any]) -> np.ndarray:
        momentum, dampening = group["momentum"], group["dampening"]
        g = grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            state["momentum_buffer"] = np.asarray(buf)
            g = g + momentum * buf if group["nesterov"] else buf
        return param - group["lr"] * g
