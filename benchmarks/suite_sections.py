"""The benchmark sections 1-4 (run by ``suite.py``, reported by ``suite_report.py``):

1. ``bench_models``: forward + backward over a whole sequence, per model, size and dtype;
2. ``bench_chain``: per-op overhead, a chain of small elementwise ops;
3. ``bench_memory``: peak memory of one LSTM forward + backward (tracemalloc);
4. ``bench_scaling``: time per step at a short and a very long sequence.

Each measures every implementation of ``impls.py`` the way ``suite_timing.py`` describes.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import impls
import numpy as np
import numpy_bptt as nb
from suite_timing import Timing, calls_for, compare, fmt, fmt_ms, progress, round_robin, settle

if TYPE_CHECKING:  # annotations only: suite.py imports this module
    from suite import Config

# (batch, input, hidden, steps)
SIZES = {"small": (1, 16, 32, 25), "medium": (32, 64, 256, 50), "large": (64, 256, 512, 100)}
DTYPES = {"float32": np.float32, "float64": np.float64}
LIMIT = "numpy fused"
CHAIN_OPS = 1000
MEMORY_STEPS = (50, 500)
SCALING_STEPS = (100, 10_000)


# ---- section 1: full-sequence forward + backward ------------------------------------------

@dataclass
class ModelRow:
    model: str
    size: str
    dtype: str
    timings: dict[str, Timing]


def bench_models(cfg: Config, unavailable: dict[str, str]) -> list[ModelRow]:
    rows = []
    settings = [(s, d, m) for s in cfg.sizes for d in cfg.dtypes for m in cfg.models]
    for k, (size, dtype_name, model) in enumerate(settings, 1):
        label = f"[timing {k}/{len(settings)}] {model} {size} {dtype_name}"
        batch, inp, hidden, steps = SIZES[size]
        dtype = DTYPES[dtype_name]
        params = nb.init_params(model, inp, hidden, dtype)
        x, G = nb.make_inputs(steps, batch, inp, hidden, dtype)
        timings = {name: Timing() for name in impls.MODEL_IMPLS}
        fns: dict[str, Callable[[], Any]] = {}
        first: dict[str, float] = {}
        reference = None
        for name, setup in impls.MODEL_IMPLS.items():
            try:
                fn = setup(model, x, params, G)
                settle(0)
                start = time.perf_counter()
                result = fn()
                first[name] = time.perf_counter() - start
            except impls.Unavailable as exc:
                timings[name].note = "not available"
                unavailable.setdefault(name, str(exc))
                continue
            except Exception as exc:
                timings[name].note = f"error: {type(exc).__name__}: {exc}"
                progress(f"{label} {name}: {timings[name].note}")
                continue
            if reference is None:  # the limit comes first
                reference = result
            timings[name].check = compare(result, reference, dtype)
            fns[name] = fn
            progress(f"{label} warm-up {name}: {fmt_ms(first[name])} ms"
                     + (f"  GRADIENT CHECK FAILED: {timings[name].check}"
                        if timings[name].check else ""))
        round_robin(fns, first, cfg, label, timings)
        rows.append(ModelRow(model, size, dtype_name, timings))
    return rows


# ---- section 2: per-op overhead ---------------------------------------------------------

@dataclass
class ChainResult:
    forward: list[float] = field(default_factory=list)  # seconds per op
    backward: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    note: str = ""
    has_backward: bool = True

    def median(self, which: str) -> float | None:
        values = getattr(self, which)
        return statistics.median(values) if values else None


def bench_chain(cfg: Config, unavailable: dict[str, str]) -> dict[str, ChainResult]:
    x0 = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    results = {name: ChainResult() for name in impls.CHAIN_IMPLS}
    chains = {}
    number = {}
    for name, setup in impls.CHAIN_IMPLS.items():
        try:
            forward, backward = setup(x0, CHAIN_OPS)
            settle(0)
            start = time.perf_counter()
            out = forward()
            if backward is not None:
                backward(out)
            number[name] = calls_for(time.perf_counter() - start, cfg.min_time)
        except impls.Unavailable as exc:
            results[name].note = "not available"
            unavailable.setdefault(name, str(exc))
            continue
        except Exception as exc:
            results[name].note = f"error: {type(exc).__name__}: {exc}"
            continue
        chains[name] = (forward, backward)
        results[name].has_backward = backward is not None
    names = list(chains)
    for rep in range(cfg.reps):
        shift = rep % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            forward, backward = chains[name]
            settle(cfg.pause)
            fwd = bwd = 0.0
            for _ in range(number[name]):
                t0 = time.perf_counter()
                out = forward()
                t1 = time.perf_counter()
                if backward is not None:
                    backward(out)
                t2 = time.perf_counter()
                fwd += t1 - t0
                bwd += t2 - t1
                del out
            per = number[name] * CHAIN_OPS
            r = results[name]
            r.forward.append(fwd / per)
            r.backward.append(bwd / per)
            r.total.append((fwd + bwd) / per)
            progress(f"[per-op] rep {rep + 1}/{cfg.reps} {name}: "
                     f"{fmt(r.total[-1] * 1e6)} µs/op")
    return results


# ---- section 3: memory ------------------------------------------------------------------

def peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak of the memory allocated through Python and NumPy while ``fn`` runs (inputs and
    the model already exist), measured with tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak


@dataclass
class MemoryResult:
    peaks: dict[int, int] = field(default_factory=dict)  # steps -> bytes
    note: str = ""


LEAN = "tinygrad_rnn (lean graph: the default, grads dropped)"
LEAN_SUM = "tinygrad_rnn (lean graph, grads dropped, loss as (out * G).sum())"


def bench_memory(cfg: Config, unavailable: dict[str, str]) -> dict[str, MemoryResult]:
    """LSTM, medium batch/input/hidden, float32, T = 50 and 500."""
    batch, inp, hidden, _ = SIZES["medium"]
    params = nb.init_params("lstm", inp, hidden, np.float32)
    variants: dict[str, Callable[..., impls.Run]] = {
        "numpy fused": impls.setup_numpy(True),
        "numpy per-step": impls.setup_numpy(False),
        "tinygrad_rnn (full graph, grads dropped)": lambda *a: impls.setup_tinygrad(
            *a, full=True),
        LEAN: impls.setup_tinygrad,
        LEAN_SUM: lambda *a: impls.setup_tinygrad(*a, dot_loss=False),
    }
    if not cfg.quick:  # for information: the default backward(), which keeps h_t's .grad
        variants["tinygrad_rnn (plain backward())"] = lambda *a: impls.setup_tinygrad(
            *a, backward=lambda loss: loss.backward())
    results = {name: MemoryResult() for name in variants}
    for steps in (5,) + MEMORY_STEPS:  # T = 5: an untraced warm-up
        x, G = nb.make_inputs(steps, batch, inp, hidden, np.float32)
        for name, setup in variants.items():
            r = results[name]
            if r.note:
                continue
            try:
                fn = setup("lstm", x, params, G)
                if steps == 5:
                    fn()
                    continue
                r.peaks[steps] = peak_bytes(fn)
            except impls.Unavailable as exc:
                r.note = "not available"
                unavailable.setdefault("tinygrad_rnn", str(exc))
                continue
            except Exception as exc:
                r.note = f"error: {type(exc).__name__}: {exc}"
                continue
            finally:
                fn = None  # free the model and its inputs before the next one
            progress(f"[memory] LSTM T={steps} {name}: {r.peaks[steps] / 2**20:.1f} MiB")
    probe = results[LEAN]
    if probe.peaks and not has_keep_grads():
        probe.note = "the engine has no keep_grads keyword: plain backward()"
    return results


def has_keep_grads() -> bool:
    try:
        import inspect

        import tinygrad_rnn

        return "keep_grads" in inspect.signature(tinygrad_rnn.Tensor.backward).parameters
    except Exception:
        return False


# ---- section 4: scaling with sequence length --------------------------------------------

def bench_scaling(cfg: Config, unavailable: dict[str, str]) -> dict[tuple[str, int], Timing]:
    """Elman RNN, batch 1, input 16, hidden 32, float32, T = 100 and 10,000."""
    batch, inp, hidden = 1, 16, 32
    params = nb.init_params("rnn", inp, hidden, np.float32)
    timings: dict[tuple[str, int], Timing] = {}
    fns: dict[str, Callable[[], Any]] = {}
    first: dict[str, float] = {}
    keys = {}
    for name, setup in (("tinygrad_rnn", impls.setup_tinygrad),
                        ("numpy per-step", impls.setup_numpy(False))):
        for steps in SCALING_STEPS:
            key = f"{name} T={steps}"
            keys[key] = (name, steps)
            timing = timings[name, steps] = Timing()
            x, G = nb.make_inputs(steps, batch, inp, hidden, np.float32)
            try:
                fn = setup("rnn", x, params, G)
                settle(0)
                start = time.perf_counter()
                fn()
                first[key] = time.perf_counter() - start
            except impls.Unavailable as exc:
                timing.note = "not available"
                unavailable.setdefault(name, str(exc))
                continue
            except Exception as exc:
                timing.note = f"error: {type(exc).__name__}: {exc}"
                continue
            fns[key] = fn
            progress(f"[scaling] warm-up {key}: {fmt_ms(first[key])} ms")
    by_key = {key: timings[keys[key]] for key in keys}
    round_robin(fns, first, cfg, "[scaling]", by_key)
    return timings
