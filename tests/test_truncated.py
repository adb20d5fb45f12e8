"""Truncated BPTT: k = T is full BPTT exactly; k < T equals an independent computation of
the gradient with the state entering each window held constant (hand-written NumPy BPTT for
the Elman RNN, float64 central differences for an LSTM-style (h, c) state)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim, truncated
from tinygrad_rnn.engine import topological_order
from tinygrad_rnn.truncated import detach_state, tbptt_windows, truncated_bptt


# ---- windows and detaching ------------------------------------------------------------------
def test_windows():
    assert tbptt_windows(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert tbptt_windows(6, 3) == [(0, 3), (3, 6)]
    assert tbptt_windows(4, 10) == [(0, 4)]
    assert tbptt_windows(3, 1) == [(0, 1), (1, 2), (2, 3)]
    assert tbptt_windows(0, 2) == []
    for T, k in [(5, 0), (5, -1), (-1, 2), (5, 2.0), (5, True)]:
        with pytest.raises(ValueError, match="must be an integer"):
            tbptt_windows(T, k)  # type: ignore[arg-type]


def test_detach_state_keeps_structure_and_cuts_every_tensor():
    w = tg.Tensor(np.ones((2, 2)), requires_grad=True)
    h, c = tg.ones(1, 2) @ w, (tg.ones(1, 2) @ w).tanh()
    for state in [h, (h, c), [(h, c), (c, None)]]:
        cut = detach_state(state)
        assert type(cut) is type(state)
        flat_in, flat_out = [state], [cut]
        while flat_in:  # walk both structures side by side
            a, b = flat_in.pop(), flat_out.pop()
            if isinstance(a, tuple | list):
                assert len(a) == len(b)
                flat_in.extend(a)
                flat_out.extend(b)
            elif a is None:
                assert b is None
            else:
                assert b.grad_fn is None and not b.requires_grad and b._origin() is a
                np.testing.assert_array_equal(b.data, a.data)
    with pytest.raises(TypeError, match="got ndarray"):
        detach_state(np.zeros(2))


# ---- the Elman RNN of the lectures, in primitives and in plain NumPy -------------------------
def elman_problem(T: int, B: int, I: int, H: int, O: int, seed: int):
    rng = np.random.default_rng(seed)
    W_x = tg.Tensor(0.7 * rng.standard_normal((I, H)), requires_grad=True, name="W_x")
    W_s = tg.Tensor(0.7 * rng.standard_normal((H, H)), requires_grad=True, name="W_s")
    W_y = tg.Tensor(0.7 * rng.standard_normal((H, O)), requires_grad=True, name="W_y")
    s0 = tg.Tensor(0.5 * rng.standard_normal((B, H)), requires_grad=True, name="s0")
    x = rng.standard_normal((T, B, I))
    d = rng.standard_normal((T, B, O))

    def step(t: int, s: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        s = (tg.Tensor(x[t]) @ W_x + s @ W_s).tanh()  # s_t = tanh(x_t W_x + s_{t-1} W_s)
        y = s @ W_y  # y_t = s_t W_y
        return ((tg.Tensor(d[t]) - y) ** 2).sum(), s  # E_t = (d_t - y_t)²

    return [W_x, W_s, W_y, s0], x, d, step


def numpy_elman_bptt(x, d, W_x, W_s, W_y, s0, windows):
    """Hand-written BPTT, one window at a time; the gradient never crosses a window start."""
    T = len(x)
    s = [s0]  # s[t + 1] is the state after step t
    for t in range(T):
        s.append(np.tanh(x[t] @ W_x + s[t] @ W_s))
    grads = [np.zeros_like(W_x), np.zeros_like(W_s), np.zeros_like(W_y), np.zeros_like(s0)]
    for a, b in windows:
        ds_later = np.zeros_like(s0)  # dL_window/ds_t through s_{t+1} (zero at the window end)
        for t in range(b - 1, a - 1, -1):
            dy = -2.0 * (d[t] - s[t + 1] @ W_y)
            grads[2] += s[t + 1].T @ dy
            ds = dy @ W_y.T + ds_later
            dz = ds * (1.0 - s[t + 1] ** 2)  # through tanh
            grads[0] += x[t].T @ dz
            grads[1] += s[t].T @ dz
            ds_later = dz @ W_s.T
        if a == 0:
            grads[3] += ds_later  # only window 0 reaches the initial state
    return grads


def test_k_equal_T_is_full_bptt_exactly():
    params, x, d, step = elman_problem(T=9, B=2, I=3, H=4, O=2, seed=0)
    result = truncated_bptt(step, 9, params[3], k=9)
    truncated_grads = [p.grad.copy() for p in params]
    for p in params:
        p.zero_grad()
    s, loss = params[3], None  # the plain full-BPTT loop, no helper
    for t in range(9):
        loss_t, s = step(t, s)
        loss = loss_t if loss is None else loss + loss_t
    loss.backward()
    for g, p in zip(truncated_grads, params, strict=True):
        np.testing.assert_array_equal(g, p.grad)  # bit for bit: the same graph
    assert result.loss == loss.item() and result.window_losses == [loss.item()]
    expected = numpy_elman_bptt(x, d, *(p.data for p in params), [(0, 9)])
    for g, e in zip(truncated_grads, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(T=st.integers(1, 9), k=st.integers(1, 10), B=st.integers(1, 3), I=st.integers(1, 3),
       H=st.integers(1, 4), O=st.integers(1, 2), seed=st.integers(0, 10_000))
def test_truncated_gradient_equals_hand_written_windowed_bptt(T, k, B, I, H, O, seed):
    params, x, d, step = elman_problem(T, B, I, H, O, seed)
    result = truncated_bptt(step, T, params[3], k=k)
    expected = numpy_elman_bptt(x, d, *(p.data for p in params), tbptt_windows(T, k))
    for p, e in zip(params, expected, strict=True):
        np.testing.assert_allclose(p.grad, e, rtol=1e-10, atol=1e-12)
    # the forward pass is not truncated: the summed loss is the full sequence's loss
    s, full_loss = params[3].data, 0.0
    for t in range(T):
        s = np.tanh(x[t] @ params[0].data + s @ params[1].data)
        full_loss += float(((d[t] - s @ params[2].data) ** 2).sum())
    assert result.loss == pytest.approx(full_loss, rel=1e-12)
    assert len(result.window_losses) == len(tbptt_windows(T, k))


def test_truncation_really_drops_the_long_paths():
    """k < T changes the gradients that travel through time, and only those."""
    params, x, d, step = elman_problem(T=8, B=2, I=2, H=3, O=1, seed=4)
    truncated_bptt(step, 8, params[3], k=3)
    full = numpy_elman_bptt(x, d, *(p.data for p in params), [(0, 8)])
    assert not np.allclose(params[1].grad, full[1], rtol=1e-3)  # W_s loses paths
    assert not np.allclose(params[3].grad, full[3], rtol=1e-3)  # s0 sees window 0 only
    # W_y has no path through time (∂E_t/∂W_y uses s_t only): truncation leaves it exact
    np.testing.assert_allclose(params[2].grad, full[2], rtol=1e-12)


def test_each_window_backward_walks_only_k_steps():
    sizes = {}
    for T in (6, 30):
        params, _, _, step = elman_problem(T, B=1, I=2, H=3, O=1, seed=0)

        def counting_step(t, s, step=step, T=T):
            loss_t, s = step(t, s)
            if t == T - 1:
                sizes[T] = len(topological_order(loss_t))  # the graph the last backward walks
            return loss_t, s

        truncated_bptt(counting_step, T, params[3], k=3)
    assert sizes[6] == sizes[30]  # O(k): independent of the sequence length
    params, _, _, step = elman_problem(30, B=1, I=2, H=3, O=1, seed=0)
    s = params[3]
    for t in range(30):
        loss_t, s = step(t, s)
    assert len(topological_order(loss_t)) > 5 * sizes[30]  # full BPTT: O(T)


def test_state_entering_a_window_is_a_detached_copy_of_the_last_one():
    params, _, _, step = elman_problem(T=6, B=1, I=2, H=2, O=1, seed=0)
    seen: dict[int, tg.Tensor] = {}
    made: dict[int, tg.Tensor] = {}

    def recording_step(t, s):
        seen[t] = s
        loss_t, s = step(t, s)
        made[t] = s
        return loss_t, s

    result = truncated_bptt(recording_step, 6, params[3], k=3)
    assert seen[0] is params[3]  # the initial state is not detached (it may be learned)
    assert seen[3].grad_fn is None and not seen[3].requires_grad
    assert seen[3]._origin() is made[2]  # remembers the cut, for the graph renderer
    np.testing.assert_array_equal(seen[3].data, made[2].data)
    assert seen[4] is made[3]  # inside a window the state flows through the graph
    assert result.state.grad_fn is None and result.state._origin() is made[5]


# ---- an LSTM-style (h, c) state, checked with numeric differences -----------------------------
I_, H_, T_, B_ = 2, 2, 5, 2


def lstm_weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"W": 0.6 * rng.standard_normal((I_ + H_, 4 * H_)),
            "b": 0.3 * rng.standard_normal(4 * H_),
            "W_y": 0.6 * rng.standard_normal((H_, 1))}


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_lstm_window(w, x, d, h, c, a, b):
    """Loss of steps a..b-1 starting from the given (h, c), in plain NumPy."""
    loss = 0.0
    for t in range(a, b):
        z = np.concatenate([x[t], h], axis=1) @ w["W"] + w["b"]
        i, f, g, o = np.split(z, 4, axis=1)
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        loss += float(((d[t] - h @ w["W_y"]) ** 2).sum())
    return loss, h, c


def test_tuple_state_gradient_equals_numeric_gradient_with_frozen_window_starts():
    rng = np.random.default_rng(1)
    x, d = rng.standard_normal((T_, B_, I_)), rng.standard_normal((T_, B_, 1))
    h0, c0 = 0.5 * rng.standard_normal((B_, H_)), 0.5 * rng.standard_normal((B_, H_))
    k = 2
    windows = tbptt_windows(T_, k)
    w0 = lstm_weights()

    # the state entering each window, from one unperturbed forward pass
    starts, h, c = [], h0, c0
    for a, b in windows:
        starts.append((h, c))
        _, h, c = numpy_lstm_window(w0, x, d, h, c, a, b)

    def truncated_objective(w):  # each window starts from a constant: no path across windows
        return sum(numpy_lstm_window(w, x, d, hs, cs, a, b)[0]
                   for (a, b), (hs, cs) in zip(windows, starts, strict=True))

    eps, numeric = 1e-6, {}
    for name, value in w0.items():
        grad = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus = {**w0, name: value.copy()}
            minus = {**w0, name: value.copy()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            grad[idx] = (truncated_objective(plus) - truncated_objective(minus)) / (2 * eps)
        numeric[name] = grad

    W, bias, W_y = (tg.Tensor(w0[n].copy(), requires_grad=True) for n in ("W", "b", "W_y"))

    def step(t, state):
        h, c = state
        z = tg.concat([tg.Tensor(x[t]), h], axis=1) @ W + bias
        i, f, g, o = z.chunk(4, axis=1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        return ((tg.Tensor(d[t]) - h @ W_y) ** 2).sum(), (h, c)

    result = truncated_bptt(step, T_, (tg.Tensor(h0), tg.Tensor(c0)), k=k)
    for name, t in zip(("W", "b", "W_y"), (W, bias, W_y), strict=True):
        np.testing.assert_allclose(t.grad, numeric[name], rtol=1e-6, atol=1e-8)
    assert isinstance(result.state, tuple) and len(result.state) == 2
    assert result.loss == pytest.approx(truncated_objective(w0), rel=1e-12)


# ---- training with the helper ------------------------------------------------------------------
def test_on_window_is_called_after_each_backward():
    params, _, _, step = elman_problem(T=7, B=1, I=2, H=2, O=1, seed=0)
    calls = []

    def on_window(index, start, stop, loss):
        calls.append((index, start, stop, loss, params[1].grad is not None))
        for p in params:
            p.zero_grad()

    result = truncated_bptt(step, 7, params[3], k=3, on_window=on_window)
    assert [c[:3] for c in calls] == [(0, 0, 3), (1, 3, 6), (2, 6, 7)]
    assert all(c[4] for c in calls)  # the window's gradient is there when the callback runs
    assert [c[3] for c in calls] == result.window_losses
    assert result.loss == pytest.approx(sum(result.window_losses))


def test_steps_without_a_loss_and_keep_grads():
    params, _, _, step = elman_problem(T=6, B=1, I=2, H=2, O=1, seed=0)

    def many_to_one(t, s):  # only the last step has a target
        loss_t, s = step(t, s)
        return (loss_t if t == 5 else None), s

    result = truncated_bptt(many_to_one, 6, params[3], k=4, keep_grads=False)
    assert result.window_losses[0] == 0.0 and result.window_losses[1] > 0.0
    # only the last window saw a loss, and it starts at step 4: s0 and the first window
    # got no gradient, the weights did
    assert params[3].grad is None and params[1].grad is not None


def test_tbptt_training_learns_a_one_step_memory():
    """A stream of 60 steps, windows of 5, Adam per window: learn y_t = x_{t-1}."""
    rng = np.random.default_rng(0)
    T, B, H = 60, 8, 8
    x = rng.choice([-1.0, 1.0], size=(T, B, 1))
    d = np.concatenate([np.zeros((1, B, 1)), x[:-1]])
    W_x = tg.Tensor(0.5 * rng.standard_normal((1, H)), requires_grad=True)
    W_s = tg.Tensor(0.3 * rng.standard_normal((H, H)), requires_grad=True)
    W_y = tg.Tensor(0.3 * rng.standard_normal((H, 1)), requires_grad=True)
    opt = optim.Adam([W_x, W_s, W_y], lr=0.05)

    def step(t, s):
        s = (tg.Tensor(x[t]) @ W_x + s @ W_s).tanh()
        return ((tg.Tensor(d[t]) - s @ W_y) ** 2).mean(), s

    def update(index, start, stop, loss):
        optim.clip_grad_norm_(opt.params, 5.0)
        opt.step()
        opt.zero_grad()

    losses = [truncated_bptt(step, T, tg.zeros(B, H, dtype=np.float64), k=5,
                             on_window=update).loss / T for _ in range(12)]
    assert losses[-1] < 0.1 * losses[0]


# ---- bad input ----------------------------------------------------------------------------------
def test_bad_step_functions():
    w = tg.Tensor(np.ones((1, 1)), requires_grad=True)
    s0 = tg.zeros(1, 1, dtype=np.float64)
    with pytest.raises(TypeError, match="must be a function"):
        truncated_bptt("step", 3, s0, k=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"step\(0, state\) must return a pair"):
        truncated_bptt(lambda t, s: s @ w, 3, s0, k=1)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match=r"returned loss_t \(1, 2\)"):
        truncated_bptt(lambda t, s: (tg.ones(1, 2) * (s @ w), s @ w), 3, s0, k=1)
    with pytest.raises(TypeError, match="returned loss_t float"):
        truncated_bptt(lambda t, s: (1.0, s), 3, s0, k=1)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        truncated_bptt(lambda t, s: ((s @ w).sum(), s @ w), 3, s0, k=0)


def test_module_docstring_examples_run():
    import doctest

    result = doctest.testmod(truncated)
    assert result.attempted > 0 and result.failed == 0


# ---- with the library's LSTM cell and layer, against torch doing the same truncation -----------
def to_torch(torch, module):
    return {k: torch.tensor(v) for k, v in module.state_dict().items()}


def test_lstm_cell_with_the_helper_matches_torch_truncated_loop():
    torch = pytest.importorskip("torch")
    T, B, I, H, k = 7, 2, 3, 4, 3
    rng = np.random.default_rng(0)
    x, d = rng.standard_normal((T, B, I)), rng.standard_normal((T, B, 1))
    cell = nn.LSTMCell(I, H, rng=1, dtype=np.float64)
    head = nn.Linear(H, 1, rng=2, dtype=np.float64)

    def step(t, state):
        h, c = cell(tg.Tensor(x[t]), state)
        return ((head(h) - tg.Tensor(d[t])) ** 2).sum(), (h, c)

    zeros = tg.zeros(B, H, dtype=np.float64)
    truncated_bptt(step, T, (zeros, zeros), k=k)

    t_cell = torch.nn.LSTMCell(I, H).double()
    t_head = torch.nn.Linear(H, 1).double()
    t_cell.load_state_dict(to_torch(torch, cell))
    t_head.load_state_dict(to_torch(torch, head))
    h = c = torch.zeros(B, H, dtype=torch.float64)
    for start, stop in tbptt_windows(T, k):
        h, c = h.detach(), c.detach()
        loss = 0.0
        for t in range(start, stop):
            h, c = t_cell(torch.tensor(x[t]), (h, c))
            loss = loss + ((t_head(h) - torch.tensor(d[t])) ** 2).sum()
        loss.backward()
    for mod, t_mod in ((cell, t_cell), (head, t_head)):
        for (name, p), (t_name, tp) in zip(mod.named_parameters(), t_mod.named_parameters(),
                                           strict=True):
            assert name == t_name
            np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_lstm_layer_in_chunks_matches_torch():
    """The layer-level pattern: feed k steps at a time, carry (h_n, c_n) with detach_state."""
    torch = pytest.importorskip("torch")
    T, B, I, H, k = 8, 2, 3, 3, 3
    rng = np.random.default_rng(1)
    x, d = rng.standard_normal((T, B, I)), rng.standard_normal((T, B, H))
    lstm = nn.LSTM(I, H, num_layers=2, rng=0, dtype=np.float64)
    state = None
    for start, stop in tbptt_windows(T, k):
        state = detach_state(state)
        out, state = lstm(tg.Tensor(x[start:stop]), state)
        ((out - tg.Tensor(d[start:stop])) ** 2).sum().backward()

    t_lstm = torch.nn.LSTM(I, H, num_layers=2).double()
    t_lstm.load_state_dict(to_torch(torch, lstm))
    t_state = None
    for start, stop in tbptt_windows(T, k):
        if t_state is not None:
            t_state = (t_state[0].detach(), t_state[1].detach())
        t_out, t_state = t_lstm(torch.tensor(x[start:stop]), t_state)
        ((t_out - torch.tensor(d[start:stop])) ** 2).sum().backward()
    for (name, p), (t_name, tp) in zip(lstm.named_parameters(), t_lstm.named_parameters(),
                                       strict=True):
        assert name == t_name
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-10, atol=1e-12)
