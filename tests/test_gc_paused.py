"""gc_paused(): the cyclic collector is off while a graph is recorded, and restored after."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.nn import RNN


def test_collector_is_off_inside_and_back_on_after_even_on_error():
    assert gc.isenabled()
    with tg.gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), tg.gc_paused():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with tg.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_objects_the_program_froze_stay_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with tg.gc_paused():
            junk = [[] for _ in range(100)]
        del junk
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


@pytest.mark.usefixtures("fast_path")  # pausing the collector is part of the fast path
def test_rnn_layers_record_with_the_collector_paused():
    seen = []

    class Probe(RNN):
        def _step(self, x, state, w):
            seen.append(gc.isenabled())
            return super()._step(x, state, w)

    out, _ = Probe(2, 3, rng=0)(tg.Tensor(np.ones((4, 1, 2), np.float32)))
    assert seen == [False] * 4
    assert gc.isenabled()


def test_garbage_cycles_made_while_paused_are_collected_later():
    class Node:
        pass

    with tg.gc_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle: only the collector frees it
        ref = weakref.ref(a)
        del a, b
    assert ref() is not None  # not collected while paused
    gc.collect()
    assert ref() is None
