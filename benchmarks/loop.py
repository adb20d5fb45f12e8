"""The training-loop protocol: every implementation timed the way users train.

Each measurement runs in its own fresh process (``loop_child.py``): one implementation, one
setting, a few warm-up iterations of forward + backward over one sequence, then N timed
ones. The loss is a Linear head on every step's output with the mean squared error, the
backward pass the default ``backward()``; nothing sets thread counts or allocator options
(the children get the environment ``run.py`` started with). The repetitions of a setting
are interleaved -- rep 1 of every implementation, then rep 2, the order rotated -- so a
burst of load from elsewhere hits all of them, and every ratio pairs processes of the same
repetition. See README.md, "The training-loop protocol".
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHILD = HERE / "loop_child.py"
LIMIT = "numpy fused"
IMPLS = ("numpy fused", "tinygrad_rnn", "torch eager")
SECTIONS = ("loop", "loop-perop", "loop-memory", "examples")

# model, size name, (batch, input, hidden, steps)
ROWS = (("lstm", "medium", (32, 64, 256, 50)), ("gru", "medium", (32, 64, 256, 50)),
        ("rnn", "medium", (32, 64, 256, 50)), ("lstm", "large", (64, 256, 512, 100)),
        ("lstm", "small", (1, 16, 32, 25)))
# (warm-up, timed) iterations per process
ITERS = {"small": (10, 100), "medium": (3, 10), "large": (2, 4), "perop": (5, 50)}
QUICK_ITERS = {"small": (5, 50), "medium": (2, 6), "large": (1, 3), "perop": (3, 25)}
LARGE_REPS = 3  # at most: a large LSTM process takes ~10 s
MEMORY_SIZE = (32, 64, 256, 500)  # LSTM medium at T = 500
MEMORY_IMPLS = {"numpy per-step": {}, "numpy fused": {},
                "tinygrad_rnn": {}, "tinygrad_rnn (full graph)": {"full": True},
                "tinygrad_rnn (keep_grads=False)": {"keep_grads": False}}
EXAMPLE_LIMIT = 20.0  # seconds, each example's --quick


def progress(message: str) -> None:
    print(f"[loop {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- children ----------------------------------------------------------------------------

def child(spec: dict[str, Any], env: dict[str, str] | None, timeout: float = 600) -> dict:
    """Run one measurement in a fresh process; its result, or {"error": ...}."""
    try:
        proc = subprocess.run([sys.executable, str(CHILD), json.dumps(spec)],
                              capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1][len("RESULT "):])


def _available(impl: str) -> bool:
    if impl != "torch eager":
        return True
    import importlib.util

    return importlib.util.find_spec("torch") is not None


# ---- results -----------------------------------------------------------------------------

@dataclass
class Runs:
    """One implementation in one setting: one result per process (repetition)."""

    results: list[dict] = field(default_factory=list)
    note: str = ""  # "not available" or the first error

    def add(self, result: dict) -> None:
        if "error" in result:
            self.note = self.note or "error: " + result["error"]
        else:
            self.results.append(result)

    def per_process(self, key: str = "median") -> list[float]:
        """Per-process values: the median seconds of an iteration, or a rusage field per
        iteration (``user``, ``sys``, ``cpu``, ``minflt``)."""
        out = []
        for r in self.results:
            if key == "median":
                out.append(statistics.median(r["times"]))
            elif key == "cpu":
                out.append((r["user"] + r["sys"]) / r["iters"])
            else:
                out.append(r[key] / r["iters"])
        return out

    def median(self, key: str = "median") -> float | None:
        values = self.per_process(key)
        return statistics.median(values) if values else None


def paired_ratios(a: Runs, b: Runs) -> list[float]:
    """a / b for the processes of the same repetition (same moment of the run)."""
    return [x / y for x, y in zip(a.per_process(), b.per_process(), strict=False) if y]


@dataclass
class LoopResults:
    rows: dict[tuple[str, str], dict[str, Runs]] = field(default_factory=dict)
    perop: dict[str, Runs] = field(default_factory=dict)
    memory: dict[str, dict] = field(default_factory=dict)  # impl -> child result
    examples: dict[str, dict] = field(default_factory=dict)  # name -> wall, cpu, rc
    elapsed: float = 0.0


def interleaved(specs: dict[str, dict], reps: int, env: dict[str, str] | None,
                label: str) -> dict[str, Runs]:
    """Run every spec ``reps`` times, one fresh process each, round-robin with the order
    rotated every repetition."""
    runs = {name: Runs() for name in specs}
    names = [n for n in specs if _available(specs[n]["impl"])]
    for n in specs:
        if n not in names:
            runs[n].note = "not available"
    for rep in range(reps):
        shift = rep % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            if runs[name].note:
                continue
            result = child(specs[name], env)
            runs[name].add(result)
            if "times" in result:
                progress(f"{label} rep {rep + 1}/{reps} {name}: "
                         f"{statistics.median(result['times']) * 1e3:.2f} ms/iter")
            else:
                progress(f"{label} rep {rep + 1}/{reps} {name}: {result.get('error')}")
    return runs


def run(quick: bool, reps: int, sections: tuple[str, ...], env: dict[str, str] | None,
        sizes: tuple[str, ...] = ("small", "medium", "large"),
        models: tuple[str, ...] = ("lstm", "gru", "rnn")) -> LoopResults:
    """The sections of the protocol that ``sections`` names; ``sizes`` and ``models``
    select rows of the timing section (--quick: the caller leaves out "large")."""
    iters = QUICK_ITERS if quick else ITERS
    out = LoopResults()
    start = time.perf_counter()
    if "loop" in sections:
        for model, size, dims in ROWS:
            if size not in sizes or model not in models:
                continue
            warmup, n = iters[size]
            specs = {impl: {"kind": "model", "impl": impl, "model": model, "size": dims,
                            "warmup": warmup, "iters": n} for impl in IMPLS}
            out.rows[model, size] = interleaved(
                specs, min(reps, LARGE_REPS) if size == "large" else reps, env,
                f"{model} {size}")
    if "loop-perop" in sections:
        warmup, n = iters["perop"]
        specs = {impl: {"kind": "perop", "impl": impl, "warmup": warmup, "iters": n}
                 for impl in ("tinygrad_rnn", "torch eager")}
        out.perop = interleaved(specs, reps, env, "per-op")
    if "loop-memory" in sections:
        for name, extra in MEMORY_IMPLS.items():
            impl = name.split(" (")[0]
            spec = {"kind": "memory", "impl": impl, "model": "lstm", "size": MEMORY_SIZE,
                    **extra}
            out.memory[name] = child(spec, env)
            progress(f"memory {name}: {out.memory[name]}")
    if "examples" in sections:
        out.examples = examples(env)
    out.elapsed = time.perf_counter() - start
    return out


def examples(env: dict[str, str] | None) -> dict[str, dict]:
    """Wall time and CPU time of every ``examples/*.py --quick``, one after the other."""
    results = {}
    child_env = dict(os.environ if env is None else env)
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), child_env.get("PYTHONPATH", "")) if p)
    child_env["MPLBACKEND"] = "Agg"
    for script in sorted((ROOT / "examples").glob("[0-9]*.py")):
        with tempfile.TemporaryDirectory() as tmp:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            try:
                proc = subprocess.run([sys.executable, str(script), "--quick", "--out", tmp],
                                      capture_output=True, text=True, timeout=600,
                                      env=child_env, cwd=tmp)
                rc = proc.returncode
            except subprocess.TimeoutExpired:
                rc = -1
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        results[script.stem] = {"wall": wall, "cpu": cpu, "rc": rc}
        progress(f"example {script.stem} --quick: {wall:.1f} s (cpu {cpu:.1f} s, exit {rc})")
    return results
