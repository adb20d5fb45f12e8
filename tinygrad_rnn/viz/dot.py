"""``draw``: the graph behind a tensor as a ``graphviz.Digraph``, clustered by scope, with
gradient heat, laid out for a slide.

The pieces, one module each:

* ``collect.py`` walks the graph and recomputes the gradient on every edge;
* ``views.py`` decides which drawn node each tensor becomes (``ops``, ``cells`` or
  ``folded``) and ``elide.py`` folds the middle of a long sequence into "…";
* ``gates.py`` finds the gates of GRU/LSTM cells, ``notation.py`` names things the
  PyTorch way or the lectures' way, ``labels.py`` writes the text;
* ``heat.py`` maps gradient norms to colours, ``legend.py`` draws the colour bar;
* ``style.py`` gives shapes and colours, ``layout.py`` places steps, rows and weights.

Leaves -- parameters and data -- are drawn once, outside the time clusters, with one edge
per use, so weight sharing is visible: ``weight_hh`` sends an edge into every time step.
After ``backward`` a node is filled by ‖t.grad‖ and an edge u -> v coloured and thickened by
the gradient flowing back along it (a weight's edge into step t: that step's term of the
BPTT sum). Truncated BPTT: a tensor made by ``detach()`` is drawn dashed, and when what it
was cut from is still alive, that history is drawn faded, the cut edge marked "detach()".
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import graphviz

from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.viz import heat
from tinygrad_rnn.viz import legend as colour_bar
from tinygrad_rnn.viz import notation as naming
from tinygrad_rnn.viz.collect import (
    Edge,
    collect,
    edges_of,
    is_inline_constant,
    node_norm,
    param_names,
    roots_of,
)
from tinygrad_rnn.viz.elide import MIN_STEPS, elide
from tinygrad_rnn.viz.gates import gates
from tinygrad_rnn.viz.grads import gradients
from tinygrad_rnn.viz.graph import Graph
from tinygrad_rnn.viz.labels import SHOWS, Labels, edge_label, node_label
from tinygrad_rnn.viz.layout import (
    DIRECTIONS,
    Bus,
    backward_lines,
    between_layers,
    buses,
    edge_ends,
    emit_clusters,
    line_and_step,
    place_leaves,
)
from tinygrad_rnn.viz.rows import columns, spine, time_chain
from tinygrad_rnn.viz.scopes import split_time
from tinygrad_rnn.viz.style import FONT, FONT_SIZE, SMALL, edge_attrs, node_attrs
from tinygrad_rnn.viz.views import Key, assign

NSLIMIT_NODES = 150  # above this many nodes, dot's placement is cut short (speed)
# the line through the steps outweighs what pulls on it (4 bus taps, 2 states each way)
SPINE_WEIGHT = "10"
SLIDE_STEPS = 6  # the cells view shows at most this many steps unless told otherwise
ELIDE_ADVICE = (f"max_steps={SLIDE_STEPS} (the elided view: t = 1, 2, …, T with the middle "
                f"steps merged into one node)")


class GraphTooLargeError(ValueError):
    """The picture would have more nodes than ``max_nodes``: dot would take very long."""


def draw(root: Tensor | Sequence[Tensor], *, view: str = "ops", direction: str = "lr",
         show: str = "none", max_nodes: int = 500, too_big: str = "cells",
         legend: bool = True, title: str | None = None, params: Any = None,
         cutoff: bool = True, notation: str = "pytorch",
         scale: tuple[float, float] | None = None,
         max_steps: int | str | None = "auto") -> Graph:
    """Draw the graph behind ``root`` (a tensor, or several) as a ``graphviz.Digraph``.

    Args:
        root: the tensor whose history is drawn (usually the loss), or a list of tensors.
        view: "ops" (every primitive op), "cells" (each cell at each step as one node) or
            "folded" (one node per cell, the recurrence as a self-loop).
        direction: where time runs: "lr" (left to right, steps side by side, layers
            stacked upwards), "rl", "bt" (bottom to top) or "tb".
        show: extra numbers: "none", "norm" (‖value‖, ‖grad‖ on each node), "stats"
            (min/max of value and grad), "values" (the numbers, for tensors of <= 8) or
            "contributions" (each weight-use edge labelled with that use's ‖∂L/∂W‖, each
            weight with ‖∂L/∂W‖ of the sum: the BPTT sum as numbers).
        max_nodes: the largest picture to lay out.
        too_big: what to do when the ``ops`` view exceeds ``max_nodes``: "cells" (warn and
            draw the ``cells`` view) or "error". Any view still too big raises
            ``GraphTooLargeError``.
        legend: add the colour bar (only drawn when some gradient exists).
        title: a caption at the top.
        params: a ``Module`` or a mapping / iterable of (name, tensor) used to label
            unnamed leaves.
        cutoff: draw the history cut off by ``detach()`` (when it is still alive).
        notation: "pytorch" (the library's names: weight_hh_l0, h, c, gates i f g o) or
            "lecture" (W_x, W_s, s_t; Γ_u, Γ_f, Γ_o, c̃, c⟨t⟩, a⟨t⟩).
        scale: (lo, hi), 0 < lo < hi: a fixed range of gradient norms for the colours, so
            that several pictures share one scale (default: this picture's own range).
        max_steps: a layer and direction with more steps than this (>= 4) is drawn as
            t = 1, t = 2, …, t = T: its first ``max(2, max_steps - 4)`` steps, one
            ellipsis node standing for the middle ones (a weight's edge into it carries the
            sum of their terms) and the last step. "auto": 6 in the cells view, every step
            in the others; None: every step.

    Returns:
        a ``Graph`` (a ``graphviz.Digraph``): ``.source`` is the DOT text, ``.write(path)``
        writes .dot/.svg/.png/.pdf, and Jupyter displays it inline.
    """
    roots = roots_of(root)
    if direction not in DIRECTIONS:
        raise ValueError(f"draw: direction must be one of {sorted(DIRECTIONS)}, "
                         f"got {direction!r}")
    if show not in SHOWS:
        raise ValueError(f"draw: show must be one of {SHOWS}, got {show!r}")
    if too_big not in ("cells", "error"):
        raise ValueError(f"draw: too_big must be 'cells' or 'error', got {too_big!r}")
    if not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"draw: max_nodes must be a positive int, got {max_nodes!r}")
    style = naming.check(notation)
    fixed = heat.check_range(scale) if scale is not None else None
    _check_steps(max_steps)

    tensors, ghosts = collect(roots, cutoff and view != "folded", max_nodes)
    inline = {t for t in tensors if is_inline_constant(t) and t not in roots}
    drawn = [t for t in tensors if t not in inline]
    steps = _steps(max_steps, view)
    rep, nodes = assign(drawn, view, set(roots), ghosts)
    if steps is not None and view != "folded":
        rep, nodes = elide(rep, nodes, steps)
    if view == "ops" and len(nodes) > max_nodes:
        advice = (f"draw: the 'ops' view would have {len(nodes)} nodes, more than "
                  f"max_nodes={max_nodes}")
        if too_big == "error":
            raise GraphTooLargeError(f"{advice}; use {ELIDE_ADVICE}, view='cells' or "
                                     f"view='folded', or raise max_nodes")
        warnings.warn(advice + "; drawing the 'cells' view instead", stacklevel=2)
        view = "cells"
        rep, nodes = assign(drawn, view, set(roots), ghosts)
        if max_steps == "auto":
            rep, nodes = elide(rep, nodes, SLIDE_STEPS)
    if len(nodes) > max_nodes:
        raise GraphTooLargeError(
            f"draw: the '{view}' view would have {len(nodes)} nodes, more than max_nodes="
            f"{max_nodes}; dot would run for a very long time. Use {ELIDE_ADVICE} or "
            f"view='folded', draw a shorter sequence (or truncated BPTT), or raise "
            f"max_nodes")

    replayed = gradients(drawn)  # .grad, or recomputed where a lean graph kept none
    grads = replayed.grads
    _warn_freed(drawn, replayed.whole, show if view == "ops" else "none")
    edges = edges_of(drawn, rep, inline, view, ghosts, nodes, grads)
    bypass: list[tuple[Key, Key]] = []
    if view != "folded":  # stacked layers: h_t straight into x_t above (see layout.py)
        hubs, bypass = between_layers(nodes, list(edges))
        # the gradient on h_t -> x_t above: what reaches h_t back through the plumbing
        through = {k: Edge(grads=[g for (a, b), e in edges.items() if a == k[0] and b in hubs
                                  for g in e.grads]) for k in bypass}
        edges = {k: e for k, e in edges.items() if k[0] not in hubs and k[1] not in hubs}
        edges.update(through)
        nodes = {k: spec for k, spec in nodes.items() if k not in hubs}
    norms = {key: node_norm(spec, grads) for key, spec in nodes.items()}
    edge_norm = {k: e.norm() for k, e in edges.items()}
    values = [n for n in list(norms.values()) + list(edge_norm.values()) if n is not None]
    heated = bool(values)
    colours = heat.LogScale(values, fixed=fixed)
    info = _labels(drawn, show, style, params, inline, grads)
    info.op_names = view == "ops"

    layout = {"rankdir": DIRECTIONS[direction], "newrank": "true", "nodesep": "0.35",
              "ranksep": "0.25", "fontname": FONT, "fontsize": str(FONT_SIZE + 2),
              "labelloc": "t", "compound": "true", "bgcolor": "white"}
    if len(nodes) > NSLIMIT_NODES:
        # network simplex placing the nodes across ranks is dot's slowest part on a big
        # unrolled graph; 2 x (number of nodes) iterations reach a tidy layout of an LSTM
        # ops view over 20 steps in a few seconds instead of ~11 s (benchmarks/ measures
        # it). Smaller pictures get the full optimum: cut short, it leaves the time steps
        # drifting off their line.
        layout["nslimit"] = "2"
    graph = Graph(name="tinygrad_rnn", graph_attr=layout)
    graph.attr("node", fontname=FONT, fontsize=str(FONT_SIZE))
    graph.attr("edge", fontname=FONT, fontsize=str(SMALL), arrowsize="0.6")
    graph.attr("graph", fontsize=str(FONT_SIZE))
    label = colour_bar.caption(title, colours if legend and heated else None, SMALL,
                               FONT_SIZE + 2)
    if label is not None:
        graph.attr(label=label)

    ids = {key: f"n{i}" for i, key in enumerate(nodes, start=1)}
    graph.node_of = {t: ids[rep[t]] for t in drawn if rep[t] in ids}  # for viz.walk
    graph.drawn_view = view
    place_leaves(nodes, list(edges))
    lines_of = buses(nodes, ids, list(edges))
    root_keys = {rep[r] for r in roots}
    bodies: dict[tuple[str, ...], list[tuple[str, dict[str, str]]]] = {}
    # one way through each step, h_{t-1} -> (ops) -> h_t, kept on one straight line
    straight = spine(nodes, list(edges))
    param_lines = {key: node_label(spec, info, None).split("\\n")[0]
                   for key, spec in nodes.items() if spec.kind == "param"}
    for key, spec in nodes.items():
        sums = None
        if spec.kind == "elided" and heated:
            sums = [(param_lines[src], edge_norm[(src, dst)]) for (src, dst) in edges
                    if dst == key and src in param_lines]
        label = node_label(spec, info, norms[key], sums)
        attrs = node_attrs(spec, label, norms[key], colours, heated, key in root_keys)
        found = line_and_step(spec)
        if key in straight and found is not None:
            attrs["group"] = "/".join(found[0]) or "steps"  # the chain on one line
        if key in lines_of:  # a weight stands at the start of its bus, in line with it
            attrs["group"] = f"bus {ids[key]}"
        bodies.setdefault(spec.cluster, []).append((ids[key], attrs))
    for bus in lines_of.values():
        for point, tap in zip(bus.points, bus.taps, strict=True):
            attrs = dict(BUS_POINT, group=f"bus {ids[bus.param]}")
            text = edge_label(edges[tap], edge_norm[tap], False, True, show)
            if text is not None:
                # step t's term of the BPTT sum, next to the point where it leaves the bus:
                # a node's xlabel is placed beside the node after the layout (an edge's
                # label would add a rank and push the step out of its row; an edge's
                # xlabel lands near the middle of the tap, often beside another one)
                attrs.update(xlabel=text, fontsize=str(SMALL))
            bodies.setdefault(nodes[bus.param].cluster, []).append((point, attrs))
    emit_clusters(graph, bodies, nodes)

    mirrored = backward_lines(nodes, list(edges))
    up = set(bypass)
    tapped = {edge: (bus, i) for bus in lines_of.values() for i, edge in enumerate(bus.taps)}
    for (src, dst), e in edges.items():
        text = edge_label(e, edge_norm[(src, dst)], src == dst, nodes[src].kind == "param",
                          show, style, nodes[src].title if src == dst else None)
        attrs = edge_attrs(e, edge_norm[(src, dst)], colours, heated, text)
        if (src, dst) in tapped:
            bus, i = tapped[(src, dst)]
            attrs.pop("label", None)  # written beside the bus point (above)
            graph.edge(bus.points[i], ids[dst], weight="10", **attrs)  # the tap into step t
            continue
        if src in straight and dst in straight:
            attrs["weight"] = SPINE_WEIGHT  # the line through the steps: straight
        elif nodes[src].kind in ("state", "cell", "elided") \
                and nodes[dst].kind in ("state", "cell", "elided"):
            attrs["weight"] = "4"  # pull the recurrence h_1 -> h_2 -> ... straight
        if (src, dst) in up:  # h_t -> x_t above: x_t stands in step t's column
            attrs["constraint"] = "false"
        tail, head, reverse = edge_ends(src, dst, nodes, mirrored)
        if reverse:
            attrs["dir"] = "back"
        graph.edge(ids[tail], ids[head], **attrs)
    for bus in lines_of.values():
        _emit_bus(graph, bus, edges, ids[bus.param], colours, heated)
    taps = {point: dst for bus in lines_of.values()
            for point, (_, dst) in zip(bus.points, bus.taps, strict=True)}
    for members in columns(nodes, list(edges), taps):
        with graph.subgraph() as column:
            column.attr(rank="same")
            for member in members:
                column.node(ids.get(member, member))
    for a, b in time_chain(nodes, list(edges), taps):
        # weight 0: these order the ranks and must not pull nodes out of line
        graph.edge(ids.get(a, a), ids.get(b, b), style="invis", weight="0")
    return graph



BUS_POINT = {"shape": "point", "width": "0.07", "color": "#777777", "label": ""}


def _emit_bus(graph: graphviz.Digraph, bus: Bus, edges: dict[tuple[Key, Key], Edge],
              param_id: str, colours: heat.LogScale, heated: bool) -> None:
    """The line W -> j_1 -> … -> j_n under the steps: the segment into j_i carries the sum
    of the taps from i on (what flows back into W past that point), so the first segment
    carries W's whole gradient from these uses."""
    remaining: list[Any] = []
    partial: list[float | None] = []
    for edge in reversed(bus.taps):
        remaining = remaining + edges[edge].grads
        partial.append(Edge(grads=remaining).norm())
    partial.reverse()
    tails = [param_id, *bus.points[:-1]]
    for tail, head, value in zip(tails, bus.points, partial, strict=True):
        attrs = edge_attrs(Edge(), value, colours, heated, None)
        graph.edge(tail, head, arrowhead="none", weight="2", **attrs)


def _check_steps(max_steps: Any) -> None:
    if max_steps in ("auto", None):
        return
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < MIN_STEPS:
        raise ValueError(f"draw: max_steps must be an int >= {MIN_STEPS} (t = 1, …, T), "
                         f"'auto' or None (every step), got {max_steps!r}")


def _steps(max_steps: int | str | None, view: str) -> int | None:
    if max_steps == "auto":
        return SLIDE_STEPS if view == "cells" else None
    return max_steps if isinstance(max_steps, int) else None


def _warn_freed(drawn: list[Tensor], whole: bool, show: str) -> None:
    """Say what a picture of the default lean graph cannot show, and how to show it
    (``show``: what the node labels show; only the ops view labels the freed tensors)."""
    freed = sum(t.freed for t in drawn)
    if not freed:
        return
    todo = "record the forward inside `with tg.full_graph():` to keep every value and gradient"
    if not whole:
        warnings.warn(f"draw: the gradients inside the cell steps were not kept (the default "
                      f"lean graph), and this picture does not hold every use of them (every "
                      f"output, h and c, of the steps it shows), so those {freed} nodes are "
                      f"drawn without heat; draw the loss, or {todo}", stacklevel=3)
    elif show in ("values", "stats", "norm"):
        warnings.warn(f"draw: {freed} values inside the cell steps were freed (the default "
                      f"lean graph) and show as 'v freed'; {todo}", stacklevel=3)


def _labels(tensors: list[Tensor], show: str, style: str, params: Any,
            inline: set[Tensor], grads: dict[Tensor, Any]) -> Labels:
    """What the labels need: names from ``params``, the gates, and which cell type each
    line of steps and each weight belongs to (for the lecture names)."""
    line_cells: dict[str, str] = {}
    param_cells: dict[Tensor, str] = {}
    for t in tensors:
        if t.grad_fn is None:
            continue
        before, step, after = split_time(t.scope)
        cell = after.split("/")[0] if step is not None else t.scope.rsplit("/", 1)[-1]
        if step is not None and cell:
            line_cells.setdefault(before, cell)
        for u in t.grad_fn.inputs:
            if u.grad_fn is None and u.requires_grad and cell:
                param_cells.setdefault(u, cell)
    return Labels(show=show, notation=style, params=param_names(params), inline=inline,
                  gates=gates(tensors), line_cells=line_cells, param_cells=param_cells,
                  grads=grads)
