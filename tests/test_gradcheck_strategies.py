"""tinygrad_rnn.testing's ``tensors`` strategy: the dtype of the tensors it draws.

(The shape and op-table strategies are tested with the op table in tests/test_ops.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn.testing as tgt
from tinygrad_rnn.gradcheck import gradcheck


@settings(max_examples=20, deadline=None)
@given(tgt.tensors((2, 3)))
def test_tensors_are_float64_by_default(x):
    assert x.dtype == np.float64 and x.shape == (2, 3) and x.requires_grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tensors_keep_the_dtype_of_the_given_arrays(dtype):
    @settings(max_examples=20, deadline=None)
    @given(tgt.tensors((3,), values=tgt.arrays((3,), dtype=dtype)))
    def check(x):
        assert x.dtype == dtype
        assert np.all(np.abs(x.data) <= 3)

    check()


def test_float32_tensors_from_values_are_refused_by_gradcheck_not_silently_widened():
    @settings(max_examples=5, deadline=None)
    @given(tgt.tensors((3,), values=tgt.positive_arrays((3,), dtype=np.float32)))
    def check(x):
        with pytest.raises(TypeError, match="float64"):
            gradcheck(lambda t: t.log(), x)

    check()


@settings(max_examples=10, deadline=None)
@given(tgt.tensors((2,), values=st.just(np.array([1, 2]))))
def test_integer_values_become_float64_tensors(x):
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x.data, [1.0, 2.0])


@settings(max_examples=30, deadline=None)
@given(tgt.positive_arrays((4,), dtype=np.float32),
       tgt.arrays_away_from((4,), points=(0.0,), margin=0.1, dtype=np.float32))
def test_float32_arrays_accept_bounds_that_float32_cannot_hold(positive, away):
    # low=0.2 and margin=0.1 are no float32 numbers: the bounds move inside, never out
    assert positive.dtype == np.float32 and np.all(positive >= 0.2) and np.all(positive <= 3)
    assert away.dtype == np.float32 and np.all(np.abs(away) >= 0.1)
