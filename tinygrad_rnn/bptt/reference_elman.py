"""BPTT for the lectures' Elman RNN, derived by hand and written out in plain NumPy.

The model (curriculum sections 2 and 3; row vectors, the batch on the first axis)::

    s_t = tanh(x_t W_x + s_{t-1} W_s + b)      t = 1..T,  s_0 given (zeros by default)
    y_t = s_t W_y
    E_N = Σ_{batch, o} (d_N − y_N)²            the loss at step N (summed over the batch)
    E   = Σ_N E_N                              the total loss (or one E_N alone)

Shapes: xs (T, B, I), W_x (I, H), W_s (H, H), W_y (H, O), b (H,), s0 (B, H), d (T, B, O).
Time is 1-based in the maths and 0-based in the arrays: x_t is ``xs[t - 1]``, s_t is
``states[t]`` (``states[0]`` is s_0), y_t is ``ys[t - 1]``.

Two ways to get the same gradient:

* :func:`elman_bptt_terms` / :func:`elman_bptt` — the lecture formula, one term per *path*:

      ∂E_N/∂W_s = Σ_{i=1..N} ∂E_N/∂y_N · ∂y_N/∂s_N · (Π_{j=i+1..N} ∂s_j/∂s_{j−1}) · ∂s_i/∂W_s

  with the Jacobians ∂s_j/∂s_{j−1} = diag(1 − s_j²) W_sᵀ built as matrices and multiplied.
  A double loop over N and i: O(T²) Jacobian products.
* :func:`elman_bptt_recursive` — the backward recursion δ_t. It carries one vector
  ∂E/∂s_t from t = T down to 1 and so shares every product Π ∂s_j/∂s_{j−1} between all the
  paths that contain it: O(T). Reverse-mode autodiff computes exactly this factorisation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "BPTTTerms",
    "elman_bptt",
    "elman_bptt_recursive",
    "elman_bptt_terms",
    "elman_forward",
    "elman_loss",
]


def elman_forward(xs, W_x, W_s, W_y, s0=None, b=None):
    """Run the Elman RNN over the sequence.

    xs (T, B, I), W_x (I, H), W_s (H, H), W_y (H, O), s0 (B, H) or None (zeros), b (H,) or None.
    Returns ``states`` (T+1, B, H) — s_0, s_1, ..., s_T — and ``ys`` (T, B, O) — y_1, ..., y_T.
    """
    xs = np.asarray(xs)
    T, B, _ = xs.shape
    H = W_s.shape[0]
    states = np.zeros((T + 1, B, H), dtype=np.result_type(xs, W_x, W_s))
    if s0 is not None:
        states[0] = s0
    for t in range(1, T + 1):
        pre = xs[t - 1] @ W_x + states[t - 1] @ W_s  # x_t W_x + s_{t-1} W_s
        if b is not None:
            pre = pre + b
        states[t] = np.tanh(pre)
    ys = states[1:] @ W_y  # y_t = s_t W_y, every t at once
    return states, ys


def _loss_steps(losses, T: int) -> list[int]:
    """``"all"`` -> [1, ..., T]; an int N -> [N]; an iterable of ints -> sorted, 1-based."""
    if isinstance(losses, str):
        if losses != "all":
            raise ValueError(f'losses must be "all", a step N or a list of steps, got {losses!r}')
        return list(range(1, T + 1))
    steps = [int(losses)] if not isinstance(losses, Iterable) else sorted({int(n) for n in losses})
    for n in steps:
        if not 1 <= n <= T:
            raise ValueError(f"loss step {n} is outside 1..{T}")
    return steps


def elman_loss(xs, d, W_x, W_s, W_y, s0=None, b=None, losses="all") -> float:
    """E = Σ_{N in losses} E_N with E_N = Σ (d_N − y_N)² (summed over batch and outputs)."""
    _, ys = elman_forward(xs, W_x, W_s, W_y, s0, b)
    return float(sum(np.sum((d[n - 1] - ys[n - 1]) ** 2) for n in _loss_steps(losses, len(ys))))


@dataclass
class BPTTTerms:
    """The per-path terms of the BPTT sum, keyed by ``(N, i)``: loss at step N, weight use at i.

    For every loss step N and every step i = 1..N:

    * ``dE_ds[(N, i)]``  (B, H): ∂E_N/∂s_i — the error signal of E_N that reaches s_i.
    * ``ds_ds[(N, i)]``  (B, H, H): ∂s_N/∂s_i = Π_{j=i+1..N} diag(1 − s_j²) W_sᵀ, one matrix per
      batch row (the identity when i = N). Entry [k, l] is ∂s_N[k]/∂s_i[l].
    * ``W_s[(N, i)]`` (H, H), ``W_x[(N, i)]`` (I, H), ``b[(N, i)]`` (H,): the i-th term of the
      lecture sum, i.e. the path E_N → y_N → s_N → … → s_i → (the use of the weight at step i).
    * ``xs[(N, i)]`` (B, I): ∂E_N/∂x_i (only one path: through s_i).

    and per loss step N: ``W_y[N]`` (H, O) = ∂E_N/∂y_N · ∂y_N/∂W_y (no travel back in time) and
    ``s0[N]`` (B, H) = ∂E_N/∂s_0 (the longest path, through every Jacobian).
    ``paths(name, N)`` lists the terms of one loss in order i = 1..N.
    """

    loss_steps: list[int]
    dE_ds: dict = field(default_factory=dict)
    ds_ds: dict = field(default_factory=dict)
    W_s: dict = field(default_factory=dict)
    W_x: dict = field(default_factory=dict)
    b: dict = field(default_factory=dict)
    xs: dict = field(default_factory=dict)
    W_y: dict = field(default_factory=dict)
    s0: dict = field(default_factory=dict)

    def paths(self, name: str, N: int) -> list[np.ndarray]:
        """The terms of ∂E_N/∂(name) for i = 1..N, e.g. ``paths("W_s", 3)``: the three paths."""
        table = getattr(self, name)
        return [table[(N, i)] for i in range(1, N + 1)]


def elman_bptt_terms(xs, d, W_x, W_s, W_y, s0=None, b=None, losses="all") -> BPTTTerms:
    """Every term of the lecture formula, computed literally as a product along its path.

    For each loss step N and each i = 1..N::

        ∂E_N/∂y_N = −2 (d_N − y_N)                                  (B, O)
        ∂E_N/∂s_N = ∂E_N/∂y_N · ∂y_N/∂s_N = ∂E_N/∂y_N W_yᵀ          (B, H)
        ∂s_N/∂s_i = Π_{j=N..i+1} ∂s_j/∂s_{j−1},  ∂s_j/∂s_{j−1} = diag(1 − s_j²) W_sᵀ
        ∂E_N/∂s_i = ∂E_N/∂s_N · ∂s_N/∂s_i                          (B, H)

    and the last factor ∂s_i/∂W contracts with that row vector: with the signal at the
    pre-activation δ = ∂E_N/∂s_i ⊙ (1 − s_i²) (diag(1 − s_i²) is tanh'),

        term W_s = s_{i−1}ᵀ δ,   term W_x = x_iᵀ δ,   term b = Σ_batch δ,   ∂E_N/∂x_i = δ W_xᵀ.

    The batch rows are independent sequences; the weight terms sum over them.
    ``losses``: ``"all"`` (E = Σ_N E_N), one step N (E_N alone) or a list of steps.
    Returns a :class:`BPTTTerms`. Cost: O(T²) Jacobian products — see :func:`elman_bptt_recursive`.
    """
    states, ys = elman_forward(xs, W_x, W_s, W_y, s0, b)
    B, H = states.shape[1:]
    terms = BPTTTerms(loss_steps=_loss_steps(losses, len(ys)))
    for N in terms.loss_steps:
        dE_dy = -2.0 * (d[N - 1] - ys[N - 1])  # ∂E_N/∂y_N
        terms.W_y[N] = states[N].T @ dE_dy  # ∂y_N/∂W_y: s_Nᵀ
        dE_dsN = dE_dy @ W_y.T  # ∂y_N/∂s_N = W_yᵀ
        for i in range(1, N + 1):
            jac = np.broadcast_to(np.eye(H), (B, H, H))  # ∂s_N/∂s_N = I
            for j in range(N, i, -1):  # ∂s_N/∂s_i = Π_{j=N..i+1} ∂s_j/∂s_{j−1}
                ds_j = (1.0 - states[j] ** 2)[:, :, None] * W_s.T  # diag(1 − s_j²) W_sᵀ
                jac = jac @ ds_j
            terms.ds_ds[(N, i)] = jac
            dE_ds_i = np.einsum("bk,bkl->bl", dE_dsN, jac)  # row vector times the Jacobian
            terms.dE_ds[(N, i)] = dE_ds_i
            delta = dE_ds_i * (1.0 - states[i] ** 2)  # through tanh' at step i
            terms.W_s[(N, i)] = states[i - 1].T @ delta  # ∂s_i/∂W_s
            terms.W_x[(N, i)] = xs[i - 1].T @ delta  # ∂s_i/∂W_x
            terms.b[(N, i)] = delta.sum(axis=0)  # ∂s_i/∂b
            terms.xs[(N, i)] = delta @ W_x.T  # ∂s_i/∂x_i
        # the path to s_0 goes through all N Jacobians: one more step past i = 1
        terms.s0[N] = (terms.dE_ds[(N, 1)] * (1.0 - states[1] ** 2)) @ W_s.T
    return terms


def elman_bptt(xs, d, W_x, W_s, W_y, s0=None, b=None, losses="all") -> dict[str, np.ndarray]:
    """The total gradient as the literal sum of the path terms of :func:`elman_bptt_terms`.

    ∂E/∂W = Σ_{N in losses} Σ_{i=1..N} (term (N, i)): the weights are shared, so the gradient
    is the sum over every use of them. Returns a dict with "W_x" (I, H), "W_s" (H, H),
    "W_y" (H, O), "xs" (T, B, I), plus "b" (H,) if ``b`` is given and "s0" (B, H) if ``s0``
    is given (None means "not a parameter of this model": zeros, no gradient asked for).
    """
    terms = elman_bptt_terms(xs, d, W_x, W_s, W_y, s0, b, losses)
    grads = {
        "W_x": sum(terms.W_x.values()),
        "W_s": sum(terms.W_s.values()),
        "W_y": sum(terms.W_y.values()),
        "xs": np.zeros(np.shape(xs)),
    }
    for (_, i), term in terms.xs.items():
        grads["xs"][i - 1] += term
    if b is not None:
        grads["b"] = sum(terms.b.values())
    if s0 is not None:
        grads["s0"] = sum(terms.s0.values())
    return grads


def elman_bptt_recursive(xs, d, W_x, W_s, W_y, s0=None, b=None, losses="all"):
    """The same gradients in O(T): the backward recursion over δ_t.

    Walk t = T, ..., 1 carrying g_t = ∂E/∂s_t (all the paths from every loss back to s_t)::

        g_t = [t in losses] · (−2 (d_t − y_t) W_yᵀ) + δ_{t+1} W_sᵀ      (g_{T+1} := 0)
        δ_t = g_t ⊙ (1 − s_t²)                                          ∂E/∂(pre-activation t)
        ∂E/∂W_s += s_{t−1}ᵀ δ_t,  ∂E/∂W_x += x_tᵀ δ_t,  ∂E/∂b += Σ_batch δ_t,  ∂E/∂x_t = δ_t W_xᵀ

    and finally ∂E/∂s_0 = δ_1 W_sᵀ. Each product Π ∂s_j/∂s_{j−1} of the path sum appears
    here once, as a factor shared by every path through it. Same return dict as
    :func:`elman_bptt`.
    """
    states, ys = elman_forward(xs, W_x, W_s, W_y, s0, b)
    T = len(ys)
    steps = set(_loss_steps(losses, T))
    grads = {
        "W_x": np.zeros_like(W_x, dtype=states.dtype),
        "W_s": np.zeros_like(W_s, dtype=states.dtype),
        "W_y": np.zeros_like(W_y, dtype=states.dtype),
        "xs": np.zeros(np.shape(xs)),
    }
    db = np.zeros(states.shape[2])
    g = np.zeros_like(states[0])  # ∂E/∂s_{T+1}: nothing comes from the future of step T
    for t in range(T, 0, -1):
        if t in steps:
            dE_dy = -2.0 * (d[t - 1] - ys[t - 1])
            grads["W_y"] += states[t].T @ dE_dy
            g = g + dE_dy @ W_y.T  # the loss at t adds its own path
        delta = g * (1.0 - states[t] ** 2)
        grads["W_s"] += states[t - 1].T @ delta
        grads["W_x"] += xs[t - 1].T @ delta
        db += delta.sum(axis=0)
        grads["xs"][t - 1] = delta @ W_x.T
        g = delta @ W_s.T  # one Jacobian step back: g_{t−1} from g_t
    if b is not None:
        grads["b"] = db
    if s0 is not None:
        grads["s0"] = g
    return grads
