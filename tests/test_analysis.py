"""Gradient-flow analysis: per-step norms, per-use contributions (checked against the
hand-derived BPTT terms of bptt.reference_elman) and Jacobian norms."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.bptt import analysis
from tinygrad_rnn.bptt.reference_elman import elman_bptt_terms


def elman_problem(T=5, B=2, seed=0):
    rng = np.random.default_rng(seed)
    I, H, O = 3, 4, 2
    arrays = dict(xs=rng.normal(size=(T, B, I)), d=rng.normal(size=(T, B, O)),
                  W_x=rng.normal(0, 0.7, (I, H)), W_s=rng.normal(0, 0.7, (H, H)),
                  W_y=rng.normal(0, 0.7, (H, O)), b=rng.normal(0, 0.1, H))
    return arrays


def elman_engine(p):
    """The same Elman RNN written as a plain loop of engine ops, one scope per step."""
    W = {k: tg.Tensor(p[k], requires_grad=True, name=k) for k in ("W_x", "W_s", "W_y", "b")}
    T, B, _ = p["xs"].shape
    s = tg.Tensor(np.zeros((B, W["W_s"].shape[0])))
    loss, states = None, []
    for t in range(1, T + 1):
        with tg.scope(f"t={t}"):
            s = (tg.Tensor(p["xs"][t - 1]) @ W["W_x"] + s @ W["W_s"] + W["b"]).tanh()
            s.name = "s"
            e = ((tg.Tensor(p["d"][t - 1]) - s @ W["W_y"]) ** 2).sum()
        loss = e if loss is None else loss + e
        states.append(s)
    return W, states, loss


def test_contributions_are_the_hand_derived_bptt_terms_and_sum_to_grad():
    p = elman_problem()
    W, _, loss = elman_engine(p)
    loss.backward(contributions=True)
    terms = elman_bptt_terms(p["xs"], p["d"], p["W_x"], p["W_s"], p["W_y"], b=p["b"])
    T = p["xs"].shape[0]
    for name in ("W_s", "W_x", "b"):
        table = analysis.contributions(W[name])
        assert [r.t for r in table] == list(range(1, T + 1))
        for row in table:  # the use at step i receives Σ_N (term (N, i))
            expected = sum(getattr(terms, name)[(N, row.t)] for N in range(row.t, T + 1))
            np.testing.assert_allclose(row.grad, expected, rtol=1e-10, atol=1e-12)
            assert row.norm == pytest.approx(np.linalg.norm(expected))
        np.testing.assert_allclose(table.total(), W[name].grad, rtol=0, atol=1e-12)
    # W_y is used once per step too (the output layer), in the same step scopes
    assert len(analysis.contributions(W["W_y"])) == T


def test_contributions_of_a_bidirectional_two_layer_lstm_sum_to_grad():
    T = 4
    model = nn.LSTM(3, 5, num_layers=2, bidirectional=True, rng=3, dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(1).normal(size=(T, 2, 3)))
    out, (h, c) = model(x)
    ((out * out).sum() + (c * c).sum()).backward(contributions=True)
    for name, p in model.named_parameters():
        table = analysis.contributions(p)
        layer = int(name.split("_l")[1][0])
        direction = "bwd" if name.endswith("_reverse") else "fwd"
        assert [(r.layer, r.direction, r.t) for r in table] == \
            [(layer, direction, t) for t in range(1, T + 1)]
        assert all(r.uses == 1 for r in table)
        np.testing.assert_allclose(table.total(), p.grad, rtol=0, atol=1e-12)
    text = str(analysis.contributions(model.weight_hh_l1_reverse))
    assert "weight_hh_l1_reverse" in text and "layer 1 bwd" in text


def test_contributions_needs_backward_with_contributions():
    p = elman_problem(T=2)
    W, _, loss = elman_engine(p)
    loss.backward()
    with pytest.raises(ValueError, match=r"backward\(contributions=True\)"):
        analysis.contributions(W["W_s"])


def test_state_grad_norms_match_the_reference_recursion():
    p = elman_problem(T=6, B=1)
    W, states, loss = elman_engine(p)
    loss.backward()
    norms = analysis.state_grad_norms(loss, names=("s",))
    assert [n.t for n in norms] == list(range(1, 7))
    terms = elman_bptt_terms(p["xs"], p["d"], p["W_x"], p["W_s"], p["W_y"], b=p["b"])
    for n in norms:  # ∂E/∂s_t = Σ_{N >= t} ∂E_N/∂s_t
        expected = sum(terms.dE_ds[(N, n.t)] for N in range(n.t, 7))
        assert n.norm == pytest.approx(np.linalg.norm(expected), rel=1e-10)
    assert "|dL/d state|" in analysis.format_state_norms(norms)


def test_state_grad_norms_of_lstm_layers_cover_h_and_c():
    model = nn.LSTM(2, 3, bidirectional=True, rng=0, dtype=np.float64)
    out, _ = model(tg.Tensor(np.random.default_rng(0).normal(size=(5, 1, 2))))
    loss = out[-1].sum()
    loss.backward()
    norms = analysis.state_grad_norms(loss)
    keys = [(n.direction, n.name, n.t) for n in norms]
    assert keys == [(d, s, t) for d in ("fwd", "bwd") for s in ("h", "c") for t in range(1, 6)]


def test_jacobian_norms_match_the_product_of_step_jacobians():
    p = elman_problem(T=5, B=1, seed=2)
    W, states, loss = elman_engine(p)
    loss.backward()
    before = {k: w.grad.copy() for k, w in W.items()}
    terms = elman_bptt_terms(p["xs"], p["d"], p["W_x"], p["W_s"], p["W_y"], b=p["b"])
    result = analysis.jacobian_norms(states[-1])
    assert [r.t for r in result] == [1, 2, 3, 4]
    for r in result:
        J = terms.ds_ds[(5, r.t)][0]  # ∂s_5/∂s_k = Π diag(1 − s_j²) W_sᵀ
        assert r.frobenius == pytest.approx(np.linalg.norm(J), rel=1e-10)
        assert r.spectral == pytest.approx(np.linalg.norm(J, 2), rel=1e-10)
    for k, w in W.items():  # the stored gradients are untouched
        np.testing.assert_array_equal(w.grad, before[k])
    estimate = analysis.jacobian_norms(states[-1], states[:2], exact=False, samples=4000,
                                       rng=0)
    for e, r in zip(estimate, result[:2], strict=True):
        assert e.spectral is None
        assert e.frobenius == pytest.approx(r.frobenius, rel=0.1)


def test_jacobian_norms_bad_sources():
    p = elman_problem(T=3, B=1)
    W, states, loss = elman_engine(p)
    with pytest.raises(ValueError, match="not in the graph"):
        analysis.jacobian_norms(states[0], [states[2]])


def test_gradient_flow_forget_bias_keeps_the_lstm_memory_open():
    from tinygrad_rnn.bptt.analysis import gradient_flow

    def first_h(norms):
        return next(s.norm for s in norms if s.name == "h" and s.t == 1)

    plain = gradient_flow("lstm", steps=20, seed=0)
    opened = gradient_flow("lstm", steps=20, seed=0, forget_bias=1.0)
    last = [s.norm for s in plain if s.name == "h" and s.t == 20]
    assert last == [s.norm for s in opened if s.name == "h" and s.t == 20]  # same ∂L/∂h_T
    assert first_h(opened) > 10 * first_h(plain)  # but it reaches much further back
    with pytest.raises(ValueError, match="forget_bias applies to the lstm"):
        gradient_flow("rnn", forget_bias=1.0)
