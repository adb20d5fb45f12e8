"""The fast path (tinygrad_rnn/fast/) against the textbook engine, and its switch.

The textbook results are computed with the fast path off (``fast.disabled()``): ops.py's
own VJPs and ``a + b``. They are checked against float64 numeric differences and PyTorch
elsewhere (test_gradcheck.py, test_torch_parity.py); here the fast path must agree with
them to rounding.
"""

from __future__ import annotations

import ast
import os
import pathlib
import subprocess
import sys
from contextlib import nullcontext

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import fast, ops
from tinygrad_rnn.nn import GRU, LSTM, RNN

PACKAGE = pathlib.Path(tg.__file__).parent
needs_fast = pytest.mark.usefixtures("fast_path")  # compares it with the textbook path


def run(kind: str, lean: bool) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, list]]:
    """Output, grads and per-use contributions of a 2-layer bidirectional layer, float64."""
    layer = {"rnn": RNN, "gru": GRU, "lstm": LSTM}[kind](
        3, 4, num_layers=2, bidirectional=True, rng=0, dtype=np.float64)
    r = np.random.default_rng(1)
    x = tg.Tensor(r.standard_normal((6, 2, 3)))
    target = tg.Tensor(r.standard_normal((6, 2, 8)))
    with tg.lean_graph() if lean else nullcontext():
        out, _ = layer(x)
        loss = ((out - target) ** 2).mean()
    loss.backward(contributions=True)
    grads = {name: p.grad.copy() for name, p in layer.named_parameters()}
    contributions = {name: [c.grad.copy() for c in p.contributions]
                     for name, p in layer.named_parameters()}
    return out.data.copy(), grads, contributions


@needs_fast
@pytest.mark.parametrize("lean", [False, True])
@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_the_fast_path_equals_the_textbook_path(kind, lean):
    out, grads, contributions = run(kind, lean)
    with fast.disabled():
        assert not fast.enabled()
        plain_out, plain_grads, plain_contributions = run(kind, lean)
    np.testing.assert_allclose(out, plain_out, rtol=1e-12, atol=1e-14)
    for name, g in plain_grads.items():
        np.testing.assert_allclose(grads[name], g, rtol=1e-12, atol=1e-14, err_msg=name)
        assert len(contributions[name]) == len(plain_contributions[name]) == 6
        for c, plain in zip(contributions[name], plain_contributions[name], strict=True):
            np.testing.assert_allclose(c, plain, rtol=1e-12, atol=1e-14, err_msg=name)


def test_plain_mode_uses_the_ops_own_vjps_and_a_plus_b():
    x = tg.Tensor(np.ones((2, 3)))
    w = tg.Tensor(np.ones((4, 3)), requires_grad=True)
    y = F.linear(x, w)
    g = np.ones((2, 4))
    with fast.disabled():
        grads = fast.vjp(y.grad_fn, g)
        assert all(type(a) is np.ndarray for a in grads[1:])
        assert fast.add(np.ones(2), np.ones(2)).tolist() == [2.0, 2.0]
        np.testing.assert_allclose(grads[1], g.T @ x.data)


@needs_fast
def test_the_fast_path_keeps_a_weight_gradient_unwritten():
    x = tg.Tensor(np.arange(6.0).reshape(2, 3))
    w = tg.Tensor(np.ones((4, 3)), requires_grad=True)
    y = F.linear(x, w)
    g = np.ones((2, 4))
    assert type(fast.vjp(y.grad_fn, g)[1]) is not np.ndarray  # an unwritten product
    np.testing.assert_allclose(fast.to_array(fast.vjp(y.grad_fn, g)[1]), g.T @ x.data)


def test_a_replaced_backward_is_used_even_with_a_fast_rule(monkeypatch):
    monkeypatch.setattr(ops.Linear, "backward", lambda self, g: (None, np.full((1, 1), 7.0)))
    w = tg.Tensor(np.ones((1, 1)), requires_grad=True)
    F.linear(tg.Tensor(np.ones((1, 1))), w).sum().backward()
    assert w.grad.tolist() == [[7.0]]


def test_the_environment_variable_turns_the_fast_path_off_at_import():
    code = "import tinygrad_rnn as tg; print(tg.fast.enabled())"
    for value, expected in (("1", "False"), ("0", "True"), ("", "True")):
        env = {**os.environ, "TINYGRAD_RNN_PLAIN": value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
        assert out == expected, value


@pytest.mark.parametrize("value", [-0.0, 0.0])
def test_the_constant_cache_keeps_the_sign_of_zero(value):
    x = tg.Tensor(np.array([1.0, -2.0]))
    for first in (0.0, -0.0, value):  # whichever zero was cached first
        (x * first).data  # noqa: B018
    y = (x * value).data
    expected = np.array([1.0, -2.0]) * value
    np.testing.assert_array_equal(np.signbit(y), np.signbit(expected))


def test_the_constant_cache_keeps_nan_and_numbers_apart():
    x = tg.Tensor(np.array([1.0], np.float32))
    assert np.isnan((x * float("nan")).data[0])
    assert (x * 0.0).data[0] == 0.0 and (x * 1).data[0] == 1.0 and (x + 2.0).data[0] == 3.0


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "radd", "rmul"])
def test_an_integer_tensor_with_a_float32_parameter_stays_float32(op):
    i = tg.Tensor(np.array([1, 2, 3], np.int64))
    w = tg.Tensor(np.array([0.5, 1.5, 2.0], np.float32), requires_grad=True)
    y = {"add": lambda: i + w, "sub": lambda: i - w, "mul": lambda: i * w,
         "div": lambda: i / w, "radd": lambda: w + i, "rmul": lambda: w * i}[op]()
    assert y.dtype == np.float32  # as torch: int64 with float32 gives float32
    y.sum().backward()
    assert w.grad.dtype == np.float32
    expected = {"add": [1, 1, 1], "sub": [-1, -1, -1], "mul": [1, 2, 3],
                "div": [-1 / 0.25, -2 / 2.25, -3 / 4.0], "radd": [1, 1, 1],
                "rmul": [1, 2, 3]}[op]
    np.testing.assert_allclose(w.grad, expected, rtol=1e-6)


def test_float32_with_float64_tensors_gives_float64_as_torch():
    a = tg.Tensor(np.ones(2, np.float32), requires_grad=True)
    b = tg.Tensor(np.ones(2, np.float64), requires_grad=True)
    assert (a * b).dtype == np.float64 and (b + a).dtype == np.float64
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


# ---- the layout: ops.py is the textbook, no big import cycle -------------------------------


def _imports(path: pathlib.Path, modules: set[str] | None = None) -> set[str]:
    """The tinygrad_rnn modules a file imports at run time (TYPE_CHECKING blocks skipped):
    ``from p import m`` counts as importing the module p.m if there is one, else p."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module \
                and node.module.startswith("tinygrad_rnn"):
            subs = {f"{node.module}.{a.name}" for a in node.names}
            known = subs & modules if modules is not None else subs
            found.update(known or {node.module})
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tinygrad_rnn"))
    return found


def _module_graph() -> dict[str, set[str]]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[name] = path
    return {name: {m for m in _imports(path, set(names)) if m in names and m != name}
            for name, path in names.items()}


def test_no_import_cycle_has_more_than_four_modules():
    graph = _module_graph()
    reach = {}
    for start in graph:  # every module reachable from start (a plain worklist)
        seen, todo = set(), [start]
        while todo:
            for m in graph[todo.pop()]:
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        reach[start] = seen
    for start in graph:
        cycle = {m for m in reach[start] if start in reach[m]} | {start}
        assert len(cycle) <= 4, sorted(cycle)


def test_ops_imports_only_numpy_and_the_function_base():
    assert _imports(PACKAGE / "ops.py", set()) == {"tinygrad_rnn.function",
                                                   "tinygrad_rnn.tensor"}
