"""One row per line of steps: what keeps a layer's (and direction's) steps side by side.

Three devices, each found by trying what dot does (``rankdir=LR``: ranks are columns,
the order inside a rank is the vertical position):

* ``spine``: one straight path through every step (the carried state h_{t-1} -> … -> h_t)
  gets one ``group`` and a heavy weight, so dot keeps it on one horizontal line and the
  time clusters stand in one row instead of drifting into a staircase;
* ``columns``: a bus point and the node it taps into, and an input x_t and the node that
  reads it, share a rank (``rank=same``), so the taps and inputs run straight up or down
  into their step and each step is only as wide as its cell and states;
* ``time_chain``: invisible edges (weight 0: they order ranks and pull on nothing) from
  the end of step t-1 to the start of step t, its input and its bus points, so each step
  begins after the previous one and a bus, pulled straight, cannot bunch its points up.

Cutting dot's placement short (``nslimit``) undoes the first: see ``dot.py``.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from tinygrad_rnn.viz.layout import line_and_step
from tinygrad_rnn.viz.scopes import split_time
from tinygrad_rnn.viz.views import Key, NodeSpec


def _steps_of(nodes: dict[Key, NodeSpec]) -> dict[Any, dict[int, list[Key]]]:
    """The nodes of every step, by line (ghost flag and the clusters above the step)."""
    steps: dict[Any, dict[int, list[Key]]] = {}
    for key, spec in nodes.items():
        found = line_and_step(spec)
        if found is not None:
            steps.setdefault((spec.ghost, found[0]), {}).setdefault(found[1], []).append(key)
    return steps


def spine(nodes: dict[Key, NodeSpec], edge_keys: list[tuple[Key, Key]]) -> set[Key]:
    """The nodes of one straight line through every step of every line: the state that
    the recurrence carries and the shortest way to it through each step.

    The carried state is the node of step t that feeds another step with the most uses
    outside its line (the LSTM's h, which the output and the layer above read, before c,
    which only the next step reads: c has no pull of its own and sits beside the line).
    Giving these nodes one ``group`` makes dot keep them on one horizontal line
    (``rankdir=LR``), so the time clusters stand in one row instead of drifting into a
    staircase; a chain that forks (cell -> h and cell -> c both on it) cannot be
    straight, hence one path, not every state."""
    where = {key: line_and_step(spec) for key, spec in nodes.items()}
    into: dict[Key, list[Key]] = {}
    outside: dict[Key, int] = {}
    carries: set[Key] = set()
    for src, dst in edge_keys:
        if src == dst:
            continue
        into.setdefault(dst, []).append(src)
        a, b = where[src], where[dst]
        if a is not None and b is not None and a[0] == b[0] and a[1] != b[1] \
                and nodes[src].ghost == nodes[dst].ghost:
            carries.add(src)
        elif a is not None and (b is None or b[0] != a[0]):
            outside[src] = outside.get(src, 0) + 1
    line: set[Key] = set()
    for by_t in _steps_of(nodes).values():
        in_line = {k for keys in by_t.values() for k in keys}
        paths: dict[int, tuple[list[Key], dict[Key, Key | None], list[Key]]] = {}
        recurrent_weights: set[Key] = set()  # the weights the recurrence's entry reads
        for t in sorted(by_t):
            members = set(by_t[t])
            # the last step carries nothing on: its states that nothing in it reads
            found = [k for k in by_t[t] if k in carries] or [
                k for k in by_t[t] if nodes[k].kind == "state"
                and not any(k in into.get(m, []) for m in members)] or [
                k for k in by_t[t] if nodes[k].kind in ("cell", "elided")]
            if not found:
                continue
            state = min(found, key=lambda k: (-outside.get(k, 0), list(nodes).index(k)))
            # breadth-first backwards from the state, inside the step, to the nearest
            # node fed by another step (the recurrence), else fed from outside the step
            back: dict[Key, Key | None] = {state: None}
            queue, head = [state], 0
            while head < len(queue):
                for f in into.get(queue[head], []):
                    if f in members and f not in back:
                        back[f] = queue[head]
                        queue.append(f)
                head += 1
            fed = [k for k in queue if any(f in in_line and f not in members
                                           for f in into.get(k, []))]
            if fed:
                recurrent_weights.update(f for f in into.get(fed[0], [])
                                         if nodes[f].kind == "param")
            paths[t] = (fed, back, queue)
        for fed, back, queue in paths.values():
            # the first step has no recurrence coming in: enter it where the others do,
            # at the op that reads the same weight (s_0 W_s like s_{t-1} W_s)
            alike = [k for k in queue if set(into.get(k, [])) & recurrent_weights]
            entry = [k for k in queue if not any(f in back and f != k
                                                 for f in into.get(k, []))]
            step: Key | None = (fed or alike or entry or queue)[0]
            while step is not None:
                line.add(step)
                step = back[step]
    return line


def time_chain(nodes: dict[Key, NodeSpec], edge_keys: list[tuple[Key, Key]],
               taps: dict[str, Key] | None = None) -> list[tuple[Any, Any]]:
    """Invisible edges from the last nodes of step t-1 to the first nodes of step t, to
    the inputs x_t that feed step t from outside it, and to the bus points ``taps``
    (point -> the node it taps into) of step t.

    Without them dot ranks x_t (which depends on nothing in the recurrence) with x_1, so
    the time clusters overlap in rank and get stacked in a staircase, and a bus, pulled
    straight, would bunch its points up at the start; with them each step starts after
    the previous one and its inputs and bus points stand in the column just before it."""
    where = {key: line_and_step(spec) for key, spec in nodes.items()}
    successors: dict[Key, set[Key]] = {}
    feeds: dict[Key, set[Any]] = {}
    for src, dst in edge_keys:
        successors.setdefault(src, set()).add(dst)
        found = where[dst]
        if where[src] is None and found is not None and src != dst \
                and nodes[src].kind != "param":
            feeds.setdefault(src, set()).add(((nodes[dst].ghost, found[0]), found[1]))
    before: dict[Any, list[Any]] = {}
    for src, steps in feeds.items():  # an input that feeds exactly one step: its x_t
        if len(steps) == 1:
            before.setdefault(next(iter(steps)), []).append(src)
    for point, dst in (taps or {}).items():
        found = where[dst]
        if found is not None:
            before.setdefault(((nodes[dst].ghost, found[0]), found[1]), []).append(point)
    chain: list[tuple[Any, Any]] = []
    for line, by_t in _steps_of(nodes).items():
        times = sorted(by_t)
        for prev, t in pairwise(times):
            members, later = set(by_t[prev]), set(by_t[t])
            # the last nodes of step t-1 (nothing else in that step uses them) before the
            # first nodes of step t (nothing in that step feeds them): in a backward
            # direction, where data flows from t to t-1, this is what orders the steps
            ends = [k for k in by_t[prev] if not successors.get(k, set()) & members]
            starts = [k for k in by_t[t] if not any(dst in later and src in later
                                                    for src, dst in edge_keys if dst == k)]
            starts += before.get((line, t), [])
            chain += [(a, b) for a in ends for b in starts]
    return chain


def columns(nodes: dict[Key, NodeSpec], edge_keys: list[tuple[Key, Key]],
            taps: dict[str, Key]) -> list[list[Any]]:
    """Sets of nodes (and bus points) that share a rank: dot draws them in one column
    (``rankdir=LR``), so the edges between them run straight up or down.

    * a bus point with the node it taps into: the tap is a short vertical line from the
      bus under the steps up into the cell (step t's term of the BPTT sum);
    * an input x_t with the node of each line that reads it: x_t stands under its step
      (the lectures' picture), and the two directions of a bidirectional layer, which
      both read x_t, stand in the same columns;
    * the input x_t of a layer above (made from h_t of the layer below) with the node
      that reads step t's data in the layer below: step t of every layer stands in one
      column. The edge h_t -> x_t is then drawn with ``constraint=false`` (it runs up
      and back by one rank); the clusters' order (``layout._order_key``, the highest
      layer first) keeps layer 0 at the bottom. Tried before: columns in the layer above
      without this join put layer 0 on top, and no columns there left its steps astray.

    The sets are merged where they meet (union-find), and an input joins at most one
    node per line, so no set holds two nodes with a path between them over the edges
    that rank (h_t -> x_t above does not)."""
    parent: dict[Any, Any] = {}

    def find(a: Any) -> Any:
        while parent.get(a, a) != a:
            parent[a] = parent.get(parent[a], parent[a])
            a = parent[a]
        return a

    def join(a: Any, b: Any) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            parent.setdefault(rb, rb)

    where = {key: line_and_step(spec) for key, spec in nodes.items()}
    readers: dict[Key, dict[Any, list[Key]]] = {}
    for src, dst in edge_keys:
        found = where[dst]
        if src == dst or found is None or where[src] is not None:
            continue
        first = nodes[src].members[0] if nodes[src].members else None
        if nodes[src].kind not in ("data", "state") or first is None or not (
                first.name == "x" or split_time(first.scope)[1] is not None):
            continue  # only an input x_t: not the initial state, not a weight
        readers.setdefault(src, {}).setdefault((nodes[dst].ghost, found[0]), []).append(dst)
    # every bus point stands in the column of its tap, in every layer
    for point, dst in taps.items():
        if where[dst] is not None:
            join(point, dst)
    entry: dict[tuple[Any, int], Key] = {}
    for src, by_line in readers.items():
        steps = {where[d][1] for ds in by_line.values() for d in ds}  # type: ignore[index]
        if len(steps) != 1:
            continue  # an input read by several steps: free
        for line, ds in by_line.items():
            join(src, ds[0])
            entry[(line, next(iter(steps)))] = ds[0]
    # a layer above: x_t joins the column of the node that reads x_t in the layer below
    for a, src in edge_keys:
        found = where[a]
        if src in readers and found is not None:
            below = entry.get(((nodes[a].ghost, found[0]), found[1]))
            if below is not None:
                join(src, below)
    sets: dict[Any, list[Any]] = {}
    for a in list(parent):
        sets.setdefault(find(a), []).append(a)
    return [members for members in sets.values() if len(members) > 1]

