"""``tinygrad-rnn gradcheck``: the summary table and the exit code."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_rnn import ops, optable
from tinygrad_rnn.cli import main


def _rows(out: str) -> dict[str, str]:
    """op name -> its line of the summary table."""
    return {line.split()[0]: line for line in out.splitlines()[1:] if line and line[0] != " "
            and line.split()[0] in optable.names()}


def test_gradcheck_passes_on_the_real_table(capsys):
    assert main(["gradcheck", "--trials", "3", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:3] == ["op", "math", "cases"] and header[-1] == "status"
    rows = _rows(out)
    assert set(rows) == set(optable.names())  # one line per op and composite
    for line in rows.values():
        assert line.rstrip().endswith("ok"), line
        fields = line.split()
        assert fields[-3] == "3"  # cases
        assert float(fields[-2]) < 1e-6  # max abs error, printed as a number
    assert "y = tanh(x); dx = g * (1 - y**2)" in rows["Tanh"]  # the math column
    assert f"all {len(rows)} ops passed ({3 * len(rows)} cases, seed 1)" in out


def test_broken_backward_fails_with_a_nonzero_exit(capsys, monkeypatch):
    # a plausible bug: the derivative of tanh written as 1 - y instead of 1 - y**2
    monkeypatch.setattr(ops.Tanh, "backward", lambda self, g: (g * (1 - self.y),))
    assert main(["gradcheck", "--trials", "2"]) == 1
    out = capsys.readouterr().out
    rows = _rows(out)
    assert "FAIL (2/2)" in rows["Tanh"]
    assert "FAIL" in rows["F.tanh"]  # the composite is built on the broken primitive
    assert rows["Sigmoid"].rstrip().endswith("ok")
    assert f"2 of {len(optable.names())} ops failed" in out
    assert "GradcheckError" in out and "input 0" in out


def test_broken_forward_is_reported(capsys, monkeypatch):
    monkeypatch.setattr(ops.Exp, "forward", lambda self, x: np.exp(x) * 1.01)
    assert main(["gradcheck", "--op", "Exp", "--trials", "1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL (1/1)" in _rows(out)["Exp"]
    assert "ForwardError" in out


def test_op_selects_case_insensitively_with_or_without_the_F_prefix(capsys):
    assert main(["gradcheck", "--op", "softmax", "--trials", "2"]) == 0
    assert set(_rows(capsys.readouterr().out)) == {"F.softmax"}
    assert main(["gradcheck", "--op", "tanh", "--trials", "1"]) == 0
    assert set(_rows(capsys.readouterr().out)) == {"Tanh", "F.tanh"}
    assert main(["gradcheck", "--op", "F.tanh", "--trials", "1"]) == 0
    assert set(_rows(capsys.readouterr().out)) == {"F.tanh"}


def test_same_seed_same_output_different_seed_different_cases(capsys):
    main(["gradcheck", "--op", "MatMul", "--seed", "5", "--trials", "9"])
    first = capsys.readouterr().out
    main(["gradcheck", "--op", "MatMul", "--seed", "5", "--trials", "9"])
    assert capsys.readouterr().out == first
    main(["gradcheck", "--op", "MatMul", "--seed", "6", "--trials", "9"])
    assert capsys.readouterr().out != first


@pytest.mark.parametrize("argv, message", [
    (["gradcheck", "--op", "nope"], "unknown op 'nope'"),
    (["gradcheck", "--trials", "0"], "--trials must be at least 1"),
])
def test_user_errors_exit_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
