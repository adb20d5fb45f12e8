"""DOT-level tests of tinygrad_rnn.viz.draw: clusters, shared parameters, heat, legend,
truncation, views, determinism and the size limit."""

from __future__ import annotations

import re
import warnings
from itertools import pairwise

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz
from tinygrad_rnn.viz import heat

NODE = re.compile(r'^\s*(\w+) \[(.*)\]$')
EDGE = re.compile(r'^\s*(\w+) -> (\w+)(?: \[(.*)\])?$')
ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|<.*>|[^ \]]+)')


def attrs(text: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in ATTR.findall(text or "")}


def parse(source: str):
    """nodes {id: attrs}, edges [(a, b, attrs)], clusters [(path of labels, node ids)]."""
    nodes, edges, clusters, stack = {}, [], [], []
    for line in source.splitlines():
        s = line.strip()
        if s.startswith("subgraph cluster"):
            stack.append({"label": None, "nodes": []})
        elif s == "}" and stack:
            c = stack.pop()
            path = tuple(x["label"] for x in stack) + (c["label"],)
            clusters.append((path, c["nodes"]))
            if stack:
                stack[-1]["nodes"] += c["nodes"]
        elif stack and stack[-1]["label"] is None and "[" not in s and "label=" in s:
            stack[-1]["label"] = attrs(s)["label"]
        elif s.startswith(("graph [", "node [", "edge [")):
            continue
        elif m := EDGE.match(line):
            edges.append((m.group(1), m.group(2), attrs(m.group(3))))
        elif m := NODE.match(line):
            nodes[m.group(1)] = attrs(m.group(2))
            if stack:
                stack[-1]["nodes"].append(m.group(1))
    return nodes, edges, clusters


def uses(edges, node):
    """The edges that carry one leaf's uses, in time order: a parameter used in several
    steps reaches them through its bus (node -> p1 -> p2 ..., each p_k -> its step)."""
    out = {a: [(b, at) for x, b, at in edges if x == a] for a in {e[0] for e in edges}}
    found, todo = [], [node]
    while todo:
        here = todo.pop()
        for target, at in out.get(here, []):
            if "_bus" in target and "_bus" not in here or (
                    "_bus" in here and "_bus" in target):
                todo.append(target)  # along the bus
            else:
                found.append((here, target, at))
    return sorted(found, key=lambda e: int(e[0].rsplit("bus", 1)[1]) if "_bus" in e[0] else 0)


def node_named(nodes, name):
    found = [i for i, a in nodes.items() if a.get("label", "").split("\\n")[0] == name]
    assert len(found) == 1, (name, found)
    return found[0]


def lstm_loss(T=4, layers=1, bidirectional=False, seed=0, backward=True):
    model = nn.LSTM(3, 4, num_layers=layers, bidirectional=bidirectional, rng=seed,
                    dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(seed).normal(size=(T, 2, 3)), name="input")
    out, _ = model(x)
    loss = (out * out).mean()
    loss.name = "loss"
    if backward:
        loss.backward()
    return model, loss


def elman(T=5, seed=0, scopes=True):
    """A learner's own Elman loop from primitives: s_t = tanh(x_t W_x + s_{t-1} W_s)."""
    rng = np.random.default_rng(seed)
    W_x = tg.Tensor(rng.normal(0, 0.6, (3, 4)), requires_grad=True, name="W_x")
    W_s = tg.Tensor(rng.normal(0, 0.6, (4, 4)), requires_grad=True, name="W_s")
    xs = rng.normal(size=(T, 1, 3))
    s = tg.Tensor(np.zeros((1, 4)))
    states = []
    for t in range(1, T + 1):
        if scopes:
            with tg.scope(f"t={t}"):
                s = (tg.Tensor(xs[t - 1], name="x") @ W_x + s @ W_s).tanh()
        else:
            s = (tg.Tensor(xs[t - 1], name="x") @ W_x + s @ W_s).tanh()
        s.name = "s"
        states.append(s)
    loss = (s * s).sum()
    loss.name = "L"
    return W_x, W_s, xs, states, loss


@pytest.mark.parametrize("view", ["ops", "cells"])
def test_one_time_cluster_per_step_layer_and_direction(view):
    model, loss = lstm_loss(T=3, layers=2, bidirectional=True)
    _, _, clusters = parse(viz.draw(loss, view=view).source)
    times = sorted(p for p, _ in clusters if p[-1].startswith("t="))
    expected = sorted((f"layer {k}", d, f"t={t}") for k in (0, 1)
                      for d in ("forward: t = 1 → T", "backward: t = T → 1")
                      for t in (1, 2, 3))
    assert times == expected


def test_time_clusters_are_emitted_in_time_order():
    _, loss = lstm_loss(T=5)
    labels = re.findall(r'label="(t=\d+)"', viz.draw(loss, view="cells").source)
    assert labels == [f"t={t}" for t in range(1, 6)]


@pytest.mark.parametrize("view,count", [("ops", 4), ("cells", 4), ("folded", 1)])
def test_each_parameter_drawn_once_outside_clusters_with_one_edge_per_use(view, count):
    model, loss = lstm_loss(T=4)
    nodes, edges, clusters = parse(viz.draw(loss, view=view, params=model).source)
    in_steps = {n for path, ids in clusters if path[-1].startswith("t=") for n in ids}
    for name, _ in model.named_parameters():
        node = node_named(nodes, name)
        assert node not in in_steps
        out = uses(edges, node)
        assert len(out) == count, (name, out)
        assert len({target for _, target, _ in out}) == count  # one per step
        if view == "folded":
            assert out[0][2]["label"] == "×4"  # the four uses merged into one edge


def test_states_inputs_and_loss_are_labelled_with_names_and_shapes():
    _, loss = lstm_loss(T=2)
    nodes, _, _ = parse(viz.draw(loss, view="cells").source)
    labels = [a["label"] for a in nodes.values()]
    assert sum(lb.startswith("h\\n2×4") for lb in labels) == 2
    assert sum(lb.startswith("c\\n2×4") for lb in labels) == 2
    assert sum(lb.startswith("x\\n2×3") for lb in labels) == 2
    assert any(lb.startswith("loss\\nscalar") for lb in labels)


def test_colours_are_monotone_in_gradient_magnitude_and_legend_present():
    _, loss = lstm_loss(T=6)
    nodes, edges, clusters = parse(viz.draw(loss, view="ops").source)
    heated = sorted((float(a["tooltip"].split("= ")[1]), a["fillcolor"])
                    for a in nodes.values() if "tooltip" in a and not a["label"] == "0")
    assert len(heated) > 50
    lum = [heat.luminance(c) for n, c in heated if n > 0]
    assert all(a >= b - 1e-12 for a, b in pairwise(lum))  # darker = larger gradient
    assert lum[0] - lum[-1] > 0.5  # and the scale is actually used
    widths = sorted((float(a["tooltip"].split("= ")[1]), float(a["penwidth"]))
                    for _, _, a in edges if "tooltip" in a)
    assert all(a[1] <= b[1] + 1e-9 for a, b in pairwise(widths))
    source = viz.draw(loss, view="ops").source
    assert heat.LEGEND_TITLE in source
    numbers = re.findall(r'<FONT POINT-SIZE="[\d.]+">([-+.e\d]+|no grad)</FONT>', source)
    assert len(numbers) == 7 and "0" in numbers and "no grad" in numbers
    ticks = [float(n) for n in numbers if n not in ("0", "no grad")]
    lo, hi = ticks[0], ticks[-1]
    positive = [n for n, _ in heated if n > 0] + [n for n, _ in widths if n > 0]
    assert lo == pytest.approx(min(positive), rel=0.06)  # legend numbers: 2 digits
    assert hi == pytest.approx(max(positive), rel=0.06)


def test_greyscale_legibility_of_the_colormap():
    lum = [heat.luminance(heat.colormap(s)) for s in np.linspace(0, 1, 50)]
    assert all(a > b for a, b in pairwise(lum))
    assert heat.text_color(heat.colormap(1.0)) == "#ffffff"
    assert heat.text_color(heat.colormap(0.0)) == "#000000"


def test_forward_only_picture_has_no_heat_and_no_legend():
    _, loss = lstm_loss(T=3, backward=False)
    source = viz.draw(loss).source
    assert "tooltip" not in source and "log scale" not in source
    assert 'label="t=3"' in source


def test_edge_heat_is_each_steps_bptt_term():
    """The W_s edge into step t carries s_{t-1}ᵀ δ_t (δ_t = ∂L/∂pre_t), derived by hand."""
    W_x, W_s, xs, states, loss = elman(T=5)
    loss.backward()
    nodes, edges, _ = parse(viz.draw(loss).source)
    ws = node_named(nodes, "W_s")
    got = [float(a["tooltip"].split("= ")[1]) for _, _, a in uses(edges, ws)]
    # hand-derived BPTT in NumPy
    s = [np.zeros((1, 4))] + [st.data for st in states]
    g = 2 * s[-1]
    terms = []
    for t in range(5, 0, -1):
        delta = g * (1 - s[t] ** 2)
        terms.append(np.linalg.norm(s[t - 1].T @ delta))
        g = delta @ W_s.data.T
    # edges come out in creation order: t = 1 .. T (t = 1 multiplies the zero state)
    np.testing.assert_allclose(got, terms[::-1], rtol=1e-3)
    assert got[0] == 0 and min(got[1:]) > 0


def test_output_is_deterministic():
    a = viz.draw(lstm_loss(T=3, layers=2, bidirectional=True)[1], view="cells").source
    b = viz.draw(lstm_loss(T=3, layers=2, bidirectional=True)[1], view="cells").source
    assert a == b
    assert "0x" not in a  # no Python ids


def test_truncated_bptt_draws_the_cut_distinctly():
    rng = np.random.default_rng(1)
    cell = nn.RNNCell(3, 4, rng=1)
    h = tg.zeros(1, 4)
    kept = []
    for chunk in range(2):
        if chunk:
            h = h.detach()
        for t in range(1, 4):
            with tg.scope(f"t={t}"):
                h = cell(tg.Tensor(rng.normal(size=(1, 3)).astype(np.float32), name="x"), h)
        kept.append(h)
    loss = (h * h).sum()
    loss.backward()
    nodes, edges, clusters = parse(viz.draw(loss, view="ops").source)
    cut = [e for e in edges if e[2].get("label") == "detach()"]
    assert len(cut) == 1 and cut[0][2]["arrowhead"] == "tee" and cut[0][2]["style"] == "dashed"
    detached = nodes[cut[0][1]]
    assert "dashed" in detached["style"] and "(detached)" in detached["label"]
    ghost = [ids for path, ids in clusters if len(path) == 1 and "cut off" in path[0]]
    assert ghost and cut[0][0] in ghost[0]
    assert all("dotted" in nodes[n]["style"] and "tooltip" not in nodes[n] for n in ghost[0])
    # the cells view keeps the cut too; without the cut-off history, no ghost cluster
    assert "detach()" in viz.draw(loss, view="cells").source
    assert "cut off" not in viz.draw(loss, cutoff=False).source


def test_the_three_views_differ_as_specified():
    model, loss = lstm_loss(T=3)
    ops, cells, folded = (parse(viz.draw(loss, view=v).source) for v in viz.VIEWS)
    assert len(ops[0]) > len(cells[0]) > len(folded[0])
    cell_nodes = [a for a in cells[0].values() if a["label"].startswith("LSTMCell\\n")]
    assert len(cell_nodes) == 3 and all("ops" in a["label"] for a in cell_nodes)
    assert not any(a["label"].startswith("LSTMCell\\n") for a in ops[0].values())
    fold_cells = [i for i, a in folded[0].items() if a["label"].startswith("LSTMCell\\n")]
    assert len(fold_cells) == 1
    loops = [e for e in folded[1] if e[0] == e[1] == fold_cells[0]]
    assert len(loops) == 1 and loops[0][2]["label"].startswith("h, c")
    assert not any(p[-1].startswith("t=") for p, _ in folded[2])


def test_works_for_a_users_own_loop_with_and_without_scopes():
    *_, loss = elman(T=4)
    loss.backward()
    nodes, _, clusters = parse(viz.draw(loss, view="cells").source)
    assert sorted(p for p, _ in clusters if p[-1].startswith("t=")) == \
        [(f"t={t}",) for t in range(1, 5)]
    assert sum(a["label"].startswith("step\\n") for a in nodes.values()) == 4
    *_, plain = elman(T=4, scopes=False)
    plain.backward()
    for view in viz.VIEWS:
        nodes, edges, clusters = parse(viz.draw(plain, view=view).source)
        assert not [p for p, _ in clusters if p[-1] != heat.LEGEND_TITLE]
        assert len(nodes) > 10 and edges


def test_too_big_falls_back_to_cells_or_raises():
    _, loss = lstm_loss(T=4)
    with pytest.warns(UserWarning, match="cells"):
        g = viz.draw(loss, view="ops", max_nodes=60)
    assert "LSTMCell\\n" in g.source
    with pytest.raises(viz.GraphTooLargeError, match="max_nodes=60"):
        viz.draw(loss, view="ops", max_nodes=60, too_big="error")
    with pytest.raises(viz.GraphTooLargeError, match="folded"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        viz.draw(loss, view="ops", max_nodes=5)


def test_show_options_and_bad_arguments():
    W_x, W_s, _, _, loss = elman(T=2)
    loss.backward()
    source = viz.draw(loss, show="norm").source
    assert "|g| " in source and "|v| " in source
    assert "g [" in viz.draw(loss, show="stats").source
    assert "v [" in viz.draw(loss, show="values").source
    with pytest.raises(ValueError, match="view must be one of"):
        viz.draw(loss, view="unrolled")
    with pytest.raises(ValueError, match="direction"):
        viz.draw(loss, direction="up")
    with pytest.raises(TypeError, match="root must be a Tensor"):
        viz.draw("loss")
    assert 'rankdir=BT' in viz.draw(loss, direction="bt").source


def test_scalar_constants_are_folded_into_their_op():
    x = tg.Tensor(np.ones((1, 2)), requires_grad=True, name="x")
    y = (1.0 - x.sigmoid()) ** 2
    nodes, _, _ = parse(viz.draw(y.sum()).source)
    labels = [a["label"].split("\\n")[0] for a in nodes.values()]
    assert "Sub(1, ·)" in labels and "Pow(·, 2)" in labels
    assert len(nodes) == 5  # x, Sigmoid, Sub, Pow, Sum: no node for the constants


def test_params_given_as_model_parameters_is_refused_with_what_to_pass():
    layer = tg.nn.RNN(2, 2, rng=0)
    out, _ = layer(tg.Tensor(np.ones((3, 1, 2), np.float32)))
    loss = out.sum()
    loss.backward()
    with pytest.raises(TypeError, match=r"params=model or model.named_parameters\(\)"):
        viz.draw(loss, params=layer.parameters())
    # rows of a (2, n) weight must not pass as (name, tensor) pairs either
    with pytest.raises(TypeError, match="model.parameters"):
        viz.draw(loss, params=[layer.weight_hh_l0])
    assert "weight_hh_l0" in viz.draw(loss, params=layer.named_parameters()).source


def test_lecture_labels_give_the_shape_of_the_lectures_matrix():
    # W_x is I×H in the lectures (x·W_x); the PyTorch weight_ih_l0 is H×I, its transpose
    layer = tg.nn.RNN(2, 5, rng=0)
    out, _ = layer(tg.Tensor(np.ones((3, 1, 2), np.float32)))
    source = viz.draw(out.sum(), view="cells", notation="lecture", params=layer).source
    assert "= weight_ih_l0ᵀ  2×5" in source
    assert "5×2" not in source.split("weight_ih_l0ᵀ")[1][:8]
