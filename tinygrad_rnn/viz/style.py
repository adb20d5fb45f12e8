"""How each node, edge and cluster looks: shapes, fills by kind or by heat, line widths.

Sizes are chosen for slides: with the picture scaled to 1920 px wide, the cells view of an
LSTM over 6 steps keeps every text at 12 px or more (tests/test_viz_slides.py measures it).
"""

from __future__ import annotations

from tinygrad_rnn.viz import heat
from tinygrad_rnn.viz.collect import Edge
from tinygrad_rnn.viz.elide import elided_range
from tinygrad_rnn.viz.scopes import time_of
from tinygrad_rnn.viz.views import GHOST_CLUSTER, NodeSpec

FONT = "Helvetica"
FONT_SIZE = 14  # nodes and cluster captions
SMALL = 12  # ops, edge labels, the legend: never below this

# forward-only fills (before backward) by node kind
PLAIN_FILL = {"param": "#fde9b8", "data": "#eeeeee", "detached": "#eeeeee",
              "state": "#d4e6f5", "op": "#ffffff", "cell": "#e3efdc", "elided": "#ffffff"}


def node_attrs(spec: NodeSpec, label: str, norm: float | None, scale: heat.LogScale,
               heated: bool, is_root: bool) -> dict[str, str]:
    kind = spec.kind
    fill = scale.color(norm) if heated else PLAIN_FILL[kind]
    attrs = {"label": label, "fillcolor": fill, "fontcolor": heat.text_color(fill),
             "color": "#444444"}
    if kind == "param":
        attrs.update(shape="box", style="filled,bold", penwidth="1.6",
                     fontname=FONT + "-Bold")
    elif kind in ("data", "detached"):
        attrs.update(shape="box", style="filled", color="#888888")
        if kind == "detached":
            attrs.update(style="filled,dashed", color="#d62728", penwidth="1.6")
    elif kind == "state":
        attrs.update(shape="ellipse", style="filled", penwidth="1.3",
                     fontname=FONT + "-Bold", margin="0.04,0.02")
    elif kind == "cell":
        attrs.update(shape="box", style="rounded,filled,bold", penwidth="1.6",
                     margin="0.12,0.06")
    elif kind == "elided":
        attrs.update(shape="box", style="rounded,filled,dashed", penwidth="1.4",
                     margin="0.12,0.06", fontsize=str(SMALL))
    else:
        attrs.update(shape="box", style="rounded,filled", fontsize=str(SMALL),
                     height="0.3", margin="0.06,0.03", color="#666666")
    if norm is not None:
        attrs["tooltip"] = f"|grad| = {norm:.3e}"
    if is_root:
        attrs["peripheries"] = "2"
    if spec.ghost:
        attrs.update(fillcolor="#f3f3f3", fontcolor="#9a9a9a", color="#bbbbbb",
                     style=attrs["style"].replace("filled", "filled,dotted"))
    return attrs


def edge_attrs(e: Edge, norm: float | None, scale: heat.LogScale, heated: bool,
               label: str | None) -> dict[str, str]:
    if e.cut:
        # constraint=false: the cut-off history must not push the new chunk's ranks
        return {"style": "dashed", "color": "#d62728", "penwidth": "2",
                "arrowhead": "tee", "label": "detach()", "fontcolor": "#d62728",
                "constraint": "false"}
    attrs: dict[str, str] = {}
    if norm is not None:
        attrs.update(color=scale.edge_color(norm), penwidth=f"{scale.width(norm):.2f}",
                     tooltip=f"|grad| = {norm:.3e}")
    else:
        attrs.update(color="#9a9a9a" if heated else "#555555", penwidth="0.9")
    if label is not None:
        attrs["label"] = label
    return attrs


def cluster_attrs(path: tuple[str, ...]) -> dict[str, str]:
    last = path[-1]
    if last == GHOST_CLUSTER:
        return {"label": "cut off by detach(): no gradient flows back here",
                "style": "dashed,rounded", "color": "#d62728", "fontcolor": "#d62728"}
    if time_of(last) is not None:
        return {"label": last, "style": "rounded,filled", "fillcolor": "#f6f6f6",
                "color": "#c4c4c4", "fontcolor": "#333333"}
    span = elided_range(last)
    if span is not None:
        return {"label": f"t = {span[0]} … {span[1]}", "style": "rounded,dashed",
                "color": "#a0a0a0", "fontcolor": "#333333"}
    if last.startswith("layer"):
        return {"label": last.replace("layer", "layer "), "style": "rounded",
                "color": "#8c8c8c", "penwidth": "1.2", "fontcolor": "#222222"}
    if last in ("fwd", "bwd"):
        text = "forward: t = 1 → T" if last == "fwd" else "backward: t = T → 1"
        return {"label": text, "style": "rounded,dashed", "color": "#a0a0a0",
                "fontcolor": "#555555"}
    return {"label": last, "style": "rounded", "color": "#d0d0d0", "fontcolor": "#777777"}
