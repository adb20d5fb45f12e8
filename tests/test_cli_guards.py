"""What every command checks before any work: output paths and sizes; and the one-line
errors when something still goes wrong (out of memory)."""

from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest

from tinygrad_rnn.bptt import analysis
from tinygrad_rnn.cli import main
from tinygrad_rnn.commands import guards

GB = 10**9


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "_ArrayMemoryError" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"tinygrad-rnn {command}: error: ")
    return err


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a command starts its real work (the checks must come first)."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the command started working before its checks")

    monkeypatch.setattr(analysis, "gradient_flow", forbidden)
    from tinygrad_rnn.commands import demo, render

    monkeypatch.setattr(demo, "Detector", forbidden)
    monkeypatch.setattr(render, "build", forbidden)


@pytest.mark.parametrize("argv", [
    ["demo", "--hidden", "20000"],
    ["render", "--batch", "1000000000", "-o", "{tmp}/g.dot"],
    ["flow", "--steps", "1000000000"],
    ["flow", "--hidden", "100000"],
])
def test_huge_sizes_are_refused_up_front_in_one_line(argv, tmp_path, capsys, no_work,
                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)  # demo's default output folder
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = one_line_error(capsys, argv[0])
    assert re.search(r"would (need about [\d.]+ [KMGTP]B of memory, more than the [\d.]+ "
                     r"[KMGTP]B available|take about .*, more than the 5 min limit)", err), err
    assert "use " in err  # and what to do
    assert os.listdir(tmp_path) == []


def test_the_memory_limit_is_the_memory_available(capsys, monkeypatch, no_work):
    monkeypatch.setattr(guards, "available_memory", lambda: 2 * GB)
    # 6,000 LSTM steps of 1,024 units keep ~42 * 1024 float64 each for backward: > 2 GB
    assert main(["flow", "--cells", "lstm", "--steps", "6000", "--hidden", "1024"]) == 2
    err = one_line_error(capsys, "flow")
    assert "more than the 2 GB available" in err and "--steps 6000 --hidden 1024" in err
    assert "use fewer --steps, a smaller --hidden or fewer --layers" in err


def test_long_runs_are_refused_naming_the_time_limit(capsys, monkeypatch):
    monkeypatch.setattr(guards, "available_memory", lambda: 10**6 * GB)
    assert main(["gradcheck", "--trials", "100000000"]) == 2
    err = one_line_error(capsys, "gradcheck")
    assert re.search(r"--trials 100000000 for \d+ ops would take about [\d.]+ days, more "
                     r"than the 5 min limit: use fewer --trials", err), err
    assert main(["demo", "--steps", "1000000000"]) == 2
    assert "more than the 5 min limit" in one_line_error(capsys, "demo")


def test_usual_sizes_pass_the_checks():
    """The defaults and the documented examples are far from every limit."""
    for cell in guards.GATES:
        cost = guards.recurrent_cost(cell, 30, 16, 4)
        assert cost.memory < 100e6 and cost.seconds < 1
    # flow --steps 100000 is a deliberate experiment (about 2 minutes): it runs
    flow = [guards.recurrent_cost(c, 100_000, 16, 4) for c in ("rnn", "gru", "lstm")]
    assert sum(c.seconds for c in flow) < guards.TIME_LIMIT
    assert max(c.memory for c in flow) < 4 * GB


def test_running_out_of_memory_anyway_prints_one_line(capsys, monkeypatch):
    monkeypatch.setattr(guards, "budget", lambda *args: None)  # an estimate that was wrong
    # 10**14 float64 values (800 TB) cannot be allocated anywhere: NumPy's MemoryError
    monkeypatch.setattr(analysis, "gradient_flow", lambda *a, **k: np.ones(10**14))
    assert main(["flow", "--steps", "5"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("tinygrad-rnn flow: error: out of memory (Unable to allocate")
    assert err.endswith("use smaller sizes")


# -- output paths ------------------------------------------------------------------------------

def output_cases(tmp_path):
    (tmp_path / "file.txt").write_text("a file")
    (tmp_path / "folder.svg").mkdir()
    return {
        "inside a file": (tmp_path / "file.txt" / "out.svg",
                          r"'.*file\.txt' is a file, not a directory"),
        "missing directory": (tmp_path / "missing" / "out.svg",
                              r"the directory '.*missing' does not exist; create it first"),
        "a directory": (tmp_path / "folder.svg", r"it is a directory; give a file name"),
    }


@pytest.mark.parametrize("case", ["inside a file", "missing directory", "a directory"])
@pytest.mark.parametrize("command", ["flow", "render"])
def test_output_file_is_checked_before_any_work_with_the_true_reason(tmp_path, capsys, case,
                                                                     command, no_work):
    pytest.importorskip("matplotlib")
    path, message = output_cases(tmp_path)[case]
    assert main([command, "-o", str(path.with_suffix(".svg"))]) == 2
    assert re.search(message, one_line_error(capsys, command))
    assert sorted(os.listdir(tmp_path)) == ["file.txt", "folder.svg"]  # nothing was created
    assert os.listdir(tmp_path / "folder.svg") == []


def test_permission_denied_is_named(tmp_path, capsys, monkeypatch, no_work):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if os.fspath(p) == str(
        tmp_path) else real_access(p, mode, **kw))  # a directory a non-root user cannot write
    assert main(["flow", "-o", str(tmp_path / "flow.png")]) == 2
    assert re.search(r"permission denied to create files in the directory '.*'",
                     one_line_error(capsys, "flow"))


def test_render_refuses_to_overwrite_a_read_only_file(tmp_path, capsys, no_work):
    path = tmp_path / "keep.dot"
    path.write_text("digraph { precious }")
    path.chmod(0o444)
    assert main(["render", "-o", str(path)]) == 2
    assert "keep.dot' is read-only; refusing to replace it" in one_line_error(capsys, "render")
    assert path.read_text() == "digraph { precious }"


def test_flow_checks_the_plot_format_before_any_work(tmp_path, capsys, no_work):
    pytest.importorskip("matplotlib")
    assert main(["flow", "-o", str(tmp_path / "flow.docx")]) == 2
    err = one_line_error(capsys, "flow")
    assert "cannot tell the plot format of" in err and ".png" in err and ".svg" in err


@pytest.mark.parametrize("where, message", [
    ("file.txt/demo", r"'.*file\.txt' is a file, not a directory"),
    ("file.txt", r"it is a file, not a folder"),
    ("missing/demo", r"the directory '.*missing' does not exist; create it first"),
])
def test_demo_output_folder_is_checked_before_any_work(tmp_path, capsys, where, message,
                                                        no_work):
    (tmp_path / "file.txt").write_text("a file")
    assert main(["demo", "-o", str(tmp_path / where)]) == 2
    assert re.search(message, one_line_error(capsys, "demo"))
    assert os.listdir(tmp_path) == ["file.txt"]


# -- flow: a summary for long sequences ----------------------------------------------------------

def expected_rate(norms: list[float]) -> tuple[float, int]:
    """Geometric mean factor per step from t=T back to the earliest nonzero norm."""
    first = next(i for i, v in enumerate(norms) if v > 0)
    return (norms[first] / norms[-1]) ** (1 / (len(norms) - 1 - first)), first


def test_long_flow_prints_a_summary_and_all_prints_every_step(capsys):
    assert main(["flow", "--steps", "300", "--cells", "gru,lstm", "--hidden", "4"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if re.match(r"\s+\d+\s+\d", line)]
    assert [int(r.split()[0]) for r in rows] == [*range(1, 11), *range(291, 301)]
    assert "280 steps not shown: --all prints them" in out
    for cell in ("gru", "lstm"):
        norms = [s.norm for s in analysis.gradient_flow(cell, steps=300, hidden=4)
                 if s.name == "h"]
        rate, first = expected_rate(norms)
        line = next(x for x in out.splitlines() if x.strip().startswith(f"{cell.upper()}: x"))
        assert float(re.search(r"x([\d.e-]+) ", line).group(1)) == pytest.approx(rate,
                                                                                  rel=1e-3)
        assert f"tenfold every {math.log(10) / -math.log(rate):.3g} steps" in line
    assert main(["flow", "--steps", "300", "--cells", "rnn", "--hidden", "4", "--all"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()
            if re.match(r"\s+\d+\s+\d", line)]
    assert [int(r.split()[0]) for r in rows] == list(range(1, 301))


def test_flow_summary_says_where_the_gradient_underflows_to_zero(capsys):
    steps = 1000  # an untrained RNN's gradient is exactly 0 long before t = 1
    norms = [s.norm for s in analysis.gradient_flow("rnn", steps=steps, hidden=4)
             if s.name == "h"]
    rate, first = expected_rate(norms)
    assert first > 0  # the premise: some norms are exactly 0
    assert main(["flow", "--steps", str(steps), "--cells", "rnn", "--hidden", "4"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) < 40
    assert f"exactly 0 (below the smallest float64) at t <= {first}" in out
