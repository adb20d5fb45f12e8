"""Truncated backpropagation through time: backpropagate only k steps, carry the state on.

Full BPTT over a sequence of T steps keeps the whole unrolled graph (T copies of the cell)
until ``backward()``, and each update costs O(T) time and memory. Truncated BPTT cuts the
sequence into windows of k steps. Within a window the graph is built and backpropagated as
usual; between windows the state is carried forward *by value* with ``.detach()``::

    state = state.detach()      # a new leaf: same numbers, no history

``detach()`` returns a tensor with the same data but no creator (``grad_fn is None``) and
``requires_grad=False``, so the graph walk of the next window stops there: the graph of the
earlier windows is no longer reachable from the new losses, and Python frees it once the
window's ``backward()`` has run. Each update then walks only k steps: O(k) time and memory,
whatever T is, and the state still carries information across the whole sequence forwards.

The price is in the gradient. For the Elman RNN of the lectures (s_t = tanh(x_t W_x +
s_{t-1} W_s)), full BPTT sums, for every loss term E_t, one path per earlier step i ≤ t::

    ∂E_t/∂W = Σ_{i=1..t}          ∂E_t/∂s_t · (Π_{j=i+1..t} ∂s_j/∂s_{j−1}) · ∂s_i/∂W

Truncation keeps only the paths that stay inside the window w(t) containing t::

    ∂E_t/∂W ≈ Σ_{i ∈ w(t), i ≤ t}  ∂E_t/∂s_t · (Π_{j=i+1..t} ∂s_j/∂s_{j−1}) · ∂s_i/∂W

i.e. the gradient of a loss in which the state entering each window is a constant.
Dependencies longer than k steps can still be *used* by the model but no longer *learned*
from one window's error. With k = T nothing is cut and the result is full BPTT exactly.

The pattern, written out (what ``truncated_bptt`` does; the optimizer steps per window)::

    >>> import numpy as np
    >>> import tinygrad_rnn as tg
    >>> from tinygrad_rnn import optim
    >>> from tinygrad_rnn.truncated import detach_state, tbptt_windows
    >>> rng = np.random.default_rng(0)
    >>> W_x = tg.Tensor(0.5 * rng.standard_normal((2, 4)), requires_grad=True)
    >>> W_s = tg.Tensor(0.5 * rng.standard_normal((4, 4)), requires_grad=True)
    >>> W_y = tg.Tensor(0.5 * rng.standard_normal((4, 1)), requires_grad=True)
    >>> x, d = rng.standard_normal((12, 3, 2)), rng.standard_normal((12, 3, 1))  # (T, B, ·)
    >>> opt = optim.SGD([W_x, W_s, W_y], lr=0.01)
    >>> s = tg.zeros(3, 4, dtype=np.float64)
    >>> for start, stop in tbptt_windows(12, k=4):         # (0, 4), (4, 8), (8, 12)
    ...     s = detach_state(s)                             # cut: the past is a constant
    ...     loss = 0.0
    ...     for t in range(start, stop):
    ...         s = (tg.Tensor(x[t]) @ W_x + s @ W_s).tanh()        # forward
    ...         loss = loss + ((tg.Tensor(d[t]) - s @ W_y) ** 2).sum()
    ...     loss.backward()                                 # walks k steps, not T
    ...     _ = optim.clip_grad_norm_(opt.params, 5.0)      # clip
    ...     opt.step()                                      # update
    ...     opt.zero_grad()

The same with the helper (``step(t, state) -> (loss_t, new_state)``)::

    >>> def step(t, s):
    ...     s = (tg.Tensor(x[t]) @ W_x + s @ W_s).tanh()
    ...     return ((tg.Tensor(d[t]) - s @ W_y) ** 2).sum(), s
    >>> def update(window, start, stop, loss):
    ...     _ = optim.clip_grad_norm_(opt.params, 5.0)
    ...     opt.step()
    ...     opt.zero_grad()
    >>> result = truncated_bptt(step, 12, tg.zeros(3, 4, dtype=np.float64), k=4,
    ...                         on_window=update)
    >>> len(result.window_losses)
    3

For an LSTM the state is the pair (h, c): ``detach_state`` cuts both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from tinygrad_rnn.tensor import Tensor

__all__ = ["TBPTTResult", "detach_state", "tbptt_windows", "truncated_bptt"]

State = Any  # a Tensor, None, or a tuple/list of states, e.g. LSTM's (h, c)
StepFn = Callable[[int, State], tuple[Tensor | None, State]]
WindowFn = Callable[[int, int, int, float], None]


def _count(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"truncated_bptt: {name} must be an integer >= {low}, got {value!r}")
    return value


def tbptt_windows(T: int, k: int) -> list[tuple[int, int]]:
    """Consecutive windows ``[start, stop)`` covering time steps 0..T−1, each of length k
    (the last one shorter if k does not divide T).

        >>> tbptt_windows(7, 3)
        [(0, 3), (3, 6), (6, 7)]
    """
    T, k = _count("T", T, 0), _count("k", k, 1)
    return [(start, min(start + k, T)) for start in range(0, T, k)]


def detach_state(state: State) -> State:
    """The same state cut from the graph: every Tensor in it replaced by ``.detach()``.

    ``state`` is a Tensor, None, or a tuple/list of those (nested to any depth, e.g. a
    list of (h, c) pairs for stacked LSTM cells); the structure is kept.
    """
    # Recursion here follows the nesting of the user's container (1 or 2 levels), never
    # the graph, which can be arbitrarily deep.
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple | list):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: a state must be a Tensor, None, or a tuple/list of them "
                    f"(like LSTM's (h, c)); got {type(state).__name__}")


class TBPTTResult(NamedTuple):
    """What ``truncated_bptt`` returns."""

    loss: float  # the summed loss over all T steps
    window_losses: list[float]  # the summed loss of each window, in order
    state: State  # the final state, detached (carry it into the next chunk of a stream)


def truncated_bptt(step: StepFn, T: int, state: State, k: int, *,
                   on_window: WindowFn | None = None, keep_grads: bool = True) -> TBPTTResult:
    """Run ``step`` over T time steps in windows of k, backpropagating each window alone.

    Args:
        step: ``step(t, state) -> (loss_t, new_state)`` for one time step t. ``loss_t`` is
            a one-element Tensor, or None for steps without a target (many-to-one).
        T: the number of time steps.
        state: the initial state (a Tensor, a tuple such as (h, c), or None). It is *not*
            detached, so a learnable initial state gets its gradient from window 0.
        k: the truncation length: steps per window. k >= T is full BPTT.
        on_window: optional ``on_window(index, start, stop, loss)``, called after each
            window's ``backward()``, typically to clip, ``opt.step()`` and
            ``opt.zero_grad()``. Without it the windows' gradients add up in ``.grad``.
        keep_grads: passed to ``backward`` (False frees intermediate gradients).

    For each window [start, stop): detach the carried state (except before window 0),
    call ``step`` for t in the window, sum the window's losses, call ``backward()`` on that
    sum. Returns ``TBPTTResult(loss, window_losses, state)``.
    """
    if not callable(step):
        raise TypeError(f"truncated_bptt: step must be a function step(t, state) -> "
                        f"(loss_t, new_state), got {type(step).__name__}")
    total, window_losses = 0.0, []
    for index, (start, stop) in enumerate(tbptt_windows(T, k)):
        if index > 0:
            state = detach_state(state)  # the cut: earlier windows become unreachable
        window_loss: Tensor | None = None
        for t in range(start, stop):
            out = step(t, state)
            if not isinstance(out, tuple) or len(out) != 2:
                raise TypeError(f"truncated_bptt: step({t}, state) must return a pair "
                                f"(loss_t, new_state), got {type(out).__name__}")
            loss_t, state = out
            if loss_t is None:
                continue
            if not isinstance(loss_t, Tensor) or loss_t.size != 1:
                shape = loss_t.shape if isinstance(loss_t, Tensor) else type(loss_t).__name__
                raise TypeError(f"truncated_bptt: step({t}, state) returned loss_t {shape}; "
                                f"it must be a one-element Tensor (reduce it with .sum() or "
                                f".mean()) or None")
            window_loss = loss_t if window_loss is None else window_loss + loss_t
        value = 0.0
        if window_loss is not None:
            window_loss.backward(keep_grads=keep_grads)
            value = float(window_loss.item())
        window_losses.append(value)
        total += value
        if on_window is not None:
            on_window(index, start, stop, value)
    return TBPTTResult(total, window_losses, detach_state(state))
