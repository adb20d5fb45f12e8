"""``tinygrad-rnn flow``: how far back in time does the gradient reach? For each cell type,
unroll a freshly initialised network on the same seeded random inputs, backpropagate from
the last step (L = Σ h_T) and print ‖∂L/∂h_t‖ for every t; optionally plot them.

    tinygrad-rnn flow --steps 40 -o flow.png      # RNN vs GRU vs LSTM, log scale
    tinygrad-rnn flow --cells rnn --json           # machine-readable
    tinygrad-rnn flow --steps 5000                 # a summary: first/last steps and the rate
    tinygrad-rnn flow --steps 5000 --all           # every step

Long sequences print a summary (the first and last ``SHOWN`` steps and, per cell, the
average factor by which the gradient shrinks or grows per step back in time) unless
``--all`` is given; ``--json`` always gives every step. The output path is checked and the
sizes are estimated before any work (``commands/guards.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tinygrad_rnn.cli import seed
from tinygrad_rnn.commands import guards

HELP = "print (and plot) the gradient norm at every time step for RNN vs GRU vs LSTM"
SHOWN = 10  # steps shown at each end of a long table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cells", default="rnn,gru,lstm",
                        help="comma-separated cell types among rnn, gru, lstm (all three)")
    parser.add_argument("--steps", type=int, default=30, help="sequence length T (30)")
    parser.add_argument("--hidden", type=int, default=16, help="hidden size H (16)")
    parser.add_argument("--input", type=int, default=4, help="input size I (4)")
    parser.add_argument("--layers", type=int, default=1, help="number of layers (1)")
    parser.add_argument("--seed", type=seed, default=0, help="random seed (0)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON (every step) instead of a table")
    parser.add_argument("--all", action="store_true",
                        help=f"print every step (default: all up to {2 * SHOWN} steps, else the "
                             f"first and last {SHOWN} and a summary)")
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
        guards.output_file(args.output)
        _check_plot_format(args.output)
    costs = [guards.recurrent_cost(cell, args.steps, args.hidden, args.input,
                                   layers=args.layers) for cell in cells]
    # the cells run one after the other: the largest one's memory, all their time
    guards.budget(f"--steps {args.steps} --hidden {args.hidden} --layers {args.layers}",
                  guards.Cost(max(c.memory for c in costs), sum(c.seconds for c in costs)),
                  "use fewer --steps, a smaller --hidden or fewer --layers")
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
        print(_table(curves, every=args.all))
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


def _check_plot_format(output: str) -> None:
    from pathlib import Path

    from tinygrad_rnn.cli import CommandError

    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError as e:
        raise CommandError('plotting needs matplotlib: pip install "tinygrad_rnn[plots]" '
                           '(or leave out -o)') from e
    fmt = Path(output).suffix.lstrip(".").lower() or "png"
    formats = Figure().canvas.get_supported_filetypes()
    if fmt not in formats:
        raise CommandError(f"cannot tell the plot format of {output!r}: use an extension "
                           f"among {', '.join('.' + f for f in sorted(formats))}")


def _table(curves: dict[str, list[Any]], every: bool = False) -> str:
    names = list(curves)
    lines = ["‖∂L/∂h_t‖ with L = Σ h_T: the gradient travelling back from the last step",
             f"{'t':>7}  " + "  ".join(f"{n.upper():>11}" for n in names)]
    steps = [s.t for s in curves[names[0]]]
    shown = range(len(steps)) if every or len(steps) <= 2 * SHOWN else \
        [*range(SHOWN), -1, *range(len(steps) - SHOWN, len(steps))]
    for i in shown:
        if i < 0:
            lines.append(f"{'...':>7}  ({len(steps) - 2 * SHOWN} steps not shown: --all "
                         f"prints them, --json gives them all)")
            continue
        lines.append(f"{steps[i]:>7}  " + "  ".join(f"{curves[n][i].norm:11.3e}"
                                                    for n in names))
    if len(steps) > 2 * SHOWN:
        lines += ["", "Per step back in time, on average:"]
        lines += [f"  {n.upper():>5}: {_rate([s.norm for s in curves[n]])}" for n in names]
    return "\n".join(lines)


def _rate(norms: list[float]) -> str:
    """The geometric mean factor from step T back to the earliest nonzero norm."""
    import math

    last = norms[-1]
    nonzero = [i for i, v in enumerate(norms) if v > 0]
    if last <= 0 or not nonzero or nonzero[0] == len(norms) - 1:
        return "no gradient reaches back (all norms are 0)"
    first = nonzero[0]
    factor = (norms[first] / last) ** (1.0 / (len(norms) - 1 - first))
    if factor < 1:
        text = f"x{factor:.4g} (the norm shrinks tenfold every " \
               f"{math.log(10) / -math.log(factor):.3g} steps)"
    elif factor > 1:
        text = f"x{factor:.4g} (the norm grows tenfold every " \
               f"{math.log(10) / math.log(factor):.3g} steps)"
    else:
        text = "x1 (the norm stays the same)"
    if first > 0:
        text += f"; exactly 0 (below the smallest float64) at t <= {first}"
    return text


def _progress(items: list[str]) -> Any:
    """tqdm over the cells on stderr, shown only if the work takes more than 2 s."""
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, delay=2.0, file=sys.stderr, leave=False, desc="unroll and backward")
