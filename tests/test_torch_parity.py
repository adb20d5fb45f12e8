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


# ---- PyTorch's names: Tensor methods, functions, losses --------------------------------------

# (ours, theirs) on one float64 (3, 4) leaf each; values and gradients must agree
METHODS = {
    "abs": (lambda x: abs(x), lambda x: abs(x)),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), lambda x: x.clamp(-0.5, 0.7)),
    "clamp_min": (lambda x: x.clamp(min=0.1), lambda x: x.clamp(min=0.1)),
    "pow": (lambda x: x.pow(3), lambda x: x.pow(3)),
    "clone": (lambda x: x.clone(), lambda x: x.clone()),
    "t": (lambda x: x.t(), lambda x: x.t()),
    "max_dim": (lambda x: x.max(1).values, lambda x: x.max(1).values),
    "min_dim_keepdim": (lambda x: x.min(0, keepdim=True)[0],
                        lambda x: x.min(0, keepdim=True)[0]),
    "min": (lambda x: x.min(), lambda x: x.min()),
    "amax": (lambda x: x.amax((0, 1)), lambda x: x.amax((0, 1))),
    "norm": (lambda x: x.norm(), lambda x: x.norm()),
    "norm_dim": (lambda x: x.norm(dim=1, keepdim=True), lambda x: x.norm(dim=1, keepdim=True)),
    "norm_p3": (lambda x: x.norm(3, dim=0), lambda x: x.norm(3, dim=0)),
    "norm_p1": (lambda x: x.norm(1), lambda x: x.norm(1)),
    "std": (lambda x: x.std(), lambda x: x.std()),
    "std_dim": (lambda x: x.std(1), lambda x: x.std(1)),
    "var_biased": (lambda x: x.var(0, unbiased=False), lambda x: x.var(0, unbiased=False)),
    "var_correction": (lambda x: x.var(1, correction=2, keepdim=True),
                       lambda x: x.var(1, correction=2, keepdim=True)),
    "softmax": (lambda x: x.softmax(0), lambda x: x.softmax(0)),
    "log_softmax": (lambda x: x.log_softmax(1), lambda x: x.log_softmax(1)),
    "masked_fill": (lambda x: x.masked_fill(x.data > 0, -1.5),
                    lambda x: x.masked_fill(x > 0, -1.5)),
    "gather": (lambda x: x.gather(1, np.array([[0, 3], [1, 1], [2, 0]])),
               lambda x: x.gather(1, torch.tensor([[0, 3], [1, 1], [2, 0]]))),
    "expand": (lambda x: x[:, :1].expand(2, 3, 5), lambda x: x[:, :1].expand(2, 3, 5)),
    "repeat": (lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3)),
    "tg.exp": (lambda x: tg.exp(x), lambda x: torch.exp(x)),
    "tg.sigmoid": (lambda x: tg.sigmoid(x), lambda x: torch.sigmoid(x)),
    "tg.matmul": (lambda x: tg.matmul(x, x.t()), lambda x: torch.matmul(x, x.t())),
}


@pytest.mark.parametrize("name", METHODS)
def test_tensor_methods_match_torch(name: str) -> None:
    rng = np.random.default_rng(7)
    ours_x, theirs_x = pair((3, 4), rng)
    ours, theirs = METHODS[name]
    compare([ours(ours_x)], [theirs(theirs_x)], {"x": ours_x}, {"x": theirs_x}, rng)


def test_min_max_indices_and_tie_gradients_match_torch() -> None:
    data = np.array([[1.0, 5.0, 5.0, 0.0], [7.0, 2.0, 7.0, 2.0], [3.0, 3.0, 3.0, 3.0]])
    for op in ("max", "min"):
        for dim, keepdim in ((0, False), (1, False), (-1, True)):
            ours_x = tg.Tensor(data.copy(), requires_grad=True)
            theirs_x = torch.tensor(data, requires_grad=True)
            a = getattr(ours_x, op)(dim, keepdim)
            b = getattr(theirs_x, op)(dim, keepdim)
            np.testing.assert_array_equal(a.values.data, b.values.detach().numpy())
            np.testing.assert_array_equal(a.indices.data, b.indices.numpy())
            a.values.sum().backward()
            b.values.sum().backward()
            np.testing.assert_array_equal(ours_x.grad, theirs_x.grad.numpy())
        # over everything, ties share the gradient (torch's amax/amin rule)
        ours_x = tg.Tensor(data.copy(), requires_grad=True)
        theirs_x = torch.tensor(data, requires_grad=True)
        getattr(ours_x, op)().backward()
        getattr(theirs_x, op)().backward()
        np.testing.assert_array_equal(ours_x.grad, theirs_x.grad.numpy())


def test_edge_gradients_match_torch() -> None:
    """abs at 0, norm of a zero vector, clamp at its bounds."""
    data = np.array([-1.0, 0.0, 0.5, 1.0])
    cases = [(lambda x: x.abs(), lambda x: x.abs()),
             (lambda x: (x * 0.0).norm(), lambda x: (x * 0.0).norm()),
             (lambda x: x.clamp(0.0, 0.5), lambda x: x.clamp(0.0, 0.5))]
    for ours, theirs in cases:
        ours_x, theirs_x = tg.Tensor(data.copy(), requires_grad=True), torch.tensor(
            data, requires_grad=True)
        ours(ours_x).sum().backward()
        theirs(theirs_x).sum().backward()
        np.testing.assert_array_equal(ours_x.grad, theirs_x.grad.numpy())


def test_losses_and_one_hot_match_torch() -> None:
    rng = np.random.default_rng(3)
    target = np.array([2, 0, 1, 2])
    for reduction in ("mean", "sum", "none"):
        ours_x, theirs_x = pair((4, 3), rng)
        compare([tg.nn.CrossEntropyLoss(reduction=reduction)(ours_x, target),
                 tg.nn.NLLLoss(reduction=reduction)(ours_x, target),
                 tg.nn.MSELoss(reduction=reduction)(ours_x, np.ones((4, 3)))],
                [torch.nn.CrossEntropyLoss(reduction=reduction)(theirs_x, torch.tensor(target)),
                 torch.nn.NLLLoss(reduction=reduction)(theirs_x, torch.tensor(target)),
                 torch.nn.MSELoss(reduction=reduction)(theirs_x, torch.ones(4, 3,
                                                                           dtype=torch.float64))],
                {"x": ours_x}, {"x": theirs_x}, rng)
    ours = tg.nn.functional.one_hot(target)
    theirs = torch.nn.functional.one_hot(torch.tensor(target))
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")


def test_creation_dtypes_match_torch() -> None:
    pairs = [(tg.arange(5), torch.arange(5)), (tg.arange(0, 1, 0.25), torch.arange(0, 1, 0.25)),
             (tg.full((2,), 1.5), torch.full((2,), 1.5)), (tg.full((2,), 3), torch.full((2,), 3)),
             (tg.eye(2, 3), torch.eye(2, 3)),
             (tg.zeros_like(tg.Tensor(np.ones(2))), torch.zeros_like(torch.ones(2).double()))]
    for ours, theirs in pairs:
        np.testing.assert_array_equal(ours.data, theirs.numpy())
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")


# ---- optimizers and schedulers ---------------------------------------------------------------

OPTIMIZERS = [
    ("AdamW", {}), ("AdamW", {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.05}),
    ("RMSprop", {}), ("RMSprop", {"lr": 0.003, "momentum": 0.8, "centered": True,
                                  "weight_decay": 0.01, "alpha": 0.9}),
    ("Adagrad", {}), ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.02,
                                  "initial_accumulator_value": 0.3, "eps": 1e-6}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
]


@pytest.mark.parametrize("name, config", OPTIMIZERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)])
def test_optimizer_trajectories_match_torch_with_two_param_groups(name: str,
                                                                  config: dict) -> None:
    """20 steps of a quadratic-plus-tanh loss, two groups (the second with 3x the lr)."""
    rng = np.random.default_rng(11)
    init = [rng.standard_normal(s) for s in ((3, 4), (4,), (2,))]
    target = rng.standard_normal((5, 3))
    x = rng.standard_normal((5, 4))
    ours_p = [tg.nn.Parameter(a.copy(), dtype=np.float64) for a in init]
    theirs_p = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    lr = config.get("lr", 1e-2 if name in ("RMSprop", "Adagrad") else 1e-3)

    def groups(ps: list[Any]) -> list[dict[str, Any]]:
        return [{"params": ps[:2]}, {"params": ps[2:], "lr": 3 * lr}]

    ours_opt = getattr(tg.optim, name)(groups(ours_p), **config)
    theirs_opt = getattr(torch.optim, name)(groups(theirs_p), **config)
    for _ in range(20):
        for lib, ps, opt in (("tg", ours_p, ours_opt), ("torch", theirs_p, theirs_opt)):
            xs = tg.Tensor(x) if lib == "tg" else torch.tensor(x)
            ts = tg.Tensor(target) if lib == "tg" else torch.tensor(target)
            h = (xs @ ps[0].t() + ps[1][:3]).tanh() * ps[2][0] + ps[2][1]
            loss = ((h - ts) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    for ours, theirs in zip(ours_p, theirs_p, strict=True):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


SCHEDULERS = [("StepLR", {"step_size": 3, "gamma": 0.5}), ("ExponentialLR", {"gamma": 0.9}),
              ("CosineAnnealingLR", {"T_max": 6}),
              ("CosineAnnealingLR", {"T_max": 4, "eta_min": 0.01})]


@pytest.mark.parametrize("name, config", SCHEDULERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
def test_scheduler_lr_sequences_match_torch(name: str, config: dict) -> None:
    ours_opt = tg.optim.SGD([{"params": [tg.nn.Parameter(np.zeros(1))]},
                             {"params": [tg.nn.Parameter(np.zeros(1))], "lr": 0.3}], lr=0.1)
    theirs_opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                                  {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.3}],
                                 lr=0.1)
    ours = getattr(tg.optim.lr_scheduler, name)(ours_opt, **config)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **config)
    for _ in range(15):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12,
                                   atol=1e-15)
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()


def test_to_accepts_torch_dtypes_and_the_cpu_device() -> None:
    model = nn.Linear(2, 3)
    model.to(torch.device("cpu")).to(torch.float64)
    assert all(p.dtype == np.float64 for p in model.parameters())
    with pytest.raises(ValueError, match="no devices"):
        model.to(torch.device("meta"))
    assert tg.Tensor(np.ones(2, np.float32)).to(torch.float64).dtype == np.float64
