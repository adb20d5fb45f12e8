"""The graph walk (engine.backward): sums over every use, accumulation rules, switches,
scopes, detach, no_grad, graphs of 100,000 ops without recursion, and memory release.

Expected gradients come from hand-derived formulas evaluated in plain NumPy, never from
the engine itself.
"""

from __future__ import annotations

import gc
import re
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.engine import Contribution, topological_order

ROOT = Path(__file__).resolve().parent.parent


def leaf(values, name=None):
    return tg.Tensor(np.asarray(values, dtype=np.float64), requires_grad=True, name=name)


# ---- diamonds: two paths to the same tensor add up ----------------------------------------


def test_x_times_x_gets_both_paths():
    x = leaf([3.0, -2.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, -4.0])  # d(x^2)/dx = 2x


def test_a_plus_a_gets_two():
    a = leaf([[1.0, 2.0]])
    (a + a).sum().backward()
    np.testing.assert_array_equal(a.grad, [[2.0, 2.0]])


def test_diamond_through_two_intermediates():
    a = leaf([1.5, -0.5])
    b, c = a * 2.0, a * 3.0  # two branches from a, joined again in d
    d = b * c  # = 6 a^2
    d.sum().backward()
    np.testing.assert_allclose(a.grad, 12.0 * a.data, rtol=1e-15)
    np.testing.assert_allclose(b.grad, c.data, rtol=1e-15)  # intermediates keep grads
    np.testing.assert_allclose(c.grad, b.data, rtol=1e-15)


def test_leaf_gradients_are_not_shared_arrays():
    # Add hands the same array g to both inputs; each leaf must get its own copy
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    a.grad[0] = 100.0
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


# ---- one tensor used many times: the contributions are summed (BPTT) ----------------------


def test_weight_used_at_1000_steps_gets_the_summed_gradient():
    # h_t = 0.5 h_{t-1} + sum(w * x_t),  L = h_T   =>   dL/dw = sum_t 0.5^(T-t) x_t
    rng = np.random.default_rng(0)
    steps, decay = 1000, 0.5
    xs = rng.standard_normal((steps, 3))
    w = leaf(rng.standard_normal(3), name="w")
    h = tg.Tensor(np.float64(0.0))
    for t in range(steps):
        with tg.scope(f"t={t}"):
            h = h * decay + (w * xs[t]).sum()
    h.backward(contributions=True)
    powers = decay ** np.arange(steps - 1, -1, -1.0)  # 0.5^(T-t) for t = 1..T
    np.testing.assert_allclose(w.grad, powers @ xs, rtol=1e-12, atol=1e-15)
    assert len(w.contributions) == steps  # one contribution per use
    # listed in the order the uses were made: t=0, t=1, ...
    assert [c.scope for c in w.contributions[:2]] == ["t=0", "t=1"]


def test_contributions_sum_to_grad_with_the_right_scopes():
    rng = np.random.default_rng(1)
    W_x = leaf(rng.standard_normal((2, 3)) * 0.5, name="W_x")
    W_s = leaf(rng.standard_normal((3, 3)) * 0.5, name="W_s")
    s = tg.zeros(1, 3, dtype=np.float64)
    with tg.scope("rnn"):
        for t in range(1, 6):
            with tg.scope(f"t={t}"):
                s = (tg.Tensor(rng.standard_normal((1, 2))) @ W_x + s @ W_s).tanh()
    (s * s).sum().backward(contributions=True)
    for w in (W_x, W_s):
        assert all(isinstance(c, Contribution) for c in w.contributions)
        assert sorted(c.scope for c in w.contributions) == [f"rnn/t={t}" for t in range(1, 6)]
        assert {c.op for c in w.contributions} == {"MatMul"}
        total = sum(c.grad for c in w.contributions)
        np.testing.assert_allclose(total, w.grad, rtol=1e-12, atol=1e-12)
        assert all(c.grad.shape == w.shape for c in w.contributions)


def test_contributions_name_the_op_that_used_the_leaf():
    w = leaf([[1.0, 2.0], [3.0, 4.0]])
    with tg.scope("a"):
        y1 = (w.T * 1.0).sum()  # w is used by Transpose here
    with tg.scope("b"):
        y2 = (w * w).sum()  # and twice by Mul here
    (y1 + y2).backward(contributions=True)
    assert sorted((c.scope, c.op) for c in w.contributions) == [
        ("a", "Transpose"), ("b", "Mul"), ("b", "Mul")]
    np.testing.assert_allclose(sum(c.grad for c in w.contributions), 1.0 + 2.0 * w.data,
                               rtol=1e-12)


def test_contributions_are_off_by_default():
    w = leaf([1.0])
    (w * 2.0).sum().backward()
    assert w.contributions is None


# ---- zero cotangent, second backward, accumulation ----------------------------------------


def test_zero_cotangent_gives_zero_gradients():
    x, w = leaf(np.linspace(-1, 1, 6).reshape(2, 3)), leaf(np.ones((3, 2)))
    y = (x @ w).tanh() * 3.0
    y.backward(np.zeros((2, 2)))
    assert np.all(x.grad == 0) and np.all(w.grad == 0)


def test_second_backward_over_the_same_graph_adds_again():
    # documented in engine.backward: the graph is kept, so a second call adds once more
    x = leaf([1.0, 2.0])
    h = x * x
    loss = h.sum()
    loss.backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)
    loss.backward()
    np.testing.assert_array_equal(x.grad, 2 * (2 * x.data))
    np.testing.assert_array_equal(h.grad, [2.0, 2.0])  # intermediates accumulate too


def test_grad_accumulates_across_losses_until_zeroed():
    x = leaf([1.0, -1.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 3.0 + 2 * x.data)
    x.zero_grad()
    assert x.grad is None
    (x * 5.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 5.0])


def test_keep_grads_false_keeps_only_leaf_grads():
    x = leaf([0.5, -0.25])
    h = x.tanh()
    y = (h * h).sum()
    y.backward(keep_grads=False)
    assert h.grad is None and y.grad is None
    t = np.tanh(x.data)
    np.testing.assert_allclose(x.grad, 2 * t * (1 - t**2), rtol=1e-14)


def test_keep_grads_true_gives_every_intermediate_its_gradient():
    x = leaf([0.5, -0.25])
    h = x.tanh()
    y = (h * h).sum()
    y.backward()
    np.testing.assert_allclose(h.grad, 2 * np.tanh(x.data), rtol=1e-14)
    assert y.grad == 1.0


def test_constants_get_no_gradient():
    x = leaf([1.0, 2.0])
    c = tg.Tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None


# ---- backward errors ----------------------------------------------------------------------


def test_backward_on_non_scalar_without_grad_is_refused():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(RuntimeError, match=r"shape \(2,\)"):
        y.backward()


def test_backward_on_a_tensor_that_does_not_require_grad_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (tg.Tensor(np.ones(2)) * 2.0).sum().backward()


def test_backward_with_a_grad_of_the_wrong_shape_is_refused():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))


# ---- no_grad, scopes, detach --------------------------------------------------------------


def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = (x * 2.0).tanh()
        with tg.enable_grad():
            z = x * 2.0
    assert tg.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad
    assert z.grad_fn is not None and z.requires_grad
    with pytest.raises(RuntimeError):
        y.sum().backward()


def test_scopes_nest_and_stamp_tensors_and_ops():
    x = leaf([1.0])
    assert tg.current_scope() == ""
    with tg.scope("layer0") as outer:
        assert outer == "layer0"
        with tg.scope("fwd"), tg.scope("t=3") as path:
            assert path == tg.current_scope() == "layer0/fwd/t=3"
            y = x * 2.0
            new_leaf = tg.Tensor([1.0])
        z = y + 1.0
    assert tg.current_scope() == ""
    assert y.scope == y.grad_fn.scope == "layer0/fwd/t=3"
    assert new_leaf.scope == "layer0/fwd/t=3"
    assert z.scope == z.grad_fn.scope == "layer0"
    assert x.scope == ""


def test_scope_is_restored_after_an_exception():
    with pytest.raises(KeyError), tg.scope("a"):
        raise KeyError
    assert tg.current_scope() == ""


@pytest.mark.parametrize("bad", ["", "a/b", 3])
def test_bad_scope_names_are_refused(bad):
    with pytest.raises(ValueError, match="scope"), tg.scope(bad):
        pass


def test_detach_cuts_the_graph_and_remembers_its_origin():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    h = x * w
    d = h.detach()
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
    assert d._origin() is h
    assert np.shares_memory(d.data, h.data)
    (d * w).sum().backward()  # no gradient flows through d back to x
    assert x.grad is None
    np.testing.assert_array_equal(w.grad, h.data)


def test_topological_order_puts_every_tensor_before_its_inputs():
    x = leaf([1.0])
    a = x * 2.0
    b = a + x
    c = a * b
    order = topological_order(c)
    position = {id(t): i for i, t in enumerate(order)}
    assert order[0] is c and len(order) == 4
    for t in order:
        for inp in (t.grad_fn.inputs if t.grad_fn else ()):
            if inp.requires_grad:
                assert position[id(t)] < position[id(inp)]


# ---- long graphs: no recursion anywhere ---------------------------------------------------


def test_chain_of_100000_ops_runs_backward_without_recursion():
    limit = sys.getrecursionlimit()
    x = leaf(1.0)
    y = x
    factor = 1.00001
    for _ in range(100_000):
        y = y * factor
    y.backward()
    assert x.grad == pytest.approx(factor**100_000, rel=1e-9)  # = e^(100000 ln 1.00001)
    assert len(topological_order(y)) == 100_001
    del y  # dropping the chain must not recurse either
    assert sys.getrecursionlimit() == limit


def test_10000_step_elman_loop_matches_hand_written_bptt():
    """s_t = tanh(x_t W_x + s_{t-1} W_s + b), L = sum(s_T); built from primitive ops and
    compared with backpropagation through time written out by hand in NumPy."""
    rng = np.random.default_rng(2)
    steps, n_in, n_hidden = 10_000, 2, 3
    xs = rng.standard_normal((steps, 1, n_in))
    W_x = leaf(rng.standard_normal((n_in, n_hidden)) * 0.5)
    W_s = leaf(rng.standard_normal((n_hidden, n_hidden)) * 0.3)
    b = leaf(rng.standard_normal(n_hidden) * 0.1)
    s = tg.zeros(1, n_hidden, dtype=np.float64)
    for t in range(steps):
        s = (tg.Tensor(xs[t]) @ W_x + s @ W_s + b).tanh()
    s.sum().backward(keep_grads=False)

    # hand BPTT: forward keeping the states, then the reverse loop over time
    states = [np.zeros((1, n_hidden))]
    for t in range(steps):
        states.append(np.tanh(xs[t] @ W_x.data + states[-1] @ W_s.data + b.data))
    d_s = np.ones((1, n_hidden))
    g_Wx, g_Ws, g_b = np.zeros_like(W_x.data), np.zeros_like(W_s.data), np.zeros_like(b.data)
    for t in range(steps, 0, -1):
        d_pre = d_s * (1 - states[t] ** 2)
        g_Wx += xs[t - 1].T @ d_pre
        g_Ws += states[t - 1].T @ d_pre
        g_b += d_pre.sum(axis=0)
        d_s = d_pre @ W_s.data.T
    np.testing.assert_allclose(W_x.grad, g_Wx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(W_s.grad, g_Ws, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad, g_b, rtol=1e-10, atol=1e-12)


def test_no_source_file_changes_the_recursion_limit():
    forbidden = re.compile(r"set" + r"recursionlimit\s*\(")
    sources = [*(ROOT / "tinygrad_rnn").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    assert len(sources) > 10
    offenders = [str(p) for p in sources if forbidden.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


# ---- memory: the graph is released with its root ------------------------------------------


def _graph():
    x = leaf(np.ones((4, 4)))
    w = leaf(np.full((4, 4), 0.1))
    hidden = (x @ w).tanh()
    loss = (hidden * hidden).sum()
    loss.backward()
    return x, w, loss, weakref.ref(hidden), weakref.ref(hidden.grad_fn), weakref.ref(loss.grad_fn)


def test_graph_is_freed_by_refcounting_alone():
    # the engine creates no reference cycles: dropping the root frees the graph at once
    gc.disable()
    try:
        x, w, loss, hidden, op, root_op = _graph()
        assert hidden() is not None and op() is not None
        del loss
        assert hidden() is None and op() is None and root_op() is None
        assert x.grad is not None and w.grad is not None  # leaves keep their gradients
    finally:
        gc.enable()


def test_graph_is_freed_after_gc_collect():
    x, w, loss, hidden, op, root_op = _graph()
    del loss
    gc.collect()
    assert hidden() is None and op() is None and root_op() is None


def test_long_unrolled_graph_is_freed():
    w = leaf(np.full((2, 2), 0.5))
    h = tg.zeros(1, 2, dtype=np.float64)
    first = None
    for _ in range(2000):
        h = (h @ w + 1.0).tanh()
        first = first or weakref.ref(h)
    h.sum().backward()
    del h
    gc.collect()
    assert first() is None
