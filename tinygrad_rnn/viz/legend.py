"""The legend: a continuous colour bar with ticks, drawn as one HTML-like table node.

    |∂L/∂·| (log scale)
    [pale ··············· dark]  [0] [no grad]
    |      |      |      |    |
    1e-04  1e-03  1e-02  0.1  1

The bar is 8 segments, each a two-colour linear gradient between neighbouring points of
the colormap, so it reads as one continuous band; the 5 ticks sit on segment boundaries
(20 equal columns: 2 of padding, 16 under the bar, 2 of padding, and each tick label spans
the 4 columns centred on its tick). It is part of the graph's label, under the title, so
it stays together and costs dot nothing to place.
"""

from __future__ import annotations

from tinygrad_rnn.viz import heat

SEGMENTS = 8  # gradient segments in the bar (2 per tick interval)
COLUMN = 16  # width of one of the 20 columns, in points


def tick_text(norm: float) -> str:
    """A tick number: 2 significant digits, exponent form outside [0.01, 1000)."""
    if norm == 0:
        return "0"
    return f"{norm:.2g}" if 0.01 <= abs(norm) < 1000 else f"{norm:.1e}"


def table(scale: heat.LogScale, fontsize: float, title: str = heat.LEGEND_TITLE) -> str:
    """The legend as a Graphviz HTML-like table ("<TABLE …>…</TABLE>")."""
    ticks = scale.ticks(5)
    bar = ['<TD COLSPAN="2" BORDER="0"></TD>']
    for k in range(SEGMENTS):
        a, b = heat.colormap(k / SEGMENTS), heat.colormap((k + 1) / SEGMENTS)
        bar.append(f'<TD COLSPAN="2" BORDER="0" CELLPADDING="0" BGCOLOR="{a}:{b}" '
                   f'GRADIENTANGLE="0" WIDTH="{2 * COLUMN}" HEIGHT="18"></TD>')
    bar.append('<TD COLSPAN="2" BORDER="0"></TD>')
    marks = []
    for col in range(20):
        tick = col in (2, 6, 10, 14, 18)  # the left edge of these columns is a tick
        sides = ' BORDER="1" SIDES="L" COLOR="#333333"' if tick else ' BORDER="0"'
        marks.append(f'<TD{sides} CELLPADDING="0" WIDTH="{COLUMN}" HEIGHT="5"></TD>')
    numbers = [f'<TD COLSPAN="4" BORDER="0" CELLPADDING="2"><FONT POINT-SIZE="{fontsize:g}">'
               f'{tick_text(n)}</FONT></TD>' for n in ticks]
    extra = []
    for text, fill in (("0", heat.ZERO_COLOR), ("no grad", heat.NO_GRAD_COLOR)):
        extra.append(f'<TD BORDER="1" CELLPADDING="2" COLOR="#666666" BGCOLOR="{fill}">'
                     f'<FONT POINT-SIZE="{fontsize:g}">{text}</FONT></TD>')
    blank = '<TD BORDER="0" COLSPAN="3"></TD>'
    rows = [
        f'<TR><TD COLSPAN="23" BORDER="0" CELLPADDING="3"><FONT POINT-SIZE="{fontsize:g}">{title}'
        f'</FONT></TD></TR>',
        "<TR>" + "".join(bar) + '<TD BORDER="0" WIDTH="12"></TD>' + "".join(extra) + "</TR>",
        "<TR>" + "".join(marks) + blank + "</TR>",
        "<TR>" + "".join(numbers) + blank + "</TR>",
    ]
    return ('<TABLE BORDER="1" STYLE="ROUNDED" COLOR="#bbbbbb" CELLBORDER="0" '
            'CELLSPACING="0" CELLPADDING="0">' + "".join(rows) + "</TABLE>")


def html_text(text: str) -> str:
    """Text made safe for an HTML-like label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def caption(title: str | None, scale: heat.LogScale | None, fontsize: float,
            title_size: float) -> str | None:
    """The graph's label: the title above the colour bar (either may be missing). As the
    graph label it sits above the picture without taking part in the layout."""
    rows = []
    if title:
        rows.append(f'<TR><TD><FONT POINT-SIZE="{title_size:g}">{html_text(title)}</FONT>'
                    f'</TD></TR>')
    if scale is not None:
        rows.append(f"<TR><TD>{table(scale, fontsize)}</TD></TR>")
    if not rows:
        return None
    return '<<TABLE BORDER="0" CELLSPACING="2">' + "".join(rows) + "</TABLE>>"
