"""The targets and the Markdown report of the benchmark sections 1-4 (the training-loop
protocol's tables come from ``loop_report.py`` and are placed in the same report)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import impls
import loop
import loop_report
from suite_sections import (
    CHAIN_OPS,
    DTYPES,
    LEAN,
    LIMIT,
    MEMORY_STEPS,
    SCALING_STEPS,
    SIZES,
    ChainResult,
    MemoryResult,
    ModelRow,
)
from suite_timing import Timing, fmt, fmt_ms, fmt_x, ratio

if TYPE_CHECKING:  # annotations only: suite.py imports this module
    from suite import Config


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
                    measured = (f"tinygrad {fmt_ms(tg)} ms vs torch eager {fmt_ms(te)} ms"
                                if ok is not None else "n/a")
                    if row and ok is None:
                        why = "tinygrad_rnn or torch eager not available"
                    out.append(Target(f"{name}: tinygrad_rnn faster than torch eager",
                                      "tinygrad < torch eager", measured,
                                      _status(tg, ok, why)[1]))
                else:
                    r = ratio(row.timings["tinygrad_rnn"].median,
                               row.timings[LIMIT].median) if row else None
                    if row and r is None:
                        why = "tinygrad_rnn not available"
                    out.append(Target(f"{name}: tinygrad_rnn / numpy fused",
                                      f"≤ {goals[size]}×", fmt_x(r),
                                      _status(r, None if r is None else r <= goals[size],
                                              why)[1]))
    # per-op
    tg = chain["tinygrad_rnn"].median("total") if chain else None
    te = chain["torch eager"].median("total") if chain else None
    why = "" if chain else "section not run"
    out.append(Target("per-op overhead: tinygrad_rnn forward + backward", "≤ 3 µs/op",
                      f"{fmt(tg * 1e6)} µs/op" if tg else "n/a",
                      _status(tg, None if tg is None else tg * 1e6 <= 3.0,
                              why or "tinygrad_rnn not available")[1]))
    out.append(Target("per-op overhead: tinygrad_rnn below torch eager", "tinygrad < torch",
                      f"{fmt(tg * 1e6)} vs {fmt(te * 1e6)} µs/op" if tg and te else "n/a",
                      _status(tg, None if tg is None or te is None else tg < te,
                              why or "tinygrad_rnn or torch not available")[1]))
    # memory
    steps = MEMORY_STEPS[-1]
    tg_peak = np_peak = None
    if memory:
        tg_peak = memory[LEAN].peaks.get(steps)
        np_peak = memory["numpy per-step"].peaks.get(steps)
    r = ratio(tg_peak, np_peak)
    out.append(Target(f"memory: LSTM medium T={steps}, {LEAN} / numpy per-step", "≤ 1.3×",
                      fmt_x(r), _status(r, None if r is None else r <= 1.3,
                                     "section not run" if not memory else
                                     "tinygrad_rnn not available")[1]))
    # scaling
    short, long_ = SCALING_STEPS
    a = scaling.get(("tinygrad_rnn", short)) if scaling else None
    b = scaling.get(("tinygrad_rnn", long_)) if scaling else None
    per_a = a.median / short if a and a.median else None
    per_b = b.median / long_ if b and b.median else None
    r = ratio(per_b, per_a)
    out.append(Target(f"scaling: tinygrad_rnn RNN time/step at T={long_:,} vs T={short}",
                      "≤ 1.2×", fmt_x(r),
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
    return fmt_ms(t.median) + (" ✗²" if t.check else "")


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
                        + [fmt_x(ratio(r.timings[n].median, limit)) for n in others]
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
            rows.append([name, fmt(fwd * 1e6) if fwd else "n/a",
                         fmt(bwd * 1e6) if r.has_backward and bwd else "—",
                         fmt(tot * 1e6) if tot else "n/a", fmt_x(ratio(tot, te))])
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
                  "`numpy per-step` at the same T. *lean graph* (the default): each step's "
                  "internal values are freed; *full graph*: inside `tg.full_graph()`, "
                  "which keeps them. The loss "
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
            row += [fmt_x(ratio(r.peaks.get(s), base.peaks.get(s) if base else None))
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
            rows.append([name] + [fmt_ms(c.median) for c in cells]
                        + [fmt(p * 1e6) for p in per] + [fmt_x(per[1] / per[0])])
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
