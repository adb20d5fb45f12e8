"""Shared plumbing for the example scripts: arguments, progress bars, figures, RESULT line.

Every example accepts ``--quick`` (a small run, at most 20 s on two cores),
``--seed`` (everything random derives from it) and ``--out DIR`` (where figures go,
default ``out/<example-name>``), and ends by printing one line ``RESULT {json}`` with its
key numbers, which ``tests/test_examples.py`` reads.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from tinygrad_rnn.files import atomic_open, atomic_write

try:
    import tinygrad_rnn as tg
except ImportError:  # run from a clone without `pip install -e .`: use the repository's copy
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import tinygrad_rnn as tg

T = TypeVar("T")


def parse_args(name: str, description: str,
               add: Any = None, argv: list[str] | None = None) -> argparse.Namespace:
    """The common arguments (plus those ``add(parser)`` adds); seeds the library's RNG and
    creates the output folder."""
    parser = argparse.ArgumentParser(prog=f"{name}.py", description=description)
    parser.add_argument("--quick", action="store_true",
                        help="a small, fast run (what the tests use)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, default=Path("out") / name,
                        help=f"folder for the figures (default out/{name})")
    if add is not None:
        add(parser)
    args = parser.parse_args(argv)
    tg.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def progress(iterable: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """A tqdm progress bar on stderr (plain iteration when tqdm is not installed)."""
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency, but an example should still run without it
        yield from iterable
        return
    yield from tqdm(iterable, desc=desc, total=total, file=sys.stderr, mininterval=0.5,
                    leave=False, dynamic_ncols=True)


def pyplot() -> Any:
    """matplotlib.pyplot with a file-only backend, or None (with a note) when missing."""
    try:
        import matplotlib
    except ImportError:
        print("note: matplotlib is not installed, so no figures are written "
              "(pip install 'tinygrad_rnn[plots]')")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, out: Path, stem: str, written: list[str]) -> None:
    """Write ``fig`` as PNG and SVG into ``out`` and note the paths in ``written`` (each file
    appears whole or not at all: ``atomic_open``, as the library writes its own files)."""
    for ext in ("png", "svg"):
        path = out / f"{stem}.{ext}"
        with atomic_open(path) as f:
            fig.savefig(f, format=ext, dpi=110, bbox_inches="tight")
        written.append(str(path))
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)


def render_graph(graph: Any, out: Path, stem: str, written: list[str]) -> None:
    """Write a graphviz graph as .dot, and as .svg when a Graphviz renderer is available."""
    dot = out / f"{stem}.dot"
    atomic_write(dot, graph.source if hasattr(graph, "source") else str(graph))
    written.append(str(dot))
    try:
        from tinygrad_rnn import viz

        svg = out / f"{stem}.svg"
        viz.render(graph, svg)
        written.append(str(svg))
    except Exception as error:  # no Graphviz at all: the .dot file is still there
        print(f"note: could not render {stem}.svg ({type(error).__name__}: {error}); "
              f"the DOT text is in {dot}")


def _clean(value: Any) -> Any:
    """JSON-friendly numbers: NumPy scalars to Python, NaN/inf to strings."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return float(f"{value:.6g}")  # 6 significant digits: tiny ratios stay visible
    return value


def result(**numbers: Any) -> None:
    """Print the machine-readable last line: ``RESULT {json}``."""
    print("RESULT " + json.dumps(_clean(numbers), sort_keys=True))
