"""Small inline SVG charts for the leaderboard page and ``mmvp report compare --chart``.

Hand-written SVG so the page stays self-contained (no script library, no network); every label
is escaped, since model names come from untrusted entries.
"""

from __future__ import annotations

from lmms_mmvp.report.stats import Interval
from lmms_mmvp.report.text import html_text as escape
from mmvp_tasks.patterns import PATTERNS

ENTRY_COLOUR, REFERENCE_COLOUR, INTERVAL_COLOUR = "#3b6ea8", "#b5b5b5", "#1b1b1b"
CHANCE = 25.0  # random guessing, pair accuracy (%)


def pattern_bars(name: str, patterns: dict[str, float | None]) -> str:
    """Vertical bars: pair accuracy (%) per visual pattern, in the paper's order."""
    width, height, left, bottom, top = 330, 170, 30, 22, 10
    plot_h = height - bottom - top
    step = (width - left - 6) / len(PATTERNS)
    parts = [_svg_open(width, height, f"{name}: pair accuracy per pattern"), _y_grid(
        left, width, top, plot_h)]  # fmt: skip
    for i, p in enumerate(PATTERNS):
        x = left + i * step + 3
        value = patterns.get(p.code)
        if value is not None:
            bar_h = plot_h * value / 100
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" '
                f'width="{step - 6:.1f}" height="{bar_h:.1f}" fill="{ENTRY_COLOUR}">'
                f"<title>{escape(p.name)}: {value:.1f}%</title></rect>"
            )
        parts.append(
            f'<text x="{x + (step - 6) / 2:.1f}" y="{height - 8}" font-size="10" '
            f'text-anchor="middle">{escape(p.code)}</text>'
        )
    return "".join(parts) + "</svg>"


def accuracy_with_intervals(items: list[tuple[str, float, Interval | None, bool]]) -> str:
    """Horizontal bars of pair accuracy (%) with 95 % interval whiskers and the chance line.

    ``items``: (label, pair accuracy %, interval in % or None, is a reference number)."""
    label_w, plot_w, row_h, top, bottom = 230, 360, 20, 8, 24
    height = top + row_h * len(items) + bottom
    width = label_w + plot_w + 16
    parts = [_svg_open(width, height, "pair accuracy with 95% intervals")]
    for tick in range(0, 101, 25):
        x = label_w + plot_w * tick / 100
        dash = ' stroke-dasharray="4 3"' if tick == CHANCE else ""
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" '
            f'stroke="#ccc"{dash}/><text x="{x:.1f}" y="{height - 8}" font-size="10" '
            f'text-anchor="middle">{tick}</text>'
        )
    for i, (label, value, interval, reference) in enumerate(items):
        y = top + i * row_h
        colour = REFERENCE_COLOUR if reference else ENTRY_COLOUR
        shown = label if len(label) <= 36 else label[:35] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" font-size="11" text-anchor="end">'
            f"{escape(shown)}</text>"
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{plot_w * value / 100:.1f}" '
            f'height="{row_h - 8}" fill="{colour}"><title>{escape(label)}: {value:.1f}%</title>'
            "</rect>"
        )
        if interval is not None:
            x1, x2 = (label_w + plot_w * v / 100 for v in (interval.low, interval.high))
            parts.append(
                f'<line class="interval" x1="{x1:.1f}" y1="{y + 10}" x2="{x2:.1f}" '
                f'y2="{y + 10}" stroke="{INTERVAL_COLOUR}" stroke-width="1.5"/>'
            )
    return "".join(parts) + "</svg>"


def _svg_open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif">'
        f"<title>{escape(title)}</title>"
    )


def _y_grid(left: int, width: int, top: int, plot_h: float) -> str:
    lines = []
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        lines.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 3}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{tick}</text>'
        )
    return "".join(lines)
