"""How long Graphviz takes to lay out an unrolled LSTM (issue 11's target: the ops view
over 20 steps in <= 10 s with the pip-only WebAssembly Graphviz).

    python benchmarks/viz_layout.py            # T = 10, 20, 40 with every backend found

For each backend it times ``viz.to_svg`` of the picture and of a two-node graph (the fixed
cost: a subprocess, and for wasm compiling the WebAssembly module), best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz


def lstm_graph(steps: int, view: str) -> viz.Graph:
    model = nn.LSTM(3, 4, rng=0, dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(0).normal(size=(steps, 1, 3)), name="input")
    out, _ = model(x)
    loss = (out * out).mean()
    loss.name = "loss"
    loss.backward()
    return viz.draw(loss, view=view, params=model, max_nodes=5000, max_steps=None)


def best(seconds: list[float]) -> float:
    return min(seconds)


def timed(source: str, backend: str, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        viz.to_svg(source, backend=backend, timeout=600)
        runs.append(time.perf_counter() - start)
    return best(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="10,20,40")
    parser.add_argument("--view", default="ops")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(f"{'backend':8s} {'T':>4s} {'nodes':>6s} {'total s':>8s} {'fixed s':>8s} "
          f"{'layout s':>9s}")
    for backend in viz.available_backends():
        fixed = timed("digraph { a -> b }", backend, args.repeat)
        for steps in (int(s) for s in args.steps.split(",")):
            graph = lstm_graph(steps, args.view)
            nodes = graph.source.count("[label=")
            total = timed(graph.source, backend, args.repeat)
            print(f"{backend:8s} {steps:4d} {nodes:6d} {total:8.2f} {fixed:8.2f} "
                  f"{total - fixed:9.2f}")


if __name__ == "__main__":
    main()
