"""Tensor itself: constructor dtype rules, properties, repr, conversions, operators with
constants on either side, dtype preservation through every op, creation helpers."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F
from tinygrad_rnn.optable import TABLE, RandomChooser

# ---- constructor dtype rules --------------------------------------------------------------


@pytest.mark.parametrize("data", [1.0, [1.0, 2.0], [[1, 2.5], [3, 4]], (0.5,)])
def test_python_float_data_becomes_float32(data):
    assert tg.Tensor(data).dtype == np.float32


@pytest.mark.parametrize("data", [2, [0, 1, 3], [[1, 2], [3, 4]]])
def test_python_int_data_becomes_int64_like_torch(data):
    t = tg.Tensor(data)
    assert t.dtype == np.int64
    with pytest.raises(TypeError, match="floating-point"):
        tg.Tensor(data, requires_grad=True)


@pytest.mark.parametrize("data", [None, "abc", [object()]])
def test_non_numeric_data_is_refused(data):
    with pytest.raises(TypeError, match="numbers or booleans"):
        tg.Tensor(data)


def test_iteration_float_and_torch_style_reductions():
    x = tg.Tensor(np.arange(6.0).reshape(3, 2))
    rows = list(x)
    assert len(rows) == 3 and [r.data.tolist() for r in rows] == x.data.tolist()
    assert float(x.sum()) == 15.0
    assert x.sum(dim=1, keepdim=True).shape == (3, 1)
    assert [c.shape for c in x.chunk(2)] == [(2, 2), (1, 2)]  # torch: dim 0, uneven last
    assert [c.shape for c in x.split(1, dim=1)] == [(3, 1), (3, 1)]
    assert x.argmax(dim=0).data.tolist() == [2, 2]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64, np.bool_])
def test_numpy_arrays_keep_their_dtype(dtype):
    assert tg.Tensor(np.zeros(3, dtype=dtype)).dtype == dtype


def test_numpy_scalars_keep_their_dtype():
    assert tg.Tensor(np.float64(1.5)).dtype == np.float64


def test_python_bools_stay_bool():
    assert tg.Tensor([True, False]).dtype == np.bool_


def test_explicit_dtype_converts():
    t = tg.Tensor([1, 2], dtype=np.float64)
    assert t.dtype == np.float64 and t.data.tolist() == [1.0, 2.0]


def test_constructor_copies_numpy_data():
    a = np.ones(2)
    t = tg.Tensor(a)
    a[0] = 5.0
    assert t.data[0] == 1.0


@pytest.mark.parametrize("data", [np.arange(3), np.array([True, False]), [True]])
def test_integer_or_bool_data_with_requires_grad_is_a_clear_type_error(data):
    with pytest.raises(TypeError) as err:
        tg.Tensor(data, requires_grad=True)
    message = str(err.value)
    assert "requires_grad" in message and "float" in message
    assert str(np.asarray(data).dtype) in message


def test_requires_grad_on_integer_data_via_the_method_is_refused():
    with pytest.raises(TypeError, match="float"):
        tg.Tensor(np.arange(3)).requires_grad_()


def test_integer_data_without_grad_is_fine():
    assert tg.Tensor(np.arange(3)).dtype == np.int64


# ---- properties, repr, conversions --------------------------------------------------------


def test_properties():
    t = tg.Tensor(np.zeros((2, 3)), requires_grad=True, name="W")
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.numel() == 6
    assert len(t) == 2 and t.name == "W" and t.requires_grad
    assert t.is_leaf and t.grad_fn is None and t.grad is None
    y = t * 2.0
    assert not y.is_leaf and y.grad_fn.name == "Mul"
    assert y.grad_fn.inputs[0] is t


def test_repr_shows_values_shape_dtype_and_graph():
    t = tg.Tensor(np.array([1.0, 2.5]), requires_grad=True, name="h")
    text = repr(t)
    assert text.startswith("Tensor([1. , 2.5]") or text.startswith("Tensor([1., 2.5]")
    for part in ("shape=(2,)", "dtype=float64", "requires_grad=True", "name='h'"):
        assert part in text
    with tg.scope("t=1"):
        y = t.tanh()
    assert "grad_fn=Tanh" in repr(y) and "scope='t=1'" in repr(y)
    assert "requires_grad" not in repr(tg.Tensor([1.0]))


def test_repr_of_a_large_tensor_is_short():
    assert len(repr(tg.Tensor(np.zeros((100, 100))))) < 300


def test_item_numpy_tolist():
    t = tg.Tensor(np.array([[2.5]]))
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert t.numpy() is t.data
    assert t.tolist() == [[2.5]]
    with pytest.raises(ValueError, match=r"item.*\(2,\)"):
        tg.Tensor([1.0, 2.0]).item()


def test_detach_shares_data_and_leaves_the_graph():
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    y = x * 3.0
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.name == y.name
    assert np.shares_memory(d.data, y.data)
    assert d._origin() is y


def test_truth_value():
    assert bool(tg.Tensor([1.0])) and not bool(tg.Tensor(0.0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(tg.Tensor([1.0, 2.0]))


def test_comparisons_give_boolean_masks_outside_the_graph():
    x = tg.Tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    mask = x > 0
    assert mask.dtype == np.bool_ and not mask.requires_grad and mask.grad_fn is None
    assert mask.data.tolist() == [False, False, True]
    assert (x <= 0).data.tolist() == [True, True, False]


# ---- operators with constants on either side ----------------------------------------------

X = np.array([0.5, -1.0, 2.0])
C = np.array([2.0, 3.0, -4.0])

REFLECTED = {
    "2 + t": (lambda t: 2 + t, 2 + X, np.ones(3)),
    "2 - t": (lambda t: 2 - t, 2 - X, -np.ones(3)),
    "2 * t": (lambda t: 2 * t, 2 * X, np.full(3, 2.0)),
    "2 / t": (lambda t: 2 / t, 2 / X, -2 / X**2),
    "C + t": (lambda t: C + t, C + X, np.ones(3)),
    "C - t": (lambda t: C - t, C - X, -np.ones(3)),
    "C * t": (lambda t: C * t, C * X, C),
    "C / t": (lambda t: C / t, C / X, -C / X**2),
    "t + C": (lambda t: t + C, X + C, np.ones(3)),
    "t - 2": (lambda t: t - 2, X - 2, np.ones(3)),
    "t * C": (lambda t: t * C, X * C, C),
    "t / 4": (lambda t: t / 4, X / 4, np.full(3, 0.25)),
    "t ** 2": (lambda t: t**2, X**2, 2 * X),
    "-t": (lambda t: -t, -X, -np.ones(3)),
    "C @ t": (lambda t: C @ t, C @ X, C),
    "t @ C": (lambda t: t @ C, X @ C, C),
}


@pytest.mark.parametrize("case", REFLECTED.values(), ids=REFLECTED.keys())
def test_operators_with_python_scalars_and_numpy_arrays(case):
    fn, value, grad = case
    t = tg.Tensor(X.copy(), requires_grad=True)
    y = fn(t)
    assert isinstance(y, tg.Tensor)  # numpy defers to the tensor, even with the array on the left
    np.testing.assert_allclose(y.data, value, rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(t.grad, grad, rtol=1e-15)


def test_matmul_with_numpy_matrix_on_the_left():
    w = tg.Tensor(np.ones((3, 2)), requires_grad=True)
    m = np.arange(6.0).reshape(2, 3)
    y = m @ w
    assert isinstance(y, tg.Tensor) and y.shape == (2, 2)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad, np.repeat(m.sum(axis=0)[:, None], 2, axis=1))


def test_pow_with_a_tensor_exponent_is_refused():
    with pytest.raises(TypeError, match="exponent"):
        tg.Tensor([2.0]) ** tg.Tensor([2.0])


# ---- dtype: float32 stays float32 ---------------------------------------------------------


@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.name)
def test_float32_stays_float32_through_every_op_and_its_gradient(spec):
    for trial in range(4):
        rng = np.random.default_rng(trial)
        case = spec.cases(RandomChooser(rng, trial))
        inputs = [tg.Tensor(t.data.astype(np.float32), requires_grad=t.requires_grad)
                  for t in spec.inputs(case, rng)]
        out = spec.build(*inputs, **case.options)
        assert out.dtype == np.float32, case.describe()
        out.backward(np.ones(out.shape, dtype=np.float32))
        for t in inputs:
            if t.requires_grad:
                assert t.grad is not None and t.grad.dtype == np.float32, case.describe()


CONSTANT_EXPRESSIONS = {
    "t * 0.1": lambda t: t * 0.1,
    "0.1 * t": lambda t: 0.1 * t,
    "t + 1": lambda t: t + 1,
    "1.5 - t": lambda t: 1.5 - t,
    "1 / t": lambda t: 1 / t,
    "t / 3.0": lambda t: t / 3.0,
    "t ** 2": lambda t: t**2,
    "t ** 0.5": lambda t: t**0.5,
    "sqrt": lambda t: t.sqrt(),
    "mean": lambda t: t.mean(),
    "np.float64 * t": lambda t: np.float64(2.0) * t,
    "float64 array * t": lambda t: np.full(3, 2.0) * t,
    "where(mask, 0.0, t)": lambda t: tg.where(t > 1, 0.0, t),
    "softmax": lambda t: F.softmax(t),
    "cross_entropy": lambda t: F.cross_entropy(t, 1),
    "mse_loss vs float64 target": lambda t: F.mse_loss(t, np.zeros(3)),
    "dropout": lambda t: F.dropout(t, 0.5, rng=0),
}


@pytest.mark.parametrize("fn", CONSTANT_EXPRESSIONS.values(), ids=CONSTANT_EXPRESSIONS.keys())
def test_float32_stays_float32_with_python_and_numpy_constants(fn):
    t = tg.Tensor(np.array([0.5, 1.5, 2.5], dtype=np.float32), requires_grad=True)
    y = fn(t)
    assert y.dtype == np.float32
    y.sum().backward()
    assert t.grad.dtype == np.float32


@pytest.mark.parametrize("other", [0.0, np.zeros(3)], ids=["python float", "float64 array"])
def test_float32_stays_float32_in_where_with_a_constant_second_branch(other):
    t = tg.Tensor(np.array([0.5, 1.5, 2.5], dtype=np.float32), requires_grad=True)
    y = tg.where(t > 1, t, other)
    np.testing.assert_array_equal(y.data, [0.0, 1.5, 2.5])
    assert y.dtype == np.float32


def test_float64_stays_float64_with_python_constants():
    t = tg.Tensor(np.array([0.5, 1.5]), requires_grad=True)
    assert (0.1 * t + 1).exp().dtype == np.float64


# ---- creation helpers ---------------------------------------------------------------------


def test_zeros_ones_shapes_and_dtypes():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.zeros((2, 3)).shape == (2, 3)
    assert tg.zeros(2).dtype == np.float32 and np.all(tg.zeros(2).data == 0)
    one = tg.ones(3, dtype=np.float64, requires_grad=True, name="b")
    assert one.dtype == np.float64 and one.requires_grad and one.name == "b"
    assert np.all(one.data == 1)


@pytest.mark.parametrize("make", [
    lambda rng: tg.randn(3, 4, rng=rng),
    lambda rng: tg.uniform(3, 4, low=-2.0, high=2.0, rng=rng),
])
def test_random_helpers_are_reproducible_with_a_seed_or_generator(make):
    a = make(np.random.default_rng(7))
    b = make(np.random.default_rng(7))
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(make(7).data, a.data)  # an int seed is the same generator
    assert not np.array_equal(make(8).data, a.data)
    assert a.shape == (3, 4) and a.dtype == np.float32


def test_manual_seed_reproduces_the_global_generator():
    tg.manual_seed(3)
    first = tg.randn(5).data.copy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(tg.randn(5).data, first)


def test_uniform_respects_its_bounds_and_randn_its_moments():
    u = tg.uniform(10_000, low=-2.0, high=-1.0, rng=0, dtype=np.float64)
    assert u.data.min() >= -2.0 and u.data.max() < -1.0
    r = tg.randn(100_000, rng=0, dtype=np.float64).data
    assert abs(r.mean()) < 0.02 and abs(r.std() - 1.0) < 0.02


def test_tensor_function_is_the_constructor():
    t = tg.tensor([1.0, 2.0], requires_grad=True, name="v")
    assert isinstance(t, tg.Tensor) and t.requires_grad and t.name == "v"
    assert t.dtype == np.float32


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_tensors_and_parameters_pickle_and_copy_with_every_protocol(protocol):
    from tinygrad_rnn.nn import Parameter

    t = tg.Tensor(np.arange(3.0), requires_grad=True, name="w")
    t.grad = np.ones(3)
    p = Parameter(np.ones((2, 2)))
    for original in (t, p):
        back = pickle.loads(pickle.dumps(original, protocol=protocol))
        assert type(back) is type(original)
        np.testing.assert_array_equal(back.data, original.data)
        assert back.requires_grad == original.requires_grad and back.name == original.name
    back = pickle.loads(pickle.dumps(t, protocol=protocol))
    np.testing.assert_array_equal(back.grad, t.grad)
    clone = copy.deepcopy(t)
    assert clone.data is not t.data and np.array_equal(clone.data, t.data)
