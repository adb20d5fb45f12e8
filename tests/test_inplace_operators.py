"""``p -= lr * p.grad`` and friends behave as in PyTorch where it matters (inplace.py)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import nn


def test_the_hand_written_sgd_step_of_torch_trains_the_model():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 1))
    y = np.sin(3 * x)
    model = nn.Sequential(nn.Linear(1, 16, rng=0), nn.Tanh(), nn.Linear(16, 1, rng=1)).double()
    params = list(model.parameters())
    losses = []
    for _ in range(50):
        loss = F.mse_loss(model(tg.Tensor(x)), y)
        model.zero_grad()
        loss.backward()
        with tg.no_grad():
            for p in model.parameters():
                p -= 0.2 * p.grad
        losses.append(loss.item())
    assert list(model.parameters()) == params  # the same tensors, updated
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("update,expected", [
    (lambda p: p.__iadd__(1.0), [2.0, 3.0]), (lambda p: p.__isub__(np.ones(2)), [0.0, 1.0]),
    (lambda p: p.__imul__(tg.Tensor([2.0, 3.0])), [2.0, 6.0]),
    (lambda p: p.__itruediv__(2), [0.5, 1.0])])
def test_inside_no_grad_the_value_changes_in_the_tensors_dtype(update, expected):
    p = tg.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    with tg.no_grad():
        out = update(p)
    assert out is p and p.dtype == np.float32 and p.requires_grad
    np.testing.assert_array_equal(p.data, expected)


def test_a_parameter_is_refused_while_the_graph_is_recorded():
    w = nn.Parameter(np.ones(3))
    w.grad = np.ones(3)
    with pytest.raises(RuntimeError, match=r"-=.*leaf that requires grad.*tg.no_grad"):
        w -= 0.1 * w.grad
    np.testing.assert_array_equal(w.data, np.ones(3))


def test_a_running_loss_still_adds_up_in_the_graph():
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    total = tg.Tensor(0.0)
    for k in range(3):
        total += (w * float(k)).sum()
    total.backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])  # 0 + 1 + 2 per element


def test_the_graph_keeps_the_values_it_was_recorded_with():
    w = nn.Parameter(np.array([1.0, 2.0]))
    loss = (w * w).sum()
    with tg.no_grad():
        w += 10.0
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])  # d(w²)/dw at the recorded w
    np.testing.assert_array_equal(w.data, [11.0, 12.0])


def test_an_update_that_would_change_the_shape_is_refused():
    p = tg.Tensor(np.ones(2))
    with tg.no_grad(), pytest.raises(ValueError, match=r"keep the tensor's shape \(2,\)"):
        p += np.ones((3, 2))


def test_a_one_element_tensor_formats_as_its_number():
    loss = tg.Tensor(np.float32(0.123456))
    assert f"{loss:.4f}" == "0.1235" and f"{tg.Tensor([[2.5]]):.1f}" == "2.5"
    assert f"{loss}" == str(loss)
    with pytest.raises(ValueError, match="only one-element"):
        f"{tg.Tensor([1.0, 2.0]):.2f}"
