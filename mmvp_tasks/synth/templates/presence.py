"""Presence of Specific Features: a part that one image has and the other lacks."""

from __future__ import annotations

from typing import Any

from mmvp_tasks.synth.canvas import DrawContext, Pair, line_width, shape


def dot(ctx: DrawContext) -> Pair:
    bg, ink, kind = ctx.background(), ctx.ink(), ctx.choice(("circle", "square"))
    cx, cy, r = ctx.place(0.25, 0.38)
    dot = ctx.ink()
    dx, dy = ctx.uniform(-0.3, 0.3) * r, ctx.uniform(-0.3, 0.3) * r

    def paint(d: Any, state: int) -> None:
        shape(d, kind, cx, cy, r, fill=(250, 250, 250), outline=ink, width=line_width(ctx, 0.025))
        if state == 0:
            shape(d, "circle", cx + dx, cy + dy, 0.18 * r, fill=dot)

    return Pair(
        f"Is there a dot inside the {kind}?",
        ("Yes", "No"),
        (f"a {kind} with a dot inside", f"an empty {kind} with nothing inside"),
        ctx.render(bg, paint),
    )


def stripe(ctx: DrawContext) -> Pair:
    bg, ink = ctx.background(), ctx.ink(exclude=("yellow",))
    cx, cy, r = ctx.place(0.25, 0.38)
    vertical, band = ctx.coin(), 0.18 * r

    def paint(d: Any, state: int) -> None:
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=ink)
        if state == 0:
            box = (
                [cx - band, cy - r, cx + band, cy + r]
                if vertical
                else [cx - r, cy - band, cx + r, cy + band]
            )
            d.rectangle(box, fill=(250, 250, 250))

    return Pair(
        "Does the square have a white stripe across it?",
        ("Yes", "No"),
        ("a square with a white stripe across it", "a plain square without a stripe"),
        ctx.render(bg, paint),
    )


def hole(ctx: DrawContext) -> Pair:
    bg, ink = ctx.background(), ctx.ink()
    cx, cy, r = ctx.place(0.25, 0.38)
    noun = ctx.choice(("disk", "square"))
    box = [cx - r, cy - r, cx + r, cy + r]

    def paint(d: Any, state: int) -> None:
        # An outline as wide as 0.55 r leaves a see-through hole with the background visible.
        width = round(0.55 * r) if state == 0 else 0
        draw = d.ellipse if noun == "disk" else d.rectangle
        draw(box, fill=None if width else ink, outline=ink, width=width or 1)

    return Pair(
        f"Does the {noun} have a hole in the middle?",
        ("Yes", "No"),
        (f"a {noun} with a hole in the middle", f"a solid {noun} without a hole"),
        ctx.render(bg, paint),
    )


def pole_flag(ctx: DrawContext) -> Pair:
    bg, pole, flag = ctx.background(), ctx.ink(), ctx.ink()
    s = ctx.size
    x, top, bottom = ctx.uniform(0.25, 0.5) * s, ctx.uniform(0.12, 0.22) * s, 0.9 * s
    fw, fh = ctx.uniform(0.25, 0.4) * s, ctx.uniform(0.15, 0.22) * s

    def paint(d: Any, state: int) -> None:
        d.rectangle(
            [x - line_width(ctx, 0.012), top, x + line_width(ctx, 0.012), bottom], fill=pole
        )
        if state == 0:
            d.rectangle([x, top, x + fw, top + fh], fill=flag)

    return Pair(
        "Is there a flag on the pole?",
        ("Yes", "No"),
        ("a pole with a flag on it", "a bare pole without a flag"),
        ctx.render(bg, paint),
    )


TEMPLATES = (dot, stripe, hole, pole_flag)
