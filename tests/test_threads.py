"""Grad mode, scope, anomaly mode, lean mode and the fast switch are per thread (issue #13)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import fast
from tinygrad_rnn.anomaly import AnomalyError, detect_anomaly
from tinygrad_rnn.context import STATE


def in_threads(work: Callable[[int], None], n: int = 4) -> None:
    """Run work(0..n-1) in n threads started together; re-raise the first failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as e:  # noqa: BLE001 (handed to the main thread)
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_four_threads_entering_and_leaving_no_grad_and_scope_record_per_their_own_mode():
    w = tg.Tensor(np.ones(2), requires_grad=True)

    def work(i: int) -> None:
        for k in range(1000):
            with tg.scope(f"thread{i}"):
                if (k + i) % 2:
                    with tg.no_grad():
                        y = w * 2.0
                    assert not y.requires_grad and y.grad_fn is None
                else:
                    y = w * 2.0
                    assert y.requires_grad and y.grad_fn is not None
                assert y.scope == f"thread{i}" and tg.current_scope() == f"thread{i}"
            assert tg.is_grad_enabled() and tg.current_scope() == ""

    in_threads(work)
    assert tg.is_grad_enabled() and tg.current_scope() == ""
    assert (w * 2.0).requires_grad


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    inside, done = threading.Event(), threading.Event()

    def hold() -> None:
        with tg.no_grad():
            inside.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(10)
    try:
        assert tg.is_grad_enabled()
        assert (tg.Tensor([1.0], requires_grad=True) * 3.0).requires_grad
    finally:
        done.set()
        holder.join()


def test_detect_anomaly_in_one_thread_does_not_raise_for_another():
    inside, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def debug() -> None:
        try:
            with detect_anomaly():
                inside.set()
                done.wait(10)
                with pytest.raises(AnomalyError), np.errstate(divide="ignore"):
                    tg.Tensor([0.0], requires_grad=True).log()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    debugger = threading.Thread(target=debug)
    debugger.start()
    inside.wait(10)
    try:
        assert not STATE.anomaly
        with np.errstate(divide="ignore"):
            y = tg.Tensor([0.0], requires_grad=True).log()  # -inf, and no error here
        assert np.isneginf(y.data[0])
    finally:
        done.set()
        debugger.join()
    assert not errors, errors


def test_lean_mode_and_the_fast_switch_are_per_thread():
    seen: dict[str, bool] = {}
    ready, done = threading.Event(), threading.Event()

    def other() -> None:
        ready.wait(10)
        seen["lean"], seen["fast"] = STATE.lean, fast.enabled()
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    default = fast.enabled()
    with tg.full_graph(), fast.disabled():
        assert not STATE.lean and not fast.enabled()
        ready.set()
        done.wait(10)
    thread.join()
    assert seen == {"lean": True, "fast": default}
