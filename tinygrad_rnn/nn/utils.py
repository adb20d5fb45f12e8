"""``nn.utils``: gradient clipping, ``clip_grad_norm_`` and ``clip_grad_value_`` (torch's
names and signatures; also importable from ``optim``)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_rnn.nn.module import Module
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.validate import number as _number

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads_of(params: Any, fn: str) -> list[Tensor]:
    """The tensors among ``params`` that have a gradient (a single tensor is allowed)."""
    if isinstance(params, Module):
        raise TypeError(f"{fn}: pass model.parameters(), not the module itself")
    if isinstance(params, Tensor):
        params = [params]
    if not isinstance(params, Iterable):
        raise TypeError(f"{fn}: params must be a tensor or an iterable of tensors, got "
                        f"{type(params).__name__}")
    out = []
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: params[{i}] is a {type(p).__name__}, not a Tensor")
        if p.grad is not None:
            out.append(p)
    return out


def clip_grad_norm_(params: Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> np.float64:
    """Rescale all gradients together so that their joint norm is at most ``max_norm``.

    The total norm treats every gradient entry of every parameter as one long vector::

        total = (Σ_p ‖g_p‖ₙⁿ)^(1/n)          (n = norm_type; for n = inf: max |g|)
        scale = max_norm / (total + 1e-6)
        g_p ← scale · g_p   for every p, if scale < 1

    The direction of the update is kept, only its length is capped: the lectures' fix for
    exploding gradients. Returns ``total``, the norm *before* clipping (log it: a spike
    means an exploding gradient). Parameters without a gradient are ignored; with none at
    all the norm is 0.0. New arrays are assigned to ``.grad`` (never modified in place).
    """
    max_norm = _number("clip_grad_norm_", "max_norm", max_norm, allow_inf=True)  # inf: measure
    if isinstance(norm_type, bool) or not isinstance(norm_type, int | float) \
            or not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be a positive number or "
                         f"float('inf'), got {norm_type!r}")
    norm_type = float(norm_type)
    tensors = _grads_of(params, "clip_grad_norm_")
    if not tensors:
        return np.float64(0.0)
    grads = [np.abs(np.asarray(p.grad, dtype=np.float64)) for p in tensors]
    if math.isinf(norm_type):
        total = max(float(g.max()) if g.size else 0.0 for g in grads)
    else:
        total = float(sum(float((g ** norm_type).sum()) for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {total}; the gradients exploded or contain NaN")
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for p in tensors:
            assert p.grad is not None
            p.grad = np.asarray(p.grad * scale, dtype=p.grad.dtype)
    return np.float64(total)  # a float, with .item() as torch's 0-d tensor has


def clip_grad_value_(params: Any, clip_value: float) -> None:
    """Clip every gradient entry to [−clip_value, clip_value] (the lectures' element-wise
    clipping, e.g. clip_value = 5 or 10): g ← min(max(g, −c), c). New arrays are assigned."""
    c = _number("clip_grad_value_", "clip_value", clip_value)
    for p in _grads_of(params, "clip_grad_value_"):
        assert p.grad is not None
        p.grad = np.asarray(np.clip(p.grad, -c, c), dtype=p.grad.dtype)
