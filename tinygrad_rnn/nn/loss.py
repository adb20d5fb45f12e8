"""Loss modules: ``CrossEntropyLoss``, ``NLLLoss``, ``MSELoss`` -- ``functional``'s losses
as modules, as torch spells them: ``criterion = nn.CrossEntropyLoss(); loss =
criterion(logits, target)``."""

from __future__ import annotations

from typing import Any

from tinygrad_rnn import functional as F
from tinygrad_rnn.nn.module import Module
from tinygrad_rnn.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, "
                             f"got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """``F.cross_entropy(input, target, reduction)``: input (N, C) logits, target (N,)
    class indices. (torch's ``weight``, ``ignore_index`` and ``label_smoothing`` are not
    implemented.)"""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(input, target, reduction=self.reduction)


class NLLLoss(_Loss):
    """``F.nll_loss(input, target, reduction)``: input (N, C) log-probabilities."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.nll_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """``F.mse_loss(input, target, reduction)``: mean of (input − target)²."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)
