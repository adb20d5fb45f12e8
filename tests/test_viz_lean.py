"""Pictures of the default (lean) graph: the gradients its step-internal tensors did not
keep are recomputed for drawing (viz/grads.py), so the picture is the full graph's."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import viz
from tinygrad_rnn.nn import GRU, LSTM, RNN, LSTMCell
from tinygrad_rnn.viz.grads import gradients

pytestmark = pytest.mark.usefixtures("fast_path")  # lean graphs: the fast path, on


def _loss(cls, full: bool, **options):
    layer = cls(3, 4, rng=0, dtype=np.float64, **options)
    x = tg.Tensor(np.random.default_rng(1).standard_normal((4, 2, 3)))
    with tg.full_graph() if full else nullcontext():
        out, _ = layer(x)
        loss = (out * out).sum()
    loss.backward()
    return layer, loss


@pytest.mark.parametrize("cls", [RNN, GRU, LSTM])
def test_recomputed_gradients_are_the_ones_backward_stores_in_a_full_graph(cls):
    _, lean = _loss(cls, full=False)
    _, full = _loss(cls, full=True)
    lean_order = tg.topological_order(lean)[::-1]
    full_order = tg.topological_order(full)[::-1]
    assert any(t.freed and t.grad is None for t in lean_order)
    found = gradients(lean_order)
    assert found.whole
    grads = found.grads
    for t, u in zip(lean_order, full_order, strict=True):
        if u.grad is None:
            assert t not in grads
        else:
            np.testing.assert_allclose(grads[t], u.grad, rtol=1e-12, atol=1e-14)
    assert all(t.grad is None for t in lean_order if t.freed)  # drawing stored nothing


@pytest.mark.parametrize("show", ["none", "contributions"])
@pytest.mark.parametrize("view", ["ops", "cells"])
def test_the_default_graph_draws_the_same_picture_as_the_full_graph(view, show):
    layer, lean = _loss(LSTM, full=False, num_layers=2)
    layer_full, full = _loss(LSTM, full=True, num_layers=2)
    a = viz.draw(lean, view=view, show=show, params=layer).source
    b = viz.draw(full, view=view, show=show, params=layer_full).source
    assert "penwidth" in a  # the edges carry gradient heat
    assert a == b


def test_a_freed_node_shows_its_recomputed_gradient_but_no_value():
    _, lean = _loss(RNN, full=False)
    with pytest.warns(UserWarning, match="show as 'v freed'"):
        source = viz.draw(lean, show="norm").source
    assert "v freed\\n|g| " in source


def test_a_picture_without_every_use_draws_no_recomputed_heat_and_says_why():
    # c_t alone: the output gate also read the step's pre-activations, but is not drawn,
    # so their recomputed gradient would miss its part
    layer = LSTM(2, 3, rng=0, dtype=np.float64)
    out, (_, c) = layer(tg.Tensor(np.random.default_rng(0).normal(size=(3, 1, 2))))
    (out * out).sum().backward()
    drawn = tg.topological_order(c)[::-1]
    found = gradients(drawn)
    assert not found.whole
    assert all(t not in found.grads for t in drawn if t.freed)
    with pytest.warns(UserWarning, match=r"does not hold every use.*tg.full_graph"):
        viz.draw(c, show="norm")


def test_freed_values_are_announced_with_what_to_do():
    _, lean = _loss(GRU, full=False)
    with pytest.warns(UserWarning, match=r"values inside the cell steps were freed.*full_graph"):
        source = viz.draw(lean, show="stats").source
    assert "v freed\\ng [" in source  # the recomputed gradient's range is still drawn


def test_one_step_drawn_without_its_other_output_is_not_recomputed():
    # a single cell call: every input is a leaf, so only the step's outputs can tell that
    # the picture of c lacks h's part of the pre-activations' gradient
    cell = LSTMCell(3, 4, rng=0, dtype=np.float64)
    h, c = cell(tg.Tensor(np.random.default_rng(0).normal(size=(2, 3))))
    (100 * h.sum() + c.sum()).backward()
    assert not gradients(tg.topological_order(c)[::-1]).whole
    assert gradients(tg.topological_order(h)[::-1]).whole  # h's history holds c too


@pytest.mark.parametrize("view", ["cells", "folded"])
def test_views_that_label_no_freed_tensor_do_not_warn(view, recwarn):
    layer, lean = _loss(LSTM, full=False)
    viz.draw(lean, view=view, show="values", params=layer)
    assert not [w for w in recwarn if "freed" in str(w.message)]


def test_stacking_a_lean_output_under_no_grad_gives_a_fresh_writable_array():
    layer = GRU(3, 4, rng=0, dtype=np.float64)
    out, _ = layer(tg.Tensor(np.random.default_rng(1).standard_normal((4, 2, 3))))
    with tg.no_grad():
        s = tg.stack([out[t] for t in range(4)])
    s.data[0] = 0.0  # its own array: out is untouched
    assert not np.shares_memory(s.data, out.data) and out.data[0].any()


@pytest.mark.filterwarnings("ignore:draw.*freed")
def test_a_loss_on_the_cell_state_only_is_drawn_and_walked_as_in_a_full_graph():
    # h_T is a step output that no gradient flowed through (the loss reads c_T only):
    # it adds nothing to the recomputed gradients, so they are whole without it
    pictures, walks = [], []
    for full in (False, True):
        layer = LSTM(2, 3, rng=0, dtype=np.float64)
        x = tg.Tensor(np.random.default_rng(0).normal(size=(3, 1, 2)))
        with tg.full_graph() if full else nullcontext():
            _, (_, c) = layer(x)
            loss = (c ** 2).sum()
        walks.append(viz.walk(loss, params=layer))
        pictures.append(viz.draw(loss, show="norm", params=layer).source)
        if not full:
            order = tg.topological_order(loss)[::-1]
            assert any(t.freed for t in order) and gradients(order).whole
    assert "penwidth" in pictures[0]
    assert pictures[0].count("|g|") == pictures[1].count("|g|")
    assert len(walks[0].steps) == len(walks[1].steps)


def test_walk_after_backward_says_to_run_the_forward_again():
    layer, loss = _loss(RNN, full=False)  # backward has run
    layer.zero_grad()
    with pytest.raises(ValueError, match="run the forward again"):
        viz.walk(loss, params=layer)
    x = tg.Tensor(np.random.default_rng(1).standard_normal((4, 2, 3)))
    out, _ = layer(x)  # a new graph, but the weights still hold gradients
    layer.weight_hh_l0.grad = np.ones_like(layer.weight_hh_l0.data)
    with pytest.raises(ValueError, match=r"zero the weights' gradients first"):
        viz.walk((out * out).sum(), params=layer)
