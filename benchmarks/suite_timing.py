"""The timing method of the benchmark sections 1-4 (``suite.py``), and the number formats
of the report.

Method, for a small, noisy, shared machine:

* every implementation is set up outside the timed region, then called once untimed (a
  warm-up that also checks its loss and gradients against the fused-NumPy limit with
  ``compare`` and sets how many calls one measurement averages over: enough for
  ``min_time`` seconds);
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
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy_bptt as nb

if TYPE_CHECKING:  # annotations only: suite.py imports this module
    from suite import Config


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


def settle(pause: float) -> None:
    gc.collect()
    time.sleep(pause)


def calls_for(seconds: float, min_time: float) -> int:
    """How many calls one measurement averages over, from one call's duration."""
    return max(1, min(10_000, math.ceil(min_time / max(seconds, 1e-9))))


def round_robin(fns: dict[str, Callable[[], Any]], first: dict[str, float], cfg: Config,
                label: str, timings: dict[str, Timing]) -> None:
    """Measure every function ``cfg.reps`` times, round-robin, the order rotated each
    repetition; ``first`` holds the duration of each one's warm-up call."""
    names = list(fns)
    number = {n: calls_for(first[n], cfg.min_time) for n in names}
    for rep in range(cfg.reps):
        shift = rep % len(names) if names else 0
        for name in names[shift:] + names[:shift]:
            if timings[name].note:
                continue
            settle(cfg.pause)
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
            progress(f"{label} rep {rep + 1}/{cfg.reps} {name}: {fmt_ms(elapsed)} ms"
                     + (f" (mean of {number[name]})" if number[name] > 1 else ""))


def fmt_ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else fmt(seconds * 1e3)


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    return f"{value:.{decimals}f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def fmt_x(ratio: float | None) -> str:
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
