"""The benchmark suite (run via ``run.py``): its settings (``Config``) and ``main``, which runs
the chosen sections and writes the Markdown report. The parts, one module each:

    suite_timing.py       the timing method (warm-up, round-robin, medians) and number formats
    suite_sections.py     sections 1-4: whole sequences, per-op overhead, memory, scaling
    suite_environment.py  the environment table (machine, libraries, threads, commit)
    suite_report.py       the targets and the Markdown report
    loop.py               section 5, the training-loop protocol (each run in its own process)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import loop
from suite_environment import environment
from suite_report import report
from suite_sections import DTYPES, SIZES, bench_chain, bench_memory, bench_models, bench_scaling
from suite_timing import progress

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
