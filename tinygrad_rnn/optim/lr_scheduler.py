"""Learning-rate schedulers: StepLR, ExponentialLR, CosineAnnealingLR (torch's formulas).

A scheduler changes ``group["lr"]`` of every parameter group of its optimizer; call
``scheduler.step()`` once per epoch, after ``opt.step()``::

    >>> import tinygrad_rnn as tg
    >>> w = tg.nn.Parameter([1.0])
    >>> opt = tg.optim.SGD([w], lr=0.1)
    >>> sched = tg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> for epoch in range(5):
    ...     opt.step()                       # (no gradient here: a no-op)
    ...     sched.step()
    >>> [round(lr, 6) for lr in sched.get_last_lr()]
    [0.025]

As in torch, each ``get_lr`` is *chainable*: it computes the next rate from the current
``group["lr"]`` (so a rate you set by hand is the new starting point), and ``base_lrs``
are the groups' ``"initial_lr"``, stored in the groups at construction.
"""

from __future__ import annotations

import math
from typing import Any

from tinygrad_rnn.optim.optimizer import Optimizer
from tinygrad_rnn.validate import number

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "StepLR"]


class LRScheduler:
    """Base class: ``step()`` advances ``last_epoch`` and sets each group's lr to
    ``get_lr()``; ``get_last_lr()`` returns the rates it set last.

    Args:
        optimizer: the optimizer whose ``param_groups`` it drives.
        last_epoch: -1 (default) to start; a later epoch when resuming (the groups must
            then hold ``"initial_lr"``, as saved with the optimizer).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        kind = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{kind}: expects an optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{kind}: last_epoch must be an int >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{kind}: param_groups[{i}] has no 'initial_lr'; resuming with "
                               f"last_epoch={last_epoch} needs the groups of the optimizer the "
                               f"schedule started with")
        self.base_lrs: list[float] = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._last_lr: list[float] = []
        self.step()

    def get_lr(self) -> list[float]:
        """The rates for ``last_epoch`` (subclasses)."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set every group's learning rate."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr  # checked by the group: a schedule cannot produce NaN or < 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()`` (one per group)."""
        return list(self._last_lr)

    def _initial(self) -> bool:
        return self._step_count == 1 and self.last_epoch == 0

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer (as torch)."""
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict()`` returned (checked: same keys and group count)."""
        kind = type(self).__name__
        own = self.state_dict()
        if set(state) != set(own):
            raise KeyError(f"{kind}.load_state_dict: expected keys {sorted(own)}, got "
                           f"{sorted(state)}")
        if len(state["base_lrs"]) != len(self.base_lrs):
            raise ValueError(f"{kind}.load_state_dict: {len(state['base_lrs'])} base_lrs for "
                             f"an optimizer with {len(self.base_lrs)} parameter groups")
        self.__dict__.update({k: (list(v) if isinstance(v, list) else v)
                              for k, v in state.items()})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs:
    lr = base_lr · gamma^⌊epoch / step_size⌋."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size = step_size
        self.gamma = number("StepLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        if self._initial() or self.last_epoch % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch: lr = base_lr · gamma^epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = number("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [g["lr"] for g in self.optimizer.param_groups]
        return lrs if self._initial() else [lr * self.gamma for lr in lrs]


class CosineAnnealingLR(LRScheduler):
    """Follow half a cosine from base_lr down to ``eta_min`` over ``T_max`` epochs:

        lr = eta_min + (base_lr − eta_min) · (1 + cos(π · epoch / T_max)) / 2

    computed, as torch does, by the equivalent recursive form from the current rate (and
    back up again after T_max: the cosine continues, it does not restart).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1) -> None:
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = number("CosineAnnealingLR", "eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups, t, T = self.optimizer.param_groups, self.last_epoch, self.T_max  # noqa: N806
        if self._initial():
            return [g["lr"] for g in groups]
        if self._step_count == 1 and t > 0:  # resumed: the closed form
            return [self.eta_min + (base - self.eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:  # the bottom of the cosine: the ratio below is 0/0
            return [g["lr"] + (base - self.eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base, g in zip(self.base_lrs, groups, strict=True)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (g["lr"] - self.eta_min) + self.eta_min for g in groups]
