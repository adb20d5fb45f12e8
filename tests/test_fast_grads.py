"""How the engine adds up a tensor's gradients: ProductGrad factors, SliceGrad slices, the GradSum.

The reference sums are written out here with plain NumPy (each term computed on its own,
then added), never with fast/grads.py itself.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn.anomaly import AnomalyError, detect_anomaly
from tinygrad_rnn.fast.grads import GradSum, ProductGrad, SliceGrad, to_array


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), rows=st.integers(1, 9), out=st.integers(1, 12),
       inp=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_sum_of_outers_equals_the_written_out_sum(n, rows, out, inp, seed):
    # enough terms to cross the flush point (rows * (out + inp) > out * inp) several times
    r = rng(seed)
    terms = [(r.standard_normal((rows, out)), r.standard_normal((rows, inp))) for _ in range(n)]
    expected = np.zeros((out, inp))
    for a, b in terms:
        expected += a.T @ b
    total = GradSum(ProductGrad(*terms[0]))
    for a, b in terms[1:]:
        total.add(ProductGrad(a, b))
    np.testing.assert_allclose(total.total(), expected, rtol=1e-12, atol=1e-12)


def test_sum_mixes_arrays_outers_and_scatters_without_touching_shared_arrays():
    r = rng(1)
    shared = r.standard_normal((4, 6))
    keep = shared.copy()
    a, b = r.standard_normal((3, 4)), r.standard_normal((3, 6))
    piece = r.standard_normal((4, 2))
    total = GradSum(shared)
    total.add(ProductGrad(a, b))
    total.add(SliceGrad((4, 6), (slice(None), slice(2, 4)), piece, basic=True))
    total.add(shared)
    expected = shared + a.T @ b + shared
    expected[:, 2:4] += piece
    np.testing.assert_allclose(total.total(), expected, rtol=1e-12)
    np.testing.assert_array_equal(shared, keep)  # an op's array is never added into


def test_scatter_with_repeated_integer_indices_adds_up():
    g = np.array([1.0, 2.0, 3.0])
    index = np.array([0, 2, 0])
    written = to_array(SliceGrad((4,), index, g, basic=False))
    np.testing.assert_array_equal(written, [4.0, 0.0, 2.0, 0.0])
    total = GradSum(SliceGrad((4,), index, g, basic=False))
    total.add(SliceGrad((4,), (slice(1, 3),), np.array([10.0, 20.0]), basic=True))
    np.testing.assert_array_equal(total.total(), [4.0, 10.0, 22.0, 0.0])


def test_dense_leaves_arrays_and_none_alone():
    a = np.ones(3)
    assert to_array(a) is a
    assert to_array(None) is None


@pytest.mark.parametrize("use", ["linear", "matmul_right", "matmul_left"])
def test_weight_used_500_times_gets_the_sum_of_its_uses(use):
    # y_t = x_t W^T (or x_t @ W, W @ x_t); L = sum_t <y_t, G_t>: dW = sum_t G_t^T x_t etc.
    r = rng(2)
    steps, batch, o, i = 500, 3, 5, 4
    xs = r.standard_normal((steps, batch, i))
    gs = r.standard_normal((steps, batch, o))
    if use == "linear":
        w0 = r.standard_normal((o, i))
        expected = sum(gs[t].T @ xs[t] for t in range(steps))
    elif use == "matmul_right":
        w0 = r.standard_normal((i, o))
        expected = sum(xs[t].T @ gs[t] for t in range(steps))
    else:  # W (o, batch) @ x_t (batch, i) -> (o, i); G_t (o, i)
        w0 = r.standard_normal((o, batch))
        gs = r.standard_normal((steps, o, i))
        expected = sum(gs[t] @ xs[t].T for t in range(steps))
    w = tg.Tensor(w0, requires_grad=True)
    loss = tg.Tensor(np.zeros(()))
    for t in range(steps):
        x = tg.Tensor(xs[t])
        y = F.linear(x, w) if use == "linear" else (x @ w if use == "matmul_right" else w @ x)
        loss = loss + (y * tg.Tensor(gs[t])).sum()
    loss.backward()
    np.testing.assert_allclose(w.grad, expected, rtol=1e-10, atol=1e-10)


def test_contributions_are_written_out_per_use():
    r = rng(3)
    w = tg.Tensor(r.standard_normal((2, 3)), requires_grad=True)
    xs = [tg.Tensor(r.standard_normal((4, 3))) for _ in range(3)]
    loss = sum(F.linear(x, w).sum() for x in xs)
    loss.backward(contributions=True)
    assert all(type(c.grad) is np.ndarray for c in w.contributions)
    for c, x in zip(w.contributions, xs, strict=True):
        np.testing.assert_allclose(c.grad, np.ones((4, 2)).T @ x.data, rtol=1e-12)


def test_anomaly_mode_sees_an_inf_inside_an_unwritten_weight_gradient():
    # forward and dx are finite; only dW = gᵀx overflows float32
    x = tg.Tensor(np.full((1, 2), 3e38, dtype=np.float32))
    w = tg.Tensor(np.full((1, 2), 1e-3, dtype=np.float32), requires_grad=True)
    y = F.linear(x, w)
    with detect_anomaly(), np.errstate(over="ignore"), \
            pytest.raises(AnomalyError, match="backward of Linear produced inf"):
        (y * 10.0).sum().backward()


@pytest.mark.parametrize("index", [Ellipsis, ()])
def test_a_0d_tensor_indexed_and_used_elsewhere(index):
    # ops on 0-d arrays give NumPy scalars; the sum with a Scatter must still be right
    x = tg.Tensor(np.array(1.5), requires_grad=True)
    (x[index] + x * x).backward()
    assert x.grad == pytest.approx(1.0 + 2 * 1.5)
    y = tg.Tensor(np.array(1.5), requires_grad=True)
    (y.exp() + y[index] * y).backward()
    assert y.grad == pytest.approx(np.exp(1.5) + 2 * 1.5)


def test_a_boolean_index_is_a_mask_not_an_int():
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[True].sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])
