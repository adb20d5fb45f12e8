"""The README's ten-line example runs and prints what its comment says; its two set-up
commands are the ones .ci/run runs."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from printed import mismatch

ROOT = Path(__file__).resolve().parent.parent


def test_ten_line_example_prints_one_term_per_step():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    # compared as the docs pages are: numbers with a tolerance, text exactly (tests/printed.py)
    why = mismatch(out.getvalue(), "['t=1', 't=2', 't=3']")
    assert why is None, why


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert block is not None and readme.index("```bash") < readme.index("A from-scratch")
    main_job, tests = block.group(1).strip().splitlines()
    assert main_job.endswith("tinygrad-rnn demo")
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
