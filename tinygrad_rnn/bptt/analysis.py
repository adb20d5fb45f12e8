"""Gradient-flow analysis of an unrolled network: where the gradient goes, step by step.

Everything here reads the graph the engine already recorded -- scopes, names, ``.grad`` and
the per-use ``contributions`` -- so it works for the library's layers and for a learner's
own loop alike (see ``tinygrad_rnn.viz.scopes`` for how scope paths are read).

* ``state_grad_norms(loss)``  -- ‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖) for every step, layer and
  direction: watch the gradient vanish (or explode) as it travels back in time.
* ``contributions(W)``        -- the per-use terms of a shared weight's gradient, one per
  time step (and layer / direction): the Σ_k of the lectures' BPTT formula

      ∂L/∂W = Σ_k ∂L/∂W|_(use at step k),

  which add up to ``W.grad``. Needs ``loss.backward(contributions=True)``.
* ``jacobian_norms(h_T)``     -- ‖∂h_T/∂h_k‖ for k < T, with the engine: backward from h_T
  with each basis cotangent e_j gives row j of the Jacobian (or random cotangents give an
  unbiased estimate of its Frobenius norm, E‖Jᵀv‖² = ‖J‖_F² for v ~ N(0, I)).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_rnn.context import freed_message
from tinygrad_rnn.engine import topological_order
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.viz.scopes import parse_scope, split_time

_DIRECTION_ORDER = {"fwd": 0, None: 1, "bwd": 2}


def _sort_key(layer: int | None, direction: str | None, t: int | None) -> tuple[int, ...]:
    return (-1 if layer is None else layer, _DIRECTION_ORDER.get(direction, 1),
            -1 if t is None else t)


def _where(layer: int | None, direction: str | None) -> str:
    parts = [f"layer {layer}" if layer is not None else "", direction or ""]
    return " ".join(p for p in parts if p) or "-"


# ---- per-step gradient norms ------------------------------------------------------------


@dataclass(frozen=True)
class StateNorm:
    """‖∂L/∂(state)‖ at one step: e.g. name "h", layer 0, direction "fwd", t 3."""

    name: str
    layer: int | None
    direction: str | None
    t: int
    norm: float
    grad: np.ndarray


def state_grad_norms(root: Tensor, names: Sequence[str] = ("h", "c")) -> list[StateNorm]:
    """‖∂L/∂s_t‖ for every tensor named in ``names`` made inside a time-step scope.

    Call after ``root.backward()`` (with the default ``keep_grads=True``, so the states keep
    their ``.grad``). Ordered by layer, direction (fwd, bwd), name, then t = 1..T.
    """
    found = []
    for t in topological_order(root):
        if t.name not in names:
            continue
        info = parse_scope(t.scope)
        if info.t is None:
            continue
        if t.grad is None:
            raise ValueError(
                f"state_grad_norms: {t.name!r} at {t.scope!r} has no .grad; call "
                f"loss.backward() first, with keep_grads=True (the default)")
        g = np.asarray(t.grad)
        found.append(StateNorm(str(t.name), info.layer, info.direction, info.t, _norm(g), g))
    if not found:
        raise ValueError(f"state_grad_norms: no tensor named {list(names)} inside a time-step "
                         f"scope (t=1, t=2, ...) in the graph of this tensor; name your "
                         f"states (h.name = 'h') and open scope(f't={{t}}') in the loop")
    order = {n: i for i, n in enumerate(names)}
    found.sort(key=lambda s: (*_sort_key(s.layer, s.direction, None)[:2], order[s.name], s.t))
    return found


def format_state_norms(norms: Iterable[StateNorm]) -> str:
    """A printable table: where, name, t, ‖grad‖ and a log-scale bar."""
    rows = list(norms)
    lines = [f"{'where':<14} {'state':<6} {'t':>4}  {'|dL/d state|':>13}"]
    for s in rows:
        bar = "#" * max(0, int(round(3 * (math.log10(s.norm) + 8)))) if s.norm > 0 else ""
        lines.append(f"{_where(s.layer, s.direction):<14} {s.name:<6} {s.t:>4}  "
                     f"{s.norm:13.4e}  {bar}")
    return "\n".join(lines)


def _norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.square(np.asarray(a, dtype=np.float64)))))


# ---- per-use contributions ----------------------------------------------------------------


@dataclass(frozen=True)
class ContributionRow:
    """The gradient one parameter received from its uses in one time step (or one scope)."""

    layer: int | None
    direction: str | None
    t: int | None
    scope: str  # the step's scope ("layer0/fwd/t=3"), or the using op's scope
    uses: int  # how many uses were summed into this row (usually 1)
    grad: np.ndarray  # same shape as the parameter
    norm: float


class ContributionTable(Sequence[ContributionRow]):
    """The per-use terms of one parameter's gradient, ordered by layer, direction, t.

    ``table.total()`` is their sum (== ``param.grad`` after one backward); ``print(table)``
    shows one line per step; ``table.norms()`` gives ‖term‖ per row.
    """

    def __init__(self, name: str, rows: list[ContributionRow], shape: tuple[int, ...],
                 dtype: Any) -> None:
        self.name = name
        self.rows = rows
        self.shape = shape
        self.dtype = dtype

    def __getitem__(self, i: Any) -> Any:
        return self.rows[i]

    def __len__(self) -> int:
        return len(self.rows)

    def total(self) -> np.ndarray:
        """Σ of the terms: the parameter's gradient."""
        out = np.zeros(self.shape, dtype=np.float64)
        for row in self.rows:
            out = out + row.grad
        return out.astype(self.dtype)

    def norms(self) -> list[float]:
        return [row.norm for row in self.rows]

    def to_dicts(self, with_grads: bool = False) -> list[dict[str, Any]]:
        """JSON-ready rows (the gradient arrays as nested lists if ``with_grads``)."""
        out = []
        for r in self.rows:
            d: dict[str, Any] = {"layer": r.layer, "direction": r.direction, "t": r.t,
                                 "scope": r.scope, "uses": r.uses, "norm": r.norm}
            if with_grads:
                d["grad"] = r.grad.tolist()
            out.append(d)
        return out

    def __str__(self) -> str:
        total = _norm(self.total())
        lines = [f"contributions to d L / d {self.name}  (shape {self.shape}): "
                 f"{len(self.rows)} terms, |sum| = {total:.4e}",
                 f"{'where':<14} {'t':>4}  {'|term|':>11}  share of sum of |terms|"]
        denom = sum(self.norms()) or 1.0
        for r in self.rows:
            t = "-" if r.t is None else str(r.t)
            share = r.norm / denom
            lines.append(f"{_where(r.layer, r.direction):<14} {t:>4}  {r.norm:11.4e}  "
                         f"{share:6.1%} {'#' * int(round(40 * share))}")
        return "\n".join(lines)

    __repr__ = __str__


def contributions(param: Tensor, name: str | None = None) -> ContributionTable:
    """The per-use gradient terms of a (shared) parameter, grouped by time step.

    Run ``loss.backward(contributions=True)`` first: the engine then records, on every leaf,
    one gradient per use together with the scope of the op that used it
    (``layer0/fwd/t=3/RNNCell``). This groups them by (layer, direction, t) -- uses without a
    time step are grouped by their scope -- and orders them. The terms add up to the
    gradient of that backward call (to ``param.grad`` if it was zero before).
    """
    if not isinstance(param, Tensor):
        raise TypeError(f"contributions: expected a Tensor (a parameter), got "
                        f"{type(param).__name__}")
    label = name or param.name or "param"
    if param.contributions is None:
        raise ValueError(
            f"contributions: {label} has no recorded per-use gradients; call "
            f"loss.backward(contributions=True) first (and zero the gradients before it, "
            f"so the terms add up to .grad)")
    groups: dict[str, list[Any]] = {}
    for c in param.contributions:
        before, t, _ = split_time(c.scope)
        key = f"{before}/t={t}".lstrip("/") if t is not None else c.scope
        groups.setdefault(key, []).append(c.grad)
    rows = []
    for key, grads in groups.items():
        info = parse_scope(key)
        g = np.zeros(param.shape, dtype=np.float64)
        for part in grads:
            g = g + part
        rows.append(ContributionRow(info.layer, info.direction, info.t, key, len(grads), g,
                                    _norm(g)))
    rows.sort(key=lambda r: (_sort_key(r.layer, r.direction, r.t), r.scope))
    return ContributionTable(label, rows, param.shape, param.dtype)


# ---- Jacobian norms -----------------------------------------------------------------------


@dataclass(frozen=True)
class JacobianNorm:
    """‖∂target/∂source‖ for one earlier state: Frobenius norm, and the spectral norm
    (largest singular value) when the Jacobian was computed exactly."""

    layer: int | None
    direction: str | None
    t: int | None
    frobenius: float
    spectral: float | None


def jacobian_norms(target: Tensor, sources: Sequence[Tensor] | None = None, *,
                   name: str | None = None, exact: bool = True, samples: int = 16,
                   rng: np.random.Generator | int | None = None) -> list[JacobianNorm]:
    """‖∂target/∂s_k‖ for each source s_k, computed by backward passes from ``target``.

    Args:
        target: e.g. h_T (any shape).
        sources: the earlier tensors; default: every tensor in target's graph with the
            same name as target (or ``name``) made inside a time-step scope, except target.
        exact: True -- one backward per entry of target with the basis cotangent e_j, which
            gives the whole Jacobian (its Frobenius and spectral norms); False -- ``samples``
            backward passes with v ~ N(0, I): the Frobenius norm estimated as
            sqrt(mean ‖Jᵀv‖²), much cheaper for a large target.

    Gradients already stored on the graph's tensors (``.grad``, ``.contributions``) are
    saved and restored, so this can run between ``loss.backward()`` and an optimizer step.
    """
    if not target.requires_grad:
        raise ValueError("jacobian_norms: the target does not require grad (no graph)")
    graph = topological_order(target)
    if sources is None:
        wanted = name or target.name
        if not wanted:
            raise ValueError("jacobian_norms: name the states (h.name = 'h') or pass "
                             "sources=[...] or name=...")
        sources = [t for t in graph if t.name == wanted and t is not target
                   and parse_scope(t.scope).t is not None]
        sources.sort(key=lambda s: _sort_key(*parse_scope(s.scope)[:3]))
    members = set(graph)
    for s in sources:
        if s.freed:  # backward keeps no gradient for it: its row would read as zeros
            raise ValueError(freed_message(s, "jacobian_norms"))
        if s not in members:
            raise ValueError(f"jacobian_norms: a source (scope {s.scope!r}, shape {s.shape}) "
                             f"is not in the graph of the target; the target does not depend "
                             f"on it")
    saved = [(t, t.grad, t.contributions) for t in graph]
    gen = np.random.default_rng(rng)
    n = target.data.size
    if exact:
        cotangents = [np.eye(n, dtype=target.dtype)[j].reshape(target.shape) for j in range(n)]
    else:
        cotangents = [gen.standard_normal(target.shape).astype(target.dtype)
                      for _ in range(samples)]
    rows: list[list[np.ndarray]] = [[] for _ in sources]
    try:
        for v in cotangents:
            for t in graph:
                t.grad = None
            target.backward(v)
            for i, s in enumerate(sources):
                g = s.grad
                rows[i].append(np.zeros(s.data.size) if g is None
                               else np.asarray(g, dtype=np.float64).ravel())
    finally:
        for t, grad, contrib in saved:
            t.grad, t.contributions = grad, contrib
    out = []
    for s, r in zip(sources, rows, strict=True):
        info = parse_scope(s.scope)
        J = np.stack(r)  # (n or samples, s.size): row j = e_jᵀ J (or vᵀ J)
        if exact:
            out.append(JacobianNorm(info.layer, info.direction, info.t,
                                    float(np.linalg.norm(J)), float(np.linalg.norm(J, 2))))
        else:
            fro = float(np.sqrt(np.mean(np.sum(J * J, axis=1))))
            out.append(JacobianNorm(info.layer, info.direction, info.t, fro, None))
    return out


# ---- one experiment: how far back does the gradient reach? --------------------------------

CELLS = ("rnn", "gru", "lstm")


def gradient_flow(cell: str = "rnn", steps: int = 30, hidden: int = 16, input_size: int = 4,
                  seed: int = 0, layers: int = 1, bidirectional: bool = False,
                  forget_bias: float | None = None) -> list[StateNorm]:
    """Unroll a freshly initialised ``cell`` ("rnn", "gru" or "lstm") on seeded random
    inputs, take the loss L = Σ h_T (the last step of the top layer: a dependency that must
    travel back in time) and return ‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖) for every step.

    The same seed gives every cell the same inputs, so their curves compare directly.
    ``forget_bias`` (LSTM only) sets the forget gate's input bias (rows H..2H of every
    ``bias_ih_l*``), the common initialisation trick that makes an untrained LSTM remember.
    """
    from tinygrad_rnn import nn

    kinds = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
    if cell not in kinds:
        raise ValueError(f"gradient_flow: cell must be one of {CELLS}, got {cell!r}")
    model = kinds[cell](input_size, hidden, num_layers=layers, bidirectional=bidirectional,
                        rng=seed, dtype=np.float64)
    if forget_bias is not None:
        if cell != "lstm":
            raise ValueError(f"gradient_flow: forget_bias applies to the lstm, not {cell!r}")
        for name, p in model.named_parameters():
            if name.startswith("bias_ih"):
                p.data[hidden:2 * hidden] = forget_bias
    x = Tensor(np.random.default_rng(seed + 1).normal(size=(steps, 1, input_size)))
    out, _ = model(x)
    loss = out[-1].sum()
    loss.backward()
    return state_grad_norms(loss)
