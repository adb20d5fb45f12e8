"""Shared fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def fast_path(monkeypatch):
    """The fast path on for this test's thread, also when TINYGRAD_RNN_PLAIN=1 started the
    process with it off: lean graphs belong to it, and their tests must run in both CI
    passes rather than be skipped in one."""
    from tinygrad_rnn.context import STATE

    monkeypatch.setattr(STATE, "fast", True)
