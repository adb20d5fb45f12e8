"""The hand-written NumPy BPTT of benchmarks/numpy_bptt.py -- the benchmarks' speed limit --
checked against an independent straightforward forward pass, float64 central finite
differences, each other (fused vs per-step) and, when installed, PyTorch."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "numpy_bptt.py"
_spec = importlib.util.spec_from_file_location("numpy_bptt", _PATH)
assert _spec is not None and _spec.loader is not None
nb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nb)

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
