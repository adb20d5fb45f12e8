"""See backpropagation through time: the unrolled graph as a Graphviz picture.

    >>> from tinygrad_rnn import viz
    >>> g = viz.draw(loss, view="cells")     # a graphviz.Digraph (Jupyter shows it)
    >>> g.write("lstm.svg")                  # .dot .svg .png .pdf
    >>> viz.walk(loss).save("walk.html")     # step through the backward walk in a browser

``dot.py`` builds the picture, ``views.py`` chooses the nodes (ops / cells / folded),
``heat.py`` colours them by gradient magnitude, ``render.py`` writes files with the system
Graphviz or, without it, a WebAssembly Graphviz from pip; ``graph.py`` is the
``graphviz.Digraph`` subclass that uses them, ``walk.py`` the step-through HTML page.
"""

from tinygrad_rnn.viz.dot import GraphTooLargeError, draw
from tinygrad_rnn.viz.graph import Graph
from tinygrad_rnn.viz.render import (
    RenderError,
    available_backends,
    render,
    render_bytes,
    to_svg,
)
from tinygrad_rnn.viz.scopes import ScopeInfo, parse_scope
from tinygrad_rnn.viz.views import VIEWS
from tinygrad_rnn.viz.walk import Walk, walk

__all__ = [
    "VIEWS",
    "Walk",
    "Graph",
    "GraphTooLargeError",
    "RenderError",
    "ScopeInfo",
    "available_backends",
    "draw",
    "parse_scope",
    "render",
    "render_bytes",
    "to_svg",
    "walk",
]
