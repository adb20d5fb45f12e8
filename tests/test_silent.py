"""Nothing silently wrong (issue #13): in-place writes, requires_grad_ on a non-leaf, edge
values, out-of-range dims, the dtype rule, backward's grad, clear errors, copy and pickle.

Expected values are PyTorch's documented behaviour or worked out by hand; where torch is
installed the same expression is also run through it.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import nn, optim


def _torch():
    return pytest.importorskip("torch")


# ---- #13.1: writes into values a recorded op needs ------------------------------------


def test_write_into_a_used_weight_is_refused_and_the_gradient_stays_right():
    x = tg.Tensor([2.0], requires_grad=True)
    w = tg.Tensor([3.0], requires_grad=True)
    y = (x * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        w.data[0] = 100.0
    y.backward()
    assert x.grad.tolist() == [3.0]  # the value y was computed with (the issue got 100)


def test_write_into_an_op_output_is_refused():
    x = tg.Tensor([0.5, -1.0], requires_grad=True)
    y = x.tanh()
    with pytest.raises(ValueError, match="read-only"):
        y.data[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        y.numpy()[...] = 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 1 - np.tanh([0.5, -1.0]) ** 2, rtol=1e-6)


def test_write_into_the_sequence_behind_a_step_view_is_refused():
    # x[t] is a view of x: the op saved the view, so x itself must not change either
    x = tg.Tensor(np.ones((3, 2)))
    w = tg.Tensor(np.full((2,), 2.0), requires_grad=True)
    loss = (x[1] * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        x.data[1, 0] = 50.0
    loss.backward()
    assert w.grad.tolist() == [1.0, 1.0]


def test_assigning_a_new_array_is_allowed_and_the_graph_keeps_the_old_values():
    x = tg.Tensor([2.0], requires_grad=True)
    w = tg.Tensor([3.0], requires_grad=True)
    y = (x * w).sum()
    w.data = w.data + 97.0  # a new array: what the graph saved is unchanged
    y.backward()
    assert x.grad.tolist() == [3.0] and w.data.tolist() == [100.0]


def test_hand_written_sgd_in_place_after_backward_works():
    # the docs' and examples' loop: after backward every leaf has a writable copy
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    w = tg.Tensor(rng.normal(size=(3, 1)), requires_grad=True)
    losses = []
    for _ in range(30):
        loss = ((tg.Tensor(X) @ w - Y) ** 2).mean()
        w.grad = None
        loss.backward()
        w.data -= 0.1 * w.grad
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    # the least-squares gradient at the final weights, worked out with NumPy
    expected = 2 * X.T @ (X @ w.data - Y) / 16
    w.grad = None
    ((tg.Tensor(X) @ w - Y) ** 2).mean().backward()
    np.testing.assert_allclose(w.grad, expected, rtol=1e-10, atol=1e-12)


def test_second_backward_after_an_in_place_update_uses_the_recorded_values():
    x = tg.Tensor([2.0], requires_grad=True)
    w = tg.Tensor([3.0], requires_grad=True)
    y = (x * w).sum()
    y.backward()
    w.data -= 1.0  # allowed after backward: w has its own copy now
    x.grad = None
    y.backward()  # the same graph: still d(x*3)/dx
    assert x.grad.tolist() == [3.0] and w.data.tolist() == [2.0]


def test_optimizers_step_after_backward():
    model = nn.Linear(3, 2, rng=0)
    opt = optim.Adam(model.parameters(), lr=0.1)
    x = tg.Tensor(np.ones((4, 3), np.float32))
    before = model.weight.data.copy()
    loss = model(x).sum()
    loss.backward()
    opt.step()
    assert not np.array_equal(model.weight.data, before)


def test_caller_arrays_are_not_made_read_only():
    target = np.ones((2, 2))
    mask = np.array([True, False])
    x = tg.Tensor(np.zeros((2, 2)), requires_grad=True)
    loss = F.mse_loss(x, target) + tg.where(mask, x, 0.0).sum()
    target[0, 0] = 5.0  # the caller's arrays stay theirs
    mask[0] = False
    loss.backward()
    np.testing.assert_allclose(x.grad, [[-0.5 + 1, -0.5], [-0.5 + 1, -0.5]])


def test_no_grad_ops_do_not_lock():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        y = w * 2
    w.data[0] = 7.0  # nothing recorded: nothing to protect
    y.data[0] = 1.0
    assert w.data.tolist() == [7.0, 2.0] and y.data.tolist() == [1.0, 4.0]


# ---- #13.3: requires_grad_(False) on a non-leaf -----------------------------------------


def test_requires_grad_false_on_a_non_leaf_is_refused_as_in_torch():
    x = tg.Tensor([2.0], requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf.*Mul"):
        y.requires_grad_(False)
    (y * x).sum().backward()
    assert x.grad.tolist() == [12.0]  # d(3x²)/dx at 2
    leaf = tg.Tensor([1.0], requires_grad=True).requires_grad_(False)
    assert not leaf.requires_grad


# ---- #13.4: edge values (PyTorch's answers) --------------------------------------------


def test_relu_of_minus_infinity_is_zero():
    x = tg.Tensor([-np.inf, np.inf, -1.0, 2.0], requires_grad=True)
    y = x.relu()
    assert y.tolist() == [0.0, np.inf, 0.0, 2.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_relu_propagates_nan():
    assert np.isnan(tg.Tensor([np.nan]).relu().data[0])


def test_derivative_of_x_to_the_zero_is_zero_also_at_zero():
    x = tg.Tensor([0.0, 2.0, -3.0], requires_grad=True)
    (x**0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(("values", "axis", "grad"), [
    ([1.0, np.nan, 3.0], None, [0.0, 1.0, 0.0]),
    ([np.nan, 1.0, np.nan], None, [0.5, 0.0, 0.5]),  # two NaNs share it, as ties do
    ([[1.0, np.nan, 3.0], [1.0, 3.0, 3.0]], 1, [[0.0, 1.0, 0.0], [0.0, 0.5, 0.5]]),
])
def test_max_gives_the_gradient_to_nan(values, axis, grad):
    x = tg.Tensor(values, requires_grad=True)
    x.max(axis=axis).sum().backward()
    assert x.grad.tolist() == grad


def test_max_nan_gradient_matches_torch():
    torch = _torch()
    values = [1.0, float("nan"), 3.0]
    t = torch.tensor(values, requires_grad=True)
    t.max().backward()
    x = tg.Tensor(values, requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == t.grad.tolist()


# ---- #13.5: dims and split sizes ----------------------------------------------------------


@pytest.mark.parametrize("dim", [10, 3, -4])
def test_unsqueeze_out_of_range_raises(dim):
    with pytest.raises(IndexError, match=rf"unsqueeze: dimension {dim} .*\(2, 3\)"):
        tg.Tensor(np.zeros((2, 3))).unsqueeze(dim)


@pytest.mark.parametrize(("dim", "shape"), [(2, (2, 3, 1)), (-1, (2, 3, 1)), (-3, (1, 2, 3)),
                                            (0, (1, 2, 3))])
def test_unsqueeze_in_range_matches_torch_shapes(dim, shape):
    assert tg.Tensor(np.zeros((2, 3))).unsqueeze(dim).shape == shape


@pytest.mark.parametrize("sizes", [[-1, 3], [3, -1], [1.5, 0.5]])
def test_split_refuses_negative_or_fractional_sizes(sizes):
    with pytest.raises(ValueError, match="split: sizes must be non-negative ints"):
        tg.Tensor(np.zeros(2)).split(sizes)


def test_split_with_a_zero_size_matches_torch():
    pieces = tg.Tensor(np.arange(3.0)).split([0, 3])
    assert [p.shape for p in pieces] == [(0,), (3,)]


def test_squeeze_and_transpose_out_of_range_raise():
    x = tg.Tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=r"squeeze: dimension 5 .*\(2, 3\).*-2\.\.1"):
        x.squeeze(5)
    with pytest.raises(IndexError, match=r"transpose: dimension 5 .*\(2, 3\)"):
        x.transpose(0, 5)
    assert x.squeeze(0).shape == (2, 3)  # length 2: nothing to drop, as torch


@pytest.mark.parametrize("method", ["sum", "mean", "max"])
def test_reductions_refuse_float_and_out_of_range_axes(method):
    x = tg.Tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError, match=f"{method}: a dimension must be an int, got float 1.0"):
        getattr(x, method)(axis=1.0)
    with pytest.raises(IndexError, match=f"{method}: dim(ension)? 2 is out of range"):
        getattr(x, method)(dim=2)
    with pytest.raises(TypeError, match="got bool"):
        getattr(x, method)(axis=True)
    assert getattr(x, method)(axis=(0, -1)).shape == ()


# ---- #13.7: one dtype rule -----------------------------------------------------------------


def test_float32_linear_refuses_float64_input_naming_both_dtypes():
    layer = nn.Linear(2, 3, rng=0)
    with pytest.raises(TypeError, match="Linear: input has dtype float64 but the parameters "
                                        "are float32"):
        layer(tg.Tensor(np.zeros((1, 2))))
    with pytest.raises(TypeError, match="int64"):
        layer(tg.Tensor(np.zeros((1, 2), np.int64)))
    assert layer(tg.Tensor(np.zeros((1, 2), np.float32))).dtype == np.float32
    assert layer.double()(tg.Tensor(np.zeros((1, 2)))).dtype == np.float64


def test_linear_and_lstm_follow_the_same_rule():
    x = tg.Tensor(np.zeros((1, 1, 2)))  # float64
    for module in (nn.Linear(2, 3, rng=0), nn.LSTM(2, 3, rng=0), nn.GRU(2, 3, rng=0),
                   nn.RNN(2, 3, rng=0)):
        with pytest.raises(TypeError, match="float64 but the parameters are float32"):
            module(x)


def test_torch_refuses_the_same_mixed_linear():
    torch = _torch()
    with pytest.raises(RuntimeError, match="dtype"):
        torch.nn.Linear(2, 3)(torch.zeros(1, 2, dtype=torch.float64))


def test_a_float32_model_stays_float32():
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))
    x = tg.Tensor(np.ones((5, 3), np.float32))
    y = model(x) * 2.0 + 1  # Python numbers take the tensor's dtype (as torch)
    loss = F.mse_loss(y, np.zeros((5, 2)))  # a NumPy constant takes it too
    assert y.dtype == np.float32 and loss.dtype == np.float32
    loss.backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_mixed_float_tensors_promote_as_torch():
    torch = _torch()
    a32 = tg.Tensor(np.ones(3, np.float32), requires_grad=True)
    b64 = tg.Tensor(np.ones(3), requires_grad=True)
    out = (a32 * b64).sum()
    expected = torch.ones(3, dtype=torch.float32) * torch.ones(3, dtype=torch.float64)
    assert str(out.dtype) == str(expected.dtype).removeprefix("torch.")
    out.backward()
    assert a32.grad.dtype == np.float32 and b64.grad.dtype == np.float64


@pytest.mark.parametrize("grad", [np.array([1 + 1j, 1.0]), np.array([True, False]),
                                  ["a", "b"]])
def test_backward_refuses_complex_bool_and_non_numbers(grad):
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="backward: grad must hold real numbers"):
        (x * 2).backward(grad)
    assert x.grad is None


def test_backward_refuses_a_grad_that_overflows_the_dtype():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)  # float32
    with pytest.raises(ValueError, match="1e\\+300.*overflows.*float32"):
        (x * 2).backward(np.array([1e300, 1.0]))
    y = tg.Tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    (y * 2).backward(np.array([1e300, 1.0]))  # float64 holds it
    assert y.grad.tolist() == [2e300, 2.0]


def test_backward_accepts_int_and_float64_grads_for_float32_as_torch():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    (x * 2).backward(np.array([1, 2]))
    (x * 2).backward(np.array([np.inf, 1.0]))  # inf is representable: not an overflow
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [np.inf, 6.0]


# ---- #13.14: clear errors instead of raw ones --------------------------------------------


@pytest.mark.parametrize("other", ["x", None, object()])
def test_arithmetic_with_a_non_number_names_the_op_and_the_operands(other):
    a = tg.Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"Add \(\+\): cannot combine a Tensor of shape \(2,\) "
                                        r"and dtype float32 with"):
        a + other
    with pytest.raises(TypeError, match=r"Mul \(\*\): .*a Tensor, a number or an array"):
        other * a


def test_matmul_with_a_string_names_the_op():
    with pytest.raises(TypeError, match=r"MatMul \(@\): cannot combine .* with str .x."):
        tg.Tensor(np.ones((2, 2))) @ "x"


def test_bool_minus_bool_names_the_op_and_what_to_use():
    with pytest.raises(TypeError, match=r"Sub: .*\^.*dtypes bool, bool"):
        tg.Tensor([True]) - tg.Tensor([False])


# ---- #13.15: copy and pickle ------------------------------------------------------------


def _chain(n: int) -> tuple[tg.Tensor, tg.Tensor]:
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = x
    for _ in range(n):
        y = y * 1.0
    y.name = "y"
    return x, y


def test_deepcopy_and_pickle_of_a_long_chain_keep_values_and_drop_the_graph():
    x, y = _chain(100_000)
    y.backward(np.ones(2, np.float32))
    for clone in (copy.deepcopy(y), pickle.loads(pickle.dumps(y)),
                  pickle.loads(pickle.dumps(y, protocol=0))):
        assert clone.tolist() == [1.0, 2.0] and clone.grad.tolist() == [1.0, 1.0]
        assert clone.requires_grad and clone.name == "y"
        assert clone.is_leaf and clone.grad_fn is None  # the graph is not copied
        clone.data[0] = 5.0  # a copy is the caller's: writable
        assert y.tolist() == [1.0, 2.0]


def test_copied_leaf_is_a_new_tensor_that_trains_on_its_own():
    x = tg.Tensor([3.0], requires_grad=True)
    c = copy.deepcopy(x)
    (c * c).sum().backward()
    assert c.grad.tolist() == [6.0] and x.grad is None
    assert c._id > x._id  # numbered after the original (the engine orders by number)


def test_deepcopy_of_a_trained_module_copies_its_parameters():
    model = nn.LSTM(2, 3, rng=0)
    out, _ = model(tg.Tensor(np.ones((4, 1, 2), np.float32)))
    out.sum().backward()
    twin = copy.deepcopy(model)
    for (name, p), q in zip(model.named_parameters(), twin.parameters(), strict=True):
        assert q is not p and np.array_equal(q.data, p.data), name
        assert np.array_equal(q.grad, p.grad)


def test_pickle_of_a_detached_tensor():
    y = tg.Tensor([1.0], requires_grad=True) * 2
    d = pickle.loads(pickle.dumps(y.detach()))
    assert d.tolist() == [2.0] and not d.requires_grad
