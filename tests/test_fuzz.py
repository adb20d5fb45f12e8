"""Random programs against float64 numeric gradients and PyTorch (issue #13).

Hypothesis writes short programs: a few leaves of shapes that broadcast against each other,
float32 or float64 each, plus one square weight ``W`` that every matrix product shares;
each step applies an op to earlier values (any value may be used again, so the graph is
a DAG with shared uses). For every program:

* in float64, the engine's vector-Jacobian product equals central differences
  (``gradcheck``, every entry);
* with the drawn mixed dtypes, the output has PyTorch's promoted dtype, every leaf's
  gradient has the leaf's dtype, and the values are those of the float64 run up to
  float32 rounding;
* where torch is installed, the same program in torch gives the same values, gradients
  and dtypes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
import tinygrad_rnn.testing as tgt
from tinygrad_rnn.gradcheck import gradcheck

try:
    import torch
except ImportError:  # the numeric checks run without it
    torch = None

UNARY = ("tanh", "sigmoid", "exp_tanh", "square", "sqrt1", "log1", "scale", "rsub",
         "mul_int", "int_add",  # with an int64 tensor: the float dtype stays (as torch)
         "matmul", "linear", "sum", "mean", "flip", "gather", "permute", "reshape")
BINARY = ("add", "sub", "mul", "div1")


@dataclass
class Program:
    leaves: list[np.ndarray]  # float64 values; dtypes[i] says what the mixed run uses
    dtypes: list[Any]
    steps: list[tuple[str, int, int, Any]]  # op, operand, second operand, parameter
    counts: np.ndarray  # an int64 array (no gradient), broadcastable to the leaves

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        shapes = [(leaf.shape, np.dtype(d).name) for leaf, d in zip(self.leaves, self.dtypes,
                                                                    strict=True)]
        return f"Program(leaves={shapes}, steps={self.steps}, counts={self.counts.tolist()})"


@st.composite
def programs(draw: st.DrawFn) -> Program:
    full = draw(tgt.shapes(min_dims=1, max_dims=3, max_side=3))
    n = full[-1]
    count = draw(st.integers(1, 3))
    shapes = []  # each broadcasts to ``full``, so all of them broadcast together
    for _ in range(count):
        kept = full[len(full) - draw(st.integers(0, len(full))):]  # drop leading axes
        shapes.append(tuple(draw(st.sampled_from([side, 1])) for side in kept))
    shapes.append((n, n))  # W: the weight every matmul / linear shares
    leaves = [draw(tgt.arrays(s, low=-2.0, high=2.0)) for s in shapes]
    dtypes = [draw(st.sampled_from([np.float32, np.float64])) for _ in shapes]
    steps = []
    for k in range(draw(st.integers(1, 6))):
        available = len(leaves) - 1 + k  # W is used only through matmul / linear
        op = draw(st.sampled_from(UNARY + BINARY))
        i = draw(st.integers(0, available - 1))
        j = draw(st.integers(0, available - 1))
        if op in ("sum", "mean"):
            param: Any = draw(st.integers(0, 2))  # an axis (taken modulo ndim)
        elif op == "gather":  # repeated indices: the gradients add up (Scatter)
            param = draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n))
        elif op in ("scale", "rsub"):
            param = draw(st.sampled_from([0.5, -1.5, 3.0]))
        else:
            param = None
        steps.append((op, i, j, param))
    counts = np.array(draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)), np.int64)
    return Program(leaves, dtypes, steps, counts)


class Tg:
    """The ops of a program for tinygrad_rnn tensors."""

    @staticmethod
    def integers(values: np.ndarray) -> Any:
        return tg.Tensor(values)

    @staticmethod
    def unary(op: str, a: Any, w: Any, param: Any) -> Any:
        if op == "tanh":
            return a.tanh()
        if op == "sigmoid":
            return a.sigmoid()
        if op == "exp_tanh":
            return a.tanh().exp()
        if op == "square":
            return a**2
        if op == "sqrt1":
            return (a * a + 1.0) ** 0.5
        if op == "log1":
            return (1.0 + a * a).log()
        if op == "scale":
            return a * param
        if op == "rsub":
            return param - a
        if op == "mul_int":
            return a * param
        if op == "int_add":
            return param + a
        if op == "matmul":
            return a @ w
        if op == "linear":
            return F.linear(a, w)
        if op == "sum":
            return a.sum(axis=param % a.ndim, keepdims=True)
        if op == "mean":
            return a.mean(axis=param % a.ndim, keepdims=True)
        if op == "flip":
            return a[..., ::-1]
        if op == "gather":
            return a[..., np.array(param)]
        if op == "permute":
            return a.permute(*reversed(range(a.ndim))).permute(*reversed(range(a.ndim)))
        if op == "reshape":
            return a.reshape(-1).reshape(a.shape)
        raise AssertionError(op)


class Torch(Tg):
    """The same ops in torch (which spells a few differently)."""

    @staticmethod
    def integers(values: np.ndarray) -> Any:
        return torch.tensor(values)

    @staticmethod
    def unary(op: str, a: Any, w: Any, param: Any) -> Any:
        if op in ("matmul", "linear"):  # torch refuses mixed dtypes here: promote first,
            common = torch.promote_types(a.dtype, w.dtype)  # which is what tinygrad_rnn does
            a, w = a.to(common), w.to(common)
            return a @ w if op == "matmul" else torch.nn.functional.linear(a, w)
        if op == "sum":
            return a.sum(dim=param % a.ndim, keepdim=True)
        if op == "mean":
            return a.mean(dim=param % a.ndim, keepdim=True)
        if op == "flip":
            return a.flip(-1)
        if op == "gather":
            return a[..., torch.tensor(param)]
        return Tg.unary(op, a, w, param)


def _binary(op: str, a: Any, b: Any) -> Any:
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    return a / (b * b + 1.0)  # div1: a divisor kept away from 0


def _applies(op: str, a: Any, n: int) -> bool:
    """Whether a unary op fits the operand's shape (else the step passes it through)."""
    if op in ("matmul", "linear"):
        return a.ndim >= 1 and a.shape[-1] == n
    if op in ("sum", "mean", "flip", "gather", "permute"):
        return a.ndim >= 1 and (op != "gather" and op != "flip" or a.shape[-1] == n)
    return True


def run(program: Program, leaves: list[Any], lib: type[Tg]) -> tuple[Any, list[set[int]]]:
    """The program's output and, for every value, the set of leaves it depends on."""
    *values, w = leaves
    n = w.shape[0]
    counts = lib.integers(program.counts)
    needs = [{i} for i in range(len(values))]
    for op, i, j, param in program.steps:
        a = values[i]
        if op in BINARY:
            out = _binary(op, a, values[j])
            uses = needs[i] | needs[j]
        elif _applies(op, a, n):
            out = lib.unary(op, a, w, counts if op in ("mul_int", "int_add") else param)
            uses = needs[i] | ({len(leaves) - 1} if op in ("matmul", "linear") else set())
        else:
            out, uses = a, needs[i]
        values.append(out)
        needs.append(uses)
    return values[-1], needs


def _grads(program: Program, dtypes: list[Any],
           u: np.ndarray | None) -> tuple[Any, list[Any], list[set[int]]]:
    """The output and the leaves' gradients for the cotangent ``u`` (None: no backward)."""
    leaves = [tg.Tensor(v.astype(d), requires_grad=True)
              for v, d in zip(program.leaves, dtypes, strict=True)]
    out, needs = run(program, leaves, Tg)
    if out.requires_grad and u is not None:
        out.backward(u.astype(out.dtype))
    return out, [leaf.grad for leaf in leaves], needs


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2**32 - 1))
def test_random_programs(program: Program, seed: int) -> None:
    f64 = [np.float64] * len(program.leaves)
    out64, _, _ = _grads(program, f64, None)  # the values first: keep them moderate
    assume(np.all(np.abs(out64.data) < 1e3))
    u = np.random.default_rng(seed).standard_normal(out64.shape)
    out64, grads64, needs = _grads(program, f64, u)

    # 1. float64: the engine's VJPs equal central differences, entry by entry
    def fn(*leaves: tg.Tensor) -> tg.Tensor:
        return run(program, list(leaves), Tg)[0]

    inputs = [tg.Tensor(v, requires_grad=True) for v in program.leaves]
    if fn(*inputs).requires_grad:
        # (a sample of 8 entries per input, plus one random direction over all of them)
        assert gradcheck(fn, inputs, max_entries=8, rng=seed)

    # 2. mixed dtypes: PyTorch's promotion, gradients in each leaf's dtype, same values
    out, grads, _ = _grads(program, program.dtypes, u)
    used = needs[-1]
    assert out.dtype == np.result_type(*(program.dtypes[i] for i in used))
    scale = 1.0 + float(np.max(np.abs(out64.data), initial=0.0))
    np.testing.assert_allclose(out.data, out64.data, rtol=2e-3, atol=1e-4 * scale)
    for i, (g, g64) in enumerate(zip(grads, grads64, strict=True)):
        if g64 is None:
            assert g is None
            continue
        assert g.dtype == program.dtypes[i] and g.shape == program.leaves[i].shape
        gscale = scale * (1.0 + float(np.max(np.abs(g64))))
        np.testing.assert_allclose(g, g64, rtol=2e-3, atol=1e-4 * gscale)

    # 3. torch: the same program, the same values, gradients and dtypes
    if torch is None:
        return
    tleaves = [torch.tensor(v.astype(d), requires_grad=True)
               for v, d in zip(program.leaves, program.dtypes, strict=True)]
    tout, _ = run(program, tleaves, Torch)
    if all(program.leaves[i].ndim > 0 for i in used):  # (0-d: see the xfail test below)
        assert str(tout.dtype).removeprefix("torch.") == str(out.dtype)
    np.testing.assert_allclose(tout.detach().numpy(), out.data, rtol=2e-3, atol=1e-4 * scale)
    if tout.requires_grad:
        tout.backward(torch.from_numpy(u.astype(out.dtype)))
    for leaf, g in zip(tleaves, grads, strict=True):
        if g is None:
            assert leaf.grad is None or not leaf.grad.any()
            continue
        assert leaf.grad is not None and str(leaf.grad.dtype).removeprefix("torch.") == str(g.dtype)
        gscale = scale * (1.0 + float(np.max(np.abs(g))))
        np.testing.assert_allclose(leaf.grad.numpy(), g, rtol=2e-3, atol=1e-4 * gscale)


def test_programs_cover_what_they_claim() -> None:
    """The generator really makes shared uses, broadcasting and mixed dtypes (a fuzz test
    that silently stopped covering them would still pass)."""
    seen: dict[str, bool] = {"shared": False, "broadcast": False, "mixed": False}

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(programs())
    def look(program: Program) -> None:
        operands = [i for op, i, j, _ in program.steps for i in ((i, j) if op in BINARY
                                                                  else (i,))]
        seen["shared"] |= len(operands) > len(set(operands))
        shapes = {leaf.shape for leaf in program.leaves[:-1]}
        seen["broadcast"] |= len(shapes) > 1
        seen["mixed"] |= len(set(program.dtypes)) > 1

    look()
    assert all(seen.values()), seen


@pytest.mark.xfail(strict=True, reason="known difference: torch promotes a 0-d tensor like a "
                   "number (float32 stays float32); tinygrad_rnn follows NumPy (float64)")
def test_zero_dim_tensor_promotion_as_torch() -> None:
    a = tg.Tensor(np.ones(2, np.float32))
    b = tg.Tensor(np.float64(2.0))
    assert (a * b).dtype == np.float32


pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
