"""Anomaly mode: the first NaN/inf in forward or backward is reported with its op, scope
(layer, direction, time step) and input shapes; everything is restored afterwards."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.anomaly import AnomalyError, detect_anomaly
from tinygrad_rnn.function import Function
from tinygrad_rnn.ops import Add, MatMul

F32_MAX = float(np.finfo(np.float32).max)


def test_forward_explosion_names_the_time_step():
    """A ReLU RNN whose recurrent weight is 1e6·I: |h_t| ~ 1e6^t overflows float32."""
    T, H = 10, 2
    rnn = nn.RNN(1, H, nonlinearity="relu", bias=False, rng=0)
    rnn.weight_ih_l0.data = np.ones((H, 1), dtype=np.float32)
    rnn.weight_hh_l0.data = (1e6 * np.eye(H)).astype(np.float32)
    x = tg.Tensor(np.ones((T, 1, 1), dtype=np.float32))
    # expected step, by plain float arithmetic: h_1 = 1, pre_t = h_{t-1}·1e6 + 1
    h, expected = 1.0, None
    for t in range(2, T + 1):
        pre = h * 1e6  # the affine map h @ W_hhᵀ + b is the first op to leave float32's range
        if pre > F32_MAX:
            expected = t
            break
        h = pre + 1.0
    assert expected == 8
    with pytest.raises(AnomalyError) as err, detect_anomaly(), np.errstate(over="ignore"):
        rnn(x)
    e = err.value
    assert (e.phase, e.op, e.t, e.layer, e.direction, e.kind) == \
        ("forward", "Linear", expected, 0, "fwd", "inf")
    assert e.scope == f"layer0/fwd/t={expected}/RNNCell"
    assert e.input_shapes == [(1, 2), (2, 2)]
    assert f"t={expected}" in str(e) and "(1, 2), (2, 2)" in str(e)


def test_backward_explosion_names_the_time_step():
    """A linear loop h_t = h_{t-1} W with W = 1e5·I and a loss scaled by 1e20: values stay
    tiny, but ∂L/∂h_k = 1e20 · 1e5^(T-k) overflows on the way back."""
    T = 6
    W = tg.Tensor(1e5 * np.eye(2, dtype=np.float32), requires_grad=True, name="W")
    h = tg.Tensor(np.full((1, 2), 1e-25, dtype=np.float32), requires_grad=True)
    for t in range(1, T + 1):
        with tg.scope(f"t={t}"):
            h = h @ W
    loss = (h * 1e20).sum()
    # the backward of step t's MatMul sends g_t Wᵀ = 1e20 · 1e5^(T-t+1) to h_{t-1}
    expected = max(t for t in range(1, T + 1) if 1e20 * 1e5 ** (T - t + 1) > F32_MAX)
    assert expected == 3
    with pytest.raises(AnomalyError) as err, detect_anomaly(), np.errstate(over="ignore"):
        loss.backward()
    e = err.value
    assert (e.phase, e.op, e.t, e.kind) == ("backward", "MatMul", expected, "inf")
    assert e.input_shapes == [(1, 2), (2, 2)]
    assert "backward of MatMul" in str(e) and f"t={expected}" in str(e)


def test_nan_from_a_bad_input_is_reported_at_its_first_use():
    x = tg.Tensor(np.array([[1.0, np.nan]], dtype=np.float32), requires_grad=True)
    with pytest.raises(AnomalyError, match="already held non-finite") as err, \
            detect_anomaly(), tg.scope("t=3"):
        x.tanh()
    assert err.value.kind == "nan" and err.value.t == 3 and err.value.op == "Tanh"


def test_log_of_zero_and_restoring_the_ops():
    x = tg.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with pytest.raises(AnomalyError, match="forward of Log produced inf"), detect_anomaly(), \
            np.errstate(divide="ignore"):
        x.log()
    # outside the block nothing is checked and the original methods are back
    with np.errstate(divide="ignore"):
        assert np.isinf(x.log().data[0])
    assert Function.__dict__["apply"].__func__.__qualname__ == "Function.apply"
    assert MatMul.backward.__qualname__ == "MatMul.backward"
    assert Add.backward.__qualname__ == "Add.backward"


def test_clean_run_is_unchanged_and_nesting_works():
    model = nn.GRU(2, 3, rng=0, dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(4, 1, 2)))
    out, _ = model(x)
    out.sum().backward()
    expected = model.weight_hh_l0.grad.copy()
    model.zero_grad()
    with detect_anomaly(), detect_anomaly():
        out, _ = model(x)
        out.sum().backward()
    np.testing.assert_array_equal(model.weight_hh_l0.grad, expected)
    with detect_anomaly(forward=False):  # backward-only mode lets a forward inf pass
        with np.errstate(over="ignore"):
            assert np.isinf(tg.Tensor(np.array([1000.0])).exp().data[0])


def test_an_op_class_defined_inside_the_block_is_checked_too():
    with detect_anomaly(), np.errstate(all="ignore"):
        class Inner(tg.Function):
            def forward(self, x):
                self.x = x
                return x * 2

            def backward(self, g):
                return (g / (self.x - self.x),)  # inf: 1 / 0

        x = tg.Tensor(np.ones(2), requires_grad=True)
        y = Inner.apply(x).sum()
        with pytest.raises(AnomalyError, match="Inner"):
            y.backward()
    assert "anomaly_checked" not in vars(Inner.__dict__["backward"])  # restored on exit
    x.grad = None
    with np.errstate(all="ignore"):
        Inner.apply(x).sum().backward()  # outside the block: not checked
    assert np.isinf(x.grad).all()
