"""State and Condition: open or closed, full or empty, on or off."""

from __future__ import annotations

from typing import Any

from mmvp_tasks.synth.canvas import COLORS, DrawContext, Pair, line_width, regular, rotate, shade


def box(ctx: DrawContext) -> Pair:
    bg, body = ctx.background(), ctx.choice(((190, 140, 80), (160, 110, 60), *COLORS.values()))
    s, dark = ctx.size, (35, 30, 30)
    r, cx = ctx.uniform(0.18, 0.25) * s, ctx.uniform(0.35, 0.65) * s
    cy, lid_h = ctx.uniform(0.55, 0.62) * s, 0.2 * r
    lid = [
        (cx - 1.08 * r, cy - 0.2 * r),
        (cx + 1.08 * r, cy - 0.2 * r),
        (cx + 1.08 * r, cy - 0.2 * r - lid_h),
        (cx - 1.08 * r, cy - 0.2 * r - lid_h),
    ]

    def paint(d: Any, state: int) -> None:
        d.rectangle(
            [cx - r, cy - 0.2 * r, cx + r, cy + 0.8 * r],
            fill=body,
            outline=dark,
            width=line_width(ctx, 0.008),
        )
        if state == 0:  # lid hinged at the right edge and lifted: the dark inside shows
            d.rectangle([cx - 0.9 * r, cy - 0.2 * r, cx + 0.9 * r, cy - 0.02 * r], fill=dark)
            lid_now = rotate(lid, lid[1], 40.0)
        else:
            lid_now = lid
        d.polygon(lid_now, fill=shade(body, 0.8), outline=dark)

    return Pair(
        "Is the box open or closed?",
        ("Open", "Closed"),
        ("an open box with its lid lifted", "a closed box with its lid on"),
        ctx.render(bg, paint),
    )


def glass(ctx: DrawContext) -> Pair:
    bg, ink = ctx.background(), ctx.ink(exclude=("yellow", "orange"))
    drink, liquid = ctx.choice(
        (
            ("water", (110, 170, 235)),
            ("orange juice", (245, 150, 30)),
            ("red wine", (130, 20, 40)),
            ("cola", (70, 35, 20)),
        )
    )
    cx, cy, r = ctx.place(0.25, 0.36)
    a, b, y0, y1 = 0.62 * r, 0.42 * r, cy - r, cy + r
    level = y0 + 0.12 * (y1 - y0)
    half_at_level = b + (a - b) * (y1 - level) / (y1 - y0)

    def paint(d: Any, state: int) -> None:
        if state == 0:
            d.polygon(
                [
                    (cx - half_at_level, level),
                    (cx + half_at_level, level),
                    (cx + b, y1),
                    (cx - b, y1),
                ],
                fill=liquid,
            )
        d.line(
            [(cx - a, y0), (cx - b, y1), (cx + b, y1), (cx + a, y0)],
            fill=ink,
            width=line_width(ctx, 0.015),
            joint="curve",
        )

    return Pair(
        "Is the glass full or empty?",
        ("Full", "Empty"),
        (f"a full glass of {drink}", "an empty glass"),
        ctx.render(bg, paint),
    )


def door(ctx: DrawContext) -> Pair:
    bg, s = ctx.background(), ctx.size
    door = ctx.choice(((150, 95, 50), (60, 90, 160), (170, 40, 40), (60, 120, 70)))
    w, h = ctx.uniform(0.32, 0.45) * s, ctx.uniform(0.6, 0.75) * s
    x0, y1 = ctx.uniform(0.08 * s, 0.92 * s - w), 0.92 * s
    y0, x1 = y1 - h, x0 + w
    frame, knob = (60, 50, 45), (230, 200, 90)

    def paint(d: Any, state: int) -> None:
        if state == 0:  # swung inwards: a narrow panel at the hinge, dark room behind
            d.rectangle([x0, y0, x1, y1], fill=(25, 25, 30))
            xe = x0 + 0.3 * w
            d.polygon([(x0, y0), (xe, y0 + 0.07 * h), (xe, y1 - 0.07 * h), (x0, y1)], fill=door)
            d.ellipse(
                [xe - 0.08 * w, (y0 + y1) / 2 - 0.03 * w, xe - 0.02 * w, (y0 + y1) / 2 + 0.03 * w],
                fill=knob,
            )
        else:
            d.rectangle([x0, y0, x1, y1], fill=door)
            d.ellipse(
                [x1 - 0.16 * w, (y0 + y1) / 2 - 0.05 * w, x1 - 0.06 * w, (y0 + y1) / 2 + 0.05 * w],
                fill=knob,
            )
        d.rectangle([x0, y0, x1, y1], outline=frame, width=line_width(ctx, 0.015))

    return Pair(
        "Is the door open or closed?",
        ("Open", "Closed"),
        ("an open door with a dark room behind it", "a closed door"),
        ctx.render(bg, paint),
    )


def bulb(ctx: DrawContext) -> Pair:
    bg = ctx.blank(tuple(int(v) for v in ctx.rng.integers(40, 90, 3)))  # type: ignore[arg-type]
    cx, cy, r = ctx.place(0.2, 0.26)
    gr = 0.62 * r

    def paint(d: Any, state: int) -> None:
        on = state == 0
        if on:
            for x, y in regular(cx, cy - 0.2 * r, 1.0 * r, 10):
                d.line(
                    [(cx + (x - cx) * 0.75, cy - 0.2 * r + (y - cy + 0.2 * r) * 0.75), (x, y)],
                    fill=(255, 230, 90),
                    width=line_width(ctx, 0.012),
                )
        d.ellipse(
            [cx - gr, cy - 0.2 * r - gr, cx + gr, cy - 0.2 * r + gr],
            fill=(255, 235, 90) if on else (150, 150, 150),
            outline=(20, 20, 20),
        )
        d.rectangle(
            [cx - 0.3 * r, cy + 0.35 * r, cx + 0.3 * r, cy + 0.75 * r], fill=(170, 170, 175)
        )

    return Pair(
        "Is the light bulb on or off?",
        ("On", "Off"),
        ("a light bulb that is switched on and glowing", "a light bulb that is switched off"),
        ctx.render(bg, paint),
    )


TEMPLATES = (box, glass, door, bulb)
