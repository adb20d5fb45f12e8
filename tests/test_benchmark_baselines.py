"""The hand-written NumPy BPTT of benchmarks/numpy_bptt.py -- the benchmarks' speed limit --
checked against an independent straightforward forward pass, float64 central finite
differences, each other (fused vs per-step) and, when installed, PyTorch; its Linear head +
MSE form (numpy_head.py, the training-loop protocol's limit) against finite differences
and tinygrad_rnn; and one child process of the training-loop protocol (loop_child.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

_BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    """A benchmarks/ module, registered under its name (they import each other by name)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


nb = _load("numpy_bptt")
nh = _load("numpy_head")

T, B, I, H = 4, 2, 3, 5
MODELS = nb.MODELS


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def reference_loss(model: str, x, p, G) -> float:
    """Σ_t ⟨h_t, G_t⟩ written as plainly as possible (torch's equations, no tricks)."""
    W_ih, W_hh, b_ih, b_hh = (p[n] for n in nb.PARAM_NAMES)
    h = np.zeros((x.shape[1], W_hh.shape[1]))
    c = np.zeros_like(h)
    loss = 0.0
    for t in range(x.shape[0]):
        gi = x[t] @ W_ih.T + b_ih
        gh = h @ W_hh.T + b_hh
        if model == "rnn":
            h = np.tanh(gi + gh)
        elif model == "lstm":
            i, f, g, o = np.split(gi + gh, 4, axis=1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
        else:
            i_r, i_z, i_n = np.split(gi, 3, axis=1)
            h_r, h_z, h_n = np.split(gh, 3, axis=1)
            r, z = _sigmoid(i_r + h_r), _sigmoid(i_z + h_z)
            n = np.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * h
        loss += float(np.sum(h * G[t]))
    return loss


def _case(model: str, dtype=np.float64, seed: int = 0):
    p = nb.init_params(model, I, H, dtype, seed=seed)
    # a larger scale than torch's init, so that the gates leave their linear regime
    p = {k: (v * 3).astype(dtype) for k, v in p.items()}
    x, G = nb.make_inputs(T, B, I, H, dtype, seed=seed + 1)
    return x, p, G


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "per_step"])
@pytest.mark.parametrize("model", MODELS)
def test_loss_matches_reference_forward(model, fused):
    x, p, G = _case(model)
    loss, _ = nb.bptt(model, x, p, G, fused=fused)
    assert loss == pytest.approx(reference_loss(model, x, p, G), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "per_step"])
@pytest.mark.parametrize("model", MODELS)
def test_gradients_match_finite_differences(model, fused):
    x, p, G = _case(model)
    _, grads = nb.bptt(model, x, p, G, fused=fused)
    eps = 1e-6
    for name in nb.PARAM_NAMES:
        numeric = np.zeros_like(p[name])
        for idx in np.ndindex(p[name].shape):
            plus = {k: v.copy() for k, v in p.items()}
            minus = {k: v.copy() for k, v in p.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            numeric[idx] = (reference_loss(model, x, plus, G)
                            - reference_loss(model, x, minus, G)) / (2 * eps)
        assert grads[name].shape == p[name].shape
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8,
                                   err_msg=f"{model} {name}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("model", MODELS)
def test_fused_equals_per_step_and_keeps_dtype(model, dtype):
    p = nb.init_params(model, 7, 6, dtype)
    x, G = nb.make_inputs(9, 3, 7, 6, dtype)
    loss_f, grads_f = nb.bptt(model, x, p, G, fused=True)
    loss_s, grads_s = nb.bptt(model, x, p, G, fused=False)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    assert loss_f == pytest.approx(loss_s, rel=tol)
    for name in nb.PARAM_NAMES:
        assert grads_f[name].dtype == dtype and grads_s[name].dtype == dtype
        np.testing.assert_allclose(grads_f[name], grads_s[name], rtol=tol, atol=tol)


@pytest.mark.parametrize("model", MODELS)
def test_inputs_are_not_modified(model):
    x, p, G = _case(model)
    before = (x.copy(), {k: v.copy() for k, v in p.items()}, G.copy())
    for fused in (True, False):
        nb.bptt(model, x, p, G, fused=fused)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(G, before[2])
    for k in p:
        np.testing.assert_array_equal(p[k], before[1][k])


@pytest.mark.parametrize("model", MODELS)
def test_matches_torch_modules(model):
    torch = pytest.importorskip("torch")
    x, p, G = _case(model)
    module = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[model](
        I, H).double()
    with torch.no_grad():
        for name in nb.PARAM_NAMES:
            getattr(module, f"{name}_l0").copy_(torch.from_numpy(p[name]))
    out = module(torch.from_numpy(x))[0]
    loss_t = (out * torch.from_numpy(G)).sum()
    loss_t.backward()
    for fused in (True, False):
        loss, grads = nb.bptt(model, x, p, G, fused=fused)
        assert loss == pytest.approx(loss_t.item(), rel=1e-10)
        for name in nb.PARAM_NAMES:
            expected = getattr(module, f"{name}_l0").grad.numpy()
            np.testing.assert_allclose(grads[name], expected, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{model} {name} fused={fused}")


# ---- the training-loop protocol's limit: Linear head + mean squared error -------------------

O = 2  # the head's out features


def reference_head_loss(model: str, x, p, head, y) -> float:
    """mean((h_t·Wᵀ + b − y_t)²) over t, batch and outputs, written plainly."""
    W_ih, W_hh, b_ih, b_hh = (p[n] for n in nb.PARAM_NAMES)
    h = np.zeros((x.shape[1], W_hh.shape[1]))
    c = np.zeros_like(h)
    total = 0.0
    for t in range(x.shape[0]):
        gi = x[t] @ W_ih.T + b_ih
        gh = h @ W_hh.T + b_hh
        if model == "rnn":
            h = np.tanh(gi + gh)
        elif model == "lstm":
            i, f, g, o = np.split(gi + gh, 4, axis=1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
        else:
            i_r, i_z, i_n = np.split(gi, 3, axis=1)
            h_r, h_z, h_n = np.split(gh, 3, axis=1)
            r, z = _sigmoid(i_r + h_r), _sigmoid(i_z + h_z)
            n = np.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * h
        out = h @ head["head_weight"].T + head["head_bias"]
        total += float(np.sum((out - y[t]) ** 2))
    return total / y.size


def _head_case(model: str, seed: int = 0):
    x, p, _ = _case(model, seed=seed)
    head = {k: v * 3 for k, v in nh.init_head(H, O, np.float64, seed=seed + 2).items()}
    y = nh.make_targets(T, B, O, np.float64, seed=seed + 3)
    return x, p, head, y


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "per_step"])
@pytest.mark.parametrize("model", MODELS)
def test_head_mse_matches_finite_differences(model, fused):
    x, p, head, y = _head_case(model)
    loss, grads = nh.bptt_head(model, x, p, head, y, fused=fused)
    assert loss == pytest.approx(reference_head_loss(model, x, p, head, y), rel=1e-12)
    everything = {**p, **head}
    eps = 1e-6
    for name, value in everything.items():
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            shifted = []
            for sign in (1, -1):
                moved = {k: v.copy() for k, v in everything.items()}
                moved[name][idx] += sign * eps
                shifted.append(reference_head_loss(
                    model, x, {k: moved[k] for k in nb.PARAM_NAMES},
                    {k: moved[k] for k in nh.HEAD_NAMES}, y))
            numeric[idx] = (shifted[0] - shifted[1]) / (2 * eps)
        assert grads[name].shape == value.shape
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-9,
                                   err_msg=f"{model} {name} fused={fused}")


@pytest.mark.parametrize("model", MODELS)
def test_head_mse_matches_tinygrad(model):
    import tinygrad_rnn as tg
    import tinygrad_rnn.functional as F
    import tinygrad_rnn.nn as tnn

    x, p, head, y = _head_case(model, seed=4)
    layer = {"rnn": tnn.RNN, "gru": tnn.GRU, "lstm": tnn.LSTM}[model](I, H, dtype=np.float64)
    linear = tnn.Linear(H, O, dtype=np.float64)
    for name in nb.PARAM_NAMES:
        getattr(layer, f"{name}_l0").data = p[name].copy()
    linear.weight.data, linear.bias.data = head["head_weight"].copy(), head["head_bias"].copy()
    loss_t = F.mse_loss(linear(layer(tg.Tensor(x))[0]), tg.Tensor(y))
    loss_t.backward()
    expected = {n: getattr(layer, f"{n}_l0").grad for n in nb.PARAM_NAMES}
    expected.update(head_weight=linear.weight.grad, head_bias=linear.bias.grad)
    for fused in (True, False):
        loss, grads = nh.bptt_head(model, x, p, head, y, fused=fused)
        assert loss == pytest.approx(float(loss_t.data), rel=1e-10)
        for name, want in expected.items():
            np.testing.assert_allclose(grads[name], want, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{model} {name} fused={fused}")


def test_head_mse_keeps_float32():
    x, p, head, y = (a.astype(np.float32) if isinstance(a, np.ndarray) else
                     {k: v.astype(np.float32) for k, v in a.items()}
                     for a in _head_case("gru"))
    _, grads = nh.bptt_head("gru", x, p, head, y)
    assert all(g.dtype == np.float32 for g in grads.values())
    with pytest.raises(ValueError, match="y has shape"):
        nh.bptt_head("gru", x, p, head, y[:, :, :1])


# ---- one child process of the training-loop protocol ----------------------------------------

def test_loop_child_returns_the_fields():
    loop = _load("loop")
    size = [2, 3, 4, 5]  # batch, input, hidden, T
    result = loop.child({"kind": "model", "impl": "tinygrad_rnn", "model": "lstm",
                         "size": size, "warmup": 1, "iters": 3}, env=None, timeout=120)
    assert "error" not in result, result
    assert len(result["times"]) == result["iters"] == 3
    assert all(t > 0 for t in result["times"])
    for key in ("user", "sys", "minflt", "majflt"):
        assert result[key] >= 0
    # the child's loss is the head + MSE of the same data, computed here independently
    params = nb.init_params("lstm", 3, 4, np.float32)
    x, _ = nb.make_inputs(5, 2, 3, 4, np.float32)
    head, y = nh.init_head(4, 3), nh.make_targets(5, 2, 3)
    expected = reference_head_loss("lstm", x.astype(np.float64),
                                   {k: v.astype(np.float64) for k, v in params.items()},
                                   {k: v.astype(np.float64) for k, v in head.items()},
                                   y.astype(np.float64))
    assert result["loss"] == pytest.approx(expected, rel=1e-4)
    assert set(result["grad_abs_sums"]) == set(nb.PARAM_NAMES) | set(nh.HEAD_NAMES)

    memory = loop.child({"kind": "memory", "impl": "tinygrad_rnn", "model": "rnn",
                         "size": size}, env=None, timeout=120)
    assert "error" not in memory, memory
    assert memory["tracemalloc_peak"] > 0
    assert "rss_growth" in memory
