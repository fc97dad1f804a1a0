"""Positional and Relational Context: where one shape is relative to another."""

from __future__ import annotations

from typing import Any

from mmvp_tasks.synth.canvas import COLORS, INKS, RGB, SHAPES, DrawContext, Pair, line_width, shape


def _two_shapes(ctx: DrawContext) -> tuple[str, str, RGB, RGB]:
    kind_a, kind_b = ctx.sample(SHAPES, 2)
    ink_a, ink_b = ctx.sample([COLORS[c] for c in INKS], 2)
    return kind_a, kind_b, ink_a, ink_b


def _side_by_side(ctx: DrawContext, horizontal: bool) -> Pair:
    bg = ctx.background()
    kind_a, kind_b, ink_a, ink_b = _two_shapes(ctx)
    s = ctx.size
    r, near, far = (
        ctx.uniform(0.1, 0.15) * s,
        ctx.uniform(0.22, 0.3) * s,
        ctx.uniform(0.7, 0.78) * s,
    )
    across = ctx.uniform(0.3, 0.7) * s

    def paint(d: Any, state: int) -> None:
        pos_a, pos_b = (near, far) if state == 0 else (far, near)
        for pos, kind, ink in ((pos_a, kind_a, ink_a), (pos_b, kind_b, ink_b)):
            cx, cy = (pos, across) if horizontal else (across, pos)
            shape(d, kind, cx, cy, r, fill=ink)

    if horizontal:
        q = f"Is the {kind_a} to the left or to the right of the {kind_b}?"
        rel, answers = ("to the left of", "to the right of"), ("To the left", "To the right")
    else:
        q = f"Is the {kind_a} above or below the {kind_b}?"
        rel, answers = ("above", "below"), ("Above", "Below")
    statements = (f"a {kind_a} {rel[0]} a {kind_b}", f"a {kind_a} {rel[1]} a {kind_b}")
    return Pair(q, answers, statements, ctx.render(bg, paint))


def left_right(ctx: DrawContext) -> Pair:
    return _side_by_side(ctx, horizontal=True)


def above_below(ctx: DrawContext) -> Pair:
    return _side_by_side(ctx, horizontal=False)


def inside(ctx: DrawContext) -> Pair:
    bg = ctx.background()
    kind_a, kind_b, ink_a, ink_b = _two_shapes(ctx)
    kind_b = "circle" if kind_b not in ("circle", "square") else kind_b
    kind_a = "star" if kind_a == kind_b else kind_a
    s = ctx.size
    cx, cy, r = (
        ctx.uniform(0.42, 0.58) * s,
        ctx.uniform(0.42, 0.58) * s,
        ctx.uniform(0.22, 0.26) * s,
    )
    small = 0.22 * r
    corner = ctx.choice(((0.11, 0.11), (0.89, 0.11), (0.11, 0.89), (0.89, 0.89)))

    def paint(d: Any, state: int) -> None:
        shape(d, kind_b, cx, cy, r, outline=ink_b, width=line_width(ctx, 0.02))
        ax, ay = (cx, cy) if state == 0 else (corner[0] * s, corner[1] * s)
        shape(d, kind_a, ax, ay, small, fill=ink_a)

    return Pair(
        f"Is the {kind_a} inside or outside the {kind_b}?",
        ("Inside", "Outside"),
        (f"a small {kind_a} inside a {kind_b}", f"a small {kind_a} outside a {kind_b}"),
        ctx.render(bg, paint),
    )


def front_behind(ctx: DrawContext) -> Pair:
    bg = ctx.background()
    kind_a, kind_b, ink_a, ink_b = _two_shapes(ctx)
    s = ctx.size
    cx, cy, r = 0.5 * s, 0.5 * s, ctx.uniform(0.2, 0.26) * s
    off = ctx.uniform(0.45, 0.6) * r
    a, b = (cx - off, cy - ctx.uniform(-0.3, 0.3) * r), (cx + off, cy)
    edge = (250, 250, 250)

    def paint(d: Any, state: int) -> None:
        order = [(b, kind_b, ink_b), (a, kind_a, ink_a)]  # last drawn is in front
        for (x, y), kind, ink in order if state == 0 else order[::-1]:
            shape(d, kind, x, y, r, fill=ink, outline=edge, width=line_width(ctx, 0.01))

    return Pair(
        f"Is the {kind_a} in front of or behind the {kind_b}?",
        ("In front", "Behind"),
        (f"a {kind_a} in front of a {kind_b}", f"a {kind_a} behind a {kind_b}"),
        ctx.render(bg, paint),
    )


TEMPLATES = (left_right, above_below, inside, front_behind)
