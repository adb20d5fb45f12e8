"""Reading scope paths: which layer, direction and time step a node belongs to.

The engine stamps every tensor with the path of the scopes open when it was made
(``"layer0/bwd/t=3/LSTMCell"``). Nothing in the engine interprets it; the renderer and the
gradient-flow analysis read it with the conventions below, so they work for the library's
layers and for a learner's own loop alike (a loop that opens only ``scope(f"t={t}")``, or no
scope at all, is fine: the missing parts are just ``None``).

    layer     a component "layer<k>"                 -> k
    direction a component "fwd" or "bwd"             -> "fwd" / "bwd"
    time step a component "t=<n>" (also "t<n>", "t_<n>", "step=<n>", "step<n>") -> n
    cell      the component right after the time step ("LSTMCell"), if any
"""

from __future__ import annotations

import re
from typing import NamedTuple

_TIME = re.compile(r"^(?:t|step)[=_]?(\d+)$")
_LAYER = re.compile(r"^layer[=_]?(\d+)$")


class ScopeInfo(NamedTuple):
    """What a scope path says about where a node sits in an unrolled network."""

    layer: int | None
    direction: str | None
    t: int | None
    cell: str | None


def time_of(component: str) -> int | None:
    """The time step written in one scope component ("t=3" -> 3), else None."""
    m = _TIME.match(component)
    return int(m.group(1)) if m else None


def parse_scope(path: str) -> ScopeInfo:
    """Split a scope path into (layer, direction, t, cell); missing parts are None.

    >>> parse_scope("layer1/bwd/t=4/GRUCell")
    ScopeInfo(layer=1, direction='bwd', t=4, cell='GRUCell')
    >>> parse_scope("t=2")
    ScopeInfo(layer=None, direction=None, t=2, cell=None)
    """
    layer = direction = t = cell = None
    parts = path.split("/") if path else []
    for i, part in enumerate(parts):
        m = _LAYER.match(part)
        if m and layer is None:
            layer = int(m.group(1))
        elif part in ("fwd", "bwd") and direction is None:
            direction = part
        elif t is None and time_of(part) is not None:
            t = time_of(part)
            if i + 1 < len(parts):
                cell = parts[i + 1]
    return ScopeInfo(layer, direction, t, cell)


def split_time(path: str) -> tuple[str, int | None, str]:
    """(the path before the time component, the step, the path after it).

    ``"layer0/fwd/t=3/LSTMCell"`` -> ``("layer0/fwd", 3, "LSTMCell")``; a path without a
    time component gives ``(path, None, "")``.
    """
    parts = path.split("/") if path else []
    for i, part in enumerate(parts):
        t = time_of(part)
        if t is not None:
            return "/".join(parts[:i]), t, "/".join(parts[i + 1:])
    return path, None, ""
