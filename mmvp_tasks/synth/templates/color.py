"""Color and Appearance: which colour, colour or black and white, same or different."""

from __future__ import annotations

from typing import Any

from mmvp_tasks.synth.canvas import (
    COLORS,
    PHOTOS,
    SHAPES,
    DrawContext,
    Pair,
    line_width,
    plural,
    scatter,
    shape,
)


def shape_color(ctx: DrawContext) -> Pair:
    bg, kind = ctx.background(), ctx.choice(SHAPES)
    c0, c1 = ctx.sample([c for c in COLORS if c != "black"], 2)
    cx, cy, r = ctx.place(0.22, 0.36)

    def paint(d: Any, state: int) -> None:
        shape(
            d,
            kind,
            cx,
            cy,
            r,
            fill=COLORS[(c0, c1)[state]],
            outline=(20, 20, 20),
            width=line_width(ctx, 0.01),
        )

    return Pair(
        f"What color is the {kind}?",
        (c0.capitalize(), c1.capitalize()),
        (f"a {c0} {kind}", f"a {c1} {kind}"),
        ctx.render(bg, paint),
    )


def grayscale_photo(ctx: DrawContext) -> Pair:
    name = ctx.choice(ctx.photo_names())
    noun = PHOTOS[name][0]
    photo = ctx.photo(name)
    return Pair(
        f"Is the picture of {noun} in color or in black and white?",
        ("Color", "Black and white"),
        (f"{noun} in full color", f"{noun} in black and white"),
        (photo, photo.convert("L").convert("RGB")),
    )


def same_color(ctx: DrawContext) -> Pair:
    bg, kind = ctx.background(), ctx.choice(SHAPES)
    c0, c1 = ctx.sample([c for c in COLORS if c != "black"], 2)
    slots = scatter(ctx, 2)

    def paint(d: Any, state: int) -> None:
        for (cx, cy, r), c in zip(slots, (c0, c0 if state == 0 else c1), strict=True):
            shape(d, kind, cx, cy, 1.3 * r, fill=COLORS[c], outline=(20, 20, 20))

    return Pair(
        f"Are the two {plural(kind)} the same color or different colors?",
        ("Same color", "Different colors"),
        (f"two {plural(kind)} of the same color", f"two {plural(kind)} of different colors"),
        ctx.render(bg, paint),
    )


TEMPLATES = (shape_color, grayscale_photo, same_color)
