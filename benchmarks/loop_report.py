"""The Markdown tables and the targets of the training-loop protocol (``loop.py``)."""

from __future__ import annotations

from typing import Any

from loop import (
    EXAMPLE_LIMIT,
    IMPLS,
    LIMIT,
    MEMORY_SIZE,
    ROWS,
    LoopResults,
    Runs,
    paired_ratios,
)

Target = tuple[str, str, str, str]  # what, goal, measured, status

RATIO_GOALS = {("lstm", "medium"): 1.3, ("gru", "medium"): 1.3, ("rnn", "medium"): 1.4,
               ("lstm", "large"): 1.15}
TORCH_GOALS = {("lstm", "small"): 0.9, ("lstm", "medium"): 1.0}


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if value >= 10 ** digits:
        return f"{value:.0f}"
    text = f"{value:.{digits}g}"
    return text if "e" not in text else f"{value:.1e}"


def _ratio(a: Runs, b: Runs) -> tuple[float | None, list[float]]:
    ma, mb = a.median(), b.median()
    return (ma / mb if ma is not None and mb else None), paired_ratios(a, b)


def _x(ratio: float | None, paired: list[float]) -> str:
    if ratio is None:
        return "n/a"
    span = f" ({min(paired):.2f}–{max(paired):.2f})" if len(paired) > 1 else ""
    return f"{ratio:.2f}×{span}"


def _ms(runs: Runs) -> str:
    if runs.note or not runs.results:
        return runs.note or "n/a"
    per = [v * 1e3 for v in runs.per_process()]
    return f"{_fmt(runs.median() * 1e3)} ({_fmt(min(per))}–{_fmt(max(per))})"


def check(runs: Runs, limit: Runs) -> str:
    """"" when every process's loss and per-parameter Σ|grad| agree with the limit's
    (relative 2e-3, float32), else the worst disagreement."""
    if not runs.results or not limit.results:
        return ""
    ref = limit.results[0]
    worst, where = 0.0, ""
    for r in runs.results:
        pairs = [("loss", r["loss"], ref["loss"])]
        pairs += [(k, v, ref["grad_abs_sums"].get(k)) for k, v in r["grad_abs_sums"].items()]
        for name, got, want in pairs:
            if want is None:
                return f"no reference for {name}"
            err = abs(got - want) / max(abs(want), 1e-30)
            if err > worst:
                worst, where = err, name
    return "" if worst <= 2e-3 else f"{where} off by {worst:.1e}"


def targets(res: LoopResults, quick: bool) -> list[Target]:
    out: list[Target] = []
    for (model, size), goal in RATIO_GOALS.items():
        runs = res.rows.get((model, size))
        ratio, paired = _ratio(runs["tinygrad_rnn"], runs[LIMIT]) if runs else (None, [])
        out.append((f"{model.upper()} {size}: tinygrad_rnn / numpy fused", f"≤ {goal}×",
                    _x(ratio, paired), _status(ratio, goal, quick and size == "large")))
    for (model, size), goal in TORCH_GOALS.items():
        runs = res.rows.get((model, size))
        ratio, paired = _ratio(runs["tinygrad_rnn"], runs["torch eager"]) if runs else (
            None, [])
        status = _status(ratio, goal)
        if status == "met" and goal < 1 and paired and max(paired) >= 1.0:
            status = "missed (within noise: a repetition ≥ 1.0×)"
        out.append((f"{model.upper()} {size}: tinygrad_rnn / torch eager cell loop",
                    f"≤ {goal}×", _x(ratio, paired), status))
    ratio, paired = (_ratio(res.perop["tinygrad_rnn"], res.perop["torch eager"])
                     if res.perop else (None, []))
    out.append(("per-op overhead, forward + backward on (1, 16): tinygrad_rnn / torch eager",
                "≤ 0.5×", _x(ratio, paired), _status(ratio, 0.5)))
    base = res.memory.get("numpy per-step", {}).get("tracemalloc_peak")
    # lean mode as the 1.3x target was first set and met: the lean graph with the
    # intermediate gradients dropped too (the least memory)
    for name, goal in (("tinygrad_rnn", 2.0),
                       ("tinygrad_rnn (keep_grads=False)", 1.3)):
        peak = res.memory.get(name, {}).get("tracemalloc_peak")
        ratio = peak / base if peak and base else None
        out.append((f"memory, LSTM medium T={MEMORY_SIZE[3]}: {name} / numpy per-step "
                    "(tracemalloc peak)", f"≤ {goal}×", _x(ratio, []), _status(ratio, goal)))
    for name, r in res.examples.items():
        ok = r["rc"] == 0 and r["wall"] <= EXAMPLE_LIMIT
        out.append((f"examples/{name}.py --quick", f"≤ {EXAMPLE_LIMIT:.0f} s",
                    f"{r['wall']:.1f} s" + ("" if r["rc"] == 0 else f" (exit {r['rc']})"),
                    "met" if ok else "missed"))
    if not res.examples:
        out.append(("examples/*.py --quick", f"≤ {EXAMPLE_LIMIT:.0f} s each", "n/a",
                    "not measured (section not run)"))
    return out


def _status(ratio: float | None, goal: float, skipped: bool = False) -> str:
    if ratio is None:
        return "not measured" + (" (not in --quick)" if skipped else " (not in this run, "
                                 "or an implementation failed)")
    return "met" if ratio <= goal else "missed"


def targets_markdown(res: LoopResults, quick: bool) -> list[str]:
    return ["## Targets (training-loop protocol, section 5)", "",
            _table(["target", "goal", "measured", "status"],
                   [list(t) for t in targets(res, quick)], labels=4), ""]


def markdown(res: LoopResults, reps: int) -> list[str]:
    md = ["## 5. Training-loop protocol (fresh process per implementation)", ""]
    md.append("Measured as users train (see README.md): every implementation in its own "
              "fresh process per repetition, forward + backward over one sequence in a "
              "loop (warm-up iterations, then N timed), a Linear head on every step's "
              "output (out features = input size) with the mean squared error, the default "
              "`backward()`, default allocator and BLAS/torch threads. "
              f"{reps} process{'es' if reps != 1 else ''} per implementation, interleaved. "
              f"Section run time {res.elapsed:.0f} s.")
    md.append("")
    if res.rows:
        md += _timing_tables(res)
    if res.perop:
        md += _perop_table(res)
    if res.memory:
        md += _memory_table(res)
    if res.examples:
        md += ["### Examples, `--quick`", "",
               _table(["example", "wall (s)", "CPU (s)", "exit"],
                      [[f"examples/{n}.py", f"{r['wall']:.1f}", f"{r['cpu']:.1f}",
                        str(r["rc"])] for n, r in res.examples.items()]), ""]
    return md


def _timing_tables(res: LoopResults) -> list[str]:
    md = ["### Forward + backward per iteration", ""]
    md.append("**ms per iteration**: the median over processes of each process's median "
              "iteration, then (min–max) of the per-process medians. Ratios: of the "
              "medians, then (min–max) of the ratios of processes of the same "
              "repetition. Sizes (batch, input, hidden, T).")
    md.append("")
    rows, notes = [], []
    for (model, size), runs in res.rows.items():
        dims = {(m, s): d for m, s, d in ROWS}[model, size]
        rows.append([model.upper(), f"{size} {dims}"]
                    + [_ms(runs[i]) for i in IMPLS]
                    + [_x(*_ratio(runs["tinygrad_rnn"], runs[LIMIT])),
                       _x(*_ratio(runs["tinygrad_rnn"], runs["torch eager"]))])
        for impl in IMPLS:
            bad = check(runs[impl], runs[LIMIT])
            if bad:
                notes.append(f"✗ {model} {size} {impl}: loss/gradients disagree with "
                             f"numpy fused: {bad}  ")
    md.append(_table(["model", "size"] + [f"{i} (ms)" for i in IMPLS]
                     + ["tinygrad_rnn / numpy fused", "tinygrad_rnn / torch eager"], rows,
                     labels=2))
    md += [""] + notes + ["", "Every process's loss and Σ|gradient| per parameter were "
                          "compared with numpy fused's (relative 2e-3); ✗ marks a failure."]
    md += ["", "**Per iteration, over the timed loop** (`resource.getrusage(RUSAGE_SELF)` "
           "deltas in the child, median over processes): CPU time (user + system; above the "
           "wall time when BLAS uses both cores), of which in the kernel, and minor page "
           "faults.", ""]
    rows = []
    for (model, size), runs in res.rows.items():
        for impl in IMPLS:
            r = runs[impl]
            if not r.results:
                continue
            rows.append([model.upper(), size, impl, _fmt(r.median() * 1e3),
                         _fmt(r.median("cpu") * 1e3), _fmt(r.median("sys") * 1e3),
                         _fmt(r.median("minflt"), 4)])
    md.append(_table(["model", "size", "implementation", "wall ms", "CPU ms", "kernel ms",
                      "minor faults"], rows, labels=3))
    md.append("")
    return md


def _perop_table(res: LoopResults) -> list[str]:
    md = ["### Per-op overhead", "",
          "A chain of 1,000 elementwise ops on a (1, 16) float32 tensor (y·1.0001, y + 0.1, "
          "tanh y), its sum and the default `backward()`, in a loop: **µs per op** "
          "(forward + backward), median (min–max) over processes.", ""]
    rows = []
    for name, runs in res.perop.items():
        if not runs.results:
            rows.append([name, runs.note or "n/a", "", ""])
            continue
        per = [v * 1e3 for v in runs.per_process()]  # s per 1,000 ops -> µs per op
        rows.append([name, f"{_fmt(runs.median() * 1e3)} ({_fmt(min(per))}–"
                     f"{_fmt(max(per))})", _fmt(runs.median("cpu") * 1e3),
                     _fmt(runs.median("minflt") / 1e3, 3)])
    md += [_table(["implementation", "µs/op", "CPU µs/op", "minor faults/op"], rows), ""]
    return md


def _memory_table(res: LoopResults) -> list[str]:
    b, i, h, t = MEMORY_SIZE
    md = ["### Memory", "",
          f"LSTM, batch {b}, input {i}, hidden {h}, T = {t}, head + MSE, one forward + "
          "backward in a fresh process. *tracemalloc peak* (judged): the peak of memory "
          "allocated through Python and NumPy during the second iteration (inputs and "
          "model exist before; the gradients of the first iteration are dropped by "
          "`zero_grad()` inside it). *RSS growth*: peak resident set during the first "
          "iteration minus the resident set before it (VmHWM − VmRSS), allocator effects "
          "included. Ratios to numpy per-step.", ""]
    base: dict[str, Any] = res.memory.get("numpy per-step", {})
    rows = []
    for name, r in res.memory.items():
        if "error" in r:
            rows.append([name, "error: " + r["error"], "", "", ""])
            continue
        peak, rss = r.get("tracemalloc_peak"), r.get("rss_growth")
        rows.append([name, f"{peak / 2**20:.1f}",
                     _x(peak / base["tracemalloc_peak"], []) if base.get(
                         "tracemalloc_peak") else "n/a",
                     f"{rss / 2**20:.1f}" if rss is not None else "n/a",
                     _x(rss / base["rss_growth"], []) if rss and base.get("rss_growth")
                     else "n/a"])
    md += [_table(["implementation", "tracemalloc peak (MiB)", "×", "RSS growth (MiB)", "×"],
                  rows), ""]
    return md


def _table(header: list[str], rows: list[list[str]], labels: int = 1) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < labels else "---:" for i in range(len(header)))
             + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
