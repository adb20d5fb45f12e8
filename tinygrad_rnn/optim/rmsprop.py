"""RMSprop (torch.optim.RMSprop's rule: Hinton's lecture 6e, with optional centering)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_rnn.optim.optimizer import Optimizer
from tinygrad_rnn.validate import flag, nonnegative


class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square of recent gradients.

    For each parameter θ with gradient g (α = alpha, μ = momentum, λ = weight_decay)::

        g ← g + λ·θ                                 (if λ ≠ 0)
        v ← α·v + (1 − α)·g²                        (v₀ = 0)
        ḡ ← α·ḡ + (1 − α)·g                         (only if centered; ḡ₀ = 0)
        d ← √(v − ḡ²) + ε   if centered  else  √v + ε
        b ← μ·b + g/d;  θ ← θ − lr·b                 (if μ > 0; b₀ = 0)
        θ ← θ − lr·g/d                               (if μ = 0)

    Defaults as torch: lr = 0.01, alpha = 0.99, eps = 1e-8.
    State per parameter: ``step``, ``square_avg`` (v), ``momentum_buffer`` (b, if μ > 0),
    ``grad_avg`` (ḡ, if centered).
    """

    checks = {"lr": nonnegative, "alpha": nonnegative, "eps": nonnegative,  # noqa: RUF012
              "weight_decay": nonnegative, "momentum": nonnegative, "centered": flag}
    state_names = ("step", "square_avg", "momentum_buffer", "grad_avg")
    nonnegative_state = ("square_avg",)

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": centered})

    def _state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        return ("step", "square_avg") + (("momentum_buffer",) if group["momentum"] > 0 else ()) \
            + (("grad_avg",) if group["centered"] else ())

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray],
                group: Mapping[str, Any]) -> np.ndarray:
        alpha, eps, momentum = group["alpha"], group["eps"], group["momentum"]
        g = grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        state["step"] = np.asarray(self._step_count(state), dtype=np.int64)
        v = alpha * state.get("square_avg", np.zeros_like(param)) + (1 - alpha) * (g * g)
        state["square_avg"] = np.asarray(v)
        if group["centered"]:
            avg = alpha * state.get("grad_avg", np.zeros_like(param)) + (1 - alpha) * g
            state["grad_avg"] = np.asarray(avg)
            denom = np.sqrt(v - avg * avg) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum > 0:
            buf = momentum * state.get("momentum_buffer", np.zeros_like(param)) + g / denom
            state["momentum_buffer"] = np.asarray(buf)
            return param - group["lr"] * buf  # type: ignore[no-any-return]
        return param - group["lr"] * (g / denom)  # type: ignore[no-any-return]
