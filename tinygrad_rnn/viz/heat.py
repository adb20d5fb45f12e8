"""Gradient heat: map ‖grad‖ to a colour and a line width on a log scale, and draw the legend.

The colours are a slice of *magma* (a perceptually uniform colormap), hard-coded here so
that making DOT text needs no matplotlib. Small gradients are pale yellow and large ones
deep purple; the lightness falls monotonically along the scale, so the picture still reads
printed in greyscale. Gradients in an unrolled RNN span many orders of magnitude (that is
the vanishing-gradient story), so the scale is logarithmic: log10 ‖g‖ is mapped linearly
from the smallest to the largest norm in the picture -- or over a fixed range
(``LogScale(norms, fixed=(lo, hi))``), so that several pictures share one scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

# magma at 1.0, 0.9, ..., 0.2 (sRGB 0-255): index 0 = smallest gradient, 8 = largest.
# The darkest fifth of magma is left out so black text stays readable on the lighter half
# and white text on the darker half.
MAGMA = (
    (252, 253, 191),
    (254, 207, 146),
    (254, 159, 109),
    (247, 112, 92),
    (222, 73, 104),
    (183, 55, 121),
    (140, 41, 129),
    (100, 26, 128),
    (59, 15, 112),
)

ZERO_COLOR = "#ffffff"  # a gradient that is exactly zero: no heat at all
NO_GRAD_COLOR = "#f4f4f4"  # a node without .grad (a constant, or before backward)
NAN_COLOR = "#2ca02c"  # NaN/inf: a colour outside the scale, so it cannot be misread
MIN_WIDTH, MAX_WIDTH = 0.8, 5.0  # edge penwidth for the smallest / largest gradient
EDGE_START = 0.25  # edges use the colormap from here on (see LogScale.edge_color)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(round(c)) for c in rgb))


def colormap(s: float) -> str:
    """The colour at position s in [0, 1] (0 = smallest gradient), linearly interpolated."""
    s = min(max(s, 0.0), 1.0) * (len(MAGMA) - 1)
    i = min(int(s), len(MAGMA) - 2)
    f = s - i
    a, b = MAGMA[i], MAGMA[i + 1]
    return _hex(tuple(a[k] + f * (b[k] - a[k]) for k in range(3)))  # type: ignore[arg-type]


def luminance(color: str) -> float:
    """Relative luminance (WCAG) of a "#rrggbb" colour: 0 black, 1 white."""
    channels = []
    for k in range(3):
        c = int(color[1 + 2 * k: 3 + 2 * k], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def text_color(fill: str) -> str:
    """Black or white, whichever contrasts more with ``fill``."""
    return "#ffffff" if luminance(fill) < 0.18 else "#000000"


def check_range(scale: object, option: str = "draw: scale") -> tuple[float, float]:
    """A fixed heat range (lo, hi): two finite numbers with 0 < lo < hi. ``option`` names
    the setting in the message; a command-line option (``--scale``) is shown as LO:HI."""
    cli = option.startswith("--")

    def pair(a: object, b: object) -> str:
        return f"{a:g}:{b:g}" if cli else f"({a:g}, {b:g})"  # type: ignore[str-format]

    example = "1e-4:1" if cli else "(1e-4, 1)"
    try:
        lo, hi = (float(v) for v in scale)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        given = ":".join(map(str, scale)) if cli and isinstance(scale, list | tuple) \
            else scale
        what = "LO:HI, two gradient norms" if cli else "a pair (lo, hi) of gradient norms"
        raise ValueError(f"{option} must be {what}, got {given!r}; e.g. {example}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{option} must be finite, got {pair(lo, hi)}; give two gradient "
                         f"norms such as {example}")
    if not 0 < lo < hi:
        bounds = "0 < LO < HI" if cli else "0 < lo < hi"
        raise ValueError(f"{option} needs {bounds} (a log scale), got {pair(lo, hi)}; "
                         f"e.g. {example}")
    return lo, hi


class LogScale:
    """Maps gradient norms to [0, 1] by log10, between the smallest and largest positive
    finite norm it was built from (a single value, or none, gives a one-decade scale), or
    between ``fixed = (lo, hi)``; norms outside a fixed range get the end colours."""

    def __init__(self, norms: Iterable[float],
                 fixed: tuple[float, float] | None = None) -> None:
        logs = [math.log10(n) for n in norms if n > 0 and math.isfinite(n)]
        self.fixed = fixed is not None
        if fixed is not None:
            lo, hi = check_range(fixed)
            self.lo, self.hi = math.log10(lo), math.log10(hi)
        elif logs:
            self.lo, self.hi = min(logs), max(logs)
        else:
            self.lo, self.hi = 0.0, 1.0
        if not self.fixed and self.hi - self.lo < 1e-9:  # all equal: one decade around them
            self.lo, self.hi = self.lo - 0.5, self.hi + 0.5
        self.empty = not logs

    def position(self, norm: float) -> float:
        """Where ``norm`` falls on the scale: 0 at the smallest, 1 at the largest (clamped
        to [0, 1] -- only a fixed range can leave norms outside)."""
        return min(max((math.log10(norm) - self.lo) / (self.hi - self.lo), 0.0), 1.0)

    def color(self, norm: float | None) -> str:
        if norm is None:
            return NO_GRAD_COLOR
        if not math.isfinite(norm):
            return NAN_COLOR
        if norm == 0:
            return ZERO_COLOR
        return colormap(self.position(norm))

    def edge_color(self, norm: float | None) -> str:
        """Like ``color`` but starting a quarter up the colormap: the palest yellow would
        vanish as a thin line on a white background (a node keeps its border)."""
        if norm is None or norm == 0 or not math.isfinite(norm):
            return self.color(norm) if norm != 0 else "#bbbbbb"
        return colormap(EDGE_START + (1 - EDGE_START) * self.position(norm))

    def width(self, norm: float | None) -> float:
        if norm is None or norm == 0:
            return MIN_WIDTH
        if not math.isfinite(norm):
            return MAX_WIDTH
        return MIN_WIDTH + self.position(norm) * (MAX_WIDTH - MIN_WIDTH)

    def ticks(self, count: int = 5) -> list[float]:
        """``count`` norms evenly spaced in log10 from the smallest to the largest."""
        step = (self.hi - self.lo) / (count - 1)
        return [10 ** (self.lo + i * step) for i in range(count)]


LEGEND_TITLE = "gradient norm |∂L/∂·|, log scale"


def legend_swatches(scale: LogScale, count: int = 5) -> list[tuple[str, str]]:
    """(label, fill colour) for the legend: ``count`` norms spread over the scale, then
    the colours for an exact zero and for "no gradient"."""
    swatches = [(f"{norm:.1e}", scale.color(norm)) for norm in scale.ticks(count)]
    return swatches + [("0", ZERO_COLOR), ("no grad", NO_GRAD_COLOR)]
