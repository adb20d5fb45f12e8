"""Keep freed memory in the process between training iterations (glibc's malloc only).

(Part of the fast path. The only process-wide change tinygrad_rnn makes; off with
``TINYGRAD_RNN_PLAIN=1`` or ``TINYGRAD_RNN_KEEP_MEMORY=0``, undone by ``release()``.)

Why. One forward + backward of an unrolled RNN allocates its whole graph -- every op's
output and every gradient, tens of MiB of (batch, hidden)-sized arrays -- and frees all of
it when the graph dies at the end of the iteration. glibc's malloc then gives the top of
its heap back to the operating system (it trims once more than ``M_TRIM_THRESHOLD`` is
free there) and serves large arrays with their own ``mmap``, unmapped again when freed.
The next iteration asks for the same memory once more, and the kernel hands it out page by
page, zeroing each 4 KiB page on its first touch: one minor page fault each. Measured in a
fresh process, LSTM (batch 32, input 64, hidden 256, T = 50) with a Linear head and the
default ``backward()``: about 7,200 page faults and 15-20 ms of kernel time per iteration.

What. Two ``mallopt`` calls when the package is imported with the fast path on:
``M_MMAP_THRESHOLD`` = 1 GiB (arrays below it come from the heap, where freed memory is
reused; glibc versions that refuse more than 32 MiB get 32 MiB) and ``M_TRIM_THRESHOLD`` =
2 GiB (up to that much free memory stays with the process) -- as if Python were started
with ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` set to those. Then the same
loop takes no page faults after its first iteration. (32 MiB and 256 MiB were not enough:
an LSTM of batch 64, input 256, hidden 512, T = 100 frees more than 256 MiB per iteration,
and its stacked (T, B, 4H) arrays are 52 MB.)

Cost. The process keeps the memory its largest iteration needed (up to 2 GiB more than it
uses at a time) instead of returning it between iterations, for every library in the
process (NumPy's other arrays too). Setting a threshold also turns off glibc's own
adjustment of the mmap threshold, for good: ``release()`` sets both back to glibc's
initial 128 KiB and returns the free memory to the system, but the adjustment stays off.

Elsewhere (macOS, Windows, musl) nothing happens and ``kept()`` is False.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 2**30
MMAP_THRESHOLD_FALLBACK = 32 * 2**20  # the most that older glibc versions accept
TRIM_THRESHOLD = 2**31 - 1  # the largest value mallopt's int takes: 2 GiB
GLIBC_INITIAL = 128 * 2**10  # both thresholds' values when a process starts

_kept = False


def wanted(fast_default: bool) -> bool:
    """Whether to keep freed memory at import: the fast path is on by default and
    ``TINYGRAD_RNN_KEEP_MEMORY`` is not 0."""
    return fast_default and os.environ.get("TINYGRAD_RNN_KEEP_MEMORY", "").strip() != "0"


def _glibc() -> Any:
    """The process's C library if it is glibc (has ``mallopt`` and ``malloc_trim``)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the symbols already loaded into this process
    except OSError:
        return None
    if not all(hasattr(libc, name) for name in ("gnu_get_libc_version", "mallopt",
                                                 "malloc_trim")):
        return None
    return libc


def keep() -> bool:
    """Raise glibc's mmap and trim thresholds; True if it took effect."""
    global _kept
    libc = _glibc()
    if libc is None:
        return False
    mmap = (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            or libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_FALLBACK) == 1)
    _kept = mmap and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return _kept


def release() -> None:
    """Undo ``keep()``: both thresholds back to 128 KiB, free memory returned now."""
    global _kept
    libc = _glibc()
    if libc is None:
        return
    libc.mallopt(M_TRIM_THRESHOLD, GLIBC_INITIAL)
    libc.mallopt(M_MMAP_THRESHOLD, GLIBC_INITIAL)
    libc.malloc_trim(0)
    _kept = False


def kept() -> bool:
    """Whether freed memory is being kept in the process (``keep()`` took effect)."""
    return _kept
