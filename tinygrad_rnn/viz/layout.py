"""Where things go: the layout given to Graphviz's ``dot``.

Time runs along dot's ranks (``rankdir=LR`` for the default ``direction="lr"``), so the
steps always stand in the order t = 1, 2, …, T: an order across ranks is a hard constraint
for dot, while an order within a rank is only a preference its crossing minimisation may
drop (tried: steps side by side on shared ranks came out as 2, 1, 3, … often enough).

* Steps: each line (layer and direction) of steps is one row: see ``rows.py``.
* Weights: a parameter is drawn once, in the box of its layer and direction, at the start
  of the chain. Instead of one long edge per use -- T edges, each crossing every step in
  between, which dot needed minutes to route for an LSTM over 20 steps -- its uses hang
  off one line, a *bus*, that runs under the steps: W -> j_1 -> j_2 -> … -> j_T with a
  short tap j_t -> (the op of step t). Every tap carries that step's term of the BPTT sum;
  the bus segment after j_t carries the sum of the taps beyond it, so the line into W
  carries the whole gradient: the sum is drawn the way backward computes it.
* Bidirectional layers: the backward direction is drawn as the mirror image of the
  forward one -- its edges reversed (``dir=back``), each step reading right to left -- so
  both directions share the t columns.
* Stacked layers: the plumbing between them is replaced by edges h_t -> x_t above
  (``between_layers``), which carry the gradient that reaches h_t through it; step t of
  every layer stands in one column (``rows.columns``).

``direction`` names where time runs: "lr" (left to right, the default), "rl", "bt" (bottom
to top) or "tb".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import graphviz

from tinygrad_rnn.viz.elide import step_of
from tinygrad_rnn.viz.scopes import parse_scope
from tinygrad_rnn.viz.style import cluster_attrs
from tinygrad_rnn.viz.views import Key, NodeSpec

DIRECTIONS = {"lr": "LR", "rl": "RL", "bt": "BT", "tb": "TB"}

Line = tuple[str, ...]


def line_and_step(spec: NodeSpec) -> tuple[Line, int] | None:
    """(the clusters above the step, the step) of a node inside a time step, else None."""
    for depth, part in enumerate(spec.cluster):
        t = step_of(part)
        if t is not None:
            return spec.cluster[:depth], t
    return None


def is_recurrence(src: NodeSpec, dst: NodeSpec) -> bool:
    """An edge from one step to another step of the same line: the recurrence."""
    a, b = line_and_step(src), line_and_step(dst)
    return a is not None and b is not None and a[0] == b[0] and a[1] != b[1]


def place_leaves(nodes: dict[Key, NodeSpec], edge_keys: list[tuple[Key, Key]]) -> None:
    """Put each parameter in the innermost box that holds all its uses (its layer and
    direction), outside every time step, so its bus runs inside that box; and move each
    step's input x_t (data, or a named tensor fed from outside its line) out of the step's
    box to just before it, so a step is only as wide as its cell and states."""
    where = {key: line_and_step(spec) for key, spec in nodes.items()}
    fed_in_line: set[Key] = set()
    for src, dst in edge_keys:
        a, b = where[src], where[dst]
        if a is not None and b is not None and a[0] == b[0] and src != dst:
            fed_in_line.add(dst)
    for key, spec in nodes.items():
        found = where[key]
        if found is not None and key not in fed_in_line and not spec.ghost and (
                spec.kind == "data" or (spec.kind == "state" and spec.members[0].name == "x")):
            spec.cluster = found[0]
    paths: dict[Key, list[Line]] = {}
    for src, dst in edge_keys:
        if nodes[src].kind == "param" and src != dst and not nodes[src].ghost:
            use = line_and_step(nodes[dst])
            paths.setdefault(src, []).append(use[0] if use else nodes[dst].cluster)
    for key, lines in paths.items():
        common = lines[0]
        for path in lines[1:]:
            n = 0
            while n < min(len(common), len(path)) and common[n] == path[n]:
                n += 1
            common = common[:n]
        nodes[key].cluster = common


@dataclass
class Bus:
    """The line that carries one parameter's uses: junction points and, per point, the
    drawn edge (src, dst) it taps into."""

    param: Key
    points: list[str] = field(default_factory=list)
    taps: list[tuple[Key, Key]] = field(default_factory=list)


def buses(nodes: dict[Key, NodeSpec], ids: dict[Key, str],
          edge_keys: list[tuple[Key, Key]]) -> dict[Key, Bus]:
    """A bus for every parameter used in two or more steps, its taps in time order."""
    uses: dict[Key, list[tuple[int, int, tuple[Key, Key]]]] = {}
    for i, (src, dst) in enumerate(edge_keys):
        if nodes[src].kind != "param" or src == dst or nodes[src].ghost:
            continue
        found = line_and_step(nodes[dst])
        if found is not None:
            uses.setdefault(src, []).append((found[1], i, (src, dst)))
    found_buses = {}
    for param, items in uses.items():
        if len(items) < 2:
            continue
        items.sort()
        bus = Bus(param)
        for k, (_, _, edge) in enumerate(items, start=1):
            bus.points.append(f"{ids[param]}_bus{k}")
            bus.taps.append(edge)
        found_buses[param] = bus
    return found_buses


def between_layers(nodes: dict[Key, NodeSpec],
                   edge_keys: list[tuple[Key, Key]]) -> tuple[set[Key], list[tuple[Key, Key]]]:
    """The plumbing between stacked layers, and the edges that replace it.

    A layer's outputs reach the layer above as h_t -> Stack (-> Concat of the two
    directions) -> x_t = GetItem(t). Drawn as they are, the Stack stands after the last
    step and pushes the whole layer above to the right of the layer below. So these hub
    nodes -- outside every step, feeding only inputs x_t of a layer above -- are left out,
    and each x_t of the layer above gets an edge straight from the states h_t of step t
    below (what the Stack/Concat/GetItem pass on): the layers stand one above the other,
    step over step."""
    def is_input(spec: NodeSpec) -> bool:
        return (spec.kind == "state" and bool(spec.members)
                and spec.members[0].name == "x" and spec.members[0].grad_fn is not None)

    out: dict[Key, set[Key]] = {}
    into: dict[Key, set[Key]] = {}
    for src, dst in edge_keys:
        if src != dst:
            out.setdefault(src, set()).add(dst)
            into.setdefault(dst, set()).add(src)
    # hubs: outside the steps, every successor a hub or an input x_t (found backwards)
    hubs: set[Key] = set()
    changed = True
    while changed:
        changed = False
        for key, spec in nodes.items():
            if key in hubs or line_and_step(spec) is not None or spec.kind not in (
                    "op", "cell", "state") or is_input(spec) or not out.get(key):
                continue
            if all(d in hubs or is_input(nodes[d]) for d in out[key]):
                hubs.add(key)
                changed = True
    bypass: list[tuple[Key, Key]] = []
    for key in sorted(nodes, key=list(nodes).index):
        spec = nodes[key]
        found = line_and_step(spec)
        if not is_input(spec) or found is None or not into.get(key, set()) & hubs:
            continue
        # the steps below that feed these hubs, at the same t
        sources, todo, seen = [], [h for h in into[key] if h in hubs], set()
        while todo:
            hub = todo.pop()
            if hub in seen:
                continue
            seen.add(hub)
            for src in into.get(hub, ()):
                if src in hubs:
                    todo.append(src)
                elif (where := line_and_step(nodes[src])) is not None and where[1] == found[1]:
                    sources.append(src)
        bypass += [(src, key) for src in sorted(set(sources), key=list(nodes).index)]
    return hubs, bypass


def backward_lines(nodes: dict[Key, NodeSpec],
                   edge_keys: list[tuple[Key, Key]]) -> set[tuple[bool, Line]]:
    """The lines whose recurrence runs from step t+1 to step t (a bwd direction)."""
    found = set()
    for src, dst in edge_keys:
        a, b = _time_key(nodes[src]), _time_key(nodes[dst])
        if a is not None and b is not None and a[0] == b[0] and a[1] > b[1]:
            found.add(a[0])
    return found


def edge_ends(src: Key, dst: Key, nodes: dict[Key, NodeSpec],
              backward: set[tuple[bool, Line]] | None = None) -> tuple[Key, Key, bool]:
    """Edges that go back in t (the bwd direction: h_{t+1} -> h_t) are drawn reversed
    with dir=back, so every layer's time clusters line up as t = 1, 2, ..., T; so are the
    edges inside the steps of such a line (``backward``), so that its steps read right to
    left, h_{t+1} -> [cell_t -> h_t], each step a mirror image of a forward one, the two
    directions' cells in the same columns and every recurrence edge short."""
    a, b = _time_key(nodes[src]), _time_key(nodes[dst])
    if a is not None and b is not None and a[0] == b[0] and (
            a[1] > b[1] or (a[1] == b[1] and a[0] in (backward or set()))):
        return dst, src, True
    return src, dst, False


def _time_key(spec: NodeSpec) -> tuple[tuple[bool, Line], int] | None:
    found = line_and_step(spec)
    return ((spec.ghost, found[0]), found[1]) if found is not None else None


def _order_key(path: tuple[str, ...], first: dict[tuple[str, ...], int]) -> tuple[Any, ...]:
    t = step_of(path[-1])
    if t is not None:
        return (0, t, 0)
    layer = parse_scope(path[-1]).layer
    if layer is not None:  # the highest layer first: dot keeps it on top
        return (1, -layer, 0)
    return (2, first[path], path[-1])


def emit_clusters(graph: graphviz.Digraph,
                  bodies: dict[tuple[str, ...], list[tuple[str, dict[str, str]]]],
                  nodes: dict[Key, NodeSpec]) -> None:
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
