"""A tensor whose value the default lean graph freed is refused wherever it would be read,
with what to do; results that do not need it are unaffected."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.bptt import analysis
from tinygrad_rnn.nn import GRU, LSTM

pytestmark = pytest.mark.usefixtures("fast_path")  # lean graphs: the fast path, on

TODO = r"internal to a cell step.*tg\.full_graph\(\)"


@pytest.fixture
def lstm_graph():
    layer = LSTM(2, 2, rng=0, dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(3, 1, 2)))
    out, (h, _) = layer(x)
    (out * out).sum().backward()
    gates = [t for t in tg.topological_order(h) if t.freed and t.grad_fn.name == "Sigmoid"]
    assert gates
    return out, gates


@pytest.mark.parametrize("read", [
    lambda f: f.numpy(), lambda f: f.tolist(), lambda f: f[0, 0], lambda f: f * 2,
    lambda f: f.detach(), lambda f: f.retain_grad(), lambda f: f.sum().item()])
def test_reading_a_freed_tensor_is_refused_with_what_to_do(lstm_graph, read):
    _, gates = lstm_graph
    with pytest.raises(RuntimeError, match=TODO):
        read(gates[0])


def test_jacobian_norms_refuses_freed_sources_instead_of_reading_zeros(lstm_graph):
    out, gates = lstm_graph
    with pytest.raises(ValueError, match=TODO):
        analysis.jacobian_norms(out[-1], sources=gates)


def test_retain_grad_on_a_kept_tensor_is_accepted_and_its_grad_is_kept():
    layer = LSTM(2, 2, rng=0, dtype=np.float64)
    out, _ = layer(tg.Tensor(np.random.default_rng(0).normal(size=(3, 1, 2))))
    out.retain_grad()  # as a PyTorch user would, before backward
    (out * out).sum().backward()
    np.testing.assert_allclose(out.grad, 2 * out.data)  # d(Σ out²)/d out


def test_inference_outputs_stay_writable():
    x = tg.Tensor(np.random.default_rng(0).normal(size=(3, 1, 2)))
    with tg.no_grad():
        out, h = GRU(2, 3, rng=0, dtype=np.float64)(x)
    values = out.numpy()
    values /= values.sum()  # nothing saved views of it: no reason to refuse the write
    np.testing.assert_allclose(values.sum(), 1.0)


@pytest.mark.parametrize("copy_of", [copy.copy, copy.deepcopy,
                                     lambda t: pickle.loads(pickle.dumps(t))])
def test_a_copy_of_a_freed_tensor_stays_freed_and_takes_no_memory(lstm_graph, copy_of):
    _, gates = lstm_graph
    c = copy_of(gates[0])
    assert c.freed and c.grad_fn is None
    assert c.shape == gates[0].shape and c.dtype == gates[0].dtype
    assert c.data.strides == (0,) * c.data.ndim  # a broadcast stand-in, not a full array
    assert np.isnan(c.data).all()
    with pytest.raises(RuntimeError, match=TODO):
        c.numpy()
    with pytest.raises(RuntimeError, match=TODO):
        c * 2


def test_a_deep_copy_of_a_lean_layer_output_keeps_its_values(lstm_graph):
    out, _ = lstm_graph
    c = copy.deepcopy(out)
    assert not c.freed
    np.testing.assert_array_equal(c.data, out.data)
