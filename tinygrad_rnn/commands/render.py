"""``tinygrad-rnn render``: build a small RNN/GRU/LSTM on seeded random data, run forward
and backward, and draw the unrolled graph with its gradient heat.

    tinygrad-rnn render --cell lstm --steps 4 --hidden 3 --input 2 -o lstm.svg
    tinygrad-rnn render --cell rnn --steps 6 --truncate 3 --view ops -o tbptt.png
    tinygrad-rnn render --cell lstm --steps 12 --show contributions --notation lecture \
        --scale 1e-4:1 -o slide.pdf

The output format follows the extension of -o (.dot, .svg, .png, .pdf). With .html it is
one self-contained page that steps through the backward walk (see viz/walk.py):

    tinygrad-rnn render --cell rnn --steps 3 --view ops -o walk.html
"""

from __future__ import annotations

import argparse
import sys
import warnings
from contextlib import nullcontext
from typing import Any

import numpy as np

from tinygrad_rnn.cli import seed
from tinygrad_rnn.commands import guards

HELP = "draw the unrolled graph of a small RNN/GRU/LSTM with its gradient heat"

KINDS = ("rnn", "gru", "lstm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cell", choices=KINDS, default="lstm", help="cell type (lstm)")
    parser.add_argument("--steps", type=int, default=4, help="sequence length T (4)")
    parser.add_argument("--hidden", type=int, default=3, help="hidden size H (3)")
    parser.add_argument("--input", type=int, default=2, help="input size I (2)")
    parser.add_argument("--batch", type=int, default=1, help="batch size (1)")
    parser.add_argument("--layers", type=int, default=1, help="number of layers (1)")
    parser.add_argument("--bidirectional", action="store_true", help="two directions")
    parser.add_argument("--view", choices=("ops", "cells", "folded"), default="cells",
                        help="ops: every primitive; cells: one node per cell and step "
                             "(default); folded: one cell with a self-loop")
    parser.add_argument("--truncate", type=int, default=None, metavar="K",
                        help="truncated BPTT: detach the state every K steps")
    parser.add_argument("--seed", type=seed, default=0, help="random seed (0)")
    parser.add_argument("--direction", choices=("lr", "bt"), default="lr",
                        help="time runs left-to-right (lr) or bottom-to-top (bt)")
    parser.add_argument("--show", choices=("none", "norm", "stats", "values", "contributions"),
                        default="none",
                        help="extra numbers: on each node (norm, stats, values), or each "
                             "weight use's term of the BPTT sum (contributions)")
    parser.add_argument("--notation", default="pytorch", metavar="NAMES",
                        help="pytorch (weight_hh_l0, h, c, gates i f g o; default) or lecture "
                             "(W_x, W_s, s_t; Γ_u, Γ_f, Γ_o, c̃, c⟨t⟩, a⟨t⟩)")
    parser.add_argument("--scale", default=None, metavar="LO:HI",
                        help="fix the colour range of gradient norms, e.g. 1e-4:1, so that "
                             "several pictures compare (default: each picture's own range)")
    parser.add_argument("--max-steps", type=int, default=None, metavar="N",
                        help="draw t = 1, t = 2, …, t = T with the middle elided when a layer "
                             "has more than N steps (default: 6 in the cells view, all "
                             "steps in the others and in a .html walk page)")
    parser.add_argument("--no-backward", action="store_true",
                        help="draw the forward graph only (no gradient heat)")
    parser.add_argument("--max-nodes", type=int, default=300,
                        help="largest picture to lay out (300)")
    parser.add_argument("--title", default=None, help="caption (default: a description)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output file: .dot, .svg, .png, .pdf, or .html (step through "
                             "the backward walk)")


def _check(args: argparse.Namespace) -> str:
    """Every option checked in one place; the scale is parsed into ``args.scale_range``."""
    from tinygrad_rnn.cli import CommandError
    from tinygrad_rnn.viz.notation import NOTATIONS
    from tinygrad_rnn.viz.render import FORMATS

    for flag in ("steps", "hidden", "input", "batch", "layers", "max_nodes"):
        value = getattr(args, flag)
        if value < 1:
            raise CommandError(f"--{flag.replace('_', '-')} must be a positive integer, "
                               f"got {value}")
    if args.truncate is not None and not 1 <= args.truncate <= args.steps:
        raise CommandError(f"--truncate must be between 1 and --steps ({args.steps}), got "
                           f"{args.truncate}")
    if args.notation not in NOTATIONS:
        raise CommandError(f"--notation must be one of {', '.join(NOTATIONS)}, got "
                           f"{args.notation!r}: use lecture for the lectures' names")
    args.scale_range = _scale(args.scale) if args.scale is not None else None
    if args.max_steps is not None and args.max_steps < 4:
        raise CommandError(f"--max-steps must be at least 4 (t = 1, t = 2, …, t = T), got "
                           f"{args.max_steps}")
    fmt = args.output.rsplit(".", 1)[-1].lower() if "." in args.output else ""
    if fmt not in FORMATS + ("html",):
        raise CommandError(f"cannot tell the output format of {args.output!r}: use an "
                           f"extension among .dot, .svg, .png, .pdf, .html")
    if args.no_backward and fmt == "html":
        raise CommandError("--no-backward does not apply to a .html page: the page plays "
                           "the backward walk; drop --no-backward, or write .svg/.png")
    if args.no_backward and args.show == "contributions":
        raise CommandError("--show contributions needs the backward pass (the numbers are "
                           "its per-step terms); drop --no-backward")
    return fmt


def _scale(text: str) -> tuple[float, float]:
    """--scale LO:HI as two finite gradient norms with 0 < LO < HI."""
    from tinygrad_rnn.cli import CommandError
    from tinygrad_rnn.viz import heat

    parts = text.split(":")
    if len(parts) != 2:
        raise CommandError(f"--scale must be LO:HI, two gradient norms such as 1e-4:1, got "
                           f"{text!r}")
    try:
        return heat.check_range(parts, option="--scale")
    except ValueError as e:
        raise CommandError(str(e)) from None


def build(args: argparse.Namespace) -> tuple[Any, Any, list[Any]]:
    """The model, the loss to draw, and the chunks' losses (kept alive so the history cut
    off by truncation can be drawn)."""
    import tinygrad_rnn as tg
    from tinygrad_rnn import nn

    kind = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[args.cell]
    model = kind(args.input, args.hidden, num_layers=args.layers,
                 bidirectional=args.bidirectional, rng=args.seed, dtype=np.float64)
    rng = np.random.default_rng(args.seed + 1)
    xs = rng.normal(size=(args.steps, args.batch, args.input))
    targets = rng.normal(size=(args.steps, args.batch, args.hidden * (2 if args.bidirectional
                                                                         else 1)))
    k = args.truncate or args.steps
    state: Any = None
    losses: list[Any] = []
    kept: list[Any] = []
    for start in range(0, args.steps, k):
        if state is not None:  # truncated BPTT: the next chunk starts from a cut-off state
            # requires_grad_ keeps the detached state a node of the new graph (so the cut is
            # drawn, and its gradient ∂L/∂h_0 shows); the layer only slices it otherwise,
            # and a slice of a constant is a fresh constant that forgets the cut
            kept.append(state)  # keep the cut-off history alive so it can be drawn
            parts = state if isinstance(state, tuple) else (state,)
            cut = tuple(s.detach().requires_grad_() for s in parts)
            for s, name in zip(cut, ("h0", "c0"), strict=False):
                s.name = name
            state = cut if isinstance(state, tuple) else cut[0]
        x = tg.Tensor(xs[start:start + k], name="input")
        with tg.full_graph():  # a picture: every value and gradient, inside the cells too
            out, state = model(x, state, first_step=start + 1)  # label t across chunks
        diff = out - tg.Tensor(targets[start:start + k], name="target")
        loss = (diff * diff).mean()
        loss.name = "loss"
        if not args.no_backward:
            # each window is its own backward (and, in training, its own update): the
            # weights' .grad is this window's sum, matching the taps drawn for it
            model.zero_grad(set_to_none=True)
            loss.backward()
        losses.append(loss)
    return model, losses[-1], losses + kept


def run(args: argparse.Namespace) -> int:
    from tinygrad_rnn import viz
    from tinygrad_rnn.cli import CommandError

    fmt = _check(args)
    guards.check_render(args)  # the output path and the sizes, before any work
    if fmt == "html":
        return _walk(args)
    bar = _progress(3)
    with bar:
        model, loss, _keep = build(args)
        bar.update(1)
        title = args.title or _title(args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                graph = viz.draw(loss, view=args.view, direction=args.direction,
                                 show=args.show, max_nodes=args.max_nodes, title=title,
                                 params=model, too_big="cells", notation=args.notation,
                                 scale=args.scale_range,
                                 max_steps=args.max_steps if args.max_steps else "auto")
            except viz.GraphTooLargeError as e:
                _notes(caught)
                raise CommandError(str(e).replace("max_nodes", "--max-nodes")
                                   .replace("max_steps=", "--max-steps ")
                                   .replace("view='folded'", "--view folded")) from e
        _notes(caught)
        bar.update(1)
        try:
            path = viz.render(graph, args.output, format=fmt)
        except viz.RenderError as e:
            raise CommandError(str(e)) from e
        except OSError as e:
            raise CommandError(f"cannot write {args.output!r}: {e.strerror or e}") from e
        bar.update(1)
    print(f"wrote {path} ({graph.drawn_view} view, {graph.source.count(' -> ')} edges)")
    return 0


def _notes(caught: list[warnings.WarningMessage]) -> None:
    """Print the drawing's warnings (the ops view falling back to cells) as one-line notes."""
    for w in caught:
        print(f"tinygrad-rnn render: note: {w.message}", file=sys.stderr)


def _title(args: argparse.Namespace) -> str:
    parts = [f"{args.layers}-layer " if args.layers > 1 else "",
             "bidirectional " if args.bidirectional else "", args.cell.upper(),
             f", T={args.steps}, H={args.hidden}"]
    if args.truncate:
        parts.append(f", truncated BPTT every {args.truncate} steps")
    return "".join(parts)


def _progress(total: int) -> Any:
    """A tqdm bar on stderr that appears only if the work takes more than 2 s."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, delay=2.0, file=sys.stderr, leave=False,
                desc="unroll, backward, layout")


class _NoBar(nullcontext):  # type: ignore[type-arg]
    def update(self, n: int = 1) -> None:
        pass


def _walk(args: argparse.Namespace) -> int:
    """-o walk.html: the page that steps through the backward walk (viz.walk runs the
    backward pass itself, with contributions=True)."""
    from tinygrad_rnn import viz
    from tinygrad_rnn.cli import CommandError

    args.no_backward = True
    model, loss, _keep = build(args)
    try:
        page = viz.walk(loss, params=model, view=args.view, max_nodes=args.max_nodes,
                        direction=args.direction, title=args.title or _title(args),
                        notation=args.notation, scale=args.scale_range,
                        max_steps=args.max_steps)
    except viz.GraphTooLargeError as e:
        raise CommandError(str(e).replace("max_nodes", "--max-nodes")
                           .replace("view='cells'", "--view cells")
                           .replace("max_steps=", "--max-steps ")
                           .replace("view='folded'", "--view folded")
                           .replace("fewer steps", "fewer --steps")) from e
    except viz.RenderError as e:
        raise CommandError(str(e)) from e
    try:
        path = page.save(args.output)
    except OSError as e:
        raise CommandError(f"cannot write {args.output!r}: {e.strerror or e}") from e
    every = ", every time step drawn" if args.view == "cells" and not args.max_steps else ""
    print(f"wrote {path} ({len(page.steps)} steps of the backward walk, {args.view} view"
          f"{every})")
    return 0
