"""The benchmark sections, the timing method and the Markdown report (run via ``run.py``).

Method, for a small, noisy, shared machine:

* every implementation is set up outside the timed region, then called once untimed (a
  warm-up that also checks its loss and gradients against the fused-NumPy limit and sets
  how many calls one measurement averages over: enough for ``min_time`` seconds);
* the implementations of one setting are then measured round-robin, ``reps`` times, the
  order rotated every repetition, each measurement preceded by ``gc.collect()`` and a short
  sleep (``pause``) so that one implementation's garbage and thermal/turbo state is not
  billed to the next;
* the reported time is the median over repetitions, and every ratio is taken against the
  fused-NumPy limit measured in the same setting of the same run, so a machine that is
  slow today is slow for both.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import impls
import loop
import loop_report
import numpy as np
import numpy_bptt as nb

# (batch, input, hidden, steps)
SIZES = {"small": (1, 16, 32, 25), "medium": (32, 64, 256, 50), "large": (64, 256, 512, 100)}
DTYPES = {"float32": np.float32, "float64": np.float64}
LIMIT = "numpy fused"
CHAIN_OPS = 1000
MEMORY_STEPS = (50, 500)
SCALING_STEPS = (100, 10_000)
SECTIONS = ("timing", "perop", "memory", "scaling") + loop.SECTIONS


@dataclass
class Config:
    quick: bool = False
    reps: int = 5
    pause: float = 0.15
    min_time: float = 0.1
    sizes: tuple[str, ...] = tuple(SIZES)
    dtypes: tuple[str, ...] = tuple(DTYPES)
    models: tuple[str, ...] = ("lstm", "gru", "rnn")
    sections: tuple[str, ...] = SECTIONS
    threads: int = 1
    command: str = ""
    child_env: dict[str, str] | None = None  # the training-loop children's environment

    @classmethod
    def make(cls, quick: bool, **overrides: Any) -> Config:
        if quick:
            base = cls(quick=True, reps=3, pause=0.1, min_time=0.03,
                       sizes=("small", "medium"), dtypes=("float32",),
                       sections=tuple(s for s in SECTIONS if s != "examples"))
        else:
            base = cls()
        for key, value in overrides.items():
            if value is not None:
                setattr(base, key, value)
        return base


# ---- progress ---------------------------------------------------------------------------

_START = time.perf_counter()


def progress(message: str) -> None:
    print(f"[{time.perf_counter() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


# ---- timing -----------------------------------------------------------------------------

@dataclass
class Timing:
    """One implementation's measurements in one setting (seconds per call)."""

    times: list[float] = field(default_factory=list)
    note: str = ""  # "not available", "error: ...": then there are no times
    check: str = ""  # the gradient check against the limit: "" = passed

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None

    @property
    def spread(self) -> float | None:
        """(max − min) / median over the repetitions."""
        if len(self.times) < 2:
            return None
        return (max(self.times) - min(self.times)) / statistics.median(self.times)


def _settle(pause: float) -> None:
    gc.collect()
    time.sleep(pause)


def _calls_for(seconds: float, min_time: float) -> int:
    """How many calls one measurement averages over, from one call's duration."""
    return max(1, min(10_000, math.ceil(min_time / max(seconds, 1e-9))))


def round_robin(fns: dict[str, Callable[[], Any]], first: dict[str, float], cfg: Config,
                label: str, timings: dict[str, Timing]) -> None:
    """Measure every function ``cfg.reps`` times, round-robin, the order rotated each
    repetition; ``first`` holds the duration of each one's warm-up call."""
    names = list(fns)
    number = {n: _calls_for(first[n], cfg.min_time) for n in names}
    for rep in range(cfg.reps):
        shift = rep % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            if timings[name].note:
                continue
            _settle(cfg.pause)
            fn = fns[name]
            try:
                start = time.perf_counter()
                for _ in range(number[name]):
                    fn()
                elapsed = (time.perf_counter() - start) / number[name]
            except Exception as exc:  # keep going with the others
                timings[name].note = f"error: {type(exc).__name__}: {exc}"
                continue
            timings[name].times.append(elapsed)
            progress(f"{label} rep {rep + 1}/{cfg.reps} {name}: {_ms(elapsed)} ms"
                     + (f" (mean of {number[name]})" if number[name] > 1 else ""))


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else _fmt(seconds * 1e3)


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    return f"{value:.{decimals}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _x(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}×"


# ---- gradient check ---------------------------------------------------------------------

def compare(result: tuple[float, dict[str, np.ndarray]],
            reference: tuple[float, dict[str, np.ndarray]], dtype: Any) -> str:
    """"" when loss and gradients agree with the reference (normwise relative error per
    parameter), else a short description of the worst disagreement."""
    tol = 2e-3 if np.dtype(dtype) == np.float32 else 1e-8
    loss, grads = result
    ref_loss, ref_grads = reference
    worst = abs(loss - ref_loss) / max(abs(ref_loss), 1e-30)
    where = "loss"
    for name in nb.PARAM_NAMES:
        g = grads.get(name)
        if g is None:
            return f"no gradient for {name}"
        g = np.asarray(g, dtype=np.float64)
        r = np.asarray(ref_grads[name], dtype=np.float64)
        if g.shape != r.shape:
            return f"{name} gradient has shape {g.shape}, expected {r.shape}"
        err = float(np.max(np.abs(g - r)) / max(float(np.max(np.abs(r))), 1e-30))
        if err > worst:
            worst, where = err, name
    return "" if worst <= tol else f"{where} off by {worst:.1e} (relative)"


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
                _settle(0)
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
            progress(f"{label} warm-up {name}: {_ms(first[name])} ms"
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
            _settle(0)
            start = time.perf_counter()
            out = forward()
            if backward is not None:
                backward(out)
            number[name] = _calls_for(time.perf_counter() - start, cfg.min_time)
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
            _settle(cfg.pause)
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
                     f"{_fmt(r.total[-1] * 1e6)} µs/op")
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


LEAN = "tinygrad_rnn (lean graph, grads dropped)"
LEAN_SUM = "tinygrad_rnn (lean graph, grads dropped, loss as (out * G).sum())"


def bench_memory(cfg: Config, unavailable: dict[str, str]) -> dict[str, MemoryResult]:
    """LSTM, medium batch/input/hidden, float32, T = 50 and 500."""
    batch, inp, hidden, _ = SIZES["medium"]
    params = nb.init_params("lstm", inp, hidden, np.float32)
    variants: dict[str, Callable[..., impls.Run]] = {
        "numpy fused": impls.setup_numpy(True),
        "numpy per-step": impls.setup_numpy(False),
        "tinygrad_rnn (grads dropped)": impls.setup_tinygrad,
        LEAN: lambda *a: impls.setup_tinygrad(*a, lean=True),
        LEAN_SUM: lambda *a: impls.setup_tinygrad(*a, lean=True, dot_loss=False),
    }
    if not cfg.quick:  # for information: what keeping every intermediate .grad costs
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
    probe = results["tinygrad_rnn (grads dropped)"]
    if probe.peaks and not _has_keep_grads():
        probe.note = "the engine has no keep_grads keyword: plain backward()"
    return results


def _has_keep_grads() -> bool:
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
                _settle(0)
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
            progress(f"[scaling] warm-up {key}: {_ms(first[key])} ms")
    by_key = {key: timings[keys[key]] for key in keys}
    round_robin(fns, first, cfg, "[scaling]", by_key)
    return timings


# ---- environment ------------------------------------------------------------------------

def environment(cfg: Config) -> list[tuple[str, str]]:
    env: list[tuple[str, str]] = []
    env.append(("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")))
    env.append(("command", cfg.command))
    env.append(("Python", f"{platform.python_version()} ({platform.python_implementation()})"))
    env.append(("platform", platform.platform()))
    env.append(("CPU", _cpu_model()))
    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    env.append(("cores", f"{cores} (usable by this process: {usable})"))
    try:
        env.append(("load average at start (1, 5, 15 min)",
                    ", ".join(f"{v:.2f}" for v in os.getloadavg())))
    except OSError:
        pass
    env.append(("numpy", np.__version__))
    env.append(("BLAS", _blas_info()))
    env.append(("threads requested (--threads)",
                str(cfg.threads) if cfg.threads else "library defaults"))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "OPENBLAS_CORETYPE"):
        env.append((var, os.environ.get(var, "(unset)")))
    for name, version in _versions().items():
        env.append((name, version))
    return env


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info

        pools = threadpool_info()
        return "; ".join(
            f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, "
            f"{p.get('num_threads')} threads, {Path(p.get('filepath', '')).name})"
            for p in pools) or "threadpoolctl found no BLAS/OpenMP pool"
    except ImportError:
        pass
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        text = f"{blas.get('name', '?')} {blas.get('version', '?')}"
        if blas.get("openblas configuration"):
            text += f" [{blas['openblas configuration']}]"
        return text + " (numpy.show_config; pip install threadpoolctl for thread counts)"
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"


def _versions() -> dict[str, str]:
    out = {}
    try:
        import torch

        out["torch"] = f"{torch.__version__} ({torch.get_num_threads()} intra-op threads)"
    except Exception:
        out["torch"] = "not installed"
    try:
        from importlib.metadata import version

        out["autograd"] = version("autograd")
    except Exception:
        out["autograd"] = "not installed"
    try:
        import tinygrad_rnn

        out["tinygrad_rnn"] = getattr(tinygrad_rnn, "__version__", "?")
    except Exception as exc:
        out["tinygrad_rnn"] = f"not importable ({type(exc).__name__})"
    try:
        root = Path(__file__).resolve().parents[1]
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if commit:
            out["git commit"] = commit + (" (working tree has uncommitted changes)"
                                          if dirty else "")
    except Exception:
        pass
    return out


# ---- targets ----------------------------------------------------------------------------

@dataclass
class Target:
    what: str
    goal: str
    measured: str
    status: str  # "met" | "missed" | "not measured"


def _status(value: float | None, ok: bool | None, why: str = "") -> tuple[str, str]:
    if value is None or ok is None:
        return "n/a", "not measured" + (f" ({why})" if why else "")
    return "", "met" if ok else "missed"


def targets(cfg: Config, models: list[ModelRow], chain: dict[str, ChainResult] | None,
            memory: dict[str, MemoryResult] | None,
            scaling: dict[tuple[str, int], Timing] | None) -> list[Target]:
    out = []
    found = {(r.model, r.size, r.dtype): r for r in models}
    goals = {"medium": 1.3, "large": 1.15}
    for size in ("medium", "large", "small"):
        for model in ("lstm", "gru", "rnn"):
            for dtype in DTYPES:
                row = found.get((model, size, dtype))
                why = "" if row else "not in this run's sizes/dtypes/models"
                name = f"{model.upper()} {size} {dtype}"
                if size == "small":
                    tg = row.timings["tinygrad_rnn"].median if row else None
                    te = row.timings["torch eager"].median if row else None
                    ok = None if tg is None or te is None else tg < te
                    measured = (f"tinygrad {_ms(tg)} ms vs torch eager {_ms(te)} ms"
                                if ok is not None else "n/a")
                    if row and ok is None:
                        why = "tinygrad_rnn or torch eager not available"
                    out.append(Target(f"{name}: tinygrad_rnn faster than torch eager",
                                      "tinygrad < torch eager", measured,
                                      _status(tg, ok, why)[1]))
                else:
                    r = _ratio(row.timings["tinygrad_rnn"].median,
                               row.timings[LIMIT].median) if row else None
                    if row and r is None:
                        why = "tinygrad_rnn not available"
                    out.append(Target(f"{name}: tinygrad_rnn / numpy fused",
                                      f"≤ {goals[size]}×", _x(r),
                                      _status(r, None if r is None else r <= goals[size],
                                              why)[1]))
    # per-op
    tg = chain["tinygrad_rnn"].median("total") if chain else None
    te = chain["torch eager"].median("total") if chain else None
    why = "" if chain else "section not run"
    out.append(Target("per-op overhead: tinygrad_rnn forward + backward", "≤ 3 µs/op",
                      f"{_fmt(tg * 1e6)} µs/op" if tg else "n/a",
                      _status(tg, None if tg is None else tg * 1e6 <= 3.0,
                              why or "tinygrad_rnn not available")[1]))
    out.append(Target("per-op overhead: tinygrad_rnn below torch eager", "tinygrad < torch",
                      f"{_fmt(tg * 1e6)} vs {_fmt(te * 1e6)} µs/op" if tg and te else "n/a",
                      _status(tg, None if tg is None or te is None else tg < te,
                              why or "tinygrad_rnn or torch not available")[1]))
    # memory
    steps = MEMORY_STEPS[-1]
    tg_peak = np_peak = None
    if memory:
        tg_peak = memory[LEAN].peaks.get(steps)
        np_peak = memory["numpy per-step"].peaks.get(steps)
    r = _ratio(tg_peak, np_peak)
    out.append(Target(f"memory: LSTM medium T={steps}, {LEAN} / numpy per-step", "≤ 1.3×",
                      _x(r), _status(r, None if r is None else r <= 1.3,
                                     "section not run" if not memory else
                                     "tinygrad_rnn not available")[1]))
    # scaling
    short, long_ = SCALING_STEPS
    a = scaling.get(("tinygrad_rnn", short)) if scaling else None
    b = scaling.get(("tinygrad_rnn", long_)) if scaling else None
    per_a = a.median / short if a and a.median else None
    per_b = b.median / long_ if b and b.median else None
    r = _ratio(per_b, per_a)
    out.append(Target(f"scaling: tinygrad_rnn RNN time/step at T={long_:,} vs T={short}",
                      "≤ 1.2×", _x(r),
                      _status(r, None if r is None else r <= 1.2,
                              "section not run" if not scaling else
                              "tinygrad_rnn not available")[1]))
    return out


# ---- report -----------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]], labels: int = 1) -> str:
    """A Markdown table: the first ``labels`` columns left-aligned, the rest (numbers)
    right-aligned."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < labels else "---:" for i in range(len(header)))
             + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(t: Timing) -> str:
    if t.note:
        return t.note if t.note == "not available" else "error¹"
    return _ms(t.median) + (" ✗²" if t.check else "")


def report(cfg: Config, env: list[tuple[str, str]], models: list[ModelRow] | None,
           chain: dict[str, ChainResult] | None, memory: dict[str, MemoryResult] | None,
           scaling: dict[tuple[str, int], Timing] | None, unavailable: dict[str, str],
           elapsed: float, loop_results: loop.LoopResults | None = None) -> str:
    md = ["# Benchmark results", ""]
    md.append(f"Mode: **{'quick' if cfg.quick else 'full'}** — {cfg.reps} "
              f"repetition{'s' if cfg.reps != 1 else ''}, "
              f"median reported; {cfg.pause} s pause and `gc.collect()` before each "
              f"measurement; each measurement averages enough calls to last ≥ "
              f"{cfg.min_time} s. Total run time {elapsed:.0f} s. See "
              "[README.md](README.md) for what each number means.")
    md.append("")
    if unavailable:
        md.append("Not available in this run:")
        md.append("")
        for name, why in unavailable.items():
            md.append(f"- **{name}**: {why}")
        md.append("")

    md += ["## Targets", ""]
    md.append(_table(["target", "goal", "measured", "status"],
                     [[t.what, t.goal, t.measured, t.status]
                      for t in targets(cfg, models or [], chain, memory, scaling)],
                     labels=4))
    md.append("")
    if loop_results is not None:
        md += loop_report.targets_markdown(loop_results, cfg.quick)

    if models is not None:
        names = list(impls.MODEL_IMPLS)
        others = [n for n in names if n != LIMIT]
        md += ["## 1. Forward + backward over a whole sequence", ""]
        md.append("Loss Σ_t ⟨h_t, G_t⟩ and the gradients of all four weights, from zero "
                  "state. Times in **ms** (median); then each implementation's time divided "
                  f"by the `{LIMIT}` time of the same row. Sizes as (batch, input, hidden, "
                  "T): " + ", ".join(f"{k} {v}" for k, v in SIZES.items()) + ". "
                  "*spread* = the largest (max − min) / median over the repetitions of "
                  "any implementation in the row.")
        md.append("")
        header = ["model", "size", "dtype"] + [f"{n} (ms)" for n in names] \
            + [f"{n} ×" for n in others] + ["spread"]
        rows = []
        errors = []
        for r in models:
            limit = r.timings[LIMIT].median
            spreads = [t.spread for t in r.timings.values() if t.spread is not None]
            rows.append([r.model.upper(), r.size, r.dtype]
                        + [_cell(r.timings[n]) for n in names]
                        + [_x(_ratio(r.timings[n].median, limit)) for n in others]
                        + [f"{max(spreads) * 100:.0f}%" if spreads else "n/a"])
            for n, t in r.timings.items():
                if t.note.startswith("error"):
                    errors.append(f"¹ {r.model} {r.size} {r.dtype} {n}: {t.note}")
                if t.check:
                    errors.append(f"² {r.model} {r.size} {r.dtype} {n}: gradient check "
                                  f"against numpy fused failed: {t.check}")
        md.append(_table(header, rows, labels=3))
        md.append("")
        md += [e + "  " for e in errors] + ([""] if errors else [])
        md.append("Every implementation's loss and gradients were checked against "
                  "`numpy fused` in the warm-up call (normwise relative error ≤ 2e-3 in "
                  "float32, ≤ 1e-8 in float64); ✗ marks a failure.")
        md.append("")

    if chain is not None:
        md += ["## 2. Per-op overhead", ""]
        md.append(f"A chain of {CHAIN_OPS:,} elementwise ops on a (1, 16) float32 array, "
                  "cycling y·1.0001, y + 0.1, tanh(y), then sum and backward. "
                  "**µs per op** (median); the ratio is to torch eager's total.")
        md.append("")
        te = chain["torch eager"].median("total") if "torch eager" in chain else None
        rows = []
        for name, r in chain.items():
            if r.note:
                rows.append([name, r.note, "", "", ""])
                continue
            tot = r.median("total")
            fwd, bwd = r.median("forward"), r.median("backward")
            rows.append([name, _fmt(fwd * 1e6) if fwd else "n/a",
                         _fmt(bwd * 1e6) if r.has_backward and bwd else "—",
                         _fmt(tot * 1e6) if tot else "n/a", _x(_ratio(tot, te))])
        md.append(_table(["implementation", "forward µs/op", "backward µs/op",
                          "total µs/op", "× torch eager"], rows))
        md.append("")

    if memory is not None:
        md += ["## 3. Memory", ""]
        b, i, h, _ = SIZES["medium"]
        md.append(f"Peak memory allocated (tracemalloc: Python objects and NumPy arrays) "
                  f"during one LSTM forward + backward, batch {b}, input {i}, hidden {h}, "
                  "float32. The inputs, weights and module exist before tracing starts; "
                  "the peak includes the returned gradients. **MiB**; the ratio is to "
                  "`numpy per-step` at the same T. *lean graph*: inside "
                  "`tg.lean_graph()`, which frees each step's internal values. The loss "
                  "is one dot product, `out.reshape(-1) @ G.reshape(-1)` (numpy: `vdot`), "
                  "except in the row that writes it `(out * G).sum()`: that expression "
                  "keeps a (T, B, H) temporary in the graph.")
        md.append("")
        base = memory.get("numpy per-step")
        rows = []
        for name, r in memory.items():
            if r.note and not r.peaks:
                rows.append([name] + [r.note] + [""] * (2 * len(MEMORY_STEPS) - 1))
                continue
            row = [name + (f" — {r.note}" if r.note else "")]
            row += [f"{r.peaks[s] / 2**20:.1f}" if s in r.peaks else "n/a"
                    for s in MEMORY_STEPS]
            row += [_x(_ratio(r.peaks.get(s), base.peaks.get(s) if base else None))
                    for s in MEMORY_STEPS]
            rows.append(row)
        md.append(_table(["implementation"] + [f"T={s} (MiB)" for s in MEMORY_STEPS]
                         + [f"T={s} ×" for s in MEMORY_STEPS], rows))
        md.append("")

    if scaling is not None:
        md += ["## 4. Scaling with sequence length", ""]
        md.append("Elman RNN (tanh), batch 1, input 16, hidden 32, float32, forward + "
                  "backward. Time per step should not grow with T (the engine is "
                  "iterative and linear in the graph size).")
        md.append("")
        rows = []
        for name in ("tinygrad_rnn", "numpy per-step"):
            cells = [scaling.get((name, s)) for s in SCALING_STEPS]
            if any(c is None or c.note for c in cells):
                notes = {c.note for c in cells if c is not None and c.note}
                rows.append([name] + [", ".join(sorted(notes)) or "n/a"] + [""] * 4)
                continue
            per = [c.median / s for c, s in zip(cells, SCALING_STEPS, strict=True)]
            rows.append([name] + [_ms(c.median) for c in cells]
                        + [_fmt(p * 1e6) for p in per] + [_x(per[1] / per[0])])
        short, long_ = SCALING_STEPS
        md.append(_table(["implementation", f"T={short} (ms)", f"T={long_:,} (ms)",
                          f"T={short} µs/step", f"T={long_:,} µs/step",
                          "per-step ratio"], rows))
        md.append("")

    if loop_results is not None:
        md += loop_report.markdown(loop_results, cfg.reps)

    md += ["## Environment", ""]
    md.append(_table(["", ""], [[k, v.replace("|", "\\|")] for k, v in env], labels=2))
    md.append("")
    return "\n".join(md)


# ---- main -------------------------------------------------------------------------------

def main(cfg: Config, out: Path) -> int:
    if cfg.threads:
        try:
            import torch

            torch.set_num_threads(cfg.threads)
        except ImportError:
            pass
    env = environment(cfg)
    progress(f"mode {'quick' if cfg.quick else 'full'}: sections {', '.join(cfg.sections)}; "
             f"sizes {', '.join(cfg.sizes)}; dtypes {', '.join(cfg.dtypes)}; "
             f"{cfg.reps} reps; threads {cfg.threads or 'default'}")
    unavailable: dict[str, str] = {}
    start = time.perf_counter()
    models = bench_models(cfg, unavailable) if "timing" in cfg.sections else None
    chain = bench_chain(cfg, unavailable) if "perop" in cfg.sections else None
    memory = bench_memory(cfg, unavailable) if "memory" in cfg.sections else None
    scaling = bench_scaling(cfg, unavailable) if "scaling" in cfg.sections else None
    loop_results = None
    if set(loop.SECTIONS) & set(cfg.sections):
        loop_results = loop.run(cfg.quick, cfg.reps, cfg.sections, cfg.child_env,
                                cfg.sizes, cfg.models)
    elapsed = time.perf_counter() - start
    try:
        env.append(("load average at end (1, 5, 15 min)",
                    ", ".join(f"{v:.2f}" for v in os.getloadavg())))
    except OSError:
        pass
    text = report(cfg, env, models, chain, memory, scaling, unavailable, elapsed,
                  loop_results)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")  # then one rename: never half a file
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, out)
    progress(f"wrote {out} ({elapsed:.0f} s)")
    return 0
