"""One measurement of the training-loop protocol, in a fresh process (run by ``loop.py``).

    python benchmarks/loop_child.py '{"kind": "model", "impl": "tinygrad_rnn", ...}'

prints one line ``RESULT {json}``. The kinds:

* ``model`` -- a loop of forward + backward over one sequence, as a user trains: a
  recurrent layer, a Linear head on every step's output and the mean squared error
  against a target, then the default ``backward()``. ``warmup`` untimed iterations, then
  ``iters`` timed ones; returns the seconds of each timed iteration, and the process's CPU
  time (user, system) and page faults over the timed loop (``resource.getrusage`` deltas),
  the loss and, per parameter, the sum of |gradient| (the parent compares them).
* ``perop`` -- the same loop over a chain of 1,000 elementwise ops on a (1, 16) array.
* ``memory`` -- one forward + backward in a fresh process: the peak RSS growth of the very
  first iteration (VmHWM after − VmRSS before, /proc/self), then, after it, the
  tracemalloc peak of a second iteration (every NumPy array and Python object allocated).

Nothing here sets thread counts or allocator options: the libraries' defaults.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for _path in (str(HERE), str(HERE.parent)):  # this folder's modules, the working tree's package
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numpy as np  # noqa: E402
import numpy_bptt as nb  # noqa: E402
import numpy_head as nh  # noqa: E402

Step = Callable[[], tuple[float, dict[str, Any]]]
CHAIN_OPS = 1000


def _data(model: str, size: list[int]):
    batch, inp, hidden, steps = size
    params = nb.init_params(model, inp, hidden, np.float32)
    x, _ = nb.make_inputs(steps, batch, inp, hidden, np.float32)
    head = nh.init_head(hidden, inp)  # the head predicts an input-sized frame per step
    y = nh.make_targets(steps, batch, inp)
    return x, params, head, y


def numpy_step(model: str, size: list[int], fused: bool) -> Step:
    x, params, head, y = _data(model, size)
    return lambda: nh.bptt_head(model, x, params, head, y, fused=fused)


def tinygrad_step(model: str, size: list[int], full: bool = False,
                  keep_grads: bool = True) -> Step:
    import tinygrad_rnn as tg
    import tinygrad_rnn.functional as F
    import tinygrad_rnn.nn as tnn

    x, params, head, y = _data(model, size)
    cls = {"rnn": tnn.RNN, "gru": tnn.GRU, "lstm": tnn.LSTM}[model]
    layer = cls(x.shape[2], params["weight_hh"].shape[1])
    linear = tnn.Linear(params["weight_hh"].shape[1], y.shape[2])
    for name in nb.PARAM_NAMES:
        getattr(layer, f"{name}_l0").data = params[name].copy()
    linear.weight.data, linear.bias.data = head["head_weight"].copy(), head["head_bias"].copy()
    named = {n: getattr(layer, f"{n}_l0") for n in nb.PARAM_NAMES}
    named.update(head_weight=linear.weight, head_bias=linear.bias)
    xt, yt = tg.Tensor(x), tg.Tensor(y)
    mode: Any = tg.full_graph if full else nullcontext  # the default graph is lean

    def step() -> tuple[float, dict[str, Any]]:
        layer.zero_grad()
        linear.zero_grad()
        with mode():
            out, _ = layer(xt)
            loss = F.mse_loss(linear(out), yt)
            if keep_grads:
                loss.backward()
            else:
                loss.backward(keep_grads=False)
        return float(loss.data), {n: p.grad for n, p in named.items()}

    return step


def torch_step(model: str, size: list[int]) -> Step:
    import torch

    x, params, head, y = _data(model, size)
    inp, hidden = x.shape[2], params["weight_hh"].shape[1]
    cell = {"rnn": torch.nn.RNNCell, "gru": torch.nn.GRUCell,
            "lstm": torch.nn.LSTMCell}[model](inp, hidden)
    linear = torch.nn.Linear(hidden, y.shape[2])
    with torch.no_grad():
        for name in nb.PARAM_NAMES:
            getattr(cell, name).copy_(torch.from_numpy(params[name]))
        linear.weight.copy_(torch.from_numpy(head["head_weight"]))
        linear.bias.copy_(torch.from_numpy(head["head_bias"]))
    named = {n: getattr(cell, n) for n in nb.PARAM_NAMES}
    named.update(head_weight=linear.weight, head_bias=linear.bias)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    mse = torch.nn.functional.mse_loss

    def step() -> tuple[float, dict[str, Any]]:
        cell.zero_grad()
        linear.zero_grad()
        h = torch.zeros(x.shape[1], hidden)
        state: Any = (h, h) if model == "lstm" else h
        outs = []
        for t in range(xt.shape[0]):
            state = cell(xt[t], state)
            outs.append(state[0] if model == "lstm" else state)
        loss = mse(linear(torch.stack(outs)), yt)
        loss.backward()
        return loss.item(), {n: p.grad for n, p in named.items()}

    return step


def model_step(spec: dict[str, Any]) -> Step:
    impl, model, size = spec["impl"], spec["model"], spec["size"]
    if impl in ("numpy fused", "numpy per-step"):
        return numpy_step(model, size, fused=impl == "numpy fused")
    if impl == "tinygrad_rnn":
        return tinygrad_step(model, size, full=spec.get("full", False),
                             keep_grads=spec.get("keep_grads", True))
    if impl == "torch eager":
        return torch_step(model, size)
    raise ValueError(f"loop_child: unknown implementation {impl!r}")


def chain_step(impl: str) -> Step:
    """forward + backward of a chain of 1,000 ops (y·1.0001, y + 0.1, tanh y) and its sum."""
    x0 = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    if impl == "tinygrad_rnn":
        import tinygrad_rnn as tg

        x: Any = tg.Tensor(x0, requires_grad=True)
    elif impl == "torch eager":
        import torch

        x = torch.tensor(x0, requires_grad=True)
    else:
        raise ValueError(f"loop_child: no per-op chain for {impl!r}")

    def step() -> tuple[float, dict[str, Any]]:
        x.grad = None
        y = x
        for k in range(CHAIN_OPS):
            j = k % 3
            y = y * 1.0001 if j == 0 else y + 0.1 if j == 1 else y.tanh()
        loss = y.sum()
        loss.backward()
        return float(loss.item()), {"x": x.grad}

    return step


# ---- measurement ----------------------------------------------------------------------

def _usage() -> resource.struct_rusage:
    return resource.getrusage(resource.RUSAGE_SELF)


def _summary(result: tuple[float, dict[str, Any]]) -> dict[str, Any]:
    loss, grads = result
    return {"loss": loss,
            "grad_abs_sums": {n: float(np.abs(np.asarray(g, dtype=np.float64)).sum())
                              for n, g in grads.items()}}


def timed_loop(step: Step, warmup: int, iters: int) -> dict[str, Any]:
    """``warmup`` untimed iterations, then ``iters`` timed ones (rusage around them)."""
    out: dict[str, Any] = {}
    for _ in range(warmup):
        out = _summary(step())
    times = []
    before = _usage()
    for _ in range(iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    after = _usage()
    out.update(times=times, iters=iters,
               user=after.ru_utime - before.ru_utime, sys=after.ru_stime - before.ru_stime,
               minflt=after.ru_minflt - before.ru_minflt,
               majflt=after.ru_majflt - before.ru_majflt)
    return out


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def memory(step: Step) -> dict[str, Any]:
    """RSS growth of the first iteration, then the tracemalloc peak of the second."""
    gc.collect()
    rss_growth = None
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before = _status_kib("VmRSS")
        summary = _summary(step())
        after = _status_kib("VmHWM")
        if before is not None and after is not None:
            rss_growth = (after - before) * 1024
    except OSError:
        summary = _summary(step())
    gc.collect()
    tracemalloc.start()
    try:
        result = step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    summary.update(rss_growth=rss_growth, tracemalloc_peak=peak)
    return summary


def run(spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec["kind"]
    if kind == "model":
        return timed_loop(model_step(spec), spec["warmup"], spec["iters"])
    if kind == "perop":
        return timed_loop(chain_step(spec["impl"]), spec["warmup"], spec["iters"])
    if kind == "memory":
        return memory(model_step(spec))
    raise ValueError(f"loop_child: unknown kind {kind!r} (model, perop, memory)")


if __name__ == "__main__":
    print("RESULT " + json.dumps(run(json.loads(sys.argv[1]))))
