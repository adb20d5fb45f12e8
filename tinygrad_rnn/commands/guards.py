"""Checks a command makes before any work, so that it fails in a second with one clear line
(exit code 2) rather than after minutes, or with NumPy's out-of-memory traceback:

* ``output_file`` / ``output_folder``: the output path can be written -- else the true
  reason: a path component is a regular file, the directory does not exist (it is not
  created), permission denied, a read-only file in the way (see ``tinygrad_rnn.files``);
* ``budget``: the sizes fit in the memory available now (``MemAvailable`` of
  /proc/meminfo, or the free physical pages) and the work takes less than ``TIME_LIMIT``.

The estimates are deliberately rough and on the low side (a fast machine), so only sizes
that are clearly too big are refused: ``recurrent_cost`` counts the bytes kept for backward
and the floating-point operations of an unrolled recurrent network, and the Python work of
recording its graph, whose per-node costs were measured on an ordinary CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from tinygrad_rnn.cli import CommandError
from tinygrad_rnn.files import writable_folder, writable_target

TIME_LIMIT = 300.0  # seconds: a run estimated to take longer is refused ("minutes")

# Per recorded op (forward and backward): the Python objects of a graph node, in bytes, and
# the interpreter's time. Ops per time step and gate blocks per cell type.
# Measured: about 1 KB and 50 us per node on a busy 2-core machine; a fast one is ~2x faster.
NODE_BYTES = 1000
NODE_SECONDS = 20e-6
FLOPS = 2e10  # floating-point operations per second of a fast BLAS (a busy VM: 0.3 - 3e9)
OPS_PER_STEP = {"rnn": 4, "gru": 19, "lstm": 16}
DRAW_SECONDS = 60e-6  # per node, for viz.draw to walk, group and label the graph
GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def output_file(path: str | os.PathLike[str]) -> None:
    """Refuse an output file that cannot be written (see ``files.writable_target``)."""
    try:
        writable_target(path)
    except OSError as e:
        raise CommandError(str(e)) from e


def output_folder(path: str | os.PathLike[str]) -> None:
    """Refuse an output folder that cannot be written (see ``files.writable_folder``)."""
    try:
        writable_folder(path)
    except OSError as e:
        raise CommandError(str(e)) from e


@dataclass(frozen=True)
class Cost:
    """What a run needs: bytes of memory at its peak, and seconds."""

    memory: float
    seconds: float

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.memory + other.memory, self.seconds + other.seconds)


def recurrent_cost(cell: str, steps: int, hidden: int, input_size: int, batch: int = 1,
                   layers: int = 1, directions: int = 1, itemsize: int = 8) -> Cost:
    """Forward + backward of an unrolled ``cell`` network: the weights (and their
    gradients and two optimizer moments), the inputs, and per step, layer and direction the
    graph nodes and the activations kept for backward (about 8 values per gate unit and
    10 per hidden unit), and 6 flops per weight and sample (one product forward, two back).
    """
    gates = GATES[cell]
    units = layers * directions
    weights = gates * hidden * (input_size + hidden + 2) * units
    per_step = units * (OPS_PER_STEP[cell] * NODE_BYTES
                        + (8 * gates + 10) * hidden * batch * itemsize)
    memory = 4 * weights * itemsize + steps * batch * input_size * itemsize + steps * per_step
    seconds = steps * units * OPS_PER_STEP[cell] * NODE_SECONDS \
        + 6.0 * steps * batch * weights / FLOPS
    return Cost(float(memory), float(seconds))


def budget(what: str, cost: Cost, advice: str) -> None:
    """Refuse ``what`` (e.g. "--steps 1000000") if ``cost`` exceeds the memory available
    or ``TIME_LIMIT``; the message ends with ``advice`` (what to change)."""
    available = available_memory()
    if available is not None and cost.memory > available:
        raise CommandError(f"{what} would need about {_bytes(cost.memory)} of memory, more than "
                           f"the {_bytes(available)} available: {advice}")
    if cost.seconds > TIME_LIMIT:
        raise CommandError(f"{what} would take about {_duration(cost.seconds)}, more than the "
                           f"{_duration(TIME_LIMIT)} limit: {advice}")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now, or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError  # pragma: no cover


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.3g} days"


def check_render(args: Any) -> None:
    """``tinygrad-rnn render``: the output file, and the sizes of the network it builds
    (inputs and targets of shape (steps, batch, ...), forward and backward)."""
    output_file(args.output)
    directions = 2 if args.bidirectional else 1
    nodes = args.steps * args.layers * directions * OPS_PER_STEP[args.cell]
    targets = Cost(8.0 * args.steps * args.batch * args.hidden * directions,
                   nodes * DRAW_SECONDS)
    budget(f"--steps {args.steps} --batch {args.batch} --hidden {args.hidden} --layers "
           f"{args.layers}",
           recurrent_cost(args.cell, args.steps, args.hidden, args.input, batch=args.batch,
                          layers=args.layers, directions=directions) + targets,
           "use smaller sizes (a picture shows a few steps and units best anyway)")
