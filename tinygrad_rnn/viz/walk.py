"""``walk``: step through the backward walk over the unrolled graph, in a browser.

    >>> page = viz.walk(loss, params=model)      # runs loss.backward(contributions=True)
    >>> page.save("walk.html")                   # one file: SVG, script, style inline
    >>> page                                     # in Jupyter: the same page, inline

The page plays ``engine.backward`` one visit at a time. Step k highlights the tensor the
walk visits k-th, with the gradient it receives (∂L/∂tensor: norm and shape) and what it
passes on to each input; beside the picture every shared weight shows the running sum of
its per-use contributions -- one term per time step: BPTT -- as a number and a bar, which
ends at the norm of its ``.grad``.

Nothing here re-derives the order. ``walk`` runs the real backward pass with
``contributions=True`` and replays it: the visits are ``engine.topological_order`` (the
list ``backward`` loops over) restricted to the tensors that received a gradient, each
visit's gradient is the ``.grad`` backward stored (for the internal tensors of a lean
step, which keep none, the same gradient recomputed: ``grads.py``), and the terms added to
a weight are the ``Contribution`` arrays backward recorded, taken in the order the walk
met them. The replay checks that each of those terms was made by the op being visited,
so a disagreement with the engine is an error, never a silently different picture.

The picture is ``viz.draw`` laid out by ``viz.to_svg`` (system dot, else WebAssembly
Graphviz); the page's script (``walk.js``) only switches CSS classes and numbers.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_rnn.engine import topological_order, unbroadcast
from tinygrad_rnn.files import atomic_write
from tinygrad_rnn.tensor import Tensor
from tinygrad_rnn.viz.collect import param_names
from tinygrad_rnn.viz.dot import SLIDE_STEPS, GraphTooLargeError, draw
from tinygrad_rnn.viz.grads import gradients
from tinygrad_rnn.viz.grads import vjps as replay
from tinygrad_rnn.viz.render import to_svg


@dataclass
class Send:
    """What a visit passes on to one input: the vector-Jacobian product."""

    node: str | None  # the input's drawn node (its Graphviz name); None: not drawn
    label: str
    norm: float | None  # None when the op's backward could not be replayed
    shape: tuple[int, ...]


@dataclass
class Step:
    """One visit of the walk: the tensor, the gradient it received, what it passed on."""

    node: str | None  # the drawn node the tensor belongs to; None: not drawn
    label: str
    scope: str
    norm: float  # ‖∂L/∂tensor‖
    shape: tuple[int, ...]
    sends: list[Send] = field(default_factory=list)
    adds: list[tuple[int, float]] = field(default_factory=list)  # (weight, ‖term‖)


@dataclass
class Weight:
    """A leaf that requires grad, with the running sum of its terms."""

    name: str
    node: str
    shape: tuple[int, ...]
    grad: float  # ‖.grad‖ after the walk
    terms: list[tuple[int, float, float]] = field(default_factory=list)
    # (step that adds the term, ‖term‖, ‖sum of the terms so far‖)


class Walk:
    """The step-through page: ``.html`` (one self-contained document), ``.save(path)``,
    and inline display in Jupyter; ``.steps`` and ``.weights`` hold the numbers shown."""

    def __init__(self, page: str, steps: list[Step], weights: list[Weight]) -> None:
        self.html = page
        self.steps = steps
        self.weights = weights

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (e.g. ``walk.html``); returns the path."""
        path = Path(path)
        atomic_write(path, self.html.encode("utf-8"))
        return path

    def _repr_html_(self) -> str:
        # an iframe keeps the page's script and style away from the notebook's
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" title="backward walk" '
                f'style="width:100%;height:720px;border:1px solid #ddd" '
                f'sandbox="allow-scripts"></iframe>')

    def __repr__(self) -> str:
        return f"Walk({len(self.steps)} steps, {len(self.weights)} weights)"


def walk(loss: Tensor, *, params: Any = None, view: str = "ops", max_nodes: int = 300,
         direction: str = "lr", title: str | None = None, backend: str = "auto",
         timeout: float = 120.0, notation: str = "pytorch",
         scale: tuple[float, float] | None = None, max_steps: int | None = None) -> Walk:
    """Run ``loss.backward(contributions=True)`` and return the page that replays it.

    Args:
        loss: a one-element tensor whose graph has not been walked yet (no ``.grad`` on
            anything it depends on: zero the gradients first, e.g. ``model.zero_grad()``).
        params: a ``Module`` or (name, tensor) pairs naming the weights.
        view: "ops" (a node per tensor), "cells" (a node per cell and step; several
            visits then light up the same node) or "folded" (one node per cell).
        max_nodes: the largest picture laid out; beyond it a ``GraphTooLargeError``.
        max_steps: None (default): every step is drawn, so every visit has a node of its
            own time step. An int >= 4: as in ``viz.draw``, the middle steps are merged into
            one "…" node, which lights up for each visit of a tensor it stands for.
        direction, title, notation, scale: as in ``viz.draw``; backend, timeout: as in
            ``viz.to_svg``.
    """
    if not isinstance(loss, Tensor) or loss.data.size != 1:
        raise TypeError("walk: loss must be a one-element Tensor (reduce it with .sum() or "
                        ".mean() first)")
    order = topological_order(loss)  # the list engine.backward loops over
    already = next((t for t in order if t.grad is not None), None)
    if already is not None:
        what = "a weight" if already.grad_fn is None else "a tensor of the graph"
        advice = ("zero the weights' gradients first (model.zero_grad())"
                  if already.grad_fn is None else
                  "backward has already run on this graph: run the forward again (a new "
                  "graph) after model.zero_grad(), and call walk before backward")
        raise ValueError(f"walk: it runs loss.backward() itself, but "
                         f"{already.name or what} already has a .grad; {advice}")
    options: dict[str, Any] = dict(
        view=view, direction=direction, max_nodes=max_nodes, too_big="error", title=title,
        params=params, cutoff=False, notation=notation, scale=scale, max_steps=max_steps)
    try:
        # drawn before backward too: the size and the options are refused before any work
        draw(loss, **options)
    except GraphTooLargeError as e:
        raise GraphTooLargeError(_too_big(str(e), view, max_nodes, max_steps)) from None
    except ValueError as e:  # the same checks and messages as viz.draw
        raise ValueError(str(e).replace("draw:", "walk:", 1)) from None

    loss.backward(contributions=True)
    graph = draw(loss, **options)
    # each tensor lights the node draw drew it as (its step's, the elided "…" node, or
    # none for the plumbing between stacked layers, which is not drawn)
    names = param_names(params)
    # .grad, or recomputed where a lean graph kept none (whole: the walk ran from loss)
    grads = gradients(order[::-1]).grads
    visits = [t for t in order if t in grads]
    steps, weights = _replay(visits, grads, graph.node_of, names)
    svg = to_svg(graph, backend=backend, timeout=timeout).decode("utf-8")
    return Walk(_page(svg[svg.index("<svg"):], steps, weights, title), steps, weights)


def _too_big(message: str, view: str, max_nodes: int, max_steps: int | None) -> str:
    """Advice that applies to the walk page: fewer steps, max_nodes, and the smaller
    pictures the walk still plays (the cells view, the elided steps, the folded view) --
    never the view it is already drawing."""
    found = re.search(r"(\d+) nodes", message)
    count = f"{found.group(1)} nodes" if found else "too many nodes"
    ways = ["walk fewer steps (or truncated BPTT)"]
    if view == "ops":
        ways.append("use view='cells'")
    if view != "folded" and max_steps is None:
        ways.append(f"use max_steps={SLIDE_STEPS} (the middle steps merged into one node, "
                    f"lit for each of their visits)")
    if view != "folded":
        ways.append("use view='folded' (one node per cell, lit at every step)")
    ways.append("or raise max_nodes")
    return (f"walk: the '{view}' view has {count}, more than max_nodes={max_nodes}; "
            + ", ".join(ways))


def _replay(visits: list[Tensor], grads: dict[Tensor, np.ndarray], node_of: dict[Tensor, str],
            names: dict[Tensor, str]) -> tuple[list[Step], list[Weight]]:
    leaves = sorted((t for t in visits if t.grad_fn is None),
                    key=lambda t: (t not in names, t._id))  # parameters first, in order
    index = {t: i for i, t in enumerate(leaves)}
    weights = [Weight(names.get(t) or t.name or f"leaf {i + 1}", node_of[t], t.shape,
                      _norm(t.grad)) for i, t in enumerate(leaves)]
    # backward lists the terms in program order; the walk meets them last-first
    pending = {t: list(reversed(t.contributions or [])) for t in leaves}
    sums = {t: np.zeros(t.shape) for t in leaves}
    steps = []
    for k, v in enumerate(visits, start=1):
        grad = grads[v]
        step = Step(node_of.get(v), _label(v, names), v.scope, _norm(grad), grad.shape)
        steps.append(step)
        fn = v.grad_fn
        if fn is None:
            continue  # a leaf: its gradient is complete, it passes nothing on
        vjps = replay(v, grad)
        for i, u in enumerate(fn.inputs):
            g = vjps[i] if vjps is not None and i < len(vjps) else None
            if not u.requires_grad or (vjps is not None and g is None):
                continue  # backward passes nothing here either
            if u.grad_fn is not None:
                norm = _norm(unbroadcast(np.asarray(g), u.shape)) if g is not None \
                    else None
                step.sends.append(Send(node_of.get(u), _label(u, names), norm, u.shape))
                continue
            term = pending[u].pop(0) if pending[u] else None
            if term is None or (term.scope, term.op) != (fn.scope, fn.name):
                raise RuntimeError(f"walk: replaying the walk, {fn.name} at {fn.scope!r} "
                                   f"passes a term to {weights[index[u]].name}, but backward "
                                   f"recorded {term and (term.op, term.scope)} next")
            sums[u] = sums[u] + term.grad
            weights[index[u]].terms.append((k, _norm(term.grad), _norm(sums[u])))
            step.adds.append((index[u], _norm(term.grad)))
            step.sends.append(Send(node_of[u], weights[index[u]].name, _norm(term.grad),
                                   u.shape))
    left = [weights[index[t]].name for t, terms in pending.items() if terms]
    if left:
        raise RuntimeError(f"walk: backward recorded terms the replay never met for {left}")
    return steps, weights


def _norm(a: Any) -> float:
    return float(np.sqrt(np.sum(np.square(np.asarray(a, dtype=np.float64)))))


def _label(t: Tensor, names: dict[Tensor, str]) -> str:
    if t in names:
        return names[t]
    if t.name:
        return t.name
    return t.grad_fn.name if t.grad_fn is not None else "leaf"


# ---- the page -----------------------------------------------------------------------------


def _asset(name: str) -> str:
    return resources.files("tinygrad_rnn.viz").joinpath(name).read_text(encoding="utf-8")


def _page(svg: str, steps: list[Step], weights: list[Weight], title: str | None) -> str:
    data = {
        "steps": [{"node": s.node, "label": s.label, "scope": s.scope, "norm": s.norm,
                   "shape": s.shape, "adds": s.adds,
                   "sends": [{"node": d.node, "label": d.label, "norm": d.norm,
                              "shape": d.shape} for d in s.sends]} for s in steps],
        "weights": [{"name": w.name, "node": w.node, "shape": w.shape, "grad": w.grad,
                     "terms": w.terms} for w in weights],
    }
    # "</" must not appear inside <script>: it could close the element early
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    rows = "\n".join(
        f'<li class="weight" data-weight="{html.escape(w.name)}" data-sum="0" '
        f'data-terms="0" data-grad="{w.grad!r}"><span class="name">{html.escape(w.name)}'
        f'</span><span class="value">0</span><span class="bar"><span class="fill"></span>'
        f'<span class="target" title="‖.grad‖"></span></span><span class="count"></span>'
        f'</li>' for w in weights)
    heading = html.escape(title or "The backward walk")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading}</title>
<style>{_asset("walk.css")}</style></head>
<body>
<header><h1>{heading}</h1>
<p>Reverse mode visits every tensor after all the tensors computed from it, in the order
<code>backward()</code> ran. Each visit receives ∂L/∂(tensor) and passes a
vector-Jacobian product to each input; every time one reaches a shared weight, that weight's
sum gains one term. The sum over the time steps is backpropagation through time.</p>
</header>
<nav id="controls">
<button id="prev" title="previous (←)">◀ previous</button>
<button id="play" title="play / pause (space)">▶ play</button>
<button id="next" title="next (→)">next ▶</button>
<input id="slider" type="range" min="0" max="{len(steps)}" value="0" aria-label="step">
<span id="counter"></span>
<button id="fit" title="fit the picture to the width, or show it at full size">full size</button>
</nav>
<main>
<div id="picture" class="fit">{svg}</div>
<aside>
<section id="visit" aria-live="polite"></section>
<section><h2>Shared weights: the running sums</h2>
<ul id="weights">
{rows}
</ul>
<p class="note">Each bar is ‖sum of the terms so far‖; the tick marks ‖.grad‖, where
every bar ends.</p></section>
</aside>
</main>
<script type="application/json" id="walk-data">{payload}</script>
<script>{_asset("walk.js")}</script>
</body></html>
"""
