"""Parity with PyTorch: the same weights give the same outputs and the same gradients.

torch is only a test dependency (skipped when missing). Everything runs in float64; the
weights are torch's own initialisation, loaded into ours through ``load_state_dict`` --
which also proves that a torch state dict converted with ``.numpy()`` loads unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn

torch = pytest.importorskip("torch")

TOL = {"rtol": 1e-10, "atol": 1e-12}


def to_ours(theirs: Any, ours: nn.Module) -> nn.Module:
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    return ours


def pair(shape: tuple[int, ...], rng: np.random.Generator) -> tuple[tg.Tensor, Any]:
    """The same float64 data as one of our leaves and a torch leaf."""
    data = rng.standard_normal(shape)
    return tg.Tensor(data.copy(), requires_grad=True), torch.tensor(data, requires_grad=True)


def weighted_sum(outputs: list[Any], cotangents: list[np.ndarray], lib: str) -> Any:
    """Σ_k <u_k, out_k>: a scalar whose gradient is the VJP with random cotangents."""
    total = None
    for out, u in zip(outputs, cotangents, strict=True):
        term = (out * (tg.Tensor(u) if lib == "tg" else torch.tensor(u))).sum()
        total = term if total is None else total + term
    return total


def compare(ours_out: list[tg.Tensor], theirs_out: list[Any], ours_leaves: dict[str, Any],
            theirs_leaves: dict[str, Any], rng: np.random.Generator) -> float:
    """Assert equal outputs and equal gradients of every leaf; return the largest difference."""
    worst = 0.0
    for a, b in zip(ours_out, theirs_out, strict=True):
        np.testing.assert_allclose(a.data, b.detach().numpy(), **TOL)
        worst = max(worst, float(np.max(np.abs(a.data - b.detach().numpy()))))
    cot = [rng.standard_normal(o.shape) for o in ours_out]
    weighted_sum(ours_out, cot, "tg").backward()
    weighted_sum(theirs_out, cot, "torch").backward()
    assert list(ours_leaves) == list(theirs_leaves)
    for name, leaf in ours_leaves.items():
        expected = theirs_leaves[name].grad
        assert leaf.grad is not None and expected is not None, name
        np.testing.assert_allclose(leaf.grad, expected.numpy(), err_msg=name, **TOL)
        worst = max(worst, float(np.max(np.abs(leaf.grad - expected.numpy()))))
    return worst


# ---- cells ----------------------------------------------------------------------------------

CELLS = {
    "rnn_tanh": (lambda **kw: torch.nn.RNNCell(3, 4, **kw),
                 lambda **kw: nn.RNNCell(3, 4, **kw)),
    "rnn_relu": (lambda **kw: torch.nn.RNNCell(3, 4, nonlinearity="relu", **kw),
                 lambda **kw: nn.RNNCell(3, 4, nonlinearity="relu", **kw)),
    "gru": (lambda **kw: torch.nn.GRUCell(3, 4, **kw), lambda **kw: nn.GRUCell(3, 4, **kw)),
    "lstm": (lambda **kw: torch.nn.LSTMCell(3, 4, **kw), lambda **kw: nn.LSTMCell(3, 4, **kw)),
}


def run_cell(kind: str, bias: bool, batched: bool) -> float:
    torch.manual_seed(0)
    make_theirs, make_ours = CELLS[kind]
    theirs = make_theirs(bias=bias).double()
    ours = to_ours(theirs, make_ours(bias=bias).double())
    rng = np.random.default_rng(1)
    lead = (5,) if batched else ()
    x, x_t = pair(lead + (3,), rng)
    h, h_t = pair(lead + (4,), rng)
    ours_leaves = {"x": x, "h": h}
    theirs_leaves = {"x": x_t, "h": h_t}
    if kind == "lstm":
        c, c_t = pair(lead + (4,), rng)
        ours_leaves["c"], theirs_leaves["c"] = c, c_t
        ours_out, theirs_out = list(ours(x, (h, c))), list(theirs(x_t, (h_t, c_t)))
    else:
        ours_out, theirs_out = [ours(x, h)], [theirs(x_t, h_t)]
    ours_leaves.update(ours.named_parameters())
    theirs_leaves.update(theirs.named_parameters())
    return compare(ours_out, theirs_out, ours_leaves, theirs_leaves, rng)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_outputs_and_gradients_match_torch(kind: str, bias: bool, batched: bool) -> None:
    run_cell(kind, bias, batched)


# ---- layers ---------------------------------------------------------------------------------

LAYERS = {
    "rnn_tanh": (torch.nn.RNN, nn.RNN, {}),
    "rnn_relu": (torch.nn.RNN, nn.RNN, {"nonlinearity": "relu"}),
    "gru": (torch.nn.GRU, nn.GRU, {}),
    "lstm": (torch.nn.LSTM, nn.LSTM, {}),
}


def run_layer(kind: str, batch_first: bool, bias: bool = True, batched: bool = True,
              lengths: list[int] | None = None, seed: int = 0) -> float:
    torch_cls, our_cls, extra = LAYERS[kind]
    config = dict(num_layers=2, bidirectional=True, batch_first=batch_first, bias=bias, **extra)
    torch.manual_seed(seed)
    theirs = torch_cls(3, 4, **config).double()
    ours = to_ours(theirs, our_cls(3, 4, **config).double())
    rng = np.random.default_rng(seed)
    steps, batch = 5, (3 if lengths is None else len(lengths))
    shape = ((batch, steps, 3) if batch_first else (steps, batch, 3)) if batched else (steps, 3)
    x, x_t = pair(shape, rng)
    h0, h0_t = pair((4, batch, 4) if batched else (4, 4), rng)
    ours_leaves, theirs_leaves = {"x": x, "h0": h0}, {"x": x_t, "h0": h0_t}
    hx, hx_t = h0, h0_t
    if kind == "lstm":
        c0, c0_t = pair(h0.shape, rng)
        ours_leaves["c0"], theirs_leaves["c0"] = c0, c0_t
        hx, hx_t = (h0, c0), (h0_t, c0_t)
    out, hn = ours(x, hx, lengths=lengths)
    if lengths is None:
        out_t, hn_t = theirs(x_t, hx_t)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x_t, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out_p, hn_t = theirs(packed, hx_t)
        out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_p, batch_first=batch_first,
                                                          total_length=steps)
    ours_out = [out, *(hn if kind == "lstm" else (hn,))]
    theirs_out = [out_t, *(hn_t if kind == "lstm" else (hn_t,))]
    ours_leaves.update(ours.named_parameters())
    theirs_leaves.update(theirs.named_parameters())
    return compare(ours_out, theirs_out, ours_leaves, theirs_leaves, rng)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_two_layer_bidirectional_matches_torch(kind: str, batch_first: bool) -> None:
    run_layer(kind, batch_first)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_no_bias_and_unbatched_match_torch(kind: str) -> None:
    run_layer(kind, batch_first=False, bias=False, seed=1)
    run_layer(kind, batch_first=True, batched=False, seed=2)


@pytest.mark.parametrize("kind", list(LAYERS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_match_torch_packed_sequences(kind: str, batch_first: bool) -> None:
    run_layer(kind, batch_first, lengths=[5, 2, 4, 1], seed=3)


def test_torch_state_dict_keys_are_ours() -> None:
    for torch_cls, our_cls, _ in LAYERS.values():
        theirs = torch_cls(3, 4, num_layers=3, bidirectional=True)
        assert list(theirs.state_dict()) == list(our_cls(3, 4, num_layers=3,
                                                          bidirectional=True).state_dict())


def test_float32_outputs_match_torch() -> None:
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(3, 4, num_layers=2)
    ours = to_ours(theirs, nn.LSTM(3, 4, num_layers=2))
    x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)
    out, (hn, cn) = ours(tg.Tensor(x))
    assert out.dtype == np.float32
    out_t, (hn_t, cn_t) = theirs(torch.tensor(x))
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cn.data, cn_t.detach().numpy(), rtol=1e-5, atol=1e-6)
