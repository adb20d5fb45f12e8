"""gradcheck itself: it must pass on correct ops and *catch* wrong ones.

The wrong ops are custom ``Function`` subclasses written here with a deliberately broken
backward, each the kind of mistake a learner makes (a missing factor, a wrong entry,
ignoring the incoming gradient).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Function
from tinygrad_rnn import functional as F
from tinygrad_rnn.gradcheck import GradcheckError, gradcheck


def leaf(values, name=None):
    return tg.Tensor(np.asarray(values, dtype=np.float64), requires_grad=True, name=name)


class SquareMissingFactor(Function):
    """y = x**2 with the classic slip: dx = g * x (the factor 2 is missing)."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return (g * self.x,)


class MulWrongSecondInput(Function):
    """y = a * b, correct for a, but db = g * b instead of g * a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return g * self.b, g * self.b


class WrongAtOneEntry(Function):
    """y = 3 x, whose backward is wrong at one flat position only."""

    position = 7

    def forward(self, x):
        return 3.0 * x

    def backward(self, g):
        gx = 3.0 * g
        flat = gx.reshape(-1).copy()
        flat[self.position] *= 1.5
        return (flat.reshape(gx.shape),)


class IgnoresIncomingGradient(Function):
    """y = 2 x with backward returning 2 everywhere: right only when g is all ones."""

    def forward(self, x):
        return 2.0 * x

    def backward(self, g):
        return (np.full_like(g, 2.0),)


# ---- passes on correct ops ----------------------------------------------------------------


def test_passes_on_correct_ops_with_several_inputs():
    rng = np.random.default_rng(0)
    x, w = leaf(rng.standard_normal((3, 4))), leaf(rng.standard_normal((4, 2)))
    b = leaf(rng.standard_normal(2))
    assert gradcheck(lambda x, w, b: F.log_softmax((x @ w + b).tanh()), [x, w, b]) is True


def test_passes_on_functions_returning_several_outputs():
    x = leaf(np.linspace(-1, 1, 5))
    assert gradcheck(lambda x: (x.exp(), (x * x).sum()), [x])


def test_only_inputs_that_require_grad_are_checked():
    x = leaf([1.0, 2.0])
    c = tg.Tensor(np.array([3.0, 4.0]))  # data, not differentiated
    assert gradcheck(lambda x, c: x * c, [x, c])


def test_leaves_existing_grads_untouched():
    x = leaf([1.0, 2.0])
    x.grad = np.array([10.0, 20.0])
    gradcheck(lambda x: x * x, [x])
    np.testing.assert_array_equal(x.grad, [10.0, 20.0])


# ---- catches wrong backwards, naming input and index --------------------------------------


def test_raises_on_a_missing_factor_naming_input_and_index():
    x = leaf([[0.5, -1.0], [2.0, 1.5]], name="x")
    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda x: SquareMissingFactor.apply(x), [x])
    message = str(err.value)
    assert "input 0" in message and "'x'" in message and "(2, 2)" in message
    assert "index (" in message and "backward gives" in message and "numeric" in message


def test_names_the_wrong_input_of_two():
    a, b = leaf([1.0, 2.0, 3.0], name="a"), leaf([-1.0, 0.5, 2.0], name="b")
    with pytest.raises(GradcheckError, match=r"input 1 \('b'\)"):
        gradcheck(lambda a, b: MulWrongSecondInput.apply(a, b), [a, b])


def test_small_inputs_check_every_entry_and_name_the_wrong_one():
    x = leaf(np.arange(12.0).reshape(3, 4) / 10)  # 12 entries: all checked
    with pytest.raises(GradcheckError, match=r"index \(1, 3\)"):  # flat position 7
        gradcheck(lambda x: WrongAtOneEntry.apply(x), [x])


def test_raised_error_carries_both_values():
    x = leaf([2.0])
    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda x: SquareMissingFactor.apply(x), [x], rng=0)
    # for one entry, backward gives u * x, numeric differences u * 2x: their ratio is 1/2
    found = re.search(r"backward gives (\S+), numeric differences give (\S+) ", str(err.value))
    assert found, str(err.value)
    analytic, numeric = float(found.group(1)), float(found.group(2))
    assert analytic == pytest.approx(numeric / 2, rel=1e-6)


def test_zero_cotangent_check_catches_a_backward_that_ignores_g():
    x = leaf([0.5, 1.0, -2.0])
    with pytest.raises(GradcheckError, match="zero cotangent"):
        gradcheck(lambda x: IgnoresIncomingGradient.apply(x), [x])


# ---- dtype --------------------------------------------------------------------------------


def test_refuses_float32_inputs():
    x = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda x: x * x, [x])


def test_refuses_when_nothing_requires_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda x: x * 2.0, [tg.Tensor(np.ones(2))])


def test_refuses_a_function_that_does_not_return_tensors():
    with pytest.raises(TypeError, match="Tensor"):
        gradcheck(lambda x: x.data, [leaf([1.0])])


# ---- large inputs: sampled entries plus one random direction ------------------------------


def test_large_inputs_are_checked_on_sampled_entries_plus_a_direction():
    calls = []

    def fn(x):
        calls.append(1)
        return x.tanh()

    x = leaf(np.linspace(-2, 2, 1000))
    assert gradcheck(fn, [x], max_entries=10)
    # 2 passes for the VJPs (random and zero cotangent), 2 per sampled entry, 2 for the
    # random direction -- not 2 per entry (2,000)
    assert len(calls) == 2 + 2 * 10 + 2


def test_random_direction_catches_an_error_in_an_unsampled_entry():
    x = leaf(np.linspace(-2, 2, 1000))
    messages = []
    for seed in range(5):
        with pytest.raises(GradcheckError) as err:
            gradcheck(lambda x: WrongAtOneEntry.apply(x), [x], max_entries=10, rng=seed)
        messages.append(str(err.value))
    # 10 of 1,000 entries are sampled, so entry 7 is almost always missed: the direction
    # uᵀJv still sees it
    assert any("random direction" in m for m in messages)


def test_small_inputs_run_the_full_check():
    calls = []

    def fn(x):
        calls.append(1)
        return x.tanh()

    x = leaf(np.linspace(-2, 2, 20))
    assert gradcheck(fn, [x], max_entries=256)
    assert len(calls) == 2 + 2 * 20  # every entry, no sampling and no direction


def test_max_vjp_error_measures_the_gap():
    from tinygrad_rnn.gradcheck import max_vjp_error

    x = tg.Tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3), requires_grad=True)
    assert max_vjp_error(lambda t: t.tanh(), [x]) < 1e-8

    class Wrong(tg.Function):  # d tanh written as 1 - y instead of 1 - y**2
        def forward(self, a):
            self.y = np.tanh(a)
            return self.y

        def backward(self, g):
            return (g * (1 - self.y),)

    assert max_vjp_error(lambda t: Wrong.apply(t), [x]) > 1e-2


# ---- a bare Tensor is one input (as torch.autograd.gradcheck(fn, x)) -----------------------


class WrongOn2D(Function):
    """y = x**2 whose backward is right for 1-D inputs only (3x instead of 2x otherwise)."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return ((2.0 if self.x.ndim == 1 else 3.0) * g * self.x,)


def test_a_bare_tensor_is_one_input_not_its_rows():
    x = leaf(np.random.default_rng(0).standard_normal((1, 4)))
    with pytest.raises(GradcheckError, match=r"input 0 of shape \(1, 4\)"):
        gradcheck(WrongOn2D.apply, x)  # iterating x would check its 1-D row instead


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_a_bare_tensor_of_any_rank_passes_on_a_correct_op(shape):
    from tinygrad_rnn.gradcheck import max_vjp_error

    x = leaf(np.linspace(-1.0, 1.0, int(np.prod(shape))).reshape(shape))
    assert gradcheck(lambda t: t.tanh(), x)
    assert max_vjp_error(lambda t: t.tanh(), x) < 1e-8


def test_a_bare_array_is_one_input_with_nothing_to_check():
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda a: tg.Tensor(a) * 2.0, np.ones((2, 3)))


# ---- no stray gradients on tensors that are not checked -----------------------------------


def test_leaves_the_grads_of_a_models_weights_as_they_were():
    m = tg.nn.Linear(3, 2, rng=0, dtype=np.float64)
    x = leaf(np.random.default_rng(1).standard_normal((4, 3)))
    assert m.weight.grad is None and m.bias.grad is None
    assert gradcheck(lambda x: m(x), [x])
    assert m.weight.grad is None and m.bias.grad is None  # None stays None

    m.weight.grad = np.full((2, 3), 5.0)  # a gradient from the user's own backward
    assert gradcheck(lambda x: m(x), x)
    np.testing.assert_array_equal(m.weight.grad, np.full((2, 3), 5.0))
    assert m.bias.grad is None


def test_leaves_the_contributions_of_a_reached_leaf_as_they_were():
    w = leaf([0.5, -1.0, 2.0])
    (w * w).sum().backward(contributions=True)
    before = [c.grad.copy() for c in w.contributions]
    x = leaf([1.0, 2.0, 3.0])
    assert gradcheck(lambda x: (x * w).tanh(), [x])
    assert len(w.contributions) == len(before)
    for c, g in zip(w.contributions, before, strict=True):
        np.testing.assert_array_equal(c.grad, g)
    np.testing.assert_array_equal(w.grad, 2 * w.data)


# ---- messages that name the real cause ----------------------------------------------------


class NanBackward(Function):
    """y = x whose backward divides by zero: 0/0 = NaN everywhere."""

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g * (0.0 / np.zeros_like(g)),)


class InfFactorBackward(Function):
    """y = x whose backward multiplies g by inf at entry 1 (a zero g gives 0 * inf = NaN)."""

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        factor = np.ones_like(g)
        factor[1] = np.inf
        with np.errstate(invalid="ignore"):
            return (g * factor,)


class DowncastTo32(Function):
    """y = x**2, returned in float32 (with a right float64 backward)."""

    def forward(self, x):
        self.x = x
        return (x * x).astype(np.float32)

    def backward(self, g):
        return (2.0 * g * self.x,)


def test_a_nan_gradient_is_reported_as_such():
    with pytest.raises(GradcheckError) as err:
        gradcheck(NanBackward.apply, leaf([0.5, 1.0]))
    message = str(err.value)
    assert "non-finite gradient nan" in message and "index (0,)" in message
    assert "zero cotangent" not in message and "nonzero" not in message


def test_an_infinite_factor_is_reported_as_non_finite():
    with pytest.raises(GradcheckError, match=r"index \(1,\): backward gives a non-finite gradient"):
        gradcheck(InfFactorBackward.apply, leaf([0.5, 1.0, 2.0]))


def test_inside_no_grad_says_so_and_what_to_do():
    x = leaf([0.5, 1.0])
    with tg.no_grad(), pytest.raises(RuntimeError, match=r"inside no_grad\(\).*outside"):
        gradcheck(lambda t: t * t, x)
    with tg.no_grad(), tg.enable_grad():
        assert gradcheck(lambda t: t * t, x)


@pytest.mark.parametrize("outside", [
    lambda t: tg.Tensor(t.data ** 2),
    lambda t: (t * t).detach(),
], ids=["new Tensor from .data", "detach"])
def test_an_output_outside_the_graph_is_named_as_the_cause(outside):
    with pytest.raises(GradcheckError) as err:
        gradcheck(outside, leaf([0.5, 1.0]))
    message = str(err.value)
    assert "does not require grad" in message and "through the graph" in message
    assert "from the input tensors" in message  # what to do


def test_one_output_of_two_outside_the_graph_is_pointed_out():
    with pytest.raises(GradcheckError, match=r"Output\(s\) \[1\] of fn do not require grad"):
        gradcheck(lambda t: (t.tanh(), tg.Tensor(t.data ** 2)), leaf([0.5, 1.0]))


def test_a_constant_output_outside_the_graph_still_passes():
    # backward gives 0 and so do numeric differences: that is right (as torch's gradcheck)
    x = leaf([0.5, 1.0])
    assert gradcheck(lambda t: (t.tanh(), tg.Tensor(np.ones(3))), x)


def test_a_float32_output_is_refused_with_the_reason():
    with pytest.raises(TypeError, match=r"output 0 of shape \(2,\) is float32.*float64 throughout"):
        gradcheck(DowncastTo32.apply, leaf([0.5, 1.0]))


def test_a_forward_that_is_not_finite_at_x_plus_minus_eps_is_named():
    x = leaf([5e-7, 1.0])  # log at 5e-7 - 1e-6 < 0 is NaN; the backward 1/x is finite
    with np.errstate(invalid="ignore"), pytest.raises(GradcheckError) as err:
        gradcheck(lambda t: t.log(), x)
    assert "numeric differences give nan" in str(err.value)
    assert "not finite near the input" in str(err.value)
