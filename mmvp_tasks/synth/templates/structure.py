"""Structural and Physical Characteristics: outline, thickness, corners, fill."""

from __future__ import annotations

import math
from typing import Any

from mmvp_tasks.synth.canvas import RGB, SHAPES, DrawContext, Pair, line_width, shape


def _dashed_outline(
    ctx: DrawContext, d: Any, kind: str, box: list[float], ink: RGB, width: int
) -> None:
    if kind == "circle":
        for start in range(0, 360, 30):
            d.arc(box, start, start + 18, fill=ink, width=width)
        return
    x0, y0, x1, y1 = box
    dash = (x1 - x0) / 9  # 5 dashes and 4 gaps per side
    for i in range(0, 9, 2):
        a, b = x0 + i * dash, x0 + (i + 1) * dash
        for seg in ([a, y0, b, y0], [a, y1, b, y1]):
            d.line(seg, fill=ink, width=width)
        a, b = y0 + i * dash, y0 + (i + 1) * dash
        for seg in ([x0, a, x0, b], [x1, a, x1, b]):
            d.line(seg, fill=ink, width=width)


def dashed(ctx: DrawContext) -> Pair:
    bg, ink, kind = ctx.background(), ctx.ink(), ctx.choice(("circle", "square"))
    cx, cy, r = ctx.place(0.25, 0.38)
    box, width = [cx - r, cy - r, cx + r, cy + r], line_width(ctx, 0.022)

    def paint(d: Any, state: int) -> None:
        if state == 0:
            (d.ellipse if kind == "circle" else d.rectangle)(box, outline=ink, width=width)
        else:
            _dashed_outline(ctx, d, kind, box, ink, width)

    return Pair(
        f"Is the outline of the {kind} solid or dashed?",
        ("Solid", "Dashed"),
        (f"a {kind} with a solid outline", f"a {kind} with a dashed outline"),
        ctx.render(bg, paint),
    )


def thick(ctx: DrawContext) -> Pair:
    bg, ink, s = ctx.background(), ctx.ink(), ctx.size
    angle = ctx.uniform(0, math.pi)
    cx, cy, half = ctx.uniform(0.4, 0.6) * s, ctx.uniform(0.4, 0.6) * s, 0.33 * s
    ends = [
        (cx - half * math.cos(angle), cy - half * math.sin(angle)),
        (cx + half * math.cos(angle), cy + half * math.sin(angle)),
    ]
    thin = line_width(ctx, ctx.uniform(0.012, 0.02))

    def paint(d: Any, state: int) -> None:
        d.line(ends, fill=ink, width=thin * 5 if state == 0 else thin)

    return Pair(
        "Is the line thick or thin?",
        ("Thick", "Thin"),
        ("a thick line", "a thin line"),
        ctx.render(bg, paint),
    )


def corners(ctx: DrawContext) -> Pair:
    bg, ink, s = ctx.background(), ctx.ink(), ctx.size
    w, h = ctx.uniform(0.25, 0.38) * s, ctx.uniform(0.18, 0.3) * s
    cx, cy = ctx.center(w, h, 0.05)

    def paint(d: Any, state: int) -> None:
        d.rounded_rectangle(
            [cx - w, cy - h, cx + w, cy + h], radius=0.6 * h if state == 0 else 0, fill=ink
        )

    return Pair(
        "Does the rectangle have rounded or sharp corners?",
        ("Rounded", "Sharp"),
        ("a rectangle with rounded corners", "a rectangle with sharp square corners"),
        ctx.render(bg, paint),
    )


def hollow(ctx: DrawContext) -> Pair:
    bg, ink, kind = ctx.background(), ctx.ink(), ctx.choice(SHAPES)
    cx, cy, r = ctx.place(0.25, 0.38)

    def paint(d: Any, state: int) -> None:
        shape(
            d,
            kind,
            cx,
            cy,
            r,
            fill=ink if state == 0 else None,
            outline=ink,
            width=line_width(ctx, 0.02),
        )

    return Pair(
        f"Is the {kind} filled in or hollow?",
        ("Filled", "Hollow"),
        (f"a solid filled {kind}", f"a hollow {kind} outline"),
        ctx.render(bg, paint),
    )


TEMPLATES = (dashed, thick, corners, hollow)
