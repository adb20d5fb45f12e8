"""Shared fixtures."""

from __future__ import annotations

import os

import pytest


def _require(available: object, why: str) -> None:
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI installs it: check .ci/run)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def require():
    """``require(available, why)``: skip the test when a system tool it needs is missing --
    except under CI (``CI`` set, as ``.ci/run`` does), which installs every one of them:
    there the test fails, so a missing install step cannot hide behind a skip."""
    return _require


@pytest.fixture
def fast_path(monkeypatch):
    """The fast path on for this test's thread, also when TINYGRAD_RNN_PLAIN=1 started the
    process with it off: lean graphs belong to it, and their tests must run in both CI
    passes rather than be skipped in one."""
    from tinygrad_rnn.context import STATE

    monkeypatch.setattr(STATE, "fast", True)
