"""Composites of tinygrad_rnn.functional: numerical stability, values against NumPy
formulas (and torch where importable), hand-derived gradients, and bad input.
(Their gradients against numeric differences are property-tested in test_ops.py.)"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F


def leaf(values, dtype=np.float64):
    return tg.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def np_log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


HUGE = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4 - 1.0], [-1e4, -1e4 + 2.0, -1e4]])


# ---- softmax / log_softmax ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_for_huge_logits_and_sums_to_one(dtype):
    x = leaf(HUGE, dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        p = F.softmax(x, axis=1)
        (p * tg.Tensor(np.arange(3.0, dtype=dtype))).sum().backward()
    assert p.dtype == dtype
    assert np.all(np.isfinite(p.data)) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(p.data.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(p.data, np.exp(np_log_softmax(HUGE, 1)), atol=1e-6)
    np.testing.assert_allclose(p.data[0], [1.0, 0.0, 0.0], atol=1e-30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_is_stable_for_huge_logits(dtype):
    x = leaf(HUGE, dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = F.log_softmax(x, axis=-1)
        y.sum().backward()
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(y.data, np_log_softmax(HUGE), rtol=1e-6)
    np.testing.assert_allclose(np.exp(y.data).sum(axis=1), 1.0, rtol=1e-6)
    assert y.data[0, 2] == pytest.approx(-2e4, rel=1e-6)  # a true log-probability, not -inf


def test_softmax_over_other_axes_and_dim_keyword():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4))
    for axis in (0, 1, -1):
        p = F.softmax(tg.Tensor(x), dim=axis)
        np.testing.assert_allclose(p.data.sum(axis=axis), 1.0, rtol=1e-13)
        np.testing.assert_allclose(p.data, np.exp(np_log_softmax(x, axis)), rtol=1e-13)


def test_softmax_gradient_matches_its_jacobian():
    # d softmax_i / d x_j = p_i (delta_ij - p_j), so for a cotangent u: p * (u - p·u)
    x = leaf([0.3, -1.2, 2.0, 0.5])
    u = np.array([1.0, -2.0, 0.5, 3.0])
    p = F.softmax(x)
    p.backward(u)
    np.testing.assert_allclose(x.grad, p.data * (u - p.data @ u), rtol=1e-13)


# ---- cross_entropy ------------------------------------------------------------------------

LOGITS = np.array([[2.0, -1.0, 0.5, 0.0], [0.1, 0.2, 0.3, 0.4], [-3.0, 5.0, 1.0, 2.0]])
TARGET = np.array([0, 3, 1])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_the_numpy_formula(reduction):
    per_example = -np_log_softmax(LOGITS)[np.arange(3), TARGET]
    expected = {"mean": per_example.mean(), "sum": per_example.sum(), "none": per_example}
    loss = F.cross_entropy(tg.Tensor(LOGITS), TARGET, reduction=reduction)
    np.testing.assert_allclose(loss.data, expected[reduction], rtol=1e-14)
    assert loss.shape == np.shape(expected[reduction])


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n():
    x = leaf(LOGITS)
    F.cross_entropy(x, TARGET).backward()
    one_hot = np.eye(4)[TARGET]
    np.testing.assert_allclose(x.grad, (np.exp(np_log_softmax(LOGITS)) - one_hot) / 3,
                               rtol=1e-13, atol=1e-15)


def test_cross_entropy_of_one_example_with_an_int_target():
    loss = F.cross_entropy(tg.Tensor(LOGITS[2]), 1)
    assert loss.shape == ()
    assert loss.item() == pytest.approx(-np_log_softmax(LOGITS[2])[1], rel=1e-14)


def test_cross_entropy_accepts_a_tensor_target_and_huge_logits():
    loss = F.cross_entropy(tg.Tensor(HUGE), tg.Tensor(np.array([0, 2, 1])), reduction="none")
    assert np.all(np.isfinite(loss.data))
    # by hand: row 0 has one dominant logit; row 1 picks the logit 1 below two equal ones;
    # row 2 picks the logit 2 above two equal ones
    expected = [0.0, 1.0 + np.log(2.0 + np.exp(-1.0)), np.log(1.0 + 2.0 * np.exp(-2.0))]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12, atol=1e-12)


def test_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    x = leaf(LOGITS)
    loss = F.cross_entropy(x, TARGET)
    loss.backward()
    tx = torch.tensor(LOGITS, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(TARGET))
    tl.backward()
    assert loss.item() == pytest.approx(tl.item(), rel=1e-14)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("target, error, pattern", [
    (np.array([0.0, 1.0, 2.0]), TypeError, "integer"),
    (np.array([0, 4, 1]), ValueError, r"\[0, 4\)"),
    (np.array([0, -1, 1]), ValueError, r"\[0, 4\)"),
    (np.array([0, 1]), ValueError, r"\(3, 4\).*\(2,\)"),
])
def test_cross_entropy_rejects_bad_targets(target, error, pattern):
    with pytest.raises(error, match=pattern):
        F.cross_entropy(tg.Tensor(LOGITS), target)


def test_cross_entropy_rejects_an_unknown_reduction():
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(tg.Tensor(LOGITS), TARGET, reduction="avg")


# ---- mse_loss -----------------------------------------------------------------------------

PRED = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, 3.0]])
GOAL = np.array([[0.0, -1.5, 2.5], [2.0, 1.0, 3.0]])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_the_numpy_formula(reduction):
    sq = (PRED - GOAL) ** 2
    expected = {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction]
    loss = F.mse_loss(tg.Tensor(PRED), GOAL, reduction=reduction)
    np.testing.assert_allclose(loss.data, expected, rtol=1e-15)


def test_mse_loss_gradient_for_input_and_tensor_target():
    a, b = leaf(PRED), leaf(GOAL)
    F.mse_loss(a, b).backward()
    np.testing.assert_allclose(a.grad, 2 * (PRED - GOAL) / PRED.size, rtol=1e-15)
    np.testing.assert_allclose(b.grad, -2 * (PRED - GOAL) / PRED.size, rtol=1e-15)


def test_mse_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"mse_loss.*\(2, 3\).*\(3,\)"):
        F.mse_loss(tg.Tensor(PRED), np.zeros(3))


# ---- dropout ------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics(p):
    x = tg.Tensor(np.ones(200_000))
    y = F.dropout(x, p, rng=0).data
    dropped = np.mean(y == 0)
    assert abs(dropped - p) < 0.005  # ~5 standard deviations of a binomial proportion
    np.testing.assert_allclose(y[y != 0], 1.0 / (1.0 - p), rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation


def test_dropout_gradient_is_the_scaled_mask():
    x = leaf(np.full(1000, 2.0))
    y = F.dropout(x, 0.25, rng=1)
    y.sum().backward()
    mask = y.data / 2.0  # 0 or 1/(1-p) per entry
    np.testing.assert_allclose(x.grad, mask, rtol=1e-15)
    assert set(np.round(np.unique(x.grad), 12)) == {0.0, round(1 / 0.75, 12)}


def test_dropout_in_eval_mode_and_with_p_zero_is_the_identity():
    x = leaf(np.arange(5.0))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_dropout_is_reproducible_with_a_seed():
    x = tg.Tensor(np.ones(100))
    np.testing.assert_array_equal(F.dropout(x, 0.5, rng=3).data, F.dropout(x, 0.5, rng=3).data)
    assert not np.array_equal(F.dropout(x, 0.5, rng=3).data, F.dropout(x, 0.5, rng=4).data)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_probabilities(p):
    with pytest.raises(ValueError, match=r"dropout.*\[0, 1\)"):
        F.dropout(tg.Tensor(np.ones(3)), p)


def test_dropout_keeps_float32():
    y = F.dropout(tg.Tensor(np.ones(10, dtype=np.float32)), 0.5, rng=0)
    assert y.dtype == np.float32
