"""Orientation and Direction: which way a thing points or faces."""

from __future__ import annotations

from typing import Any

from mmvp_tasks.synth.canvas import PHOTOS, DrawContext, Pair, regular


def arrow(ctx: DrawContext) -> Pair:
    bg, ink = ctx.background(), ctx.ink()
    cx, cy, r = ctx.place(0.22, 0.36)
    arrow = [(-1, -0.2), (0.2, -0.2), (0.2, -0.5), (1, 0), (0.2, 0.5), (0.2, 0.2), (-1, 0.2)]

    def paint(d: Any, state: int) -> None:
        sign = -1 if state == 0 else 1
        d.polygon([(cx + sign * x * r, cy + y * r) for x, y in arrow], fill=ink)

    return Pair(
        "Which direction is the arrow pointing?",
        ("Left", "Right"),
        ("an arrow pointing to the left", "an arrow pointing to the right"),
        ctx.render(bg, paint),
    )


def triangle(ctx: DrawContext) -> Pair:
    bg, ink = ctx.background(), ctx.ink()
    cx, cy, r = ctx.place(0.2, 0.34)

    def paint(d: Any, state: int) -> None:
        points = regular(cx, cy + 0.15 * r, r, 3)
        if state == 1:
            points = [(x, 2 * cy - y) for x, y in points]
        d.polygon(points, fill=ink)

    return Pair(
        "Is the triangle pointing up or down?",
        ("Up", "Down"),
        ("a triangle pointing up", "a triangle pointing down"),
        ctx.render(bg, paint),
    )


def upside_down_photo(ctx: DrawContext) -> Pair:
    name = ctx.choice(ctx.photo_names(upright_only=True))
    noun = PHOTOS[name][0]
    photo = ctx.photo(name)
    return Pair(
        f"Is the picture of {noun} upright or upside down?",
        ("Upright", "Upside down"),
        (f"{noun} shown upright", f"{noun} shown upside down"),
        (photo, photo.rotate(180)),
    )


def bar(ctx: DrawContext) -> Pair:
    bg, ink = ctx.background(), ctx.ink()
    cx, cy, r = ctx.place(0.3, 0.4)
    half = ctx.uniform(0.06, 0.1) * ctx.size

    def paint(d: Any, state: int) -> None:
        hw, hh = (r, half) if state == 0 else (half, r)
        d.rounded_rectangle([cx - hw, cy - hh, cx + hw, cy + hh], radius=half * 0.6, fill=ink)

    return Pair(
        "Is the bar horizontal or vertical?",
        ("Horizontal", "Vertical"),
        ("a horizontal bar", "a vertical bar"),
        ctx.render(bg, paint),
    )


TEMPLATES = (arrow, triangle, upside_down_photo, bar)
