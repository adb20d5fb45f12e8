"""Numeric gradient checking: compare the engine's VJPs with central differences.

For a function f of some tensors, pick a random cotangent u for its output and compare,
for every checked input entry x_i,

    analytic  = (u · ∂f/∂x)_i            (one backward pass with grad=u)
    numeric   = (u·f(x + ε e_i) − u·f(x − ε e_i)) / 2ε

A random u checks the whole vector-Jacobian product, not just the gradient of a sum.
Small inputs are checked entry by entry (the full VJP); for large inputs a random sample
of entries plus one random direction v (uᵀ J v) is checked. Float64 only: in float32 the
rounding error of the difference quotient is larger than the tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_rnn.context import is_grad_enabled, no_grad
from tinygrad_rnn.engine import backward, topological_order
from tinygrad_rnn.tensor import Tensor


class GradcheckError(AssertionError):
    """The engine's gradient disagrees with numeric differences (message has the details)."""


def _outputs(result: Any) -> tuple[Tensor, ...]:
    outs = result if isinstance(result, tuple | list) else (result,)
    if not outs or not all(isinstance(o, Tensor) for o in outs):
        raise TypeError("gradcheck: fn must return a Tensor or a tuple of Tensors")
    return tuple(outs)


def _name(t: Tensor, i: int) -> str:
    return f"input {i}" + (f" ({t.name!r})" if t.name else "") + f" of shape {t.shape}"


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    max_entries: int = 256,
    rng: np.random.Generator | int | None = 0,
) -> bool:
    """Check ``fn``'s gradients with respect to every input that requires grad.

    Args:
        fn: called as ``fn(*inputs)``; returns a Tensor or a tuple of Tensors.
        inputs: one Tensor, or a list/tuple of fn's arguments (tensors, arrays, numbers);
            the tensors with ``requires_grad=True`` are checked and must be float64. A bare
            Tensor (or array) is one input, as in ``torch.autograd.gradcheck(fn, x)``.
        eps: the central-difference step.
        atol, rtol: an entry passes when |analytic − numeric| <= atol + rtol·|numeric|.
        max_entries: inputs with more entries are checked on this many random entries
            plus one random direction (instead of every entry).
        rng: seed or Generator for the cotangents and the sampled entries.

    Returns True, or raises ``GradcheckError`` naming the input, the index and both values
    (or the NaN/inf the backward gave, or that fn's output left the graph). Raises
    ``TypeError`` for non-float64 inputs that require grad or a non-float64 float output,
    and ``RuntimeError`` inside ``no_grad()`` (no graph is recorded there).
    """
    if not is_grad_enabled():
        raise RuntimeError(
            "gradcheck: called inside no_grad(), so fn records no graph and backward cannot "
            "reach the inputs (every gradient would be 0); call gradcheck outside the "
            "no_grad() block (or inside enable_grad())")
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    inputs = _as_leaves(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: {_name(inputs[i], i)} is {inputs[i].dtype}; numeric differences "
                f"need float64 (float32 rounding swamps eps={eps}). Create the inputs with "
                f"dtype=np.float64 and make sure fn keeps them in float64."
            )

    outs = _outputs(fn(*inputs))
    _check_output_dtypes(outs, eps)
    cotangents = [rng.standard_normal(o.shape) for o in outs]
    analytic = _vjp(inputs, checked, outs, cotangents)
    for i in checked:
        _check_finite(analytic[i], inputs[i], i, "backward gives")

    # A zero cotangent must give exactly zero gradients (catches ops that ignore g).
    zero = _vjp(inputs, checked, _outputs(fn(*inputs)), [np.zeros(o.shape) for o in outs])
    for i in checked:
        _check_finite(zero[i], inputs[i], i, "for a zero cotangent, backward gives")
        if np.any(zero[i] != 0):
            k = tuple(int(v) for v in np.argwhere(zero[i] != 0)[0])
            raise GradcheckError(f"gradcheck: {_name(inputs[i], i)}: a zero cotangent gave a "
                                 f"nonzero gradient {zero[i][k]} at index {k}")

    objective = _objective(fn, inputs, cotangents)
    for i in checked:
        x = _writable(inputs[i])
        for index in _entries(x, max_entries, rng):
            numeric = _central_difference(objective, x, index, eps) / (2 * eps)
            value = float(analytic[i][index])
            tolerance = atol + rtol * abs(numeric)
            if not abs(value - numeric) <= tolerance:
                where = f"{_name(inputs[i], i)}, index {tuple(int(k) for k in index)}"
                raise GradcheckError(_mismatch(where, value, numeric, tolerance, outs))
        if x.size > max_entries:  # one random direction covers every entry at once
            v = rng.standard_normal(x.shape)
            numeric = _central_difference(objective, x, ..., eps * v) / (2 * eps)
            value = float(np.sum(analytic[i] * v))
            tolerance = atol * np.sqrt(x.size) + rtol * abs(numeric)
            if not abs(value - numeric) <= tolerance:
                where = f"{_name(inputs[i], i)}, random direction"
                raise GradcheckError(_mismatch(where, value, numeric, tolerance, outs))
    return True


def max_vjp_error(fn: Callable[..., Any], inputs: Tensor | Sequence[Any], *, eps: float = 1e-6,
                  max_entries: int = 64, rng: np.random.Generator | int | None = 0) -> float:
    """max |(u·∂f/∂x)_i − numeric_i| over the entries of every input that requires grad
    (a random sample of ``max_entries`` per large input), for one random cotangent u.

    ``gradcheck`` decides pass or fail; this measures how close the two are (the
    ``tinygrad-rnn gradcheck`` table reports it). ``inputs`` as for ``gradcheck``.
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    inputs = _as_leaves(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = _outputs(fn(*inputs))
    cotangents = [rng.standard_normal(o.shape) for o in outs]
    analytic = _vjp(inputs, checked, outs, cotangents)
    objective = _objective(fn, inputs, cotangents)
    worst = 0.0
    for i in checked:
        x = _writable(inputs[i])
        for index in _entries(x, max_entries, rng):
            numeric = _central_difference(objective, x, index, eps) / (2 * eps)
            worst = max(worst, abs(float(analytic[i][index]) - numeric))
    return worst


def _check_output_dtypes(outs: tuple[Tensor, ...], eps: float) -> None:
    """Refuse a float output that is not float64: with float64 inputs, numeric differences
    of a float32 output are rounding noise and would report a wrong VJP that is not there."""
    for k, o in enumerate(outs):
        if np.issubdtype(o.dtype, np.floating) and o.dtype != np.float64:
            raise TypeError(
                f"gradcheck: fn's output {k} of shape {o.shape} is {o.dtype} while the inputs "
                f"are float64; numeric differences need float64 throughout ({o.dtype} rounding "
                f"swamps eps={eps}). Keep fn in float64: look for {o.dtype} parameters or "
                f"constants, or a Function whose forward returns {o.dtype}.")


def _check_finite(grad: np.ndarray, t: Tensor, i: int, how: str) -> None:
    """A NaN or inf gradient is a bug of its own (not a wrong factor): say so."""
    bad = ~np.isfinite(grad)
    if np.any(bad):
        k = tuple(int(v) for v in np.argwhere(bad)[0])
        raise GradcheckError(
            f"gradcheck: {_name(t, i)}, index {k}: {how} a non-finite gradient {float(grad[k])}. "
            f"Look in the backward for a division by zero, log or sqrt of 0 or of a negative, "
            f"an overflow (exp of a large value) or 0 * inf; or the input is outside fn's domain")


def _mismatch(where: str, value: float, numeric: float, tolerance: float,
              outs: tuple[Tensor, ...]) -> str:
    """The message for a gradient that disagrees with numeric differences, naming the
    likelier cause when there is one (a non-finite forward, an output outside the graph)."""
    if not np.isfinite(numeric):
        return (f"gradcheck: {where}: numeric differences give {numeric!r}: fn's output is not "
                f"finite near the input (at x ± eps); keep the inputs inside fn's domain")
    detached = [k for k, o in enumerate(outs) if not o.requires_grad]
    if len(detached) == len(outs):
        return (f"gradcheck: {where}: fn's output does not require grad: it does not depend "
                f"on the inputs through the graph, so backward gives {value!r}, but numeric "
                f"differences give {numeric!r} (it does depend on them). Compute the output "
                f"from the input tensors with tinygrad_rnn ops, not from .data, .numpy(), "
                f"np.asarray or a new Tensor(...)")
    note = "" if not detached else (
        f". Output(s) {detached} of fn do not require grad: computed outside the graph "
        f"(from .data, .numpy() or a new Tensor)?")
    return (f"gradcheck: {where}: backward gives {value!r}, numeric differences give "
            f"{numeric!r} (difference {abs(value - numeric):.3g}, tolerance {tolerance:.3g})"
            + note)


def _as_leaves(inputs: Tensor | Sequence[Any]) -> list[Any]:
    """The inputs as a list, with each non-leaf tensor that requires grad (``base * 2``)
    replaced by a leaf holding a copy of its values: the check is about ``fn`` at those
    values, so the backward walk must stop at the input (and perturbing it must not touch
    ``base``). A bare Tensor or array is one input: iterating over it would split it into
    its rows (and call fn with several arguments)."""
    if isinstance(inputs, Tensor | np.ndarray):
        inputs = [inputs]
    elif not isinstance(inputs, Sequence) or isinstance(inputs, str | bytes):
        raise TypeError(f"gradcheck: inputs must be a Tensor or a list/tuple of fn's "
                        f"arguments, got {type(inputs).__name__}")
    out: list[Any] = []
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad and t.grad_fn is not None:
            leaf = Tensor(t.data.copy(), requires_grad=True)
            leaf.name = t.name
            t = leaf
        out.append(t)
    return out


def _objective(fn: Callable[..., Any], inputs: list[Tensor],
               cotangents: list[np.ndarray]) -> Callable[[], float]:
    """x -> Σ u·f(x), evaluated without recording a graph."""
    def objective() -> float:
        with no_grad():
            result = _outputs(fn(*inputs))
        return float(sum(np.sum(u * o.data) for u, o in zip(cotangents, result, strict=True)))

    return objective


def _entries(x: np.ndarray, max_entries: int, rng: np.random.Generator) -> list[Any]:
    """Every index of x, or a random sample of ``max_entries`` of them."""
    if x.size <= max_entries:
        return list(np.ndindex(x.shape))
    return [np.unravel_index(int(k), x.shape)
            for k in rng.choice(x.size, size=max_entries, replace=False)]


def _writable(t: Tensor) -> np.ndarray:
    """``t``'s array, to perturb in place: a graph that used it made it read-only (an input
    the output does not depend on is not given a copy by backward), so copy it then."""
    if not t.data.flags.writeable:
        t.data = t.data.copy()
    return t.data


def _central_difference(objective: Callable[[], float], x: np.ndarray, index: Any,
                        step: Any) -> float:
    """objective(x + step at index) − objective(x − step at index), restoring x
    (``index=...`` with an array ``step`` perturbs along a direction)."""
    original = x[index].copy() if index is Ellipsis else x[index]
    x[index] = original + step
    plus = objective()
    x[index] = original - step
    minus = objective()
    x[index] = original
    return plus - minus


def _vjp(inputs: list[Tensor], checked: list[int], outs: tuple[Tensor, ...],
         cotangents: list[np.ndarray]) -> dict[int, np.ndarray]:
    """u · ∂f/∂x for the checked inputs, leaving the ``.grad`` of every leaf the backward
    reaches as it was: the random cotangent's gradient is gradcheck's own business, not a
    model weight's (``keep_grads=False`` stores gradients on leaves only)."""
    leaves = {t for out in outs if out.requires_grad
              for t in topological_order(out) if t.grad_fn is None}
    leaves.update(inputs[i] for i in checked)
    saved = {t: t.grad for t in leaves}
    for t in leaves:
        t.grad = None
    try:
        for out, u in zip(outs, cotangents, strict=True):
            if out.requires_grad:
                backward(out, u, keep_grads=False)
        result: dict[int, np.ndarray] = {}
        for i in checked:
            grad = inputs[i].grad
            result[i] = grad if grad is not None else np.zeros(inputs[i].shape)
        return result
    finally:
        for t, grad in saved.items():
            t.grad = grad
