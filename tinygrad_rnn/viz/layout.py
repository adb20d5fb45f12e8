"""Where things go: the slide layout given to Graphviz's ``dot``.

The lectures draw an unrolled RNN with time running along the page and the computation of
one step running across it: x⟨t⟩ at the bottom, the cell above it, the state above that,
the steps side by side, the recurrence s_{t−1} -> s_t crossing from one column to the next.
Here that becomes (for the default ``direction="lr"``):

* ranks run bottom to top (``rankdir=BT``): inside a step, inputs are low and states high;
  a layer above uses the states of the layer below, so layer 0 is at the bottom and the
  layers stack upwards;
* an edge from one step to another of the same line (layer and direction) -- the
  recurrence -- has ``constraint=false``: it does not push step t+1 above step t, so all
  steps of a line share the same ranks and stand in one row;
* the first node of each step ("anchor") is put on one rank (``rank=same``, allowed across
  clusters by ``newrank``) and chained by invisible edges anchor_t -> anchor_{t+1}; edges
  within a rank keep their left-to-right order, so the steps stand as t = 1, 2, …, T;
* with two directions the backward row is put above the forward row (an invisible edge
  from a top node of the forward step t to the anchor of the backward step t), so the two
  rows share the t columns;
* parameters are drawn once, below the lowest step that uses them (each sends an edge into
  every step: edges between neighbouring ranks, short and straight).

No edge spans more than a few ranks, so dot's network simplex -- which used to spend
minutes on the long weight edges of a left-to-right picture -- has little to do: an LSTM
ops view over 20 steps lays out in seconds (benchmarks/ measures it).

``direction`` names where time runs: "lr" (left to right, the default), "rl", "bt" (bottom
to top: ``rankdir=LR``, the computation runs left to right) or "tb".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import graphviz

from tinygrad_rnn.viz.elide import step_of
from tinygrad_rnn.viz.style import cluster_attrs
from tinygrad_rnn.viz.views import Key, NodeSpec

# where time runs -> (rankdir, whether the anchors are chained in reverse)
DIRECTIONS = {"lr": ("BT", False), "rl": ("BT", True), "bt": ("LR", True),
              "tb": ("LR", False)}

Line = tuple[str, ...]


def line_and_step(spec: NodeSpec) -> tuple[Line, int] | None:
    """(the clusters above the step, the step) of a node inside a time step, else None."""
    for depth, part in enumerate(spec.cluster):
        t = step_of(part)
        if t is not None:
            return spec.cluster[:depth], t
    return None


def is_recurrence(src: NodeSpec, dst: NodeSpec) -> bool:
    """An edge from one step to another step of the same line."""
    a, b = line_and_step(src), line_and_step(dst)
    return a is not None and b is not None and a[0] == b[0] and a[1] != b[1]


@dataclass
class Plan:
    """What the layout adds to the picture: invisible nodes in clusters, groups of nodes on
    one rank, and invisible edges."""

    bodies: dict[tuple[str, ...], list[tuple[str, dict[str, str]]]] = field(
        default_factory=dict)
    same_rank: list[list[str]] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (tail, head)
    tall: list[tuple[str, str]] = field(default_factory=list)  # two ranks apart


def place_leaves(nodes: dict[Key, NodeSpec], edge_keys: list[tuple[Key, Key]]) -> None:
    """Move the parameters and each step's input into the bottom row of their line.

    A parameter goes into the innermost box that holds all its uses (its layer and
    direction), outside every time step: it is drawn below that box's steps, and its edges
    enter each step from below instead of winding around the boxes. A step's input x_t
    (data, or a named tensor fed only from outside its line) leaves its step box for the
    same bottom row, right under the step it feeds."""
    where = {key: line_and_step(spec) for key, spec in nodes.items()}
    lines: dict[Key, list[tuple[str, ...]]] = {}
    fed_in_line: set[Key] = set()
    for src, dst in edge_keys:
        a, b = where[src], where[dst]
        if nodes[src].kind in ("param", "data", "detached") and src != dst \
                and where[src] is None:
            lines.setdefault(src, []).append(b[0] if b else nodes[dst].cluster)
        if a is not None and b is not None and a[0] == b[0] and src != dst:
            fed_in_line.add(dst)
    for key, paths in lines.items():
        if nodes[key].ghost:
            continue
        common = paths[0]
        for path in paths[1:]:
            n = 0
            while n < min(len(common), len(path)) and common[n] == path[n]:
                n += 1
            common = common[:n]
        nodes[key].cluster = common
    for key, spec in nodes.items():
        found = where[key]
        if found is not None and key not in fed_in_line and (
                spec.kind == "data" or (spec.kind == "state" and spec.members[0].name == "x")):
            spec.cluster = found[0]


def plan(nodes: dict[Key, NodeSpec], ids: dict[Key, str], edge_keys: list[tuple[Key, Key]],
         direction: str) -> Plan:
    """Steps in time order, rows of a bidirectional layer (see the module docstring).

    Time order: dot ignores the left-to-right order of edges within one rank between
    clusters, and every step is a cluster of its own. So each line gets a row of invisible
    "ruler" points in its bottom row, and a zig-zag of invisible edges from them to the
    steps' anchors (the lowest node of each step): any order of the steps but 1, 2, …, T
    crosses these edges, and dot's crossing minimisation finds the uncrossed one."""
    out = Plan()
    steps: dict[Line, dict[int, list[Key]]] = {}
    for key, spec in nodes.items():
        found = line_and_step(spec)
        if found is not None:
            steps.setdefault(found[0], {}).setdefault(found[1], []).append(key)
    where = {k: (line, t) for line, by_t in steps.items() for t, ks in by_t.items()
             for k in ks}
    inside: set[tuple[Key, Key]] = {(s, d) for s, d in edge_keys
                                    if s != d and s in where and where[s] == where.get(d)}
    fed = {d for _, d in inside}
    feeds = {s for s, _ in inside}
    reverse = DIRECTIONS[direction][1]
    for line, by_t in steps.items():
        anchors = {}
        for t, keys in by_t.items():
            anchors[t] = ([k for k in keys if k not in fed] or keys)[0]
        out.same_rank.append([ids[k] for k in anchors.values()])
        name = "ruler_" + "_".join(line) if line else "ruler"
        points = [f"{name}_{t}" for t in sorted(anchors)]
        out.bodies[line] = [(p, {"shape": "point", "style": "invis", "width": "0",
                                 "height": "0", "label": ""}) for p in points]
        # the weights of this line with the ruler, one rank under the inputs x_t
        weights = [ids[k] for k, spec in nodes.items()
                   if spec.kind == "param" and spec.cluster == line and not spec.ghost]
        out.same_rank.append(points + weights)
        import os
        mode = os.environ.get("H3MODE", "ladder")
        inputs = {}
        for t, keys in by_t.items():
            feeders = [s for s, d in edge_keys if d in keys and nodes[s].cluster == line
                       and nodes[s].kind != "param" and where.get(s) is None]
            inputs[t] = feeders[0] if feeders else anchors[t]
        targets = [ids[(inputs if "x" in mode else anchors)[t]] for t in sorted(anchors)]
        if reverse:
            targets.reverse()
        if "root" in mode:
            out.bodies.pop(line)
            out.bodies.setdefault((), []).extend((p, {"shape": "point", "style": "invis", "width": "0",
                                 "height": "0", "label": ""}) for p in points)
            out.same_rank[-1] = points
        if "chain" in mode:
            out.edges += list(zip(points, points[1:]))
        bucket = out.edges if "x" in mode else out.tall
        bucket += list(zip(points, targets, strict=True))
        if "ladder" in mode:
            bucket += list(zip(points, targets[1:], strict=False))
        if line and line[-1] == "bwd" and line[:-1] + ("fwd",) in steps:
            below = steps[line[:-1] + ("fwd",)]  # the backward row above the forward row
            for t in sorted(set(below) & set(anchors)):
                tops = [k for k in below[t] if k not in feeds] or below[t]
                out.edges.append((ids[tops[0]], f"{name}_{t}"))
    return out


def _order_key(path: tuple[str, ...], first: dict[tuple[str, ...], int]) -> tuple[Any, ...]:
    t = step_of(path[-1])
    return (0, t, 0) if t is not None else (1, first[path], path[-1])


def emit_clusters(graph: graphviz.Digraph,
                  bodies: dict[tuple[str, ...], list[tuple[str, dict[str, str]]]],
                  nodes: dict[Key, NodeSpec], rankdir: str = "BT") -> None:
    """Nested clusters, built without recursion: fill every cluster with its nodes, then
    attach children to parents deepest first (a child must be complete when attached)."""
    first: dict[tuple[str, ...], int] = {}
    for i, spec in enumerate(nodes.values()):
        for depth in range(1, len(spec.cluster) + 1):
            first.setdefault(spec.cluster[:depth], i)
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for path in first:
        children.setdefault(path[:-1], []).append(path)
    for kids in children.values():
        kids.sort(key=lambda p: _order_key(p, first))
    # number clusters in pre-order (an explicit stack), so names are deterministic
    order: list[tuple[str, ...]] = []
    stack = list(reversed(children.get((), [])))
    while stack:
        path = stack.pop()
        order.append(path)
        stack.extend(reversed(children.get(path, [])))
    subgraphs = {}
    for number, path in enumerate(order, start=1):
        sub = graphviz.Digraph(name=f"cluster_{number}")
        sub.attr(**cluster_attrs(path))
        if rankdir == "BT":  # captions on top (dot's "t" means the bottom when flipped)
            sub.attr(labelloc="b")
        subgraphs[path] = sub
    for path, items in bodies.items():
        target = subgraphs[path] if path else graph
        for node_id, attrs in items:
            target.node(node_id, **attrs)
    for path in sorted(order, key=len, reverse=True):
        parent = subgraphs[path[:-1]] if len(path) > 1 else None
        if parent is not None:
            parent.subgraph(subgraphs[path])
    for path in children.get((), []):
        graph.subgraph(subgraphs[path])
