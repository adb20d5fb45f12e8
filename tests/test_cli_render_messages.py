"""`tinygrad-rnn render`: options that cannot work together are refused in one line, and
what the command says it drew is what it drew."""

from __future__ import annotations

import pytest

from tinygrad_rnn.cli import main


@pytest.mark.parametrize("extra, output, expected", [
    (["--no-backward"], "walk.html", "--no-backward does not apply to a .html page"),
    (["--no-backward", "--show", "contributions"], "g.dot",
     "--show contributions needs the backward pass"),
])
def test_conflicting_options_refused(tmp_path, capsys, extra, output, expected):
    code = main(["render", "--cell", "rnn", "--steps", "3", *extra, "-o",
                 str(tmp_path / output)])
    err = capsys.readouterr().err
    assert code == 2 and expected in err
    assert err.count("\n") == 1  # one line
    assert not (tmp_path / output).exists()


def test_ops_view_too_big_says_it_drew_the_cells_view(tmp_path, capsys):
    out = tmp_path / "g.dot"
    code = main(["render", "--cell", "lstm", "--steps", "12", "--view", "ops",
                 "--max-nodes", "150", "--max-steps", "12", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0 and out.exists()
    assert "note: draw: the 'ops' view would have" in captured.err
    assert "(cells view," in captured.out and "(ops view" not in captured.out
