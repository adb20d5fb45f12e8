"""The three pictures of one graph: which drawn node each tensor becomes.

* ``ops``    -- every tensor is its own node: each primitive op, each leaf.
* ``cells``  -- the unnamed ops that share a scope path are collapsed into one node named
  after the scope ("LSTMCell"), so each cell at each step is one box; named tensors (x, h,
  c, the loss), leaves and ops at top level stay separate.
* ``folded`` -- the steps are laid on top of each other: all the ops of one time step of
  one layer and direction become one cell node, the same for every t, so the recurrence
  appears as a self-loop (the lectures' folded picture x -> [cell] -> y).

The mapping is generic: it reads only scope paths and names (see ``scopes.py``), so a
learner's own loop is grouped the same way as the library's layers. A graph without scopes
has nothing to collapse, and its ``cells`` picture is its ``ops`` picture.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.viz.scopes import split_time, time_of

VIEWS = ("ops", "cells", "folded")
Key = tuple[Any, ...]  # identifies one drawn node
GHOST_CLUSTER = "cut off by detach()"  # where the history behind a detach() is drawn


@dataclass
class NodeSpec:
    """One drawn node: the tensors it stands for and where it goes."""

    kind: str  # "param" | "data" | "detached" | "op" | "state" | "cell" | "elided"
    members: list[Tensor] = field(default_factory=list)
    cluster: tuple[str, ...] = ()  # scope components of the enclosing clusters
    title: str = ""  # first line of the label (name, op or cell type)
    ghost: bool = False  # part of the history cut off by detach()


def _own_kind(t: Tensor) -> str:
    if t.grad_fn is None:
        if t._origin is not None:
            return "detached"
        return "param" if t.requires_grad else "data"
    return "state" if t.name else "op"


def _components(path: str) -> tuple[str, ...]:
    return tuple(path.split("/")) if path else ()


def _has_time(path: str) -> bool:
    return any(time_of(p) is not None for p in _components(path))


def assign(tensors: Iterable[Tensor], view: str, roots: set[Tensor],
           ghosts: set[Tensor]) -> tuple[dict[Tensor, Key], dict[Key, NodeSpec]]:
    """Map each tensor to the key of the node that draws it, and describe those nodes.

    ``tensors`` must be in creation order; node keys come out in that order too, which
    is what makes the DOT text deterministic.
    """
    if view not in VIEWS:
        raise ValueError(f"draw: view must be one of {VIEWS}, got {view!r}")
    tensors = list(tensors)
    rep: dict[Tensor, Key] = {}
    nodes: dict[Key, NodeSpec] = {}

    def own(t: Tensor, i: int) -> Key:
        ghost = t in ghosts
        kind = _own_kind(t)
        if t.grad_fn is None and (t.requires_grad or t._origin is not None):
            # parameters are drawn once, outside the time clusters, with an edge per use
            cluster: tuple[str, ...] = (GHOST_CLUSTER,) if ghost else ()
        else:  # data made inside a step (x_t sliced from a constant input) stays there
            cluster = ((GHOST_CLUSTER,) if ghost else ()) + _components(t.scope)
        key = ("t", i)
        nodes[key] = NodeSpec(kind, [t], cluster, "", ghost)
        return key

    # First pass: a provisional group key for every tensor that may be collapsed.
    group_of: dict[Tensor, Key] = {}
    if view != "ops":
        for t in tensors:
            if view == "folded" and t.grad_fn is None and not t.requires_grad and t.name \
                    and _has_time(t.scope):  # x_t sliced from a constant input
                group_of[t] = ("entry", split_time(t.scope)[0], t.name)
            if t.grad_fn is None or t in roots:
                continue
            if view == "cells":
                if not t.name and t.scope:
                    group_of[t] = ("cell", t in ghosts, t.scope)
            else:  # folded
                before, step, _ = split_time(t.scope)
                if step is None:
                    if not t.name and t.scope:
                        group_of[t] = ("cell", False, t.scope)
                elif t.name and not any(_has_time(i.scope) for i in t.grad_fn.inputs
                                        if i.grad_fn is not None):
                    group_of[t] = ("entry", before, t.name)  # x_t: enters each step
                else:
                    group_of[t] = ("fold", before)
    sizes = Counter(group_of.values())

    for i, t in enumerate(tensors):
        key = group_of.get(t)
        if key is None or (key[0] == "cell" and sizes[key] == 1):
            rep[t] = own(t, i)  # a group of one op is just that op
            continue
        rep[t] = key
        spec = nodes.get(key)
        if spec is None:
            spec = nodes[key] = _group_spec(key)
        spec.members.append(t)
    for key, spec in nodes.items():
        if key[0] == "t" and spec.members[0].grad_fn is not None:
            # a named tensor made inside a collapsed scope (h inside LSTMCell) sits beside
            # that cell's node, not in a cluster of its own
            t = spec.members[0]
            group = nodes.get(("cell", t in ghosts, t.scope))
            if group is not None:
                spec.cluster = group.cluster
        if key[0] == "fold":
            cells = Counter(split_time(t.scope)[2].split("/")[0] for t in spec.members)
            cells.pop("", None)
            spec.title = cells.most_common(1)[0][0] if cells else "step"
    return rep, nodes


def _group_spec(key: tuple[Any, ...]) -> NodeSpec:
    if key[0] == "cell":
        _, ghost, path = key
        parts = _components(path)
        last = parts[-1]
        prefix = (GHOST_CLUSTER,) if ghost else ()
        if time_of(last) is not None:  # a user's loop with only a time scope: the step
            return NodeSpec("cell", [], prefix + parts, "step", ghost)
        return NodeSpec("cell", [], prefix + parts[:-1], last, ghost)
    if key[0] == "entry":
        _, before, name = key
        return NodeSpec("state", [], _components(before), f"{name}_t")
    _, before = key
    return NodeSpec("cell", [], _components(before), "step")
