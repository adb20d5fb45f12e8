"""The graph walk: reverse-mode automatic differentiation in one loop.

``backward(root)`` visits the tensors ``root`` depends on in reverse topological order
(every tensor after all the tensors computed from it) and, at each one, asks the op that
made it for the vector-Jacobian products of its inputs. A tensor used several times --
a weight used by the same cell at every time step -- receives one contribution per use,
and they are *added*: that sum is backpropagation through time. No RNN-specific code
exists anywhere; BPTT is this generic loop run over an unrolled sequence.

Three calls go through the fast path's seam (``fast/``): ``fast.vjp(fn, g)``, which is
``fn.backward(g)``; ``fast.add(a, b)``, which is ``a + b``; and ``fast.to_array(g)``,
which is ``g``. With the fast path on, they may instead keep a weight's T per-use
gradients as factors and multiply them in one product (``fast/grads.py``); with it off
(``TINYGRAD_RNN_PLAIN=1``) they are exactly the textbook steps.

The walk is iterative (a loop over a list), so a 100,000-node graph needs no recursion.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from tinygrad_rnn import fast

if TYPE_CHECKING:
    from tinygrad_rnn.function import Function
    from tinygrad_rnn.tensor import Tensor


class Contribution(NamedTuple):
    """One use's share of a leaf's gradient: the op that used the leaf, and where."""

    scope: str  # scope path of the op that used the leaf, e.g. "layer0/fwd/t=3"
    op: str  # the op's name, e.g. "Transpose" or "MatMul"
    grad: np.ndarray  # this use's gradient, already summed to the leaf's shape


def topological_order(root: Tensor, *, all_inputs: bool = False) -> list[Tensor]:
    """Tensors ``root`` depends on, ``root`` first, each before the tensors it was made from.

    Every tensor is created after its inputs, so sorting by creation number (newest first)
    is a reverse topological order; finding the tensors is a plain loop over a growing
    list (no recursion, no stack of frames). Only tensors that require grad are followed
    unless ``all_inputs`` (then constants and data inputs are included too, for drawing).
    """
    nodes = [root]
    seen = {root}
    for t in nodes:  # the list grows while we walk it: a breadth-first search
        fn = t.grad_fn
        if fn is not None:
            for inp in fn.inputs:
                if (all_inputs or inp.requires_grad) and inp not in seen:
                    seen.add(inp)
                    nodes.append(inp)
    nodes.sort(key=_creation, reverse=True)
    return nodes


_creation = attrgetter("_id")  # the creation number of a tensor


def backward(root: Tensor, grad: Any = None, *, keep_grads: bool = True,
             contributions: bool = False) -> None:
    """Add d(root)/d(t), contracted with ``grad``, into ``t.grad`` for every tensor t
    that ``root`` depends on and that requires grad.

    Semantics (tested):
      * ``.grad`` accumulates across calls (``a.grad += ...``); zero it between steps.
      * The graph is kept after ``backward``: calling it twice adds the gradient twice.
      * ``keep_grads=True`` (the default) stores ``.grad`` on every tensor reached that
        keeps its value: leaves, h_t and c_t at every step, everything made outside a
        cell step. The internal tensors of a step in a lean graph (the default: their
        values were freed, ``t.freed``) keep no gradient either; record the forward inside
        ``full_graph()`` to keep those too. ``keep_grads=False`` stores ``.grad`` only on
        leaves and frees every intermediate gradient as soon as it has been passed on.
      * ``contributions=True`` also sets, on every leaf reached, ``leaf.contributions``:
        one ``Contribution`` per use of the leaf in this call, in the order the uses were
        made, which sum to this call's gradient (the per-time-step terms of BPTT).
      * Arrays handed out by ops are never mutated, because one op may hand the same
        array to several inputs (``a + b`` gives ``g`` to both): gradients are added
        with ``a + b``, which makes a new array.
    """
    order = topological_order(root)
    leaves = [t for t in order if t.grad_fn is None] if contributions else []
    for t in leaves:
        t.contributions = []
    pending: dict[Tensor, Any] = {root: _seed(root, grad)}  # gradients not yet passed on
    for t in order:  # every tensor after all the tensors computed from it
        g = fast.to_array(pending.pop(t, None))
        if g is None:  # nothing flowed here (every path to root went through constants)
            continue
        if t.grad_fn is None:  # a leaf: keep its own copy, so no array is shared
            t.grad = g.copy() if t.grad is None else t.grad + g
            if not t.data.flags.writeable:
                # The graph made its values read-only; give the leaf a writable copy, so a
                # hand-written update (w.data -= lr * w.grad) works while the graph keeps
                # the values it was recorded with (a second backward stays right).
                t.data = t.data.copy()
            continue
        if keep_grads and not t.freed:  # a freed step-internal tensor keeps no gradient either
            t.grad = g if t.grad is None else t.grad + g
        _pass_on(t.grad_fn, g, pending, contributions)
    for t in leaves:  # the walk met the uses last-first: list them in program order
        t.contributions.reverse()  # type: ignore[union-attr]


def _pass_on(fn: Function, g: np.ndarray, pending: dict[Tensor, Any],
             contributions: bool) -> None:
    """Ask the op that made a tensor for its inputs' VJPs, given the tensor's gradient g,
    and add each to what that input has received so far."""
    grads = fast.vjp(fn, g)  # = fn.backward(g)
    if type(grads) is not tuple or len(grads) != len(fn.inputs):
        raise _bad_backward(fn, grads)
    for inp, g_in in zip(fn.inputs, grads):  # noqa: B905 (lengths checked above)
        if g_in is None or not inp.requires_grad:
            continue
        g_in = _fit(fn, inp, g_in)
        if contributions and inp.grad_fn is None:
            g_in = fast.to_array(g_in)
            inp.contributions.append(Contribution(fn.scope, fn.name, g_in))  # type: ignore[union-attr]
        previous = pending.get(inp)
        pending[inp] = g_in if previous is None else fast.add(previous, g_in)  # = previous + g_in


def _seed(root: Tensor, grad: Any) -> np.ndarray:
    """The gradient the walk starts from: d(root)/d(root) = 1, or the given ``grad``."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad, so no graph was recorded for it. "
            "Create the inputs you differentiate with requires_grad=True (parameters are), "
            "and do not compute it inside no_grad()."
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: grad can be omitted only for a one-element tensor (a loss); this "
                f"one has shape {root.shape}. Reduce it first (loss.sum() or loss.mean()), or "
                f"pass grad=an array of shape {root.shape}."
            )
        return np.ones_like(root.data)
    # Any real numbers are accepted (ints too, as torch does); refused: complex (the
    # imaginary part would be dropped), bool, and values the root's dtype cannot hold
    # (1e300 for a float32 loss would become inf).
    given = np.asarray(getattr(grad, "data", grad))  # a Tensor or an array
    if given.dtype.kind not in "iuf":
        raise TypeError(f"backward: grad must hold real numbers (the tensor is {root.dtype}), "
                        f"got dtype {given.dtype}; pass grad as float values of shape "
                        f"{root.shape}")
    if given.shape != root.shape:
        raise ValueError(f"backward: grad has shape {given.shape} but the tensor has shape "
                         f"{root.shape}; they must be equal")
    with np.errstate(over="ignore", invalid="ignore"):
        seed = given.astype(root.dtype)
    overflow = np.isinf(seed) & ~np.isinf(given)
    if overflow.any():
        value = float(given[overflow].flat[0])
        raise ValueError(f"backward: grad holds {value!r}, which overflows the tensor's dtype "
                         f"{root.dtype} (largest {np.finfo(root.dtype).max:.4g}); scale the "
                         f"gradient down or compute in float64")
    return seed


def _fit(fn: Function, inp: Tensor, g_in: Any) -> Any:
    """The VJP for ``inp`` in ``inp``'s shape (summed over broadcast axes) and dtype."""
    data = inp.data
    if g_in.shape != data.shape:
        g_in = _unbroadcast(fn, inp, g_in)
    if g_in.dtype != data.dtype:  # a float64 tensor met a float32 weight
        g_in = g_in.astype(data.dtype)
    return g_in


def _bad_backward(fn: Any, grads: Any) -> TypeError:
    n = len(fn.inputs)
    got = f"a {type(grads).__name__}" if type(grads) is not tuple else f"{len(grads)} gradients"
    return TypeError(f"{fn.name}.backward must return a tuple of {n} gradient(s) (an array or "
                     f"None per input), got {got}")


def _unbroadcast(fn: Any, inp: Tensor, g_in: Any) -> np.ndarray:
    """Sum a broadcast gradient down to the input's shape, naming the op if it cannot be."""
    shape = inp.data.shape
    try:
        return unbroadcast(np.asarray(fast.to_array(g_in)), shape)
    except ValueError as e:
        index = next(i for i, t in enumerate(fn.inputs) if t is inp)
        raise ValueError(f"{fn.name}.backward returned a gradient of shape {np.shape(g_in)} "
                         f"for input {index} of shape {shape}: it must have the input's shape "
                         f"(or one that broadcasts to it)") from e


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` down to ``shape``: the VJP of NumPy broadcasting, done once for all ops.

    Broadcasting prepends axes and stretches axes of length 1; both copy a value to many
    places, so its gradient is the sum over those places.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0 or any(n != 1 and n != m for n, m in zip(shape, grad.shape[extra:],
                                                            strict=True)):
        raise ValueError(f"unbroadcast: a gradient of shape {grad.shape} cannot come from "
                         f"broadcasting shape {shape}")
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)
