"""Run the benchmark suite and write a Markdown report.

    python benchmarks/run.py [--quick] [--out benchmarks/RESULTS.md] [--threads 1]

See benchmarks/README.md for the sections, the method and what each number means.

This file only parses the command line and fixes the BLAS/OpenMP thread counts -- which
must happen before NumPy is first imported -- then hands over to ``suite.py``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SECTIONS = ("timing", "perop", "memory", "scaling",
            "loop", "loop-perop", "loop-memory", "examples")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="tinygrad_rnn benchmarks against hand-written NumPy BPTT, PyTorch "
                    "and HIPS autograd.")
    p.add_argument("--quick", action="store_true",
                   help="small + medium sizes, float32 only, 3 repetitions (~2 minutes)")
    p.add_argument("--out", type=Path, default=HERE / "RESULTS.md",
                   help="the Markdown report to write (default: benchmarks/RESULTS.md)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP/torch threads; 0 = the libraries' defaults "
                        "(default 1: steadier on a small shared machine)")
    p.add_argument("--reps", type=int, help="repetitions per measurement (default 5, "
                   "quick 3)")
    p.add_argument("--pause", type=float, help="seconds to sleep before each measurement "
                   "(default 0.15, quick 0.1)")
    p.add_argument("--min-time", type=float, help="seconds one measurement lasts at least "
                   "(averaging repeated calls; default 0.1, quick 0.03)")
    p.add_argument("--sections",
                   help=f"comma-separated subset of {','.join(SECTIONS)} (default: all; "
                        "--quick: all but examples)")
    p.add_argument("--sizes", help="comma-separated subset of small,medium,large")
    p.add_argument("--dtypes", help="comma-separated subset of float32,float64")
    p.add_argument("--models", help="comma-separated subset of lstm,gru,rnn")
    args = p.parse_args(argv)
    args.sections = _subset(p, "--sections", args.sections, SECTIONS)
    args.sizes = _subset(p, "--sizes", args.sizes, ("small", "medium", "large"))
    args.dtypes = _subset(p, "--dtypes", args.dtypes, ("float32", "float64"))
    args.models = _subset(p, "--models", args.models, ("lstm", "gru", "rnn"))
    if args.threads < 0 or (args.reps is not None and args.reps < 1):
        p.error("--threads must be ≥ 0 and --reps ≥ 1")
    return args


def _subset(p: argparse.ArgumentParser, flag: str, value: str | None,
            allowed: tuple[str, ...]) -> tuple[str, ...] | None:
    if value is None:
        return None
    chosen = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [v for v in chosen if v not in allowed]
    if bad or not chosen:
        p.error(f"{flag}: expected a comma-separated subset of {','.join(allowed)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    # the training-loop protocol's children get the environment as it was: library defaults
    child_env = dict(os.environ)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS"):
            os.environ[var] = str(args.threads)
    if "numpy" in sys.modules and args.threads:
        print("warning: numpy was imported before the thread count was set",
              file=sys.stderr)
    # the working tree's tinygrad_rnn (and this folder's modules) first
    for path in (str(HERE), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)

    import suite  # imports numpy: only now

    cfg = suite.Config.make(
        args.quick, reps=args.reps, pause=args.pause, min_time=args.min_time,
        sizes=args.sizes, dtypes=args.dtypes, models=args.models, sections=args.sections,
        threads=args.threads, child_env=child_env,
        command="python benchmarks/run.py " + " ".join(shlex.quote(a) for a in
                                                        (argv or sys.argv[1:])))
    return suite.main(cfg, args.out)


if __name__ == "__main__":
    sys.exit(main())
