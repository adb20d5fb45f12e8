"""Eliding the middle of a long sequence: t = 1, t = 2, …, t = T on one slide.

Every line of steps (one layer, one direction) with more than ``max_steps`` steps keeps its
first ``max(2, max_steps − 4)`` steps and its last one (so it is never wider than
``max_steps`` columns, the ellipsis included); the steps in between become a single
ellipsis node, in a cluster "t = a … b" of its own. The ellipsis node stands for all their
tensors, so the edges into it merge the elided uses: a weight's edge into it carries the
sum of that weight's contributions over the elided steps (and is labelled with their
number), and the recurrence runs h_{a−1} -> … -> step b+1 as before.
"""

from __future__ import annotations

import re

from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.viz.scopes import time_of
from tinygrad_rnn.viz.views import Key, NodeSpec

_RANGE = re.compile(r"^t=(\d+)…(\d+)$")
MIN_STEPS = 4  # t = 1, t = 2, …, t = T: the least that shows how the sequence starts


def elided_range(component: str) -> tuple[int, int] | None:
    """(a, b) for the cluster component "t=a…b" of an ellipsis, else None."""
    m = _RANGE.match(component)
    return (int(m.group(1)), int(m.group(2))) if m else None


def step_of(component: str) -> int | None:
    """The step a cluster component stands for: "t=3" -> 3, an ellipsis "t=3…9" -> 3."""
    t = time_of(component)
    if t is not None:
        return t
    span = elided_range(component)
    return span[0] if span else None


def _line_and_step(spec: NodeSpec) -> tuple[tuple[str, ...], int] | None:
    for depth, part in enumerate(spec.cluster):
        t = time_of(part)
        if t is not None:
            return spec.cluster[:depth], t
    return None


def elide(rep: dict[Tensor, Key], nodes: dict[Key, NodeSpec],
          max_steps: int) -> tuple[dict[Tensor, Key], dict[Key, NodeSpec]]:
    """Merge the middle steps of every line longer than ``max_steps`` (>= 4) into one
    ellipsis node per line. Node order is kept (the ellipsis takes the place of the first
    node it swallows), so the DOT text stays deterministic."""
    where = {key: _line_and_step(spec) for key, spec in nodes.items() if not spec.ghost}
    steps: dict[tuple[str, ...], set[int]] = {}
    for found in where.values():
        if found is not None:
            steps.setdefault(found[0], set()).add(found[1])
    hidden: dict[tuple[str, ...], set[int]] = {}
    for line, ts in steps.items():
        order = sorted(ts)
        if len(order) > max_steps:
            hidden[line] = set(order[max(2, max_steps - 4):-1])
    if not hidden:
        return rep, nodes
    merged: dict[Key, NodeSpec] = {}
    moved: dict[Key, Key] = {}
    for key, spec in nodes.items():
        found = where.get(key)
        if found is None or found[1] not in hidden.get(found[0], ()):
            merged[key] = spec
            continue
        line = found[0]
        target = ("elided", line)
        if target not in merged:
            a, b = min(hidden[line]), max(hidden[line])
            merged[target] = NodeSpec("elided", [], line + (f"t={a}…{b}",),
                                      f"{b - a + 1} steps")
        merged[target].members.extend(spec.members)
        moved[key] = target
    return {t: moved.get(k, k) for t, k in rep.items()}, merged
