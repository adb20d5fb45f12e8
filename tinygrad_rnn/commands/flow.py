"""``tinygrad-rnn flow``: how far back in time does the gradient reach? For each cell type,
unroll a freshly initialised network on the same seeded random inputs, backpropagate from
the last step (L = Σ h_T) and print ‖∂L/∂h_t‖ for every t; optionally plot them.

    tinygrad-rnn flow --steps 40 -o flow.png      # RNN vs GRU vs LSTM, log scale
    tinygrad-rnn flow --cells rnn --json           # machine-readable
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tinygrad_rnn.cli import seed

HELP = "print (and plot) the gradient norm at every time step for RNN vs GRU vs LSTM"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cells", default="rnn,gru,lstm",
                        help="comma-separated cell types among rnn, gru, lstm (all three)")
    parser.add_argument("--steps", type=int, default=30, help="sequence length T (30)")
    parser.add_argument("--hidden", type=int, default=16, help="hidden size H (16)")
    parser.add_argument("--input", type=int, default=4, help="input size I (4)")
    parser.add_argument("--layers", type=int, default=1, help="number of layers (1)")
    parser.add_argument("--seed", type=seed, default=0, help="random seed (0)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("-o", "--output", default=None, metavar="OUT",
                        help="also write the plot (.png, .svg, .pdf; needs matplotlib)")


def run(args: argparse.Namespace) -> int:
    from tinygrad_rnn.bptt import analysis
    from tinygrad_rnn.cli import CommandError

    cells = [c.strip().lower() for c in args.cells.split(",") if c.strip()]
    bad = [c for c in cells if c not in analysis.CELLS]
    if not cells or bad:
        raise CommandError(f"--cells: unknown cell type(s) {bad or cells!r}; choose from "
                           f"{', '.join(analysis.CELLS)}")
    for flag in ("steps", "hidden", "input", "layers"):
        if getattr(args, flag) < 1:
            raise CommandError(f"--{flag} must be a positive integer, got "
                               f"{getattr(args, flag)}")
    plt_needed = args.output is not None
    if plt_needed:
        try:
            import matplotlib

            matplotlib.use("Agg")
        except ImportError as e:
            raise CommandError('plotting needs matplotlib: pip install "tinygrad_rnn[plots]" '
                               '(or leave out -o)') from e
    curves: dict[str, list[Any]] = {}
    for cell in _progress(cells):
        norms = analysis.gradient_flow(cell, steps=args.steps, hidden=args.hidden,
                                       input_size=args.input, seed=args.seed,
                                       layers=args.layers)
        top = max((s.layer or 0) for s in norms)
        curves[cell] = [s for s in norms if s.name == "h" and (s.layer or 0) == top]
    if args.json:
        print(json.dumps({
            "steps": args.steps, "hidden": args.hidden, "input": args.input,
            "layers": args.layers, "seed": args.seed, "loss": "sum of h_T (top layer)",
            "grad_norm_h": {cell: [{"t": s.t, "norm": s.norm} for s in norms]
                            for cell, norms in curves.items()}}, indent=2))
    else:
        print(_table(curves))
    if plt_needed:
        from tinygrad_rnn import plots

        fig = plots.plot_gradient_norms(
            curves, title=f"‖∂L/∂h_t‖ with L = Σ h_T  (T={args.steps}, H={args.hidden})")
        try:
            import io
            from pathlib import Path

            from tinygrad_rnn.files import atomic_write

            buffer = io.BytesIO()
            fmt = Path(args.output).suffix.lstrip(".").lower() or "png"
            fig.savefig(buffer, format=fmt, dpi=130)
            atomic_write(args.output, buffer.getvalue())
        except (OSError, ValueError) as e:
            raise CommandError(f"cannot write the plot {args.output!r}: {e}") from e
        print(f"wrote {args.output}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _table(curves: dict[str, list[Any]]) -> str:
    names = list(curves)
    lines = ["‖∂L/∂h_t‖ with L = Σ h_T: the gradient travelling back from the last step",
             f"{'t':>4}  " + "  ".join(f"{n.upper():>11}" for n in names)]
    steps = [s.t for s in curves[names[0]]]
    for i, t in enumerate(steps):
        lines.append(f"{t:>4}  " + "  ".join(f"{curves[n][i].norm:11.3e}" for n in names))
    return "\n".join(lines)


def _progress(items: list[str]) -> Any:
    """tqdm over the cells on stderr, shown only if the work takes more than 2 s."""
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, delay=2.0, file=sys.stderr, leave=False, desc="unroll and backward")
