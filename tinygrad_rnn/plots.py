"""Plots of gradient flow (matplotlib, an optional extra: ``pip install "tinygrad_rnn[plots]"``).

* ``plot_gradient_norms``  -- ‖∂L/∂h_t‖ against t, one line per model (log scale): RNN vs
  GRU vs LSTM on the same task shows the vanishing gradient of the plain RNN.
* ``plot_contributions``   -- the per-step contribution strip of one shared weight: the
  terms of the BPTT sum, one bar per use.
* ``plot_loss_curves``     -- training loss against step, one line per run.

Each returns the matplotlib ``Figure``; pass ``ax=`` to draw into an existing axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tinygrad_rnn.bptt.analysis import ContributionTable, StateNorm
from tinygrad_rnn.viz.heat import LogScale


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError('tinygrad_rnn.plots needs matplotlib: pip install '
                          '"tinygrad_rnn[plots]" (or pip install matplotlib)') from e
    return plt


def _axes(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def _curve(values: Sequence[Any]) -> tuple[list[int], list[float]]:
    items = list(values)
    if items and isinstance(items[0], StateNorm):
        return [s.t for s in items], [s.norm for s in items]
    return list(range(1, len(items) + 1)), [float(v) for v in items]


def plot_gradient_norms(curves: Mapping[str, Sequence[float] | Sequence[StateNorm]], *,
                        ax: Any = None, title: str | None = None) -> Any:
    """‖∂L/∂h_t‖ against t (log y), one line per entry of ``curves`` (label -> the norms
    for t = 1..T, or a list of ``StateNorm``)."""
    fig, ax = _axes(ax, (6.4, 3.8))
    for label, values in curves.items():
        t, norms = _curve(values)
        ax.semilogy(t, norms, marker="o", markersize=3, linewidth=1.6, label=label)
    ax.set_xlabel("time step t")
    ax.set_ylabel("‖∂L/∂h_t‖  (log scale)")
    ax.set_title(title or "How far back does the gradient reach?")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return fig


def plot_contributions(table: ContributionTable, *, ax: Any = None,
                       title: str | None = None) -> Any:
    """One bar per term of ``table`` (log height, coloured like the graph's heat)."""
    fig, ax = _axes(ax, (max(4.0, 0.35 * len(table) + 2), 3.2))
    scale = LogScale(table.norms())
    labels, heights, colours = [], [], []
    for r in table:
        where = "/".join(p for p in (f"l{r.layer}" if r.layer is not None else "",
                                     r.direction or "") if p)
        labels.append(f"{where + ' ' if where else ''}t={r.t}" if r.t is not None else r.scope)
        heights.append(r.norm)
        colours.append(scale.color(r.norm))
    ax.bar(range(len(heights)), heights, color=colours, edgecolor="#444444", linewidth=0.6)
    ax.set_yscale("log")
    ax.set_xticks(range(len(labels)), labels, rotation=60 if len(labels) > 8 else 0,
                  fontsize=8)
    ax.set_ylabel("‖term‖ (log scale)")
    ax.set_title(title or f"BPTT terms of ∂L/∂{table.name}: one per use")
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def plot_loss_curves(curves: Mapping[str, Sequence[float]], *, ax: Any = None,
                     log: bool = False, title: str | None = None) -> Any:
    """Loss against training step, one line per run."""
    fig, ax = _axes(ax, (6.4, 3.8))
    for label, losses in curves.items():
        ax.plot(range(1, len(losses) + 1), list(losses), linewidth=1.5, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title or "Training loss")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig
