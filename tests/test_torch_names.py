"""The names a PyTorch user reaches for: tg.nn/optim/... on first use, creation functions,
top-level functions, nn.ModuleList/Identity/losses, Module.to, and size checks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import gradcheck


def test_submodules_load_on_first_use_in_a_fresh_interpreter():
    code = ("import sys, tinygrad_rnn as tg\n"
            "assert 'tinygrad_rnn.viz' not in sys.modules\n"
            "lstm = tg.nn.LSTM(8, 16, num_layers=2, bidirectional=True)\n"
            "assert tg.optim.AdamW and tg.functional.softmax and tg.viz and tg.checkpoint\n"
            "print(type(lstm).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "LSTM"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        tg.nope  # noqa: B018
    assert {"nn", "optim", "viz"} <= set(dir(tg))


def test_nn_functional_and_utils_are_the_same_functions():
    assert tg.nn.functional.cross_entropy is tg.functional.cross_entropy
    assert tg.nn.functional.one_hot is tg.functional.one_hot
    assert tg.nn.utils.clip_grad_norm_ is tg.optim.clip_grad_norm_
    assert tg.nn.utils.clip_grad_value_ is tg.optim.clip_grad_value_


# ---- creation --------------------------------------------------------------------------------
def test_creation_functions_follow_torchs_dtypes():
    x = tg.Tensor(np.ones((2, 3), np.float64))
    z, o = tg.zeros_like(x), tg.ones_like(x, dtype=np.float32)
    assert z.shape == (2, 3) and z.dtype == np.float64 and not z.data.any()
    assert o.dtype == np.float32 and o.data.sum() == 6
    assert tg.arange(4).data.tolist() == [0, 1, 2, 3] and tg.arange(4).dtype == np.int64
    assert tg.arange(1, 2, 0.5).data.tolist() == [1.0, 1.5]
    assert tg.arange(1, 2, 0.5).dtype == np.float32
    assert tg.full((2,), 1.5).dtype == np.float32 and tg.full(2, 3).dtype == np.int64
    assert tg.full((1,), True).dtype == np.bool_
    assert tg.full((2, 2), 7.0, dtype=np.float64).data.tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert tg.eye(2, 3).data.tolist() == [[1, 0, 0], [0, 1, 0]]
    r = tg.rand(1000, rng=0)
    assert r.dtype == np.float32 and 0 <= r.data.min() and r.data.max() < 1
    k = tg.randint(3, (500,), rng=0)
    assert k.dtype == np.int64 and set(k.data.tolist()) == {0, 1, 2}
    assert set(tg.randint(5, 7, size=(200,), rng=1).data.tolist()) == {5, 6}
    with pytest.raises(ValueError, match="step must not be zero"):
        tg.arange(0, 1, 0)
    with pytest.raises(ValueError, match="high \\(2\\) must be greater than low \\(2\\)"):
        tg.randint(2, 2, (3,))
    with pytest.raises(TypeError, match="zeros_like: expects a Tensor"):
        tg.zeros_like(np.zeros(2))


def test_from_numpy_shares_memory_like_torch():
    a = np.zeros(3)
    t = tg.from_numpy(a)
    a[1] = 4.0
    assert t.data[1] == 4.0 and t.dtype == np.float64
    with pytest.raises(TypeError, match="numpy.ndarray"):
        tg.from_numpy([1.0])
    with pytest.raises(TypeError, match="numbers or booleans"):
        tg.from_numpy(np.array(["a"]))


@pytest.mark.parametrize("name", ["abs", "exp", "tanh", "sigmoid", "relu", "neg", "sqrt"])
def test_top_level_functions_equal_the_methods(name):
    x = tg.Tensor(np.array([0.3, 1.2, 2.5]), requires_grad=True)
    fn = getattr(tg, name)
    method = (lambda t: -t) if name == "neg" else getattr(tg.Tensor, name)
    np.testing.assert_array_equal(fn(x).data, method(x).data)
    assert gradcheck(fn, [x])


def test_top_level_reductions_and_matmul():
    x = tg.Tensor(np.array([[1.0, 4.0], [3.0, 2.0]]))
    assert tg.sum(x, 0).data.tolist() == [4.0, 6.0]
    assert tg.mean(x).item() == 2.5
    assert tg.max(x).item() == 4.0 and tg.max(x, 1).indices.data.tolist() == [1, 0]
    assert tg.min(x, 0).values.data.tolist() == [1.0, 2.0]
    np.testing.assert_array_equal(tg.matmul(x, x).data, x.data @ x.data)
    np.testing.assert_allclose(tg.softmax(x, 1).data.sum(1), [1.0, 1.0])
    np.testing.assert_allclose(tg.pow(x, 2).data, x.data ** 2)


# ---- nn ------------------------------------------------------------------------------------
def test_module_list_registers_its_modules():
    class Net(tg.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = tg.nn.ModuleList([tg.nn.Linear(2, 2, rng=i) for i in range(2)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x).tanh()
            return x

    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    net.layers.append(tg.nn.Linear(2, 1, rng=5))
    net.layers.insert(0, tg.nn.Identity())
    assert len(net.layers) == 4 and isinstance(net.layers[0], tg.nn.Identity)
    assert list(net.state_dict())[-1] == "layers.3.bias"
    assert len(net.layers[1:]) == 3 and isinstance(net.layers[1:], tg.nn.ModuleList)
    del net.layers[0]
    assert net(tg.Tensor(np.ones((4, 2), np.float32))).shape == (4, 1)
    with pytest.raises(TypeError, match="item 3 is a int, not a Module"):
        net.layers.append(3)


def test_identity_and_losses_match_functional():
    x = tg.Tensor(np.array([[0.2, -1.0, 2.0], [1.0, 0.0, -0.5]]), requires_grad=True)
    assert tg.nn.Identity(54, unused="x")(x) is x
    target = np.array([2, 0])
    ce = tg.nn.CrossEntropyLoss()(x, target)
    manual = -(x.data - np.log(np.exp(x.data).sum(1, keepdims=True)))[[0, 1], target].mean()
    np.testing.assert_allclose(ce.data, manual, rtol=1e-12)
    nll = tg.nn.NLLLoss(reduction="sum")(x.log_softmax(1), target)
    np.testing.assert_allclose(nll.data, 2 * manual, rtol=1e-12)
    mse = tg.nn.MSELoss(reduction="none")(x, np.zeros((2, 3)))
    np.testing.assert_array_equal(mse.data, x.data ** 2)
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of"):
        tg.nn.MSELoss(reduction="avg")


def test_nll_loss_and_one_hot():
    logp = tg.Tensor(np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])),
                     requires_grad=True)
    loss = tg.nn.functional.nll_loss(logp, np.array([0, 2]))
    np.testing.assert_allclose(loss.data, -(np.log(0.5) + np.log(0.8)) / 2, rtol=1e-12)
    assert gradcheck(lambda t: tg.functional.nll_loss(t, np.array([1, 2]), "none"), [logp])
    oh = tg.functional.one_hot(np.array([[0, 2], [1, 1]]))
    assert oh.dtype == np.int64 and oh.shape == (2, 2, 3)
    assert oh.data.tolist() == [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 1, 0]]]
    assert tg.functional.one_hot(tg.tensor([1]), num_classes=4).data.tolist() == [[0, 1, 0, 0]]
    with pytest.raises(ValueError, match=r"class values must lie in \[0, 2\)"):
        tg.functional.one_hot(np.array([2]), 2)
    with pytest.raises(TypeError, match="integer class indices"):
        tg.functional.one_hot(np.array([1.0]))
    with pytest.raises(ValueError, match=r"nll_loss: target indices must lie in \[0, 3\)"):
        tg.functional.nll_loss(logp, np.array([0, 3]))


def test_module_to_converts_dtype_and_refuses_devices():
    m = tg.nn.Sequential(tg.nn.Linear(2, 3, rng=0), tg.nn.Tanh())
    assert m.to("cpu") is m and m.cpu() is m
    assert m.to(np.float64) is m and all(p.dtype == np.float64 for p in m.parameters())
    m.to(dtype=np.float32, device="cpu")
    assert all(p.dtype == np.float32 for p in m.parameters())
    m.to(tg.Tensor(np.zeros(1)))
    assert all(p.dtype == np.float64 for p in m.parameters())
    with pytest.raises(ValueError, match="Sequential.to: tinygrad_rnn has no devices"):
        m.to("cuda")
    with pytest.raises(ValueError, match="no devices"):
        m.cuda()
    with pytest.raises(TypeError, match="floating dtype"):
        m.to(np.int64)
    with pytest.raises(TypeError, match="cannot convert to <object"):
        m.to(object())
    with pytest.raises(TypeError, match="unexpected arguments \\['memory_format'\\]"):
        m.to(memory_format=1)


def test_module_zero_grad_set_to_none_false_gives_zeros():
    lin = tg.nn.Linear(2, 1, rng=0)
    lin(tg.Tensor(np.ones((1, 2), np.float32))).sum().backward()
    lin.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in lin.parameters())
    lin.zero_grad()
    assert all(p.grad is None for p in lin.parameters())


@pytest.mark.parametrize("make, error, match", [
    (lambda: tg.nn.Linear(-1, 3), ValueError, "Linear: in_features must be >= 0, got -1"),
    (lambda: tg.nn.Linear(2.5, 3), TypeError, "Linear: in_features must be an int, got float"),
    (lambda: tg.nn.Linear(2, "3"), TypeError, "Linear: out_features must be an int, got str"),
    (lambda: tg.nn.Linear(True, 3), TypeError, "Linear: in_features must be an int, got the"),
    (lambda: tg.nn.Embedding(0, 3), ValueError, "Embedding: num_embeddings must be >= 1"),
    (lambda: tg.nn.Embedding(4, 2.0), TypeError, "Embedding: embedding_dim must be an int"),
    (lambda: tg.nn.LSTM(-1, 3), ValueError, "LSTM: input_size must be a positive int"),
    (lambda: tg.nn.GRU(2, 2.5), ValueError, "GRU: hidden_size must be a positive int"),
    (lambda: tg.nn.RNN(2, 2, num_layers=0), ValueError, "RNN: num_layers must be a positive"),
])
def test_layer_sizes_are_checked(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_numpy_integer_sizes_are_fine():
    lin = tg.nn.Linear(np.int64(2), np.int32(3))
    assert lin.weight.shape == (3, 2) and type(lin.in_features) is int
