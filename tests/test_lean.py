"""The lean graph (the default with the fast path on): each step's internal values are
freed, and their gradients are not kept; results and leaves' gradients do not change.
``full_graph()`` keeps every value and gradient."""

from __future__ import annotations

import gc
import tracemalloc
from contextlib import nullcontext
from typing import Any

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import viz
from tinygrad_rnn.nn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tinygrad_rnn.nn.cells import gru_step

LAYERS = {
    "rnn": lambda **kw: RNN(3, 4, **kw),
    "gru": lambda **kw: GRU(3, 4, **kw),
    "simple_gru": lambda **kw: GRU(3, 4, cell="simple", **kw),
    "lstm": lambda **kw: LSTM(3, 4, **kw),
    "peephole_lstm": lambda **kw: LSTM(3, 4, peephole=True, **kw),
}


pytestmark = pytest.mark.usefixtures("fast_path")  # lean graphs: the fast path, on


def run(kind: str, lean: bool, keep_grads: bool = True, **options: Any):
    lengths = options.pop("lengths", None)
    layer = LAYERS[kind](rng=0, dtype=np.float64, **options)
    r = np.random.default_rng(1)
    x = tg.Tensor(r.standard_normal((6, 2, 3)), requires_grad=True)
    G = tg.Tensor(r.standard_normal((6, 2, 4 * (2 if options.get("bidirectional") else 1))))
    with nullcontext() if lean else tg.full_graph():
        out, state = layer(x, lengths=lengths)
        loss = (out * G).sum()
    loss.backward(keep_grads=keep_grads)
    finals = state if isinstance(state, tuple) else (state,)
    return layer, out, finals, x, loss


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("options", [{}, {"num_layers": 2, "bidirectional": True},
                                     {"lengths": [6, 3]}])
def test_lean_graph_changes_no_value_and_no_gradient(kind, options):
    plain = run(kind, lean=False, **dict(options))
    lean = run(kind, lean=True, **dict(options))
    np.testing.assert_array_equal(lean[1].data, plain[1].data)  # outputs
    for a, b in zip(lean[2], plain[2], strict=True):  # final states
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(lean[3].grad, plain[3].grad)  # the input's gradient
    for (name, p), (_, q) in zip(lean[0].named_parameters(), plain[0].named_parameters(),
                                 strict=True):
        np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)
    assert not np.isnan(lean[1].data).any()


def test_internal_values_are_freed_and_read_as_nan():
    layer, out, _, _, loss = run("lstm", lean=True)
    order = tg.topological_order(loss)
    freed = [t for t in order if t.freed]
    # per step: Linear ×2, Add, 4 gate slices, 3 sigmoids, 2 tanhs, f·c, i·g (the new
    # h and c are kept) -- 14 of the LSTM step's 16 tensors
    assert len(freed) == 14 * 6
    for t in freed:
        assert t.data.shape == t.shape and np.isnan(t.data).all()
        assert not t.data.flags.writeable
        assert "freed" in repr(t)
    kept = [t for t in order if t.name in ("h", "c")]
    assert kept and not any(t.freed for t in kept)
    assert not np.isnan(out.data).any()
    assert out.freed is False


def test_a_full_graph_frees_nothing():
    _, _, _, _, loss = run("lstm", lean=False)
    assert not any(t.freed for t in tg.topological_order(loss, all_inputs=True))


@pytest.mark.parametrize("cell", [RNNCell, GRUCell, LSTMCell])
def test_cells_free_their_step_too(cell):
    r = np.random.default_rng(0)
    x = tg.Tensor(r.standard_normal((2, 3)))
    grads = []
    for lean in (False, True):
        c = cell(3, 4, rng=0, dtype=np.float64)
        with nullcontext() if lean else tg.full_graph():
            state = None
            for _ in range(3):
                state = c(x, state)
        outs = state if isinstance(state, tuple) else (state,)
        sum(o.sum() for o in outs).backward()
        grads.append([p.grad for p in c.parameters()])
        freed = [t for t in tg.topological_order(outs[0]) if t.freed]
        assert bool(freed) == lean
    for a, b in zip(*grads, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_default_keeps_the_gradients_of_what_keeps_its_value():
    _, _, _, x, loss = run("lstm", lean=True)
    _, _, _, x_full, loss_full = run("lstm", lean=False)
    lean_order = tg.topological_order(loss)
    full_order = tg.topological_order(loss_full)
    assert [t.shape for t in lean_order] == [t.shape for t in full_order]  # the same graph
    for t, u in zip(lean_order, full_order, strict=True):
        if t.freed:  # a step's internal tensor: neither value nor gradient kept
            assert t.grad is None and u.grad is not None
        elif t.requires_grad:  # h_t, c_t, the output, the loss, the leaves
            np.testing.assert_array_equal(t.grad, u.grad)
    assert sum(t.name == "h" and t.grad is not None for t in lean_order) == 6  # dL/dh_t, all t


def test_full_graph_and_lean_graph_nest():
    with tg.full_graph():
        with tg.lean_graph():
            _, _, _, _, inner = run("rnn", lean=True)
        _, _, _, _, outer = run("rnn", lean=True)  # run() adds no context when lean=True
    assert any(t.freed for t in tg.topological_order(inner))
    assert not any(t.freed for t in tg.topological_order(outer))


def test_a_lean_graph_can_be_walked_twice():
    layer, _, _, _, loss = run("gru", lean=True)
    first = layer.weight_hh_l0.grad.copy()
    loss.backward()
    np.testing.assert_allclose(layer.weight_hh_l0.grad, 2 * first, rtol=1e-12)


def test_the_renderer_marks_freed_values():
    _, _, _, _, loss = run("rnn", lean=True)
    with pytest.warns(UserWarning, match="full_graph"):
        source = viz.draw(loss, show="stats").source
    assert "v freed" in source


def test_a_lean_layer_keeps_its_outputs_in_one_array_without_a_stacked_copy():
    from tinygrad_rnn.fast.lean import Outputs, stacked

    with tg.lean_graph():
        outputs = Outputs((3, 2), np.dtype(np.float64))
        parts = [tg.Tensor(np.full(2, float(i))) for i in range(3)]
        for i, p in enumerate(parts):
            outputs.store(i, p)
        assert stacked([p.data for p in parts]) is outputs.array
        assert stacked([parts[1].data, parts[0].data, parts[2].data]) is None
        assert stacked([p.data for p in parts[:2]]) is None  # not all of them
        assert stacked([parts[0].data, outputs.array[1], parts[2].data]) is None  # a new view
        out = tg.stack(parts)
    assert out.data is outputs.array
    np.testing.assert_array_equal(out.data, [[0, 0], [1, 1], [2, 2]])
    with tg.full_graph():
        assert stacked([p.data for p in parts]) is None  # a full graph: always a copy


def test_a_lean_layer_output_is_the_array_its_steps_were_kept_in():
    layer = RNN(3, 4, rng=0)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32))
    out, h = layer(x)
    assert out.grad_fn.name == "Stack"
    assert all(np.shares_memory(out.data, t.data) for t in out.grad_fn.inputs)
    with tg.full_graph():
        full, _ = layer(x)
    np.testing.assert_array_equal(out.data, full.data)


def _peak(fn: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_lean_graph_keeps_about_what_backward_needs():
    # LSTM, batch 8, hidden 64, T = 40, float32: a step's tensors are ~20 arrays of (8, 64)
    # or (8, 256), of which backward needs 7; lean must at least halve the peak.
    layer = LSTM(16, 64, rng=0)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((40, 8, 16)).astype(np.float32))

    def step(lean: bool) -> None:
        with nullcontext() if lean else tg.full_graph():
            out, _ = layer(x)
            loss = out.sum()
        loss.backward(keep_grads=False)
        layer.zero_grad()

    step(False), step(True)  # warm-up
    assert _peak(lambda: step(True)) < 0.5 * _peak(lambda: step(False))


def test_a_lean_first_step_does_not_free_shared_constants():
    # the 1.0 of GRU's (1 - z) is one cached constant tensor for the whole process; if the
    # first step that creates it is lean, it must not be freed (later uses would read NaN)
    from tinygrad_rnn.fast import _CONSTANTS as _scalar_constants

    _scalar_constants.clear()
    gru = GRU(3, 4, rng=0)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32))
    with tg.lean_graph():
        out, h = gru(x)
    assert not np.isnan(out.data).any()
    assert (1.0 - tg.Tensor(np.full(2, 0.25, np.float32))).data.tolist() == [0.75, 0.75]
    plain, _ = GRU(3, 4, rng=0)(x)
    np.testing.assert_array_equal(out.data, plain.data)


def test_lean_outputs_are_read_only_because_backward_uses_them():
    layer = RNN(3, 4, rng=0, dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((4, 2, 3)))
    with tg.lean_graph():
        out, h_n = layer(x)
    with pytest.raises(ValueError, match="read-only"):
        out.data[...] = 0.0


def test_lean_stacking_takes_no_user_array_and_checks_each_piece():
    x = tg.Tensor(np.arange(8.0).reshape(2, 2, 2))
    with tg.lean_graph():
        same = tg.stack([x[0], x[1]])  # consecutive rows of a user's array: still a copy
        turned = tg.stack([x[0].T, x[1].T])
    assert not np.shares_memory(same.data, x.data)
    np.testing.assert_array_equal(turned.data, np.stack([x.data[0].T, x.data[1].T]))
    y = tg.Tensor(np.arange(6.0).reshape(2, 3))
    with tg.lean_graph(), pytest.raises(tg.ShapeError):
        tg.stack([y[0], y[1, :2]])


def test_a_custom_op_whose_backward_reads_its_input_tensor_gets_true_gradients():
    # an op defined outside the library may read self.inputs[0].data in backward instead
    # of saving the array in forward: a lean step keeps that input (else it reads NaN)
    class Square(tg.Function):
        def forward(self, x):
            return x * x

        def backward(self, g):
            return (2 * g * self.inputs[0].data,)

    class MyGRU(GRUCell):
        step = staticmethod(lambda x, h, *w: Square.apply(gru_step(x, h, *w) * 0.5 + 0.1))

    rng = np.random.default_rng(0)
    xs = rng.normal(size=(3, 1, 2))
    cell = MyGRU(2, 3, rng=0, dtype=np.float64)

    def loss() -> tg.Tensor:
        h = None
        for x in xs:
            h = cell(tg.Tensor(x), h)
        return h.sum()

    loss().backward()
    analytic = cell.weight_hh.grad.copy()
    numeric = np.zeros_like(analytic)
    w = cell.weight_hh.data.copy()
    with tg.no_grad():
        for i in np.ndindex(w.shape):
            for sign in (1, -1):
                cell.weight_hh.data = w.copy()
                cell.weight_hh.data[i] += sign * 1e-6
                numeric[i] += sign * loss().item() / 2e-6
    cell.weight_hh.data = w
    assert np.isfinite(analytic).all()
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
