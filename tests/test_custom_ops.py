"""A user's own Function with a wrong backward gets an error naming the op and the input."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Function


def _op(backward):
    class MyOp(Function):
        def forward(self, x):
            return x * 2

    MyOp.backward = backward
    return MyOp


@pytest.mark.parametrize("backward, message", [
    (lambda self, g: (np.ones(5),), r"MyOp.backward returned a gradient of shape \(5,\) for "
                                    r"input 0 of shape \(3,\)"),
    (lambda self, g: (g, g), r"MyOp.backward must return a tuple of 1 gradient\(s\).*got 2"),
    (lambda self, g: (), r"got 0 gradients"),
    (lambda self, g: g * 2, r"got a ndarray"),
    (lambda self, g: None, r"got a NoneType"),
])
def test_a_wrong_backward_is_named(backward, message):
    x = tg.Tensor(np.ones(3), requires_grad=True)
    y = _op(backward).apply(x)
    with pytest.raises((TypeError, ValueError), match=message):
        y.sum().backward()


def test_a_forward_returning_a_list_still_gives_an_array():
    class Listy(Function):
        def forward(self, x):
            return [1.0, 2.0]

        def backward(self, g):
            return (g,)

    y = Listy.apply(tg.Tensor(np.ones(2), requires_grad=True))
    assert isinstance(y.data, np.ndarray) and y.shape == (2,)


def test_out_of_range_index_is_an_index_error_so_iteration_stops():
    x = tg.Tensor(np.arange(3.0))
    with pytest.raises(IndexError, match="GetItem"):
        x[5]
    assert [float(v) for v in x] == [0.0, 1.0, 2.0]


def test_log_softmax_draws_no_detach_cut():
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    from tinygrad_rnn.engine import topological_order

    nodes = topological_order(tg.functional.log_softmax(x), all_inputs=True)
    assert all(t._origin is None for t in nodes)
