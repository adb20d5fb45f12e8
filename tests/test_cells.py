"""Recurrent cells: shapes, names, init, gradients (numeric differences), errors, scopes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.gradcheck import gradcheck
from tinygrad_rnn.nn import GRUCell, LSTMCell, RNNCell, SimpleGRUCell

CELLS = {
    "rnn_tanh": (lambda **kw: RNNCell(3, 4, **kw), 1),
    "rnn_relu": (lambda **kw: RNNCell(3, 4, nonlinearity="relu", **kw), 1),
    "gru": (lambda **kw: GRUCell(3, 4, **kw), 3),
    "simple_gru": (lambda **kw: SimpleGRUCell(3, 4, **kw), 2),
    "lstm": (lambda **kw: LSTMCell(3, 4, **kw), 4),
    "peephole_lstm": (lambda **kw: LSTMCell(3, 4, peephole=True, **kw), 4),
}


def f64(*shape: int, seed: int = 0, requires_grad: bool = True) -> tg.Tensor:
    data = np.random.default_rng(seed).standard_normal(shape)
    return tg.Tensor(data, requires_grad=requires_grad)


def is_lstm(cell: object) -> bool:
    return isinstance(cell, LSTMCell)


@pytest.mark.parametrize("kind", list(CELLS))
def test_parameter_names_and_shapes_follow_torch(kind: str) -> None:
    make, gates = CELLS[kind]
    cell = make(rng=0)
    shapes = {name: p.shape for name, p in cell.named_parameters()}
    expected = {"weight_ih": (4 * gates, 3), "weight_hh": (4 * gates, 4),
                "bias_ih": (4 * gates,), "bias_hh": (4 * gates,)}
    if kind == "peephole_lstm":
        expected["weight_ch"] = (12,)
    assert shapes == expected
    assert list(shapes) == list(expected)  # torch's order


@pytest.mark.parametrize("kind", list(CELLS))
def test_init_is_uniform_in_torch_bounds_and_seedable(kind: str) -> None:
    make, _ = CELLS[kind]
    a, b, c = make(rng=1), make(rng=1), make(rng=2)
    bound = 1 / math.sqrt(4)
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters(),
                                  strict=True):
        assert pa.dtype == np.float32, name
        assert np.all(np.abs(pa.data) <= bound), name
        np.testing.assert_array_equal(pa.data, pb.data)
        assert not np.array_equal(pa.data, pc.data)


def test_no_bias_has_no_bias_parameters() -> None:
    for cell in (RNNCell(2, 3, bias=False), GRUCell(2, 3, bias=False),
                 SimpleGRUCell(2, 3, bias=False), LSTMCell(2, 3, bias=False)):
        assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh"]


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_batched(kind: str, bias: bool) -> None:
    make, _ = CELLS[kind]
    cell = make(rng=3, bias=bias).double()
    x, h = f64(2, 3, seed=1), f64(2, 4, seed=2)
    params = cell.parameters()
    if is_lstm(cell):
        c = f64(2, 4, seed=3)

        def fn(x, h, c, *ps):  # noqa: ANN001, ARG001 - gradcheck perturbs ps in place
            return cell(x, (h, c))

        assert gradcheck(fn, [x, h, c, *params])
    else:
        assert gradcheck(lambda x, h, *ps: cell(x, h), [x, h, *params])


@pytest.mark.parametrize("kind", list(CELLS))
def test_gradcheck_unbatched_with_default_state(kind: str) -> None:
    make, _ = CELLS[kind]
    cell = make(rng=4).double()
    x = f64(3, seed=5)

    def fn(x, *ps):  # noqa: ANN001, ARG001
        out = cell(x)
        if is_lstm(cell):
            assert out[0].shape == out[1].shape == (4,)
            return out
        assert out.shape == (4,)
        return out

    assert gradcheck(fn, [x, *cell.parameters()])


def test_relu_rnn_equals_formula() -> None:
    cell = RNNCell(3, 4, nonlinearity="relu", rng=0).double()
    x, h = np.random.default_rng(1).standard_normal((2, 3)), np.ones((2, 4))
    out = cell(tg.Tensor(x), tg.Tensor(h))
    w_ih, w_hh, b_ih, b_hh = (p.data for p in cell.parameters())
    expected = np.maximum(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 0)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)


def test_lstm_matches_numpy_formula_with_peepholes() -> None:
    cell = LSTMCell(3, 2, peephole=True, rng=0).double()
    rng = np.random.default_rng(2)
    x, h, c = rng.standard_normal((5, 3)), rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    h_new, c_new = cell(tg.Tensor(x), (tg.Tensor(h), tg.Tensor(c)))
    w_ih, w_hh, b_ih, b_hh, w_ch = (p.data for p in cell.parameters())

    def sig(v: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-v))

    pre = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    i = sig(pre[:, 0:2] + w_ch[0:2] * c)
    f = sig(pre[:, 2:4] + w_ch[2:4] * c)
    g = np.tanh(pre[:, 4:6])
    c_ref = f * c + i * g
    o = sig(pre[:, 6:8] + w_ch[4:6] * c_ref)
    np.testing.assert_allclose(c_new.data, c_ref, rtol=1e-12)
    np.testing.assert_allclose(h_new.data, o * np.tanh(c_ref), rtol=1e-12)


def test_simple_gru_matches_numpy_formula() -> None:
    cell = SimpleGRUCell(3, 2, rng=0).double()
    rng = np.random.default_rng(3)
    x, h = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    w_ih, w_hh, b_ih, b_hh = (p.data for p in cell.parameters())
    pre = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    u = 1 / (1 + np.exp(-pre[:, :2]))
    expected = u * np.tanh(pre[:, 2:]) + (1 - u) * h
    np.testing.assert_allclose(cell(tg.Tensor(x), tg.Tensor(h)).data, expected, rtol=1e-12)


def test_gru_matches_numpy_formula() -> None:
    cell = GRUCell(3, 2, rng=0).double()
    rng = np.random.default_rng(4)
    x, h = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    w_ih, w_hh, b_ih, b_hh = (p.data for p in cell.parameters())
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    r = 1 / (1 + np.exp(-(gi[:, 0:2] + gh[:, 0:2])))
    z = 1 / (1 + np.exp(-(gi[:, 2:4] + gh[:, 2:4])))
    n = np.tanh(gi[:, 4:6] + r * gh[:, 4:6])
    np.testing.assert_allclose(cell(tg.Tensor(x), tg.Tensor(h)).data, (1 - z) * n + z * h,
                               rtol=1e-12)


def test_default_state_is_zeros() -> None:
    for cell in (RNNCell(3, 4, rng=0), GRUCell(3, 4, rng=0), SimpleGRUCell(3, 4, rng=0)):
        x = tg.randn(2, 3, rng=1)
        np.testing.assert_array_equal(cell(x).data, cell(x, tg.zeros(2, 4)).data)
    lstm = LSTMCell(3, 4, rng=0)
    x = tg.randn(2, 3, rng=1)
    a, b = lstm(x), lstm(x, (tg.zeros(2, 4), tg.zeros(2, 4)))
    np.testing.assert_array_equal(a[0].data, b[0].data)
    np.testing.assert_array_equal(a[1].data, b[1].data)


def test_unbatched_equals_batch_of_one() -> None:
    cell = LSTMCell(3, 4, peephole=True, rng=0)
    x, h, c = tg.randn(3, rng=1), tg.randn(4, rng=2), tg.randn(4, rng=3)
    h1, c1 = cell(x, (h, c))
    h2, c2 = cell(x.reshape(1, 3), (h.reshape(1, 4), c.reshape(1, 4)))
    np.testing.assert_allclose(h1.data, h2.data[0], rtol=1e-6)
    np.testing.assert_allclose(c1.data, c2.data[0], rtol=1e-6)


def test_every_node_is_stamped_with_the_cell_scope() -> None:
    cell = LSTMCell(2, 3, rng=0)
    with tg.scope("t=3"):
        h, c = cell(tg.randn(1, 2, rng=0), (tg.zeros(1, 3), tg.zeros(1, 3)))
    nodes = [t for t in tg.topological_order(h + c) if t.grad_fn is not None][1:]
    assert nodes and all(t.scope == "t=3/LSTMCell" for t in nodes)
    assert (h.name, c.name) == ("h", "c")
    assert LSTMCell.scope_name == "LSTMCell" and SimpleGRUCell.scope_name == "SimpleGRUCell"


def test_weights_get_one_contribution_per_use_in_a_loop() -> None:
    cell = RNNCell(2, 3, rng=0).double()
    h = None
    for t in range(1, 4):
        with tg.scope(f"t={t}"):
            h = cell(tg.Tensor(np.ones((1, 2))), h)
    assert h is not None
    h.sum().backward(contributions=True)
    w = cell.weight_hh
    assert w.contributions is not None and w.grad is not None
    assert sorted({c.scope for c in w.contributions}) == ["t=1/RNNCell", "t=2/RNNCell",
                                                          "t=3/RNNCell"]
    np.testing.assert_allclose(sum(c.grad for c in w.contributions), w.grad, rtol=1e-12)


def test_array_input_is_accepted() -> None:
    cell = GRUCell(3, 2, rng=0)
    out = cell(np.ones((2, 3)))
    assert out.shape == (2, 2) and out.dtype == np.float32


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: RNNCell(3, 4, nonlinearity="sigmoid"), "unknown nonlinearity 'sigmoid'"),
        (lambda: RNNCell(0, 4), "input_size must be a positive int"),
        (lambda: GRUCell(3, 2.5), "hidden_size must be a positive int"),  # type: ignore[arg-type]
        (lambda: RNNCell(3, 4)(tg.zeros(2, 5)), r"RNNCell: input x has shape \(2, 5\), "
                                                 r"expected \(batch, 3\)"),
        (lambda: GRUCell(3, 4)(tg.zeros(2, 2, 3)), r"GRUCell: input x has shape \(2, 2, 3\)"),
        (lambda: GRUCell(3, 4)(tg.zeros(2, 3), tg.zeros(3, 4)),
         r"GRUCell: h has shape \(3, 4\), expected \(2, 4\)"),
        (lambda: SimpleGRUCell(3, 4)(tg.zeros(3), tg.zeros(1, 4)),
         r"SimpleGRUCell: h has shape \(1, 4\), expected \(4,\)"),
        (lambda: LSTMCell(3, 4)(tg.zeros(2, 3), (tg.zeros(2, 4), tg.zeros(2, 5))),
         r"LSTMCell: c has shape \(2, 5\), expected \(2, 4\)"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, message: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_state_type_and_dtype() -> None:
    with pytest.raises(TypeError, match="LSTMCell: the state must be a pair"):
        LSTMCell(3, 4)(tg.zeros(2, 3), tg.zeros(2, 4))
    with pytest.raises(TypeError, match="RNNCell: input has dtype float64 but the parameters "
                                        "are float32"):
        RNNCell(3, 4)(tg.Tensor(np.zeros((2, 3))))


# ---- against the hand-derived backward passes of the lectures ------------------------------

REFERENCE = {  # kind: (our cell, the reference's function prefix, extra forward kwargs)
    "rnn_tanh": (lambda i, h, **kw: RNNCell(i, h, **kw), "rnn_cell", {"nonlinearity": "tanh"}),
    "rnn_relu": (lambda i, h, **kw: RNNCell(i, h, nonlinearity="relu", **kw), "rnn_cell",
                 {"nonlinearity": "relu"}),
    "gru": (lambda i, h, **kw: GRUCell(i, h, **kw), "gru", {}),
    "simple_gru": (lambda i, h, **kw: SimpleGRUCell(i, h, **kw), "simple_gru", {}),
    "lstm": (lambda i, h, **kw: LSTMCell(i, h, **kw), "lstm", {}),
    "peephole_lstm": (lambda i, h, **kw: LSTMCell(i, h, peephole=True, **kw), "peephole_lstm",
                      {}),
}


def relative_gap(ours: np.ndarray, theirs: np.ndarray) -> float:
    """max |ours − theirs| relative to the largest entry of the reference (0 if both are 0)."""
    assert ours.shape == theirs.shape
    scale = float(np.max(np.abs(theirs), initial=0.0))
    gap = float(np.max(np.abs(ours - theirs), initial=0.0))
    return gap / scale if scale > 0 else gap


def reference_gap(kind: str, batch: int, inputs: int, hidden: int, bias: bool,
                  seed: int) -> float:
    """Largest relative difference between the engine's gradients of one cell step and the
    reference's hand-derived ones (every input, state and parameter), float64."""
    from tinygrad_rnn.bptt import reference as ref

    make, name, extra = REFERENCE[kind]
    cell = make(inputs, hidden, bias=bias, rng=seed).double()
    rng = np.random.default_rng(seed)
    lstm = is_lstm(cell)
    x = tg.Tensor(rng.standard_normal((batch, inputs)), requires_grad=True)
    states = [tg.Tensor(rng.standard_normal((batch, hidden)), requires_grad=True)
              for _ in range(2 if lstm else 1)]
    cotangents = [rng.standard_normal((batch, hidden)) for _ in states]
    new = cell(x, tuple(states)) if lstm else (cell(x, states[0]),)
    loss = sum(((n * u).sum() for n, u in zip(new, cotangents, strict=True)), tg.zeros(()))
    loss.backward()

    w = {n: p.data for n, p in cell.named_parameters()}
    args = [w["weight_ih"], w["weight_hh"], w.get("bias_ih"), w.get("bias_hh")]
    if kind == "peephole_lstm":
        args.append(w["weight_ch"])
    state = tuple(s.data for s in states) if lstm else states[0].data
    ref_new, cache = getattr(ref, f"{name}_forward")(x.data, state, *args, **extra)
    ref_new = ref_new if lstm else (ref_new,)
    grads = getattr(ref, f"{name}_backward")(tuple(cotangents) if lstm else cotangents[0], cache)

    pairs = [(new[0].data, ref_new[0]), (x.grad, grads["dx"]), (states[0].grad, grads["dh_prev"])]
    if lstm:
        pairs += [(new[1].data, ref_new[1]), (states[1].grad, grads["dc_prev"])]
    assert set(grads) - {"dx", "dh_prev", "dc_prev"} == {f"d{n}" for n in w}
    pairs += [(p.grad, grads[f"d{n}"]) for n, p in cell.named_parameters()]
    return max(relative_gap(a, b) for a, b in pairs)


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(list(REFERENCE)), batch=st.integers(1, 4),
       inputs=st.integers(1, 4), hidden=st.integers(1, 4), bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_cell_gradients_equal_the_hand_derived_backward(kind: str, batch: int, inputs: int,
                                                        hidden: int, bias: bool,
                                                        seed: int) -> None:
    assert reference_gap(kind, batch, inputs, hidden, bias, seed) <= 1e-10


def test_reference_comparison_detects_a_wrong_gradient() -> None:
    """The comparison can fail: a perturbed reference is caught."""
    ours = np.array([1.0, 2.0])
    assert relative_gap(ours, ours) == 0.0
    assert relative_gap(ours, ours * (1 + 1e-8)) > 1e-10
