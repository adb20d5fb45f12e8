"""``draw``: the graph behind a tensor as a ``graphviz.Digraph``, clustered by scope, with
gradient heat.

Walk: ``engine.topological_order(root, all_inputs=True)`` (iterative) finds every tensor the
root depends on; they are numbered in creation order, so the same program always gives the
same DOT text (no Python ids, no global counters appear in it). ``views.assign`` decides
which drawn node each tensor becomes (``ops``, ``cells`` or ``folded``).

Clusters: a node sits in nested clusters following its scope path
(``layer0`` > ``fwd`` > ``t=3`` > ``LSTMCell``); time clusters are ordered by t. Leaves --
parameters and data -- are drawn once at top level, with one edge per use, so weight
sharing is visible: ``weight_hh`` sends an edge into every time step.

Heat (after ``backward``): a node is filled by ‖t.grad‖ and an edge u -> v is coloured and
thickened by the gradient that flows back along it, the vector-Jacobian product of v's op
for input u, recomputed here from ``v.grad`` (so a weight's edge into step t shows that
step's term of the BPTT sum). Both use one log scale, shown in the legend.

Truncated BPTT: a tensor made by ``detach()`` is drawn dashed, and when what it was cut
from is still alive, that history is drawn faded in its own cluster with the cut edge
marked "detach()": the gradient stops there.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import graphviz
import numpy as np

from tinygrad_rnn.accumulate import dense
from tinygrad_rnn.engine import topological_order
from tinygrad_rnn.function import unbroadcast
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.viz import heat
from tinygrad_rnn.viz.graph import Graph
from tinygrad_rnn.viz.scopes import split_time, time_of
from tinygrad_rnn.viz.views import GHOST_CLUSTER, Key, NodeSpec, assign

DIRECTIONS = {"lr": "LR", "bt": "BT", "tb": "TB", "rl": "RL"}
SHOWS = ("none", "norm", "stats", "values")
FONT = "Helvetica"

# forward-only fills (before backward) by node kind
PLAIN_FILL = {"param": "#fde9b8", "data": "#eeeeee", "detached": "#eeeeee",
              "state": "#d4e6f5", "op": "#ffffff", "cell": "#e3efdc"}


class GraphTooLargeError(ValueError):
    """The picture would have more nodes than ``max_nodes``: dot would take very long."""


@dataclass
class _Edge:
    grads: list[np.ndarray] = field(default_factory=list)
    uses: int = 0
    names: list[str] = field(default_factory=list)
    cut: bool = False


def draw(root: Tensor | Sequence[Tensor], *, view: str = "ops", direction: str = "lr",
         show: str = "none", max_nodes: int = 300, too_big: str = "cells",
         legend: bool = True, title: str | None = None, params: Any = None,
         cutoff: bool = True) -> Graph:
    """Draw the graph behind ``root`` (a tensor, or several) as a ``graphviz.Digraph``.

    Args:
        root: the tensor whose history is drawn (usually the loss), or a list of tensors.
        view: "ops" (every primitive op), "cells" (each cell at each step as one node) or
            "folded" (one node per cell, the recurrence as a self-loop).
        direction: "lr" (time runs left to right) or "bt" (bottom to top).
        show: extra lines on each node: "none", "norm" (‖value‖, ‖grad‖), "stats"
            (min/max of value and grad) or "values" (the numbers, for tensors of <= 8).
        max_nodes: the largest picture to lay out (dot needs seconds for ~150 nodes of an
            unrolled LSTM and minutes beyond ~400: the long edges of shared weights).
        too_big: what to do when the ``ops`` view exceeds ``max_nodes``: "cells" (warn and
            draw the ``cells`` view) or "error". Any view still too big raises
            ``GraphTooLargeError``.
        legend: add the colour scale (only drawn when some gradient exists).
        title: a caption at the top.
        params: a ``Module`` or a mapping / iterable of (name, tensor) used to label
            unnamed leaves.
        cutoff: draw the history cut off by ``detach()`` (when it is still alive).

    Returns:
        a ``Graph`` (a ``graphviz.Digraph``): ``.source`` is the DOT text, ``.write(path)``
        writes .dot/.svg/.png/.pdf, and Jupyter displays it inline.
    """
    roots = _roots(root)
    if direction not in DIRECTIONS:
        raise ValueError(f"draw: direction must be one of {sorted(DIRECTIONS)}, "
                         f"got {direction!r}")
    if show not in SHOWS:
        raise ValueError(f"draw: show must be one of {SHOWS}, got {show!r}")
    if too_big not in ("cells", "error"):
        raise ValueError(f"draw: too_big must be 'cells' or 'error', got {too_big!r}")
    if not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"draw: max_nodes must be a positive int, got {max_nodes!r}")

    tensors, ghosts = _collect(roots, cutoff and view != "folded", max_nodes)
    inline = {t for t in tensors if _is_inline_constant(t) and t not in roots}
    drawn = [t for t in tensors if t not in inline]
    if view == "ops" and len(drawn) > max_nodes:
        advice = (f"draw: the 'ops' view would have {len(drawn)} nodes, more than "
                  f"max_nodes={max_nodes}")
        if too_big == "error":
            raise GraphTooLargeError(advice + "; use view='cells' or view='folded', draw a "
                                     "shorter sequence, or raise max_nodes")
        warnings.warn(advice + "; drawing the 'cells' view instead", stacklevel=2)
        view = "cells"
    rep, nodes = assign(drawn, view, set(roots), ghosts)
    if len(nodes) > max_nodes:
        raise GraphTooLargeError(
            f"draw: the '{view}' view would have {len(nodes)} nodes, more than max_nodes="
            f"{max_nodes}; dot would run for a very long time. Use view='folded', draw a "
            f"shorter sequence (or truncated BPTT), or raise max_nodes")

    edges = _edges(drawn, rep, inline, view, ghosts, nodes)
    names = _param_names(params)
    node_norm = {key: _node_norm(spec) for key, spec in nodes.items()}
    edge_norm = {k: _norm(sum(e.grads[1:], e.grads[0])) if e.grads else None
                 for k, e in edges.items()}
    values = [n for n in list(node_norm.values()) + list(edge_norm.values()) if n is not None]
    heated = bool(values)
    scale = heat.LogScale(values)

    graph = Graph(name="tinygrad_rnn", graph_attr={
        "rankdir": DIRECTIONS[direction], "newrank": "true", "nodesep": "0.2",
        "ranksep": "0.35", "fontname": FONT, "fontsize": "14", "labelloc": "t",
        "compound": "true", "bgcolor": "white"})
    graph.attr("node", fontname=FONT, fontsize="11")
    graph.attr("edge", fontname=FONT, fontsize="9", arrowsize="0.6")
    if title:
        graph.attr(label=_escape(title))

    ids = {key: f"n{i}" for i, key in enumerate(nodes, start=1)}
    root_keys = {rep[r] for r in roots}
    bodies: dict[tuple[str, ...], list[tuple[str, dict[str, str]]]] = {}
    for key, spec in nodes.items():
        attrs = _node_attrs(spec, node_norm[key], scale, heated, show, names,
                            key in root_keys, inline)
        bodies.setdefault(spec.cluster, []).append((ids[key], attrs))
    _emit_clusters(graph, bodies, nodes, ids)

    for (src, dst), e in edges.items():
        attrs = _edge_attrs(e, edge_norm[(src, dst)], scale, heated, src == dst)
        if nodes[src].kind in ("state", "cell") and nodes[dst].kind in ("state", "cell"):
            attrs["weight"] = "4"  # pull the recurrence h_1 -> h_2 -> ... straight
        tail, head, reverse = _edge_ends(src, dst, nodes, ids)
        if reverse:
            attrs["dir"] = "back"
        graph.edge(tail, head, **attrs)
    for a, b in _time_chain(nodes, edges):
        graph.edge(ids[a], ids[b], style="invis")
    if legend and heated:
        _emit_legend(graph, scale)
    return graph


def _time_chain(nodes: dict[Key, NodeSpec],
                edges: dict[tuple[Key, Key], _Edge]) -> list[tuple[Key, Key]]:
    """Invisible edges from the last node of step t-1 to the entry nodes of step t.

    Without them dot ranks x_t (which depends on nothing in the recurrence) with x_1, so
    the time clusters overlap in rank and get stacked in a staircase; with them each step
    starts after the previous one and the steps line up in a row."""
    steps: dict[tuple[str, ...], dict[int, list[Key]]] = {}
    line_of: dict[Key, tuple[str, ...]] = {}
    for key, spec in nodes.items():
        for depth, part in enumerate(spec.cluster):
            t = time_of(part)
            if t is not None:
                line_of[key] = spec.cluster[:depth]
                steps.setdefault(line_of[key], {}).setdefault(t, []).append(key)
                break
    # nodes fed by nothing of their own layer and direction (by weights, data, or the layer
    # below): x_t, W.T -- the ones dot would otherwise rank at the very start
    fed_inside = {dst for (src, dst) in edges
                  if src != dst and src in line_of and line_of[src] == line_of.get(dst)}
    successors: dict[Key, set[Key]] = {}
    for src, dst in edges:
        successors.setdefault(src, set()).add(dst)
    chain = []
    for by_t in steps.values():
        times = sorted(by_t)
        for prev, t in pairwise(times):
            members = set(by_t[prev])
            # the last nodes of step t-1: nothing else in that step uses them
            ends = [k for k in by_t[prev] if not successors.get(k, set()) & members]
            starts = [k for k in by_t[t] if k not in fed_inside]
            chain += [(a, b) for a in ends for b in starts]
    return chain


def _emit_legend(graph: graphviz.Digraph, scale: heat.LogScale) -> None:
    """The colour scale as a cluster of swatches in a row, smallest first (plain nodes,
    not an HTML table, so every Graphviz build draws it)."""
    legend = graphviz.Digraph(name="cluster_legend")
    legend.attr(label=heat.LEGEND_TITLE, style="rounded", color="#bbbbbb", fontsize="11")
    names = []
    for i, (text, fill) in enumerate(heat.legend_swatches(scale)):
        names.append(f"legend{i}")
        legend.node(names[-1], label=text, shape="box", style="filled", fillcolor=fill,
                    fontcolor=heat.text_color(fill), fontsize="10", width="0.7",
                    height="0.3", color="#666666")
    for a, b in pairwise(names):
        legend.edge(a, b, style="invis")
    graph.subgraph(legend)


# ---- collecting the graph -----------------------------------------------------------------


def _roots(root: Any) -> list[Tensor]:
    if isinstance(root, Tensor):
        return [root]
    if isinstance(root, Sequence) and root and all(isinstance(r, Tensor) for r in root):
        return list(root)
    raise TypeError(f"draw: root must be a Tensor or a non-empty list of Tensors, got "
                    f"{type(root).__name__}")


def _collect(roots: list[Tensor], cutoff: bool,
             limit: int) -> tuple[list[Tensor], set[Tensor]]:
    """Every tensor the roots depend on (constants included), in creation order, and the
    'ghost' tensors: the still-alive history behind each detach() (at most ``limit``)."""
    seen: set[Tensor] = set()
    for r in roots:
        seen.update(topological_order(r, all_inputs=True))
    ghosts: set[Tensor] = set()
    if cutoff:
        queue = [t for t in seen if t._origin is not None]
        while queue and len(ghosts) < limit:
            ref = queue.pop()._origin
            origin = ref() if ref is not None else None
            if origin is None or origin in seen or origin in ghosts:
                continue
            for t in topological_order(origin, all_inputs=True):
                if t not in seen and t not in ghosts:
                    ghosts.add(t)
                    if t._origin is not None:
                        queue.append(t)
    return sorted(seen | ghosts, key=lambda t: t._id), ghosts


def _is_inline_constant(t: Tensor) -> bool:
    """A one-element unnamed constant (the 1.0 in 1 - z): shown inside its op's label."""
    return (t._ctx is None and not t.requires_grad and t.data.size == 1 and not t.name
            and t._origin is None)


def _made_in(t: Tensor, cell: NodeSpec) -> bool:
    """Whether tensor t was made in the scope that the collapsed ``cell`` node stands for
    (and in the same time step)."""
    return t._ctx is not None and any(m.scope == t.scope for m in cell.members[:1])


def _edges(tensors: list[Tensor], rep: dict[Tensor, Key], inline: set[Tensor],
           view: str, ghosts: set[Tensor],
           nodes: dict[Key, NodeSpec]) -> dict[tuple[Key, Key], _Edge]:
    """Drawn edges (deduplicated, in creation order), each with the gradient arrays that
    flow back along it."""
    edges: dict[tuple[Key, Key], _Edge] = {}
    for v in tensors:
        fn = v._ctx
        if fn is None:
            continue
        vjps: Sequence[np.ndarray | None] | None = None
        for i, u in enumerate(fn.inputs):
            if u in inline:
                continue
            src, dst = rep[u], rep[v]
            if nodes[src].kind == "state" and nodes[dst].kind == "cell" \
                    and _made_in(u, nodes[dst]):
                continue  # c_t read again inside the cell that made it: an internal edge
            if src == dst:
                # inside one collapsed node; in the folded view a step-to-step edge inside
                # the same cell is the recurrence: the self-loop
                if view != "folded" or split_time(u.scope)[1] == split_time(v.scope)[1]:
                    continue
            e = edges.setdefault((src, dst), _Edge())
            if u._ctx is None and u.requires_grad:
                e.uses += 1  # one more use of a parameter (labelled ×n when merged)
            if u.name and u.name not in e.names:
                e.names.append(u.name)
            if v.grad is not None and u.requires_grad and v not in ghosts:
                if vjps is None:
                    vjps = _vjps(v)
                g = vjps[i] if i < len(vjps) else None
                if g is not None:
                    e.grads.append(unbroadcast(np.asarray(dense(g)), u.shape))
    for d in tensors:  # the cut edges of truncated BPTT
        ref = d._origin
        origin = ref() if ref is not None else None
        if origin is not None and origin in rep:
            edges.setdefault((rep[origin], rep[d]), _Edge()).cut = True
    return edges


def _vjps(v: Tensor) -> Sequence[np.ndarray | None]:
    """The gradient v's op sends to each input, recomputed from v.grad (ops keep what
    their backward needs, and backward has no side effects)."""
    assert v._ctx is not None and v.grad is not None
    try:
        return v._ctx.backward(v.grad)
    except Exception:  # an op that cannot be replayed: draw that edge without heat
        return ()


def _norm(a: np.ndarray | None) -> float | None:
    if a is None:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.sqrt(np.sum(np.square(a.astype(np.float64)))))


def _node_norm(spec: NodeSpec) -> float | None:
    if spec.ghost:
        return None
    norms = [n for n in (_norm(t.grad) for t in spec.members) if n is not None]
    if not norms:
        return None
    return max(norms, key=lambda n: n if math.isfinite(n) else math.inf)


def _param_names(params: Any) -> dict[Tensor, str]:
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    elif isinstance(params, Mapping):
        params = params.items()
    return {t: name for name, t in params}


# ---- node and edge styles -----------------------------------------------------------------


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\")


def _shape(t: Tensor) -> str:
    return "×".join(str(n) for n in t.shape) if t.shape else "scalar"


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _extra_lines(t: Tensor, show: str) -> list[str]:
    if show == "none" or t.data.dtype.kind not in "fiu":
        return []
    if t.freed:  # lean_graph() dropped the value; the gradient may still be there
        return ["v freed"] + ([f"|g| {_fmt(_norm(np.asarray(t.grad)) or 0.0)}"]
                              if t.grad is not None else [])
    data, grad = t.data, t.grad
    if show == "values" and data.size <= 8:
        lines = ["v " + np.array2string(data.ravel(), precision=3, separator=" ")]
        if grad is not None:
            lines.append("g " + np.array2string(np.asarray(grad).ravel(), precision=3,
                                                separator=" "))
        return lines
    if show == "norm":
        lines = [f"|v| {_fmt(_norm(data) or 0.0)}"]
        if grad is not None:
            lines.append(f"|g| {_fmt(_norm(np.asarray(grad)) or 0.0)}")
        return lines
    lines = [f"v [{_fmt(float(data.min()))}, {_fmt(float(data.max()))}]"] if data.size else []
    if grad is not None and np.size(grad):
        lines.append(f"g [{_fmt(float(np.min(grad)))}, {_fmt(float(np.max(grad)))}]")
    return lines


def _op_title(t: Tensor, inline: set[Tensor]) -> str:
    """The op's name, with inlined constants and short arguments: Sub(1, ·), Pow(·, 2)."""
    fn = t._ctx
    assert fn is not None
    name = fn.name
    if name == "GetItem":
        index = getattr(fn, "index", None)
        text = repr(index).replace("slice(None, None, None)", ":")
        return f"GetItem[{text}]" if len(text) <= 16 else name
    args = [_fmt(float(u.data.item())) if u in inline else "·" for u in fn.inputs]
    if name == "Pow" and hasattr(fn, "p"):
        args.append(_fmt(float(fn.p)))
    if any(a != "·" for a in args):
        return f"{name}({', '.join(args)})"
    return name


def _node_label(spec: NodeSpec, show: str, names: dict[Tensor, str],
                inline: set[Tensor]) -> str:
    if spec.kind == "cell":
        ops = len(spec.members)
        return f"{spec.title}\\n{ops} op{'s' if ops != 1 else ''}"
    t = spec.members[0]
    if spec.title:  # folded entry: x_t
        lines = [spec.title, _shape(t)]
    elif t._ctx is None:
        name = t.name or names.get(t)
        if spec.kind == "data" and name is None:
            name = "zeros" if not np.any(t.data) else "input"
        elif name is None:
            name = "leaf"
        lines = [f"{name}{' (detached)' if spec.kind == 'detached' else ''}", _shape(t)]
    elif t.name:
        lines = [t.name, f"{_shape(t)}  {_op_title(t, inline)}"]
    else:
        lines = [_op_title(t, inline), _shape(t)]
    lines += _extra_lines(t, show)
    return "\\n".join(_escape(line) for line in lines)


def _node_attrs(spec: NodeSpec, norm: float | None, scale: heat.LogScale, heated: bool,
                show: str, names: dict[Tensor, str], is_root: bool,
                inline: set[Tensor]) -> dict[str, str]:
    kind = spec.kind
    fill = scale.color(norm) if heated else PLAIN_FILL[kind]
    attrs = {"label": _node_label(spec, show, names, inline), "fillcolor": fill,
             "fontcolor": heat.text_color(fill), "color": "#444444"}
    if kind == "param":
        attrs.update(shape="box", style="filled,bold", penwidth="1.6",
                     fontname=FONT + "-Bold")
    elif kind in ("data", "detached"):
        attrs.update(shape="box", style="filled", color="#888888")
        if kind == "detached":
            attrs.update(style="filled,dashed", color="#d62728", penwidth="1.6")
    elif kind == "state":
        attrs.update(shape="ellipse", style="filled", penwidth="1.3",
                     fontname=FONT + "-Bold")
    elif kind == "cell":
        attrs.update(shape="box", style="rounded,filled,bold", penwidth="1.6",
                     fontsize="12", margin="0.15,0.08")
    else:
        attrs.update(shape="box", style="rounded,filled", fontsize="10", height="0.3",
                     margin="0.06,0.03", color="#666666")
    if norm is not None:
        attrs["tooltip"] = f"|grad| = {norm:.3e}"
    if kind in ("state", "cell") and spec.members and spec.members[0]._ctx is not None:
        before, step, _ = split_time(spec.members[0].scope)
        if step is not None:  # keep each layer's chain of states on one straight line
            attrs["group"] = _escape(before or "steps")
    if is_root:
        attrs["peripheries"] = "2"
    if spec.ghost:
        attrs.update(fillcolor="#f3f3f3", fontcolor="#9a9a9a", color="#bbbbbb",
                     style=attrs["style"].replace("filled", "filled,dotted"))
    return attrs


def _edge_attrs(e: _Edge, norm: float | None, scale: heat.LogScale, heated: bool,
                loop: bool) -> dict[str, str]:
    if e.cut:
        # constraint=false: the cut-off history must not push the new chunk's ranks
        return {"style": "dashed", "color": "#d62728", "penwidth": "2",
                "arrowhead": "tee", "label": "detach()", "fontcolor": "#d62728",
                "fontsize": "10", "constraint": "false"}
    attrs: dict[str, str] = {}
    if norm is not None:
        attrs.update(color=scale.edge_color(norm), penwidth=f"{scale.width(norm):.2f}",
                     tooltip=f"|grad| = {norm:.3e}")
    else:
        attrs.update(color="#9a9a9a" if heated else "#555555", penwidth="0.9")
    if loop:
        attrs["label"] = ", ".join(e.names) + " (t-1 → t)" if e.names else "t-1 → t"
    elif e.uses > 1:
        attrs["label"] = f"×{e.uses}"
    return attrs


def _edge_ends(src: Key, dst: Key, nodes: dict[Key, NodeSpec],
               ids: dict[Key, str]) -> tuple[str, str, bool]:
    """Edges that go back in t (the bwd direction: h_{t+1} -> h_t) are drawn reversed
    with dir=back, so every layer's time clusters line up as t = 1, 2, ..., T."""
    a, b = _time_key(nodes[src]), _time_key(nodes[dst])
    if a is not None and b is not None and a[0] == b[0] and a[1] > b[1]:
        return ids[dst], ids[src], True
    return ids[src], ids[dst], False


def _time_key(spec: NodeSpec) -> tuple[tuple[bool, str], int] | None:
    if not spec.members or spec.members[0]._ctx is None:
        return None
    before, t, _ = split_time(spec.members[0].scope)
    return ((spec.ghost, before), t) if t is not None else None


# ---- clusters -----------------------------------------------------------------------------


def _cluster_attrs(path: tuple[str, ...]) -> dict[str, str]:
    last = path[-1]
    if last == GHOST_CLUSTER:
        return {"label": "cut off by detach(): no gradient flows back here",
                "style": "dashed,rounded", "color": "#d62728", "fontcolor": "#d62728",
                "fontsize": "12"}
    if time_of(last) is not None:
        return {"label": last, "style": "rounded,filled", "fillcolor": "#f6f6f6",
                "color": "#c4c4c4", "fontsize": "12", "fontcolor": "#333333"}
    if last.startswith("layer"):
        return {"label": last.replace("layer", "layer "), "style": "rounded",
                "color": "#8c8c8c", "fontsize": "13", "penwidth": "1.2",
                "fontcolor": "#222222"}
    if last in ("fwd", "bwd"):
        text = "forward: t = 1 → T" if last == "fwd" else "backward: t = T → 1"
        return {"label": text, "style": "rounded,dashed", "color": "#a0a0a0",
                "fontsize": "12", "fontcolor": "#555555"}
    return {"label": last, "style": "rounded", "color": "#d0d0d0", "fontcolor": "#777777",
            "fontsize": "10"}


def _order_key(path: tuple[str, ...], first: dict[tuple[str, ...], int]) -> tuple[Any, ...]:
    t = time_of(path[-1])
    return (0, t, 0) if t is not None else (1, first[path], path[-1])


def _emit_clusters(graph: graphviz.Digraph,
                   bodies: dict[tuple[str, ...], list[tuple[str, dict[str, str]]]],
                   nodes: dict[Key, NodeSpec], ids: dict[Key, str]) -> None:
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
        sub.attr(**_cluster_attrs(path))
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

