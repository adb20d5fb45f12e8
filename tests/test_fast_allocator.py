"""The fast path's one process-wide change: glibc keeps freed memory in the process
(``tinygrad_rnn/fast/allocator.py``). Each case runs in a fresh interpreter, because the
allocator's settings belong to the whole process; what is checked is the effect that
matters -- whether memory freed by one "iteration" comes back without page faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the allocator setting exists only with glibc")

# An "iteration" allocates 100 arrays of 400 kB (a graph's worth, 40 MB) and frees them;
# after one untimed round, the page faults of four more rounds per page they touch.
SCRIPT = """
import json, resource, sys
import numpy as np
import tinygrad_rnn
from tinygrad_rnn.fast import allocator
if sys.argv[1] == "release":
    allocator.release()
def iteration():
    arrays = [np.ones(50_000) for _ in range(100)]
    del arrays
iteration()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(4):
    iteration()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"kept": allocator.kept(), "per_page": faults / (4 * 100 * 400_000 / 4096)}))
"""


def _run(mode: str = "", **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("TINYGRAD_RNN_PLAIN", "TINYGRAD_RNN_KEEP_MEMORY")}
    environ.update(env, PYTHONPATH=os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True,
                          text=True, timeout=120, env=environ)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _is_glibc() -> bool:
    import platform

    return platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not _is_glibc(), reason="not glibc")
def test_freed_memory_is_reused_without_page_faults():
    result = _run()
    assert result["kept"] is True
    assert result["per_page"] < 0.1  # measured 0.0


@pytest.mark.parametrize("env", [{"TINYGRAD_RNN_PLAIN": "1"},
                                 {"TINYGRAD_RNN_KEEP_MEMORY": "0"}],
                         ids=["plain", "keep_memory_0"])
def test_switched_off_leaves_glibc_alone(env):
    result = _run(**env)
    assert result["kept"] is False
    if _is_glibc():  # glibc's own behaviour: the freed memory goes back, faults return
        assert result["per_page"] > 0.5  # measured 1.0


@pytest.mark.skipif(not _is_glibc(), reason="not glibc")
def test_release_undoes_it():
    result = _run("release")
    assert result["kept"] is False
    assert result["per_page"] > 0.5  # measured 1.0
