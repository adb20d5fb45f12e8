"""Adam and AdamW (torch.optim's rules, equation for equation)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_rnn.optim.optimizer import Optimizer
from tinygrad_rnn.validate import betas, nonnegative


def _adam_step(param: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray],
               group: Mapping[str, Any], step: int) -> np.ndarray:
    """The Adam update of ``param`` with gradient ``g`` at update ``step``; updates
    ``state`` (``step``, ``exp_avg``, ``exp_avg_sq``) with new arrays."""
    beta1, beta2 = group["betas"]
    m = state.get("exp_avg", np.zeros_like(param))
    v = state.get("exp_avg_sq", np.zeros_like(param))
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * (g * g)
    state["step"] = np.asarray(step, dtype=np.int64)
    state["exp_avg"], state["exp_avg_sq"] = np.asarray(m), np.asarray(v)
    step_size = group["lr"] / (1 - beta1 ** step)
    denom = np.sqrt(v) / math.sqrt(1 - beta2 ** step) + group["eps"]
    return param - step_size * (m / denom)  # type: ignore[no-any-return]


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with torch.optim.Adam's exact rule.

    For each parameter θ with gradient g, at its t-th update (t = 1, 2, ...)::

        g ← g + λ·θ                              (if λ ≠ 0: L2 penalty, not AdamW)
        m ← β1·m + (1 − β1)·g                    (first moment, m₀ = 0)
        v ← β2·v + (1 − β2)·g²                   (second moment, v₀ = 0)
        θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)

    The bias corrections 1/(1 − βᵗ) undo the pull of m₀ = v₀ = 0 towards zero in the first
    steps. Note ε is added *after* dividing √v by √(1 − β2ᵗ), as torch does.
    State per parameter: ``step`` (t, an integer), ``exp_avg`` (m), ``exp_avg_sq`` (v).
    """

    checks = {"lr": nonnegative, "betas": betas, "eps": nonnegative,  # noqa: RUF012
              "weight_decay": nonnegative}
    state_names = ("step", "exp_avg", "exp_avg_sq")
    nonnegative_state = ("exp_avg_sq",)

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray],
                group: Mapping[str, Any]) -> np.ndarray:
        g = grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * param
        return _adam_step(param, g, state, group, self._step_count(state))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), torch.optim.AdamW's rule.

    The decay shrinks θ directly instead of being added to the gradient (so the adaptive
    scaling does not weaken it)::

        θ ← θ·(1 − lr·λ)
        then Adam's update with the plain gradient g (no λ·θ term)

    Defaults as torch: lr = 1e-3, betas = (0.9, 0.999), eps = 1e-8, weight_decay = 0.01.
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, np.ndarray],
                group: Mapping[str, Any]) -> np.ndarray:
        decayed = param * (1 - group["lr"] * group["weight_decay"])
        return _adam_step(decayed, grad, state, group, self._step_count(state))
