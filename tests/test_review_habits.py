"""PyTorch habits a reviewer tried, each of which used to give a silent wrong result or an
unhelpful error: custom ops with several or integer outputs, reading values a lean graph
freed, backward(retain_graph=...), set_grad_enabled, a bare @no_grad, and dtype promotion
of @, cat, stack and where."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Function

# ---- custom ops ---------------------------------------------------------------------------


def _grad_input():
    return tg.Tensor(np.ones(2), requires_grad=True)


@pytest.mark.parametrize("result", [
    lambda x: (x * 2, x * 3),            # PyTorch's multi-output habit
    lambda x: [x * 2, x * 3],            # the same as a list of arrays
    lambda x: (x * 2,),                  # even one output, in a tuple
])
def test_a_forward_returning_several_arrays_is_refused_naming_the_op(result):
    class Two(Function):
        def forward(self, x):
            return result(x)

        def backward(self, g):
            return (g,)

    with pytest.raises(TypeError, match=r"Two\.forward returned a (tuple|list).*exactly one "
                                        r"output array.*one op per output.*concatenate"):
        Two.apply(_grad_input())


def test_a_forward_returning_a_numpy_scalar_still_gives_a_0d_tensor():
    class Total(Function):
        def forward(self, x):
            return x.sum()  # a NumPy scalar, not an array

        def backward(self, g):
            return (np.ones(2) * g,)

    x = _grad_input()
    y = Total.apply(x)
    assert isinstance(y.data, np.ndarray) and y.shape == ()
    y.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


@pytest.mark.parametrize("method, advice", [
    ("backward", r"NoBackward has no backward.*one gradient array \(or None\) per input"),
    ("forward", r"NoForward has no forward.*forward\(self, \*arrays\)"),
])
def test_a_missing_method_says_which_op_and_what_to_write(method, advice):
    if method == "backward":
        class NoBackward(Function):
            def forward(self, x):
                return x * 2
        y = NoBackward.apply(_grad_input())
        with pytest.raises(NotImplementedError, match=advice):
            y.sum().backward()
    else:
        class NoForward(Function):
            pass
        with pytest.raises(NotImplementedError, match=advice):
            NoForward.apply(_grad_input())


def test_an_integer_output_of_a_custom_op_does_not_require_grad_as_in_torch():
    class ArgMax(Function):
        def forward(self, x):
            return np.argmax(x, keepdims=True)

        def backward(self, g):
            return (None,)

    x = tg.Tensor(np.array([1.0, 3.0, 2.0]), requires_grad=True)
    i = ArgMax.apply(x)
    assert i.dtype == np.int64 and i.tolist() == [1]
    assert not i.requires_grad and i.grad_fn is None and i.is_leaf
    # torch does the same for an integer output of a custom autograd.Function
    torch = pytest.importorskip("torch")

    class TorchArgMax(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.argmax().reshape(1)

        @staticmethod
        def backward(ctx, g):
            return None

    ti = TorchArgMax.apply(torch.tensor([1.0, 3.0, 2.0], requires_grad=True))
    assert ti.requires_grad is i.requires_grad and ti.is_leaf is i.is_leaf


def test_a_float_output_of_a_custom_op_is_still_recorded():
    class Double(Function):
        def forward(self, x):
            return x * 2

        def backward(self, g):
            return (g * 2,)

    x = _grad_input()
    y = Double.apply(x)
    assert y.requires_grad and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


# ---- values a lean graph freed ------------------------------------------------------------

FREED = r"internal to a cell step.*tg\.full_graph\(\)"


@pytest.fixture
def freed(fast_path):
    """A gate of an LSTM step: the default lean graph freed its value (all-NaN stand-in)."""
    from tinygrad_rnn.nn import LSTM

    layer = LSTM(2, 2, rng=0, dtype=np.float64)
    out, (h, _) = layer(tg.Tensor(np.random.default_rng(0).normal(size=(3, 1, 2))))
    (out * out).sum().backward()
    gates = [t for t in tg.topological_order(h) if t.freed and t.grad_fn.name == "Sigmoid"]
    assert gates
    return gates[0]


@pytest.mark.parametrize("read", [
    lambda f: f > 0, lambda f: f < 0, lambda f: f >= 0, lambda f: f <= 0,
    lambda f: 0 < f,                       # reflected: Python calls f > 0
    lambda f: tg.zeros(f.shape) < f,       # the freed tensor on the right-hand side
    lambda f: f.argmax(), lambda f: f.argmin(), lambda f: f.argmax(dim=1),
    lambda f: f.max(1), lambda f: f.min(1),
    lambda f: tg.Tensor(f), lambda f: tg.tensor(f),
    lambda f: tg.where(f, 1.0, 0.0),
])
def test_reading_a_freed_value_is_refused_with_what_to_do(freed, read):
    with pytest.raises(RuntimeError, match=FREED):
        read(freed)


def test_bool_of_a_freed_one_element_tensor_is_refused(fast_path):
    """bool() of a freed one-element tensor: NaN would read as True."""
    from tinygrad_rnn.nn import LSTMCell

    cell = LSTMCell(1, 1, rng=0, dtype=np.float64)
    x = tg.Tensor(np.ones((1, 1)))
    h, c = cell(x)
    gates = [t for t in tg.topological_order(h) if t.freed and t.size == 1]
    assert gates
    with pytest.raises(RuntimeError, match=FREED):
        bool(gates[0])


# ---- backward's and grad mode's torch spellings ----------------------------------------


@pytest.mark.parametrize("retain", [True, False, None])
def test_backward_accepts_retain_graph_and_keeps_the_graph_either_way(retain):
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=retain)
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])  # d(Σ w²)/dw = 2w
    loss.backward()  # the graph was kept: the gradient is added again
    np.testing.assert_array_equal(w.grad, [4.0, 8.0])


def test_backward_refuses_a_retain_graph_that_is_not_a_flag():
    loss = (tg.Tensor([1.0], requires_grad=True) * 2).sum()
    with pytest.raises(TypeError, match="retain_graph must be True, False or None"):
        loss.backward(retain_graph="yes")


def test_gradient_is_torchs_name_for_grad():
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = w * 3
    y.backward(gradient=np.array([1.0, 10.0]))
    np.testing.assert_array_equal(w.grad, [3.0, 30.0])
    w.grad = None
    y.backward(np.array([1.0, 10.0]), True)  # torch's positional order: gradient, retain_graph
    np.testing.assert_array_equal(w.grad, [3.0, 30.0])
    with pytest.raises(TypeError, match="not both"):
        y.backward(np.ones(2), gradient=np.ones(2))


def test_set_grad_enabled_as_a_statement_and_as_a_block():
    w = tg.Tensor([1.0], requires_grad=True)
    assert tg.is_grad_enabled()
    with tg.set_grad_enabled(False):
        assert not (w * 2).requires_grad
        with tg.set_grad_enabled(True):
            assert (w * 2).requires_grad
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    try:
        tg.set_grad_enabled(False)  # as a statement: the mode stays off
        assert not tg.is_grad_enabled() and (w * 2).grad_fn is None
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()
    with pytest.raises(TypeError, match="mode must be True or False"):
        tg.set_grad_enabled("off")
    assert tg.is_grad_enabled()


def test_set_grad_enabled_restores_the_mode_after_an_error():
    with pytest.raises(RuntimeError, match="inside"), tg.set_grad_enabled(False):
        raise RuntimeError("inside")
    assert tg.is_grad_enabled()


@pytest.mark.parametrize("switch, inside", [(tg.no_grad, False), (tg.enable_grad, True)])
def test_no_grad_and_enable_grad_decorate_with_or_without_parentheses(switch, inside):
    w = tg.Tensor([1.0], requires_grad=True)

    @switch
    def bare():
        return (w * 2).requires_grad

    @switch()
    def called():
        return (w * 2).requires_grad

    with tg.set_grad_enabled(not inside):
        assert bare() is inside and called() is inside
        assert bare() is inside  # the block is entered anew at every call
        with switch():
            assert tg.is_grad_enabled() is inside
        assert tg.is_grad_enabled() is not inside
    assert bare.__name__ == "bare"


def test_no_grad_given_a_value_says_what_to_use():
    with pytest.raises(TypeError, match=r"no_grad: takes no arguments.*set_grad_enabled"):
        tg.no_grad(False)


# ---- dtype promotion: an integer tensor meeting a floating one takes its dtype ----------

F32, F64 = np.float32, np.float64


def _ints():
    return tg.Tensor([1, 2])  # int64


def _floats(dtype=F32, requires_grad=True):
    return tg.Tensor(np.array([1.0, 2.0], dtype), requires_grad=requires_grad)


# (what to compute in tinygrad_rnn, the same in torch or None, the expected dtype)
PROMOTIONS = [
    ("int @ float32", lambda: tg.Tensor([[1, 2]]) @ tg.Tensor(np.ones((2, 3), F32)), None, F32),
    ("float32 @ int", lambda: tg.Tensor(np.ones((3, 2), F32)) @ tg.Tensor([1, 2]), None, F32),
    ("matmul(int, float64)", lambda: tg.Tensor([[1, 2]]).matmul(tg.Tensor(np.ones((2, 1)))),
     None, F64),
    ("cat int, float32", lambda: tg.cat([_ints(), _floats()]),
     lambda t: t.cat([t.tensor([1, 2]), t.tensor([1.0, 2.0])]), F32),
    ("concat float32, bool", lambda: tg.concat([_floats(), tg.Tensor([True])]),
     lambda t: t.cat([t.tensor([1.0, 2.0]), t.tensor([True])]), F32),
    ("cat int, float64, float32", lambda: tg.cat([_ints(), _floats(F64), _floats()]),
     lambda t: t.cat([t.tensor([1, 2]), t.tensor([1.0], dtype=t.float64), t.tensor([1.0])]),
     F64),
    ("cat int, bool", lambda: tg.cat([_ints(), tg.Tensor([True])]),
     lambda t: t.cat([t.tensor([1, 2]), t.tensor([True])]), np.int64),
    ("stack int, float32", lambda: tg.stack([_ints(), _floats()]),
     lambda t: t.stack([t.tensor([1, 2]), t.tensor([1.0, 2.0])]), F32),
    ("where int, float32", lambda: tg.where(np.array([True, False]), _ints(), _floats()),
     lambda t: t.where(t.tensor([True, False]), t.tensor([1, 2]), t.tensor([1.0, 2.0])), F32),
    ("where float32, int", lambda: tg.where(np.array([True, False]), _floats(), _ints()),
     lambda t: t.where(t.tensor([True, False]), t.tensor([1.0, 2.0]), t.tensor([1, 2])), F32),
    ("clamp float32 by int", lambda: _floats().clamp(min=tg.Tensor([2, 0])),
     lambda t: t.tensor([1.0, 2.0]).clamp(min=t.tensor([2, 0])), F32),
]


@pytest.mark.parametrize("ours, theirs, expected", [p[1:] for p in PROMOTIONS],
                         ids=[p[0] for p in PROMOTIONS])
def test_an_integer_tensor_meeting_a_floating_one_takes_its_dtype(ours, theirs, expected):
    assert ours().dtype == expected
    if theirs is not None:  # (torch refuses mixed dtypes in matmul; ours promotes, as *)
        torch = pytest.importorskip("torch")
        assert str(theirs(torch).dtype) == f"torch.{np.dtype(expected)}"


def test_promoted_operands_still_give_the_float_operand_its_gradient():
    w = tg.Tensor(np.array([[0.5], [2.0]], F32), requires_grad=True)
    x = tg.Tensor([[1, 3]])  # int64 data, as a batch of counts
    (x @ w).sum().backward()
    assert w.grad.dtype == F32
    np.testing.assert_array_equal(w.grad, [[1.0], [3.0]])  # d(x·w)/dw = xᵀ
    a = _floats()
    out = tg.cat([_ints(), a]) * tg.Tensor(np.array([1, 1, 5, 7], F32))
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, [5.0, 7.0])


def test_masked_fill_leaves_the_callers_mask_writable():
    mask = np.array([True, False])
    y = _floats().masked_fill(mask, 0.0)
    assert y.tolist() == [0.0, 2.0]
    mask[0] = False  # the mask is the caller's: the graph keeps its own copy
    assert y.tolist() == [0.0, 2.0]
