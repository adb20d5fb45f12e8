"""RNN / GRU / LSTM layers: names, shapes, gradients, variable lengths, scopes, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.gradcheck import gradcheck
from tinygrad_rnn.nn import GRU, LSTM, RNN, Module

LAYERS = {
    "rnn_tanh": lambda *a, **kw: RNN(*a, **kw),
    "rnn_relu": lambda *a, **kw: RNN(*a, nonlinearity="relu", **kw),
    "gru": lambda *a, **kw: GRU(*a, **kw),
    "simple_gru": lambda *a, **kw: GRU(*a, cell="simple", **kw),
    "lstm": lambda *a, **kw: LSTM(*a, **kw),
    "peephole_lstm": lambda *a, **kw: LSTM(*a, peephole=True, **kw),
}
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "simple_gru": 2, "lstm": 4,
         "peephole_lstm": 4}


def arr(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def states(result: Any) -> tuple[tg.Tensor, ...]:
    """(h_n,) or (h_n, c_n) from a layer's second return value."""
    return result if isinstance(result, tuple) else (result,)


# ---- parameters ---------------------------------------------------------------------------


def test_parameter_names_order_and_shapes_follow_torch() -> None:
    lstm = LSTM(3, 5, num_layers=2, bidirectional=True, rng=0)
    expected = []
    for k, inp in ((0, 3), (1, 10)):
        for sfx in ("", "_reverse"):
            expected += [(f"weight_ih_l{k}{sfx}", (20, inp)), (f"weight_hh_l{k}{sfx}", (20, 5)),
                         (f"bias_ih_l{k}{sfx}", (20,)), (f"bias_hh_l{k}{sfx}", (20,))]
    assert [(n, p.shape) for n, p in lstm.named_parameters()] == expected


@pytest.mark.parametrize("kind", list(LAYERS))
def test_gate_sizes_and_init_bounds(kind: str) -> None:
    layer = LAYERS[kind](3, 4, num_layers=2, rng=0)
    for name, p in layer.named_parameters():
        assert np.all(np.abs(p.data) <= 0.5), name
        if name.startswith("weight_ch"):
            assert p.shape == (12,)
        else:
            assert p.shape[0] == 4 * GATES[kind], name


def test_no_bias_and_peephole_names() -> None:
    names = [n for n, _ in LSTM(2, 3, bias=False, peephole=True).named_parameters()]
    assert names == ["weight_ih_l0", "weight_hh_l0", "weight_ch_l0"]


def test_init_is_seedable() -> None:
    a, b, c = GRU(2, 3, rng=5), GRU(2, 3, rng=5), GRU(2, 3, rng=6)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pb.data)
        assert not np.array_equal(pa.data, pc.data)


def test_state_dict_round_trip_keeps_float64() -> None:
    src = LSTM(2, 3, num_layers=2, bidirectional=True, rng=1).double()
    dst = LSTM(2, 3, num_layers=2, bidirectional=True, rng=2)
    state = src.state_dict()
    assert all(v.dtype == np.float64 for v in state.values())
    dst.load_state_dict(state)
    for (name, p), q in zip(dst.named_parameters(), src.parameters(), strict=True):
        assert p.dtype == np.float64, name
        np.testing.assert_array_equal(p.data, q.data)
    x = tg.Tensor(arr(4, 2, 2))
    np.testing.assert_array_equal(dst(x)[0].data, src(x)[0].data)


def test_load_state_dict_errors() -> None:
    layer = GRU(2, 3, rng=0)
    state = layer.state_dict()
    missing = {k: v for k, v in state.items() if k != "bias_hh_l0"}
    with pytest.raises(KeyError, match="missing keys \\['bias_hh_l0'\\]"):
        layer.load_state_dict(missing)
    wrong = dict(state, weight_hh_l0=np.zeros((9, 4)))
    with pytest.raises(ValueError, match=r"'weight_hh_l0' has shape \(9, 4\), the parameter "
                                         r"has shape \(9, 3\)"):
        layer.load_state_dict(wrong)


def test_shared_layer_is_listed_once_and_gets_both_gradients() -> None:
    class Twice(Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = RNN(2, 2, rng=0).double()
            self.second = self.first

        def forward(self, x: tg.Tensor) -> tg.Tensor:
            return self.second(self.first(x)[0])[0]

    model = Twice()
    assert [n for n, _ in model.named_parameters()] == [
        "first.weight_ih_l0", "first.weight_hh_l0", "first.bias_ih_l0", "first.bias_hh_l0"]
    x = tg.Tensor(arr(3, 1, 2))
    assert gradcheck(lambda *ps: model(x), model.parameters())


# ---- shapes --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes_batched_batch_first_and_unbatched(kind: str, bidirectional: bool) -> None:
    d = 2 if bidirectional else 1
    tm = LAYERS[kind](3, 4, num_layers=2, bidirectional=bidirectional, rng=0).double()
    bf = LAYERS[kind](3, 4, num_layers=2, bidirectional=bidirectional, batch_first=True,
                      rng=0).double()
    x = arr(5, 2, 3)
    out, hn = tm(tg.Tensor(x))
    assert out.shape == (5, 2, 4 * d)
    assert all(h.shape == (2 * d, 2, 4) for h in states(hn))
    out_bf, hn_bf = bf(tg.Tensor(x.transpose(1, 0, 2).copy()))
    assert out_bf.shape == (2, 5, 4 * d)
    np.testing.assert_allclose(out_bf.data.transpose(1, 0, 2), out.data, rtol=1e-12)
    for a, b in zip(states(hn), states(hn_bf), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)
    # unbatched (T, I) equals a batch of one
    out_u, hn_u = tm(tg.Tensor(x[:, 0]))
    out_1, hn_1 = tm(tg.Tensor(x[:, :1]))
    assert out_u.shape == (5, 4 * d)
    np.testing.assert_allclose(out_u.data, out_1.data[:, 0], rtol=1e-12)
    for a, b in zip(states(hn_u), states(hn_1), strict=True):
        assert a.shape == (2 * d, 4)
        np.testing.assert_allclose(a.data, b.data[:, 0], rtol=1e-12)


def test_layer_equals_cells_unrolled_by_hand() -> None:
    """A 2-layer bidirectional GRU computed with explicit numpy loops."""
    gru = GRU(2, 3, num_layers=2, bidirectional=True, rng=0).double()
    w = {k: v for k, v in gru.state_dict().items()}
    x, h0 = arr(4, 2, 2, seed=1), arr(4, 2, 3, seed=2)

    def sig(v: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-v))

    def cell(x: np.ndarray, h: np.ndarray, sfx: str) -> np.ndarray:
        gi = x @ w["weight_ih" + sfx].T + w["bias_ih" + sfx]
        gh = h @ w["weight_hh" + sfx].T + w["bias_hh" + sfx]
        r, z = sig(gi[:, :3] + gh[:, :3]), sig(gi[:, 3:6] + gh[:, 3:6])
        n = np.tanh(gi[:, 6:] + r * gh[:, 6:])
        return (1 - z) * n + z * h

    inp, finals = x, []
    for k in range(2):
        outs = []
        for d, sfx in enumerate(("", "_reverse")):
            h = h0[2 * k + d]
            hs = [np.empty(0)] * 4
            for t in (range(4) if d == 0 else range(3, -1, -1)):
                h = cell(inp[t], h, f"_l{k}{sfx}")
                hs[t] = h
            outs.append(np.stack(hs))
            finals.append(h)
        inp = np.concatenate(outs, axis=-1)
    out, hn = gru(tg.Tensor(x), tg.Tensor(h0))
    np.testing.assert_allclose(out.data, inp, rtol=1e-12)
    np.testing.assert_allclose(hn.data, np.stack(finals), rtol=1e-12)


# ---- gradients -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(LAYERS))
def test_gradcheck_two_layers_bidirectional_with_lengths(kind: str) -> None:
    layer = LAYERS[kind](2, 2, num_layers=2, bidirectional=True, rng=1).double()
    x = tg.Tensor(arr(3, 2, 2, seed=3), requires_grad=True)
    h0 = [tg.Tensor(arr(4, 2, 2, seed=s), requires_grad=True) for s in (4, 5)]
    hx: Any = (h0[0], h0[1]) if isinstance(layer, LSTM) else h0[0]
    inputs = [x, *h0[: len(states(hx))], *layer.parameters()]

    def fn(*_: tg.Tensor) -> tuple[tg.Tensor, ...]:
        out, hn = layer(x, hx, lengths=[3, 2])
        return (out, *states(hn))

    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_gradcheck_batch_first_unbatched(kind: str) -> None:
    layer = LAYERS[kind](2, 3, batch_first=True, bidirectional=True, rng=2).double()
    x = tg.Tensor(arr(4, 2, seed=1), requires_grad=True)
    assert gradcheck(lambda x, *ps: layer(x)[0], [x, *layer.parameters()])


def test_weight_contributions_come_one_per_step_and_sum_to_grad() -> None:
    rnn = RNN(2, 3, bidirectional=True, rng=0).double()
    out, _ = rnn(tg.Tensor(arr(4, 1, 2)))
    out.sum().backward(contributions=True)
    for name, direction in (("weight_hh_l0", "fwd"), ("weight_hh_l0_reverse", "bwd")):
        p = getattr(rnn, name)
        scopes = sorted({c.scope for c in p.contributions})
        assert scopes == [f"layer0/{direction}/t={t}/RNNCell" for t in range(1, 5)]
        np.testing.assert_allclose(sum(c.grad for c in p.contributions), p.grad, rtol=1e-12)


# ---- variable lengths ----------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(list(LAYERS)), steps=st.integers(1, 5),
       lengths=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       bidirectional=st.booleans(), seed=st.integers(0, 2**16))
def test_lengths_equal_running_each_sequence_alone(kind: str, steps: int, lengths: list[int],
                                                   bidirectional: bool, seed: int) -> None:
    lengths = [min(n, steps) for n in lengths]
    batch = len(lengths)
    layer = LAYERS[kind](2, 3, num_layers=2, bidirectional=bidirectional, rng=seed).double()
    n_states = 2 if isinstance(layer, LSTM) else 1
    d = 2 if bidirectional else 1
    x = tg.Tensor(arr(steps, batch, 2, seed=seed), requires_grad=True)
    h0 = [tg.Tensor(arr(2 * d, batch, 3, seed=seed + s)) for s in range(n_states)]
    hx = tuple(h0) if n_states == 2 else h0[0]
    out, hn = layer(x, hx, lengths=lengths)
    u_out = arr(*out.shape, seed=seed + 7)
    u_states = [arr(2 * d, batch, 3, seed=seed + 8 + s) for s in range(n_states)]
    loss = (out * u_out).sum()
    for h, u in zip(states(hn), u_states, strict=True):
        loss = loss + (h * u).sum()
    loss.backward()
    grads = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer.zero_grad()

    expected = {n: np.zeros_like(g) for n, g in grads.items()}
    for b, n in enumerate(lengths):
        xb = tg.Tensor(x.data[:n, b:b + 1].copy(), requires_grad=True)
        hxb = tuple(h[:, b:b + 1] for h in h0)
        out_b, hn_b = layer(xb, hxb if n_states == 2 else hxb[0])
        np.testing.assert_allclose(out.data[:n, b], out_b.data[:, 0], rtol=1e-12, atol=1e-14)
        assert np.all(out.data[n:, b] == 0)  # padded outputs are zero
        for h, h_b in zip(states(hn), states(hn_b), strict=True):
            np.testing.assert_allclose(h.data[:, b], h_b.data[:, 0], rtol=1e-12, atol=1e-14)
        loss_b = (out_b * u_out[:n, b:b + 1]).sum()
        for h, u in zip(states(hn_b), u_states, strict=True):
            loss_b = loss_b + (h * u[:, b:b + 1]).sum()
        loss_b.backward()
        np.testing.assert_allclose(x.grad[:n, b], xb.grad[:, 0], rtol=1e-10, atol=1e-12)
        assert np.all(x.grad[n:, b] == 0)  # no gradient reaches padded steps
        for name, p in layer.named_parameters():
            expected[name] += p.grad
        layer.zero_grad()
    for name, g in grads.items():
        np.testing.assert_allclose(g, expected[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_padded_values_do_not_matter() -> None:
    lstm = LSTM(2, 3, bidirectional=True, rng=0)
    x = arr(4, 2, 2).astype(np.float32)
    y = x.copy()
    y[2:, 1] = 1e3  # garbage in the padding of sequence 1
    a, (ha, ca) = lstm(tg.Tensor(x), lengths=[4, 2])
    b, (hb, cb) = lstm(tg.Tensor(y), lengths=[4, 2])
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(ha.data, hb.data)
    np.testing.assert_array_equal(ca.data, cb.data)


def test_full_lengths_add_no_masking_ops() -> None:
    rnn = RNN(2, 2, rng=0)
    out, _ = rnn(tg.randn(3, 2, 2, rng=0), lengths=[3, 3])
    plain, _ = rnn(tg.randn(3, 2, 2, rng=0))
    np.testing.assert_array_equal(out.data, plain.data)
    ops = {t.grad_fn.name for t in tg.topological_order(out) if t.grad_fn is not None}
    assert "Where" not in ops


# ---- scopes and names ----------------------------------------------------------------------


def test_every_cell_node_knows_layer_direction_step_and_cell() -> None:
    lstm = LSTM(2, 3, num_layers=2, bidirectional=True, rng=0)
    out, (hn, cn) = lstm(tg.randn(3, 1, 2, rng=0))
    nodes = [t for t in tg.topological_order(out.sum() + hn.sum() + cn.sum())
             if t.grad_fn is not None and t.grad_fn.name == "Sigmoid"]
    scopes = sorted({t.scope for t in nodes})
    assert scopes == sorted(f"layer{k}/{d}/t={t}/LSTMCell" for k in range(2)
                            for d in ("fwd", "bwd") for t in range(1, 4))


def test_step_tensors_are_named_for_the_renderer() -> None:
    gru = GRU(2, 3, bidirectional=True, rng=0)
    out, _ = gru(tg.Tensor(np.ones((2, 1, 2), dtype=np.float32), requires_grad=True))
    named = {(t.name, t.scope) for t in tg.topological_order(out) if t.name in ("x", "h")}
    for d in ("fwd", "bwd"):
        for t in (1, 2):
            assert ("x", f"layer0/{d}/t={t}") in named
            assert ("h", f"layer0/{d}/t={t}/GRUCell") in named


def test_backward_direction_steps_are_labelled_by_position_and_run_last_to_first() -> None:
    rnn = RNN(1, 1, bidirectional=True, rng=0)
    out, _ = rnn(tg.randn(3, 1, 1, rng=0))
    tanhs = [t for t in tg.topological_order(out) if t.grad_fn is not None
             and t.grad_fn.name == "Tanh" and t.scope.startswith("layer0/bwd")]
    by_creation = [t.scope for t in sorted(tanhs, key=lambda t: t._id)]
    assert by_creation == [f"layer0/bwd/t={t}/RNNCell" for t in (3, 2, 1)]


# ---- dropout -------------------------------------------------------------------------------


def test_dropout_between_layers_only_in_training() -> None:
    x = tg.randn(4, 2, 3, rng=0)
    plain = LSTM(3, 5, num_layers=2, rng=0)
    dropped = LSTM(3, 5, num_layers=2, dropout=0.5, rng=0)
    np.testing.assert_array_equal(dropped.eval()(x)[0].data, plain(x)[0].data)
    assert not np.allclose(dropped.train()(x)[0].data, plain(x)[0].data)
    # the first layer's final state is computed before any dropout
    np.testing.assert_array_equal(dropped(x)[1][0].data[0], plain(x)[1][0].data[0])


def test_dropout_with_one_layer_warns_and_does_nothing() -> None:
    with pytest.warns(UserWarning, match="dropout"):
        rnn = RNN(2, 2, dropout=0.3, rng=0)
    x = tg.randn(3, 1, 2, rng=0)
    np.testing.assert_array_equal(rnn(x)[0].data, RNN(2, 2, rng=0)(x)[0].data)


# ---- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: RNN(3, 4, nonlinearity="gelu"), ValueError, "RNN: unknown nonlinearity 'gelu'"),
        (lambda: GRU(3, 4, cell="tiny"), ValueError, "GRU: cell must be 'full' or 'simple'"),
        (lambda: LSTM(3, 4, num_layers=0), ValueError, "LSTM: num_layers must be a positive"),
        (lambda: GRU(3, 4, dropout=1.0), ValueError, r"GRU: dropout must be a number in \[0, 1\)"),
        (lambda: RNN(3, 4)(tg.zeros(5, 2, 2)), ValueError,
         r"RNN: input has shape \(5, 2, 2\), expected \(seq_len, batch, input_size\)"),
        (lambda: RNN(3, 4, batch_first=True)(tg.zeros(5)), ValueError,
         r"RNN: input has shape \(5,\), expected \(batch, seq_len, input_size\)"),
        (lambda: GRU(3, 4, num_layers=2)(tg.zeros(5, 2, 3), tg.zeros(1, 2, 4)), ValueError,
         r"GRU: h0 has shape \(1, 2, 4\), expected \(2, 2, 4\)"),
        (lambda: GRU(3, 4)(tg.zeros(5, 3), tg.zeros(1, 2, 4)), ValueError,
         r"GRU: h0 has shape \(1, 2, 4\), expected \(1, 4\)"),
        (lambda: LSTM(3, 4)(tg.zeros(5, 2, 3), (tg.zeros(1, 2, 4), tg.zeros(1, 3, 4))),
         ValueError, r"LSTM: c0 has shape \(1, 3, 4\), expected \(1, 2, 4\)"),
        (lambda: LSTM(3, 4)(tg.zeros(5, 2, 3), tg.zeros(1, 2, 4)), TypeError,
         r"LSTM: the initial state must be a pair \(h0, c0\)"),
        (lambda: RNN(3, 4)(tg.zeros(5, 2, 3), lengths=[5, 6]), ValueError,
         r"RNN: every length must lie in 1..5 \(the sequence length\), got \[5, 6\]"),
        (lambda: RNN(3, 4)(tg.zeros(5, 2, 3), lengths=[0, 2]), ValueError,
         r"RNN: every length must lie in 1..5"),
        (lambda: RNN(3, 4)(tg.zeros(5, 2, 3), lengths=[5]), ValueError,
         r"RNN: lengths has shape \(1,\), expected \(2,\)"),
        (lambda: RNN(3, 4)(tg.zeros(5, 2, 3), lengths=[2.5, 3.0]), TypeError,
         "RNN: lengths must be integers"),
        (lambda: RNN(3, 4)(tg.zeros(5, 2, 3), lengths=4), TypeError,
         "RNN: lengths must be a sequence of ints"),
        (lambda: RNN(3, 4)(tg.Tensor(np.zeros((5, 2, 3)))), TypeError,
         "RNN: input has dtype float64 but the parameters are float32"),
    ],
)
def test_bad_input_raises_clear_errors(call: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


# ---- against the hand-derived BPTT of the lectures -----------------------------------------

REF_NAMES = {"rnn_tanh": "rnn", "rnn_relu": "rnn", "gru": "gru", "simple_gru": "simple_gru",
             "lstm": "lstm", "peephole_lstm": "peephole_lstm"}


def relative_gap(ours: np.ndarray, theirs: np.ndarray) -> float:
    """max |ours − theirs| relative to the largest entry of the reference (0 if both are 0)."""
    assert ours.shape == theirs.shape
    scale = float(np.max(np.abs(theirs), initial=0.0))
    gap = float(np.max(np.abs(ours - theirs), initial=0.0))
    return gap / scale if scale > 0 else gap


def reference_direction(kind: str, w: dict[str, np.ndarray], xs: np.ndarray, state0: Any,
                        reverse: bool, dhs: np.ndarray | None = None,
                        dfinal: Any = None) -> tuple[np.ndarray, Any, dict[str, np.ndarray]]:
    """One direction of one layer with the reference: (hs, final state, hand-derived grads).
    The reverse direction is the reference run on the time-reversed sequence."""
    from tinygrad_rnn.bptt import reference as ref

    name = REF_NAMES[kind]
    args = [w["weight_ih"], w["weight_hh"], w.get("bias_ih"), w.get("bias_hh")]
    extra: dict[str, Any] = {}
    if kind.startswith("rnn"):
        extra["nonlinearity"] = "relu" if kind == "rnn_relu" else "tanh"
    if kind == "peephole_lstm":
        extra["weight_ch"] = w["weight_ch"]
    flip = (lambda a: a[::-1]) if reverse else (lambda a: a)
    hs, final = getattr(ref, f"{name}_sequence_forward")(flip(xs), state0, *args, **extra)
    grads = getattr(ref, f"{name}_sequence_backward")(
        flip(xs), state0, *args, dhs=None if dhs is None else flip(dhs), dstate_final=dfinal,
        **extra)
    grads["dxs"] = flip(grads["dxs"])
    return flip(hs), final, grads


def reference_gap_layers(kind: str, steps: int, batch: int, inputs: int, hidden: int,
                         num_layers: int, bidirectional: bool, seed: int) -> float:
    """Run a (multi-layer, bidirectional) layer through the engine and through the reference
    (layer by layer, direction by direction, chaining the hand-derived gradients of each
    layer's input into the layer below); return the largest relative difference of the
    outputs and of every gradient (input, initial states, every parameter)."""
    layer = LAYERS[kind](inputs, hidden, num_layers=num_layers, bidirectional=bidirectional,
                         rng=seed).double()
    n_states = 2 if isinstance(layer, LSTM) else 1
    d = 2 if bidirectional else 1
    rng = np.random.default_rng(seed)
    x = tg.Tensor(rng.standard_normal((steps, batch, inputs)), requires_grad=True)
    h0 = [tg.Tensor(rng.standard_normal((num_layers * d, batch, hidden)), requires_grad=True)
          for _ in range(n_states)]
    u_out = rng.standard_normal((steps, batch, d * hidden))
    u_fin = [rng.standard_normal((num_layers * d, batch, hidden)) for _ in range(n_states)]
    out, hn = layer(x, tuple(h0) if n_states == 2 else h0[0])
    loss = (out * u_out).sum()
    for h, u in zip(states(hn), u_fin, strict=True):
        loss = loss + (h * u).sum()
    loss.backward()

    params = layer.state_dict()
    layer_inputs, inp = [], x.data
    for k in range(num_layers):  # forward, keeping each layer's input
        layer_inputs.append(inp)
        outs = []
        for j in range(d):
            sfx = f"_l{k}" + ("_reverse" if j else "")
            w = {n[: -len(sfx)]: v for n, v in params.items() if n.endswith(sfx)}
            s0 = tuple(h.data[k * d + j] for h in h0) if n_states == 2 else h0[0].data[k * d + j]
            outs.append(reference_direction(kind, w, inp, s0, bool(j))[0])
        inp = np.concatenate(outs, axis=-1)
    gaps = [relative_gap(out.data, inp)]

    d_out = u_out
    for k in reversed(range(num_layers)):  # backward, layer by layer
        d_in = np.zeros_like(layer_inputs[k])
        for j in range(d):
            sfx = f"_l{k}" + ("_reverse" if j else "")
            w = {n[: -len(sfx)]: v for n, v in params.items() if n.endswith(sfx)}
            idx = k * d + j
            s0 = tuple(h.data[idx] for h in h0) if n_states == 2 else h0[0].data[idx]
            dfin = tuple(u[idx] for u in u_fin) if n_states == 2 else u_fin[0][idx]
            _, final, grads = reference_direction(kind, w, layer_inputs[k], s0, bool(j),
                                                  d_out[..., j * hidden:(j + 1) * hidden], dfin)
            for h, f in zip(states(hn), final if n_states == 2 else (final,), strict=True):
                gaps.append(relative_gap(h.data[idx], f))
            for n in w:
                gaps.append(relative_gap(getattr(layer, n + sfx).grad, grads[f"d{n}"]))
            for h, key in zip(h0, ("dh0", "dc0"), strict=False):
                gaps.append(relative_gap(h.grad[idx], grads[key]))
            d_in = d_in + grads["dxs"]
        d_out = d_in
    gaps.append(relative_gap(x.grad, d_out))
    return max(gaps)


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(list(LAYERS)), steps=st.integers(1, 5), batch=st.integers(1, 3),
       inputs=st.integers(1, 3), hidden=st.integers(1, 3), num_layers=st.integers(1, 2),
       bidirectional=st.booleans(), seed=st.integers(0, 2**16))
def test_layer_gradients_equal_the_hand_derived_bptt(kind: str, steps: int, batch: int,
                                                     inputs: int, hidden: int, num_layers: int,
                                                     bidirectional: bool, seed: int) -> None:
    gap = reference_gap_layers(kind, steps, batch, inputs, hidden, num_layers, bidirectional,
                               seed)
    assert gap <= 1e-10


@pytest.mark.parametrize("kind", list(LAYERS))
def test_two_layer_bidirectional_equals_the_hand_derived_bptt(kind: str) -> None:
    assert reference_gap_layers(kind, 4, 2, 3, 2, 2, True, seed=11) <= 1e-10


def elman_setup(steps: int, batch: int, inputs: int, hidden: int, outputs: int, seed: int,
                losses: Any) -> tuple[RNN, tg.Tensor, tg.Tensor, tg.Tensor, dict[str, Any]]:
    """The lectures' Elman RNN built from our RNN layer: s_t = tanh(x_t W_x + s_{t−1} W_s + b),
    y_t = s_t W_y, E = Σ_{N in losses} Σ (d_N − y_N)². Returns the layer, x, s0, W_y and the
    reference's arguments (W_x = W_ihᵀ, W_s = W_hhᵀ, b = b_ih + b_hh)."""
    rnn = RNN(inputs, hidden, rng=seed).double()
    rng = np.random.default_rng(seed)
    x = tg.Tensor(rng.standard_normal((steps, batch, inputs)), requires_grad=True)
    s0 = tg.Tensor(rng.standard_normal((1, batch, hidden)), requires_grad=True)
    w_y = tg.Tensor(rng.standard_normal((hidden, outputs)), requires_grad=True)
    target = rng.standard_normal((steps, batch, outputs))
    out, _ = rnn(x, s0)
    chosen = list(range(1, steps + 1)) if losses == "all" else [losses]
    loss = tg.zeros((), dtype=np.float64)
    for n in chosen:  # E_N = Σ (d_N − y_N)², y_N = s_N W_y
        loss = loss + ((tg.Tensor(target[n - 1]) - out[n - 1] @ w_y) ** 2).sum()
    loss.backward(contributions=True)
    args = dict(xs=x.data, d=target, W_x=rnn.weight_ih_l0.data.T, W_s=rnn.weight_hh_l0.data.T,
                W_y=w_y.data, s0=s0.data[0], b=rnn.bias_ih_l0.data + rnn.bias_hh_l0.data,
                losses=losses)
    return rnn, x, s0, w_y, args


@settings(max_examples=25, deadline=None)
@given(steps=st.integers(1, 6), batch=st.integers(1, 3), sizes=st.tuples(
    st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)), seed=st.integers(0, 2**16),
       data=st.data())
def test_elman_gradients_equal_the_lecture_path_sums(steps: int, batch: int,
                                                     sizes: tuple[int, int, int], seed: int,
                                                     data: Any) -> None:
    from tinygrad_rnn.bptt import reference as ref

    losses = data.draw(st.one_of(st.just("all"), st.integers(1, steps)))
    rnn, x, s0, w_y, args = elman_setup(steps, batch, *sizes, seed, losses)
    for expected in (ref.elman_bptt(**args), ref.elman_bptt_recursive(**args)):
        assert relative_gap(rnn.weight_ih_l0.grad.T, expected["W_x"]) <= 1e-10
        assert relative_gap(rnn.weight_hh_l0.grad.T, expected["W_s"]) <= 1e-10
        assert relative_gap(rnn.bias_ih_l0.grad, expected["b"]) <= 1e-10
        assert relative_gap(rnn.bias_hh_l0.grad, expected["b"]) <= 1e-10
        assert relative_gap(w_y.grad, expected["W_y"]) <= 1e-10
        assert relative_gap(x.grad, expected["xs"]) <= 1e-10
        assert relative_gap(s0.grad[0], expected["s0"]) <= 1e-10


def test_lecture_t3_example_per_step_contributions_are_the_path_terms() -> None:
    """∂E_3/∂W_s = Σ_{i=1..3} (path through s_i): the engine's contribution of the use of W_hh
    at step i is exactly the lecture's i-th term (transposed: W_s = W_hhᵀ)."""
    from tinygrad_rnn.bptt import reference as ref

    rnn, _, _, _, args = elman_setup(3, 2, 2, 3, 1, seed=0, losses=3)
    terms = ref.elman_bptt_terms(**args)
    per_step: dict[str, np.ndarray] = {}
    for c in rnn.weight_hh_l0.contributions:
        per_step[c.scope] = per_step.get(c.scope, 0) + c.grad
    assert sorted(per_step) == [f"layer0/fwd/t={i}/RNNCell" for i in (1, 2, 3)]
    for i, term in enumerate(terms.paths("W_s", 3), start=1):
        assert relative_gap(per_step[f"layer0/fwd/t={i}/RNNCell"].T, term) <= 1e-10


def test_first_step_numbers_the_time_scopes_of_a_chunk():
    rnn = RNN(2, 3, rng=0)
    out, _ = rnn(tg.Tensor(np.ones((2, 1, 2), dtype=np.float32)), first_step=5)
    scopes = {t.scope for t in tg.topological_order(out.sum(), all_inputs=True)}
    steps = {s.split("/")[2] for s in scopes if s.count("/") >= 2}
    assert steps == {"t=5", "t=6"}
    with pytest.raises(ValueError, match="first_step must be a positive int"):
        rnn(tg.Tensor(np.ones((2, 1, 2), dtype=np.float32)), first_step=0)
