"""Compare printed output with the output a page (or README) quotes, numbers with a tolerance.

A different CPU or BLAS kernel sums in another order, so a float printed to four digits
after thousands of training steps can differ in its last digit (0.1918 here, 0.1920 there).
The text around the numbers must match exactly (runs of spaces count as one, since NumPy
pads columns to the widest entry), integers must match exactly (counts, shapes, steps), and
each decimal number may differ from the quoted one by

    rel * |quoted| + abs + one unit in the quoted number's last printed digit

(the unit covers a value that sits on a rounding boundary). A number that is really wrong
still fails: 0.1918 against 0.2918, 84 against 85, or 2.8e+00 against 2.8e+01.
"""

from __future__ import annotations

import math
import re

# A number not glued to a name (so the 0 of "weight_hh_l0" or the 3 of "E_3" is text).
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")

DEFAULT_REL = 1e-3
DEFAULT_ABS = 0.0


def _is_integer(token: str) -> bool:
    return not any(c in token for c in ".eE")


def _last_place(token: str) -> float:
    """One unit in the last printed digit of a decimal: 0.1918 -> 1e-4, 6.763e-04 -> 1e-7."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    if decimals == 0:  # "2." as NumPy prints a whole float: no digit to round
        return 0.0
    return 10.0 ** (-decimals + (int(exponent) if exponent else 0))


def _split(line: str) -> tuple[list[str], list[str]]:
    """The text between numbers (spaces collapsed) and the numbers of one line."""
    parts = NUMBER.split(line)
    numbers = NUMBER.findall(line)
    texts = [" ".join(p.split()) for p in parts]
    return texts, numbers


def _normalise(output: str) -> list[str]:
    return [line.rstrip() for line in output.rstrip().splitlines()]


def mismatch(got: str, want: str, rel: float = DEFAULT_REL, abs_tol: float = DEFAULT_ABS
             ) -> str | None:
    """None if ``got`` matches ``want`` (the quoted output), else why not, naming the line."""
    got_lines, want_lines = _normalise(got), _normalise(want)
    if len(got_lines) != len(want_lines):
        return f"printed {len(got_lines)} lines, the quoted output has {len(want_lines)}"
    for k, (g, w) in enumerate(zip(got_lines, want_lines, strict=True), 1):
        g_texts, g_nums = _split(g)
        w_texts, w_nums = _split(w)
        if g_texts != w_texts or len(g_nums) != len(w_nums):
            return f"line {k} differs in its text:\n  printed: {g}\n  quoted:  {w}"
        for a, b in zip(g_nums, w_nums, strict=True):
            if _is_integer(b) and _is_integer(a):
                if int(a) != int(b):
                    return f"line {k}: printed the integer {a}, the quoted output has {b}"
                continue
            x, y = float(a), float(b)
            allowed = rel * abs(y) + abs_tol + _last_place(b)
            if not math.isclose(x, y, rel_tol=0.0, abs_tol=allowed):
                return (f"line {k}: printed {a}, the quoted output has {b} (allowed "
                        f"difference {allowed:.3g}: rel={rel:g}, abs={abs_tol:g} and one unit "
                        f"in the last digit)\n  printed: {g}\n  quoted:  {w}")
    return None


def parse_tolerance(options: str) -> tuple[float, float]:
    """``"rel=1e-2 abs=1e-6"`` -> (0.01, 1e-06); missing keys keep their defaults."""
    rel, abs_tol = DEFAULT_REL, DEFAULT_ABS
    for item in options.split():
        key, sep, value = item.partition("=")
        if not sep or key not in ("rel", "abs"):
            raise ValueError(f"unknown tolerance option {item!r}: use rel=R and/or abs=A")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"tolerance option {item!r}: {value!r} is not a number") from None
        if not number >= 0:
            raise ValueError(f"tolerance option {item!r} must be >= 0")
        if key == "rel":
            rel = number
        else:
            abs_tol = number
    return rel, abs_tol
