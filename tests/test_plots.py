"""Plots (matplotlib is an optional extra): the data drawn is the data given."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.bptt import analysis

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plots = pytest.importorskip("tinygrad_rnn.plots")


def test_gradient_norms_of_rnn_gru_lstm(tmp_path):
    curves = {cell: [s for s in analysis.gradient_flow(cell, steps=12, hidden=6, seed=0)
                     if s.name == "h"] for cell in analysis.CELLS}
    for norms in curves.values():
        assert [s.t for s in norms] == list(range(1, 13))
    fig = plots.plot_gradient_norms(curves)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == list(analysis.CELLS)
    for line, norms in zip(ax.get_lines(), curves.values(), strict=True):
        np.testing.assert_allclose(line.get_ydata(), [s.norm for s in norms])
    fig.savefig(tmp_path / "flow.png")
    assert (tmp_path / "flow.png").stat().st_size > 1000


def test_contribution_strip_has_one_bar_per_use():
    model = nn.RNN(2, 3, rng=0, dtype=np.float64)
    out, _ = model(tg.Tensor(np.random.default_rng(0).normal(size=(5, 1, 2))))
    out.sum().backward(contributions=True)
    table = analysis.contributions(model.weight_hh_l0)
    fig = plots.plot_contributions(table)
    bars = fig.axes[0].patches
    assert len(bars) == 5
    np.testing.assert_allclose([b.get_height() for b in bars], table.norms())


def test_loss_curves():
    fig = plots.plot_loss_curves({"a": [3.0, 2.0, 1.0], "b": [1.0, 0.5]}, log=True)
    lines = fig.axes[0].get_lines()
    assert [list(line.get_ydata()) for line in lines] == [[3.0, 2.0, 1.0], [1.0, 0.5]]
    assert fig.axes[0].get_yscale() == "log"
