"""The implementations that ``run.py`` times, behind one small interface.

For the full-sequence benchmark, each ``setup_*`` function takes
``(model, x, params, G)`` -- the NumPy input (T, B, I), the parameters in torch layout
(see ``numpy_bptt``) and the cotangent G (T, B, H) -- does everything that should not be
timed (building the module, copying the weights, wrapping the arrays) and returns a
function ``run() -> (loss, grads)`` that does one forward + backward of
L = Σ_t ⟨h_t, G_t⟩ from scratch, with ``grads`` keyed like ``numpy_bptt.PARAM_NAMES``.

An implementation whose library cannot be imported raises ``Unavailable`` from its setup,
with the reason, and the harness notes it in the results instead of failing.

The optional libraries (torch, autograd) are imported lazily, here only: they are
benchmark-time tools, never dependencies of tinygrad_rnn.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import numpy as np
import numpy_bptt as nb

Run = Callable[[], tuple[float, dict[str, np.ndarray]]]


class Unavailable(Exception):
    """The library behind an implementation cannot be imported (the message says why)."""


def _import(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except Exception as exc:  # ImportError, or a half-written package failing on import
        raise Unavailable(f"`import {name}` failed: {type(exc).__name__}: {exc}") from exc


# ---- tinygrad_rnn ---------------------------------------------------------------------

def tinygrad_backward(loss: Any) -> str:
    """``loss.backward(keep_grads=False)`` when the engine has that keyword (only leaves
    keep a gradient: less memory), else a plain ``loss.backward()``. Returns which ran."""
    try:
        loss.backward(keep_grads=False)
        return "backward(keep_grads=False)"
    except TypeError as exc:
        if "keep_grads" not in str(exc):
            raise
    loss.backward()
    return "backward()"


def tinygrad_layer(model: str, params: dict[str, np.ndarray]) -> Any:
    """A tinygrad_rnn.nn RNN/GRU/LSTM holding copies of ``params`` (in their dtype)."""
    _import("tinygrad_rnn")
    tnn = _import("tinygrad_rnn.nn")
    cls = {"rnn": tnn.RNN, "gru": tnn.GRU, "lstm": tnn.LSTM}[model]
    layer = cls(input_size=params["weight_ih"].shape[1],
                hidden_size=params["weight_hh"].shape[1])
    for name in nb.PARAM_NAMES:
        getattr(layer, f"{name}_l0").data = np.array(params[name], copy=True)
    return layer


def setup_tinygrad(model: str, x: np.ndarray, params: dict[str, np.ndarray],
                   G: np.ndarray, backward: Callable[[Any], Any] = tinygrad_backward,
                   full: bool = False, dot_loss: bool = True) -> Run:
    """``backward(loss)`` runs the backward pass (default: grads of intermediates dropped).
    ``full``: run forward and backward inside ``tg.full_graph()`` (every value kept;
    the default graph is lean: each step's internal values freed). ``dot_loss``:
    L = Σ_t ⟨h_t, G_t⟩ as one dot product of the flattened arrays, as every
    implementation here writes it (False: ``(out * G).sum()``, which makes a (T, B, H)
    temporary)."""
    tg = _import("tinygrad_rnn")
    layer = tinygrad_layer(model, params)
    weights = [getattr(layer, f"{name}_l0") for name in nb.PARAM_NAMES]
    xt, Gt = tg.Tensor(x), tg.Tensor(G)
    G_flat = tg.Tensor(G.reshape(-1))
    mode = tg.full_graph if full else nullcontext

    def run() -> tuple[float, dict[str, np.ndarray]]:
        for w in weights:
            w.grad = None
        with mode():
            out = layer(xt)[0]
            loss = out.reshape(-1) @ G_flat if dot_loss else (out * Gt).sum()
            backward(loss)
        return float(loss.data), {n: w.grad for n, w in zip(nb.PARAM_NAMES, weights, strict=True)}

    return run


# ---- PyTorch --------------------------------------------------------------------------

def _torch_cell(model: str, torch: Any) -> Callable:
    """The cell maths with torch ops, op for op as in tinygrad_rnn.nn.cells."""
    def step(x, state, W_ih, W_hh, b_ih, b_hh):
        gi = x @ W_ih.T + b_ih
        gh = state[0] @ W_hh.T + b_hh
        if model == "rnn":
            return ((gi + gh).tanh(),)
        if model == "gru":
            i_r, i_z, i_n = gi.chunk(3, dim=1)
            h_r, h_z, h_n = gh.chunk(3, dim=1)
            r = (i_r + h_r).sigmoid()
            z = (i_z + h_z).sigmoid()
            n = (i_n + r * h_n).tanh()
            return ((1.0 - z) * n + z * state[0],)
        i, f, g, o = (gi + gh).chunk(4, dim=1)
        c = f.sigmoid() * state[1] + i.sigmoid() * g.tanh()
        return (o.sigmoid() * c.tanh(), c)
    return step


def setup_torch_eager(model: str, x: np.ndarray, params: dict[str, np.ndarray],
                      G: np.ndarray) -> Run:
    torch = _import("torch")
    weights = [torch.tensor(params[n], requires_grad=True) for n in nb.PARAM_NAMES]
    xt, Gt = torch.from_numpy(x), torch.from_numpy(G)
    step = _torch_cell(model, torch)
    zeros = torch.zeros(x.shape[1], params["weight_hh"].shape[1], dtype=xt.dtype)
    state0 = (zeros, zeros) if model == "lstm" else (zeros,)

    def run() -> tuple[float, dict[str, np.ndarray]]:
        for w in weights:
            w.grad = None
        state, outs = state0, []
        for t in range(xt.shape[0]):
            state = step(xt[t], state, *weights)
            outs.append(state[0])
        loss = torch.dot(torch.stack(outs).reshape(-1), Gt.reshape(-1))
        loss.backward()
        return loss.item(), {n: w.grad.numpy()
                             for n, w in zip(nb.PARAM_NAMES, weights, strict=True)}

    return run


def setup_torch_fused(model: str, x: np.ndarray, params: dict[str, np.ndarray],
                      G: np.ndarray) -> Run:
    torch = _import("torch")
    cls = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[model]
    module = cls(x.shape[2], params["weight_hh"].shape[1]).to(torch.from_numpy(x).dtype)
    with torch.no_grad():
        for n in nb.PARAM_NAMES:
            getattr(module, f"{n}_l0").copy_(torch.from_numpy(params[n]))
    weights = [getattr(module, f"{n}_l0") for n in nb.PARAM_NAMES]
    xt, Gt = torch.from_numpy(x), torch.from_numpy(G)

    def run() -> tuple[float, dict[str, np.ndarray]]:
        module.zero_grad(set_to_none=True)
        loss = torch.dot(module(xt)[0].reshape(-1), Gt.reshape(-1))
        loss.backward()
        return loss.item(), {n: w.grad.numpy()
                             for n, w in zip(nb.PARAM_NAMES, weights, strict=True)}

    return run


# ---- HIPS autograd --------------------------------------------------------------------

def setup_autograd(model: str, x: np.ndarray, params: dict[str, np.ndarray],
                   G: np.ndarray) -> Run:
    autograd = _import("autograd")
    anp = _import("autograd.numpy")
    T, B, _ = x.shape
    H = params["weight_hh"].shape[1]

    def sigmoid(a):
        return 1.0 / (1.0 + anp.exp(-a))

    def loss_fn(weights):
        W_ih, W_hh, b_ih, b_hh = weights
        h = anp.zeros((B, H), dtype=x.dtype)
        c = h
        loss = 0.0
        for t in range(T):
            gi = anp.dot(x[t], W_ih.T) + b_ih
            gh = anp.dot(h, W_hh.T) + b_hh
            if model == "rnn":
                h = anp.tanh(gi + gh)
            elif model == "gru":
                r = sigmoid(gi[:, :H] + gh[:, :H])
                z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
                n = anp.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
                h = (1.0 - z) * n + z * h
            else:
                a = gi + gh
                c = sigmoid(a[:, H:2 * H]) * c + sigmoid(a[:, :H]) * anp.tanh(a[:, 2 * H:3 * H])
                h = sigmoid(a[:, 3 * H:]) * anp.tanh(c)
            loss = loss + anp.sum(h * G[t])
        return loss

    value_and_grad = autograd.value_and_grad(loss_fn)
    weights = tuple(params[n] for n in nb.PARAM_NAMES)

    def run() -> tuple[float, dict[str, np.ndarray]]:
        loss, grads = value_and_grad(weights)
        return float(loss), dict(zip(nb.PARAM_NAMES, grads, strict=True))

    return run


# ---- the hand-written limit -----------------------------------------------------------

def setup_numpy(fused: bool) -> Callable[..., Run]:
    def setup(model: str, x: np.ndarray, params: dict[str, np.ndarray],
              G: np.ndarray) -> Run:
        fn = nb.IMPLEMENTATIONS[model, fused]
        return lambda: fn(x, params, G)
    return setup


# name -> setup, in the order of the results' columns; the first is the limit
MODEL_IMPLS: dict[str, Callable[..., Run]] = {
    "numpy fused": setup_numpy(True),
    "numpy per-step": setup_numpy(False),
    "tinygrad_rnn": setup_tinygrad,
    "torch eager": setup_torch_eager,
    "torch fused": setup_torch_fused,
    "autograd": setup_autograd,
}


# ---- the per-op chain: 1,000 small elementwise ops ------------------------------------
# Each setup returns (forward, backward): forward() builds the chain and returns whatever
# backward(result) needs (backward is None when there is no autodiff). The chain cycles
# through y * 1.0001, y + 0.1, tanh(y).

Chain = tuple[Callable[[], Any], Callable[[Any], Any] | None]


def chain_numpy(x0: np.ndarray, n_ops: int) -> Chain:
    def forward():
        y = x0
        for k in range(n_ops):
            j = k % 3
            y = y * 1.0001 if j == 0 else y + 0.1 if j == 1 else np.tanh(y)
        return y.sum()
    return forward, None  # no autodiff: forward only


def chain_tinygrad(x0: np.ndarray, n_ops: int) -> Chain:
    tg = _import("tinygrad_rnn")
    x = tg.Tensor(x0, requires_grad=True)

    def forward():
        x.grad = None
        y = x
        for k in range(n_ops):
            j = k % 3
            y = y * 1.0001 if j == 0 else y + 0.1 if j == 1 else y.tanh()
        return y.sum()
    return forward, tinygrad_backward


def chain_torch(x0: np.ndarray, n_ops: int) -> Chain:
    torch = _import("torch")
    x = torch.tensor(x0, requires_grad=True)

    def forward():
        x.grad = None
        y = x
        for k in range(n_ops):
            j = k % 3
            y = y * 1.0001 if j == 0 else y + 0.1 if j == 1 else y.tanh()
        return y.sum()
    return forward, lambda loss: loss.backward()


def chain_autograd(x0: np.ndarray, n_ops: int) -> Chain:
    autograd = _import("autograd")
    anp = _import("autograd.numpy")

    def f(x):
        y = x
        for k in range(n_ops):
            j = k % 3
            y = y * 1.0001 if j == 0 else y + 0.1 if j == 1 else anp.tanh(y)
        return anp.sum(y)

    def forward():
        return autograd.make_vjp(f)(x0)  # (vjp, value): the forward pass has run

    def backward(result):
        vjp, value = result
        vjp(np.ones_like(value))
    return forward, backward


CHAIN_IMPLS: dict[str, Callable[[np.ndarray, int], Chain]] = {
    "numpy (forward only, no autodiff)": chain_numpy,
    "tinygrad_rnn": chain_tinygrad,
    "torch eager": chain_torch,
    "autograd": chain_autograd,
}
