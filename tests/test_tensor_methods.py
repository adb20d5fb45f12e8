"""PyTorch's Tensor methods (tensor_methods.py): values against plain NumPy written here,
gradients against float64 numeric differences (tg.gradcheck), and their errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import gradcheck


def leaf(shape: tuple[int, ...], seed: int = 0, low: float = -3.0,
         high: float = 3.0) -> tg.Tensor:
    """float64 values in [low, high], all distinct (no ties at a max, no kinks hit)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    values = low + (high - low) * (rng.permutation(n) + 0.5) / n
    return tg.Tensor(values.reshape(shape), requires_grad=True)


# ---- gradients against numeric differences --------------------------------------------------
GRAD_CASES = {
    "abs": lambda x: x.abs(),
    "builtin abs": lambda x: abs(x),
    "clamp both": lambda x: x.clamp(-1.0, 1.3),
    "clamp min": lambda x: x.clamp(min=0.1),
    "clip max": lambda x: x.clip(max=-0.2),
    "pow": lambda x: x.pow(3),
    "clone": lambda x: x.clone() * 2,
    "t": lambda x: x.t(),
    "max dim values": lambda x: x.max(1).values,
    "max dim keepdim": lambda x: x.max(dim=0, keepdim=True).values,
    "min dim": lambda x: x.min(-1)[0],
    "min all": lambda x: x.min(),
    "min axis tuple": lambda x: x.min(axis=(0, 1)),
    "amax": lambda x: x.amax(1),
    "amin": lambda x: x.amin((0, 1), keepdim=True),
    "norm": lambda x: x.norm(),
    "norm dim": lambda x: x.norm(dim=1),
    "norm p1": lambda x: x.norm(1, dim=0),
    "norm p3": lambda x: x.norm(3),
    "norm inf": lambda x: x.norm(math.inf, dim=1),
    "std": lambda x: x.std(),
    "std dim": lambda x: x.std(1, keepdim=True),
    "var biased": lambda x: x.var(0, unbiased=False),
    "var correction": lambda x: x.var(dim=(0, 1), correction=2),
    "softmax": lambda x: x.softmax(1),
    "log_softmax": lambda x: x.log_softmax(0),
    "masked_fill": lambda x: x.masked_fill(x.data > 0.5, -7.0),
    "gather": lambda x: x.gather(1, np.array([[0, 0, 2], [1, 2, 1], [3, 3, 3]])),
    "gather dim 0 smaller": lambda x: x.gather(0, np.array([[2, 0, 1, 2]])),
    "expand": lambda x: x[:, :1].expand(3, 5),
    "expand new dims": lambda x: x[0].expand(2, -1),
    "repeat": lambda x: x.repeat(2, 3),
    "repeat extra dim": lambda x: x.repeat(2, 1, 1),
    "tg.tanh": lambda x: tg.tanh(x),
    "tg.exp": lambda x: tg.exp(x),
    "tg.matmul": lambda x: tg.matmul(x, x.t()),
    "tg.clamp": lambda x: tg.clamp(x, -1, 1),
}


@pytest.mark.parametrize("name", GRAD_CASES)
def test_gradients_match_numeric_differences(name):
    x = leaf((3, 4))
    assert gradcheck(GRAD_CASES[name], [x])


def test_clamp_with_tensor_bounds_sends_gradient_to_the_bound_taken():
    x, lo, hi = leaf((5,), 1), leaf((5,), 2, -1.0, 0.0), leaf((5,), 3, 0.0, 1.0)
    assert gradcheck(lambda x, lo, hi: x.clamp(lo, hi), [x, lo, hi])


# ---- values -------------------------------------------------------------------------------
def test_values_match_numpy():
    x = leaf((3, 4))
    a = x.data
    np.testing.assert_array_equal(abs(x).data, np.abs(a))
    np.testing.assert_array_equal(x.clamp(-1, 1).data, np.clip(a, -1, 1))
    np.testing.assert_allclose(x.norm().data, np.sqrt((a ** 2).sum()), rtol=1e-12)
    np.testing.assert_allclose(x.norm(3, dim=1).data, (np.abs(a) ** 3).sum(1) ** (1 / 3),
                               rtol=1e-12)
    np.testing.assert_allclose(x.var(1).data, a.var(1, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(x.std(unbiased=False).data, a.std(), rtol=1e-12)
    np.testing.assert_array_equal(x.repeat(2, 1, 3).data, np.tile(a, (2, 1, 3)))
    np.testing.assert_array_equal(x[:1].expand(2, 3, 4).data,
                                  np.broadcast_to(a[:1], (2, 3, 4)))
    np.testing.assert_array_equal(x.t().data, a.T)
    idx = np.array([[3, 0], [1, 1], [2, 0]])
    np.testing.assert_array_equal(x.gather(1, idx).data, np.take_along_axis(a, idx, 1))
    np.testing.assert_array_equal(x.masked_fill(a > 0, 0.0).data, np.where(a > 0, 0.0, a))


def test_max_and_min_over_a_dim_return_values_and_first_indices():
    x = tg.Tensor(np.array([[1.0, 5.0, 5.0], [7.0, 2.0, 7.0]]), requires_grad=True)
    values, indices = x.max(1)
    assert values.data.tolist() == [5.0, 7.0] and indices.data.tolist() == [1, 0]
    assert indices.dtype == np.int64
    assert x.max(dim=1).indices is not None  # the named fields
    res = x.min(0, keepdim=True)
    assert res.values.shape == (1, 3) and res.indices.data.tolist() == [[0, 1, 0]]
    values.sum().backward()
    # torch's rule for max(dim): the whole gradient to the index returned, even on ties
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])


def test_max_without_dim_keeps_its_tie_rule_and_axis_keyword():
    x = tg.Tensor(np.array([[1.0, 5.0, 5.0]]), requires_grad=True)
    y = x.max()
    assert isinstance(y, tg.Tensor) and y.item() == 5.0
    y.backward()
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5]])
    assert x.max(axis=1, keepdims=True).shape == (1, 1)
    assert x.min(axis=(0, 1)).item() == 1.0


def test_max_of_a_0d_tensor_over_dim_0():
    x = tg.Tensor(np.array(2.0))
    values, indices = x.max(0)
    assert values.item() == 2.0 and indices.item() == 0


def test_norm_at_zero_has_zero_gradient_as_torch():
    x = tg.Tensor(np.zeros(3), requires_grad=True)
    n = x.norm()
    n.backward()
    assert n.item() == 0.0
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_abs_gradient_at_zero_is_zero():
    x = tg.Tensor(np.array([-2.0, 0.0, 3.0]), requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 1.0])


def test_clamp_passes_the_gradient_at_its_bounds():
    x = tg.Tensor(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), requires_grad=True)
    x.clamp(-1, 1).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 1, 1, 1, 0])


def test_clone_is_a_new_array_in_the_graph():
    x = tg.Tensor(np.ones(3), requires_grad=True)
    y = x.clone()
    assert y.data is not x.data and not np.shares_memory(y.data, x.data)
    assert y.grad_fn is not None and y.grad_fn.name == "Clone"


def test_repeat_and_gather_accumulate_repeated_entries():
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x.repeat(3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    x.grad = None
    x.gather(0, np.array([1, 1, 0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


def test_float32_stays_float32():
    x = tg.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    for y in (x.abs(), x.clamp(0, 1), x.norm(), x.std(), x.var(1), x.masked_fill(
            x.data > 0, 2.0), x.expand(2, 2, 3), x.repeat(2, 1), x.clone(), x.max(1).values):
        assert y.dtype == np.float32


def test_tensor_to_and_devices():
    x = tg.Tensor(np.ones(2, np.float32))
    assert x.to("cpu") is x and x.cpu() is x and x.to(np.float32) is x
    assert x.to(np.float64).dtype == np.float64
    assert x.to(dtype=np.int64).dtype == np.int64
    assert x.to(tg.Tensor(np.zeros(1))).dtype == np.float64
    with pytest.raises(ValueError, match="no devices.*'cuda:0'"):
        x.to("cuda:0")
    with pytest.raises(ValueError, match="no devices"):
        x.cuda()
    w = tg.Tensor(np.ones(2, np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="cut it from the graph.*detach"):
        w.to(np.float64)


@pytest.mark.parametrize("call, error, match", [
    (lambda x: x.max(5), IndexError, r"max: dim 5 is out of range for a 2-D tensor"),
    (lambda x: x.min(1.5), TypeError, "min: dim must be an int"),
    (lambda x: x.max(1, axis=0), TypeError, "not both"),
    (lambda x: x.gather(1, np.array([[0.5]])), TypeError, "gather: index must hold integers"),
    (lambda x: x.gather(1, np.array([0, 1])), ValueError, r"gather: index of shape \(2,\)"),
    (lambda x: x.gather(1, np.array([[9]])), IndexError, r"\[0, 4\)"),
    (lambda x: x.expand(5, 4), ValueError, "dimension 0 has size 3, not 1"),
    (lambda x: x.expand(4), ValueError, "1 sizes"),
    (lambda x: x.repeat(2), ValueError, "at least 2"),
    (lambda x: x.masked_fill(np.ones((3, 4)), 0.0), TypeError, "mask must be boolean"),
    (lambda x: x.masked_fill(np.ones((2, 3, 4), bool), 0.0), ValueError, "does not broadcast"),
    (lambda x: x.norm(0.5), ValueError, "norm: p must be"),
    (lambda x: x[:1, :1].var(), ValueError, "no degrees of freedom"),
    (lambda x: x.var(unbiased=True, correction=1), TypeError, "not both"),
    (lambda x: x.clamp(), ValueError, "at least one of min and max"),
    (lambda x: x.expand(2, 3, 4).t(), ValueError, "at most 2 dimensions"),
])
def test_errors_name_the_method_and_the_values(call, error, match):
    with pytest.raises(error, match=match):
        call(leaf((3, 4)))


def test_max_over_an_empty_dim_is_refused():
    with pytest.raises(ValueError, match="dim 0 of shape \\(0, 2\\) is empty"):
        tg.Tensor(np.zeros((0, 2))).max(0)
