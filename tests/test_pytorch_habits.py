"""PyTorch habits that must not give a silently different answer (found by a new-user review).

Expected values are written out by hand (small cases), and compared with torch when it is
installed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import checkpoint, nn
from tinygrad_rnn.gradcheck import GradcheckError, gradcheck, max_vjp_error


def test_transpose_of_two_dims_swaps_them_in_2d_too():
    w = tg.Tensor(np.arange(9.0).reshape(3, 3))
    swapped = [[0.0, 3.0, 6.0], [1.0, 4.0, 7.0], [2.0, 5.0, 8.0]]
    assert w.transpose(0, 1).tolist() == swapped
    assert w.transpose(-2, -1).tolist() == swapped
    assert w.transpose(1, 0).tolist() == swapped
    assert (tg.ones(1, 3) @ w.transpose(0, 1)).tolist() == [[3.0, 12.0, 21.0]]
    # NumPy's forms stay: a permutation given as one tuple, and no argument (reverse)
    assert w.transpose((0, 1)).tolist() == w.tolist()
    assert tg.ones(2, 3, 4).transpose().shape == (4, 3, 2)
    assert tg.ones(2, 3).transpose(0, 1).shape == (3, 2)


def test_transpose_gradient_in_2d():
    w = tg.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    (w.transpose(0, 1) * tg.Tensor(np.array([[1.0, 10.0], [100.0, 1000.0]]))).sum().backward()
    assert w.grad.tolist() == [[1.0, 100.0], [10.0, 1000.0]]


@pytest.mark.parametrize("method", ["double", "float"])
def test_dtype_cast_of_a_tensor_that_requires_grad_is_refused(method):
    w = tg.Tensor(np.array([1.0, 2.0], np.float32 if method == "double" else np.float64),
                  requires_grad=True)
    with pytest.raises(TypeError, match=rf"Tensor\.{method}\(\).*cut it from the graph"):
        getattr(w, method)()
    # without grad, or with the dtype already right, nothing changes
    assert getattr(w.detach(), method)().dtype == (np.float64 if method == "double"
                                                    else np.float32)
    same = tg.Tensor(np.array([1.0]), requires_grad=True)
    assert same.double() is same


def test_gradcheck_accepts_an_input_that_is_not_a_leaf():
    base = tg.Tensor(np.array([0.3, -0.2, 0.5]), requires_grad=True)
    assert gradcheck(lambda x: x.tanh(), [base * 2.0])
    assert max_vjp_error(lambda x: x.tanh(), [base * 2.0]) < 1e-8
    assert base.grad is None  # the check stops at its input
    # and a wrong op is still caught when its input is not a leaf
    class WrongTanh(tg.Function):
        def forward(self, x):
            self.y = np.tanh(x)
            return self.y

        def backward(self, g):
            return (g * (1 - self.y),)  # should be 1 - y**2

    with pytest.raises(GradcheckError):
        gradcheck(lambda x: WrongTanh.apply(x), [base * 2.0])


def test_assigning_a_tensor_over_a_parameter_is_refused():
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"cannot assign a Tensor as parameter 'weight'"):
        m.weight = tg.Tensor(np.ones((3, 2), np.float32))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    m.bias = None  # allowed, as in torch
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.weight = nn.Parameter(np.ones((3, 2), np.float32))
    assert m.weight.data.sum() == 6


def test_sequential_slice_is_a_sequential():
    seq = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    head = seq[0:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    assert head(tg.ones(4, 2)).shape == (4, 3)
    assert isinstance(seq[-1], nn.Linear)


def test_flatten_with_start_and_end_dims():
    x = tg.Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    assert x.flatten(1).shape == (2, 12)
    assert x.flatten(0, 1).shape == (6, 4)
    assert x.flatten().shape == (24,)
    assert x.flatten(-2, -1).shape == (2, 12)
    assert x.flatten(1).data[1, 5] == 17.0
    with pytest.raises(ValueError, match=r"flatten: start_dim 2 comes after end_dim 1"):
        x.flatten(2, 1)
    with pytest.raises(IndexError, match="flatten: dimension 3"):
        x.flatten(3)


def test_clip_grad_norm_returns_a_number_with_item():
    p = nn.Parameter(np.array([3.0, 4.0]))
    p.grad = np.array([3.0, 4.0])
    norm = tg.optim.clip_grad_norm_([p], 1.0)
    assert norm.item() == 5.0 and float(norm) == 5.0 and f"{norm:.1f}" == "5.0"


def test_numpy_conversion_gives_the_values():
    t = tg.Tensor(np.arange(6.0).reshape(3, 2))
    a = np.array(t)
    assert a.dtype == np.float64 and a.shape == (3, 2) and a[2, 1] == 5.0
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match="requires grad"):
        np.array(w)
    # NumPy still defers to our operators: the graph is kept
    assert isinstance(np.ones(2) * w, tg.Tensor)


def test_checkpoint_load_does_not_advise_unpickling(tmp_path):
    path = tmp_path / "model.ckpt"
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    path.write_bytes((tmp_path / "obj.npy").read_bytes())
    with pytest.raises(checkpoint.CheckpointError) as info:
        checkpoint.load(path, nn.Linear(2, 3))
    assert "allow_pickle" not in str(info.value)
    assert "not a checkpoint" in str(info.value)


def test_cli_output_into_a_closed_pipe_exits_quietly():
    proc = subprocess.run(
        f"{sys.executable} -m tinygrad_rnn.cli flow --json | head -c 10",
        shell=True, capture_output=True, text=True, timeout=300)
    assert proc.stdout.startswith("{")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_render_truncated_weight_grad_is_the_drawn_windows_sum():
    """render --truncate K: the weight's .grad (its node's "sum" label) is the last
    window's gradient -- the taps drawn -- not the sum over every window."""
    from tinygrad_rnn.cli import build_parser
    from tinygrad_rnn.commands import render

    args = build_parser().parse_args(["render", "--cell", "rnn", "--steps", "4",
                                      "--truncate", "2", "-o", "unused.svg"])
    model, loss, _ = render.build(args)
    got = {name: p.grad.copy() for name, p in model.named_parameters()}
    model.zero_grad()
    loss.backward()  # the last window alone
    for name, p in model.named_parameters():
        np.testing.assert_allclose(got[name], p.grad, rtol=1e-12, err_msg=name)


def test_from_numpy_stays_shared_and_writable_through_training():
    a = np.arange(3.0)
    w = tg.from_numpy(a).requires_grad_()
    (w * w).sum().backward()
    assert np.shares_memory(a, w.data) and a.flags.writeable
    np.testing.assert_array_equal(w.grad, [0.0, 2.0, 4.0])
    w.data -= 0.1 * w.grad  # the hand-written SGD step updates the shared array
    np.testing.assert_allclose(a, [0.0, 0.8, 1.6])
    a[0] = 5.0  # the torch habit of refilling a from_numpy buffer
    assert w.data[0] == 5.0
    # a batch buffer used as input, step slices taken from it: still writable after
    x = np.ones((4, 2, 3))
    xt = tg.from_numpy(x)
    rnn = nn.RNN(3, 5, dtype=np.float64)
    out, _ = rnn(xt)
    out.sum().backward()
    x[...] = 2.0
    assert (xt.data == 2.0).all()
    # a tensor made from a copy is protected as before
    b = np.arange(3.0)
    v = tg.Tensor(b, requires_grad=True)
    y = (v * v).sum()
    with pytest.raises(ValueError, match="read-only"):
        v.data[0] = 1.0
    y.backward()
    assert b.flags.writeable
