"""Adagrad (torch.optim.Adagrad's rule) -- the optimizer of Karpathy's min-char-rnn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_rnn.optim.optimizer import Optimizer
from tinygrad_rnn.validate import nonnegative


class Adagrad(Optimizer):
    """Scale each entry's step by the root of the sum of all its squared gradients so far.

    For each parameter θ with gradient g at its t-th update (λ = weight_decay)::

        g ← g + λ·θ                                  (if λ ≠ 0)
        η ← lr / (1 + (t − 1)·lr_decay)
        s ← s + g²                                   (s₀ = initial_accumulator_value)
        θ ← θ − η·g / (√s + ε)

    Defaults as torch: lr = 0.01, eps = 1e-10. State per parameter: ``step`` (t),
    ``sum`` (s; created at the first update).
    """

    checks = {"lr": nonnegative, "lr_decay": nonnegative,  # noqa: RUF012
              "weight_decay": nonnegative, "initial_accumulator_value": nonnegative,
              "eps": nonnegative}
    state_names = ("step", "sum")
    nonnegative_state = ("sum",)

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps})

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray],
                group: Mapping[str, Any]) -> np.ndarray:
        g = grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        t = self._step_count(state)
        state["step"] = np.asarray(t, dtype=np.int64)
        s = state.get("sum")
        if s is None:
            s = np.full_like(param, group["initial_accumulator_value"])
        s = s + g * g
        state["sum"] = np.asarray(s)
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        return param - clr * (g / (np.sqrt(s) + group["eps"]))  # type: ignore[no-any-return]
