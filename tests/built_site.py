"""``mkdocs build --strict`` once per test session, shared by the tests that read the site."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build(dest: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "-f", str(ROOT / "mkdocs.yml"), "-d", str(dest)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@functools.cache
def site() -> Path:
    """The built site's directory; raises AssertionError with mkdocs' output if it fails."""
    tmp = Path(tempfile.mkdtemp(prefix="tinygrad_rnn_site_"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    result = build(tmp / "site")
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    return tmp / "site"
