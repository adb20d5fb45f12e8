"""The per-op path after the speed work (issue #10): the fast forward seam is taken only by
ops that have a rule and still their own forward; scopes nest and unwind; needs_grad."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import fast, ops
from tinygrad_rnn.function import Function


def test_a_replaced_forward_is_used_even_with_a_fast_rule(monkeypatch):
    assert ops.Sigmoid.fast_forward  # Sigmoid has a fast forward rule
    monkeypatch.setattr(ops.Sigmoid, "forward", lambda self, x: np.full_like(x, 7.0))
    y = tg.Tensor([0.0, 1.0], requires_grad=True).sigmoid()
    assert y.data.tolist() == [7.0, 7.0]


def test_a_subclass_that_overrides_forward_runs_its_own():
    class Doubled(ops.Linear):
        def forward(self, x, w, b=None):
            return 2 * super().forward(x, w, b)

    x = tg.Tensor(np.ones((2, 3)))
    w = tg.Tensor(np.full((4, 3), 0.5), requires_grad=True)
    y = Doubled.apply(x, w)
    np.testing.assert_allclose(y.data, np.full((2, 4), 3.0))
    np.testing.assert_allclose(y.data, 2 * F.linear(x, w).data)


def test_fast_and_plain_forward_agree_for_the_ruled_ops():
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.normal(size=(5, 3)).astype(np.float32))
    w = tg.Tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    b = tg.Tensor(rng.normal(size=(4,)).astype(np.float32), requires_grad=True)
    fast_y = F.linear(x, w, b).sigmoid().data
    with fast.disabled():
        plain_y = F.linear(x, w, b).sigmoid().data
    np.testing.assert_allclose(fast_y, plain_y, rtol=1e-6, atol=1e-7)


def test_needs_grad_is_one_bool_per_input_and_read_only():
    a = tg.Tensor([1.0], requires_grad=True)
    c = tg.Tensor([2.0])
    fn = (a * c).grad_fn
    assert fn is not None and fn.needs_grad == (True, False)
    assert (c * a).grad_fn.needs_grad == (False, True)
    with pytest.raises(TypeError):
        fn.needs_grad[0] = False  # type: ignore[index]


def test_an_op_on_inputs_that_need_no_grad_is_not_recorded_and_does_not_lock():
    x = tg.Tensor([1.0, 2.0])
    y = x * 3.0
    assert y.grad_fn is None and not y.requires_grad
    x.data[0] = 5.0  # still writable: nothing recorded it
    y.data[0] = 0.0


def test_scopes_nest_and_unwind_after_an_error():
    with tg.scope("a"), tg.scope("b") as path:
        assert path == "a/b" and (tg.Tensor([1.0]) * 2.0).scope == "a/b"
    with pytest.raises(RuntimeError), tg.scope("outer"):
        with tg.scope("inner"):
            raise RuntimeError("boom")
    assert tg.current_scope() == ""


def test_a_user_op_without_a_rule_goes_straight_to_its_forward():
    class Cube(Function):
        def forward(self, x):
            self.x = x
            return x**3

        def backward(self, g):
            return (3 * g * self.x**2,)

    assert not Cube.fast_forward
    x = tg.Tensor([2.0], requires_grad=True, dtype=np.float64)
    Cube.apply(x).sum().backward()
    assert x.grad.tolist() == [12.0]
