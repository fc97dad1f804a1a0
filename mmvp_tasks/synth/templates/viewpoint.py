"""Viewpoint and Perspective: the angle and distance the scene is seen from."""

from __future__ import annotations

from typing import Any

from mmvp_tasks.synth.canvas import DrawContext, Pair, shade, shape


def cube(ctx: DrawContext) -> Pair:
    bg, base, s = ctx.background(), ctx.ink(), ctx.size
    a = ctx.uniform(0.3, 0.4) * s
    x0, y1 = ctx.uniform(0.08 * s, 0.62 * s - a), ctx.uniform(0.72, 0.9) * s
    dx, dy = 0.45 * a, 0.4 * a
    edge = (20, 20, 20)

    def paint(d: Any, state: int) -> None:
        if state == 0:
            d.rectangle([x0, y1 - a, x0 + a, y1], fill=base, outline=edge)
            return
        f = 0.85 * a  # seen from above at an angle: top and side faces become parallelograms
        x1, y0 = x0 + f, y1 - f
        d.polygon(
            [(x0, y0), (x1, y0), (x1 + dx, y0 - dy), (x0 + dx, y0 - dy)],
            fill=shade(base, 1.45),
            outline=edge,
        )
        d.polygon(
            [(x1, y0), (x1 + dx, y0 - dy), (x1 + dx, y1 - dy), (x1, y1)],
            fill=shade(base, 0.6),
            outline=edge,
        )
        d.rectangle([x0, y0, x1, y1], fill=base, outline=edge)

    return Pair(
        "Is the cube seen straight from the front or from above at an angle?",
        ("From the front", "From above"),
        ("a cube seen straight from the front", "a cube seen from above at an angle"),
        ctx.render(bg, paint),
    )


def horizon(ctx: DrawContext) -> Pair:
    s = ctx.size
    sky = tuple(int(v) for v in (ctx.integer(90, 150), ctx.integer(160, 210), 240))
    ground = ctx.choice(((70, 140, 60), (200, 175, 120), (120, 90, 60)))
    low, high = ctx.uniform(0.75, 0.85) * s, ctx.uniform(0.15, 0.25) * s
    tree_x = ctx.uniform(0.2, 0.8) * s

    def paint(d: Any, state: int) -> None:
        horizon = low if state == 0 else high
        d.rectangle([0, 0, s, horizon], fill=sky)
        d.rectangle([0, horizon, s, s], fill=ground)
        d.rectangle(
            [tree_x - 0.01 * s, horizon - 0.08 * s, tree_x + 0.01 * s, horizon], fill=(90, 60, 30)
        )
        d.ellipse(
            [tree_x - 0.05 * s, horizon - 0.16 * s, tree_x + 0.05 * s, horizon - 0.06 * s],
            fill=(30, 110, 40),
        )

    return Pair(
        "Is the camera tilted up toward the sky or down toward the ground?",
        ("Up toward the sky", "Down toward the ground"),
        (
            "a landscape seen looking up, mostly sky above a low horizon",
            "a landscape seen looking down, mostly ground below a high horizon",
        ),
        ctx.render(ctx.blank((255, 255, 255)), paint),
    )


def distance(ctx: DrawContext) -> Pair:
    bg, ink, s = ctx.background(), ctx.ink(), ctx.size
    noun = ctx.choice(("ball", "star", "box"))
    kind = {"ball": "circle", "star": "star", "box": "square"}[noun]
    far_x, far_y = ctx.uniform(0.3, 0.7) * s, ctx.uniform(0.3, 0.7) * s

    def paint(d: Any, state: int) -> None:
        if state == 0:
            shape(d, kind, 0.5 * s, 0.5 * s, 0.46 * s, fill=ink, outline=(20, 20, 20))
        else:
            shape(d, kind, far_x, far_y, 0.07 * s, fill=ink, outline=(20, 20, 20))

    return Pair(
        f"Is the {noun} shown close up or from far away?",
        ("Close up", "Far away"),
        (f"a close-up view of a {noun}", f"a {noun} seen from far away"),
        ctx.render(bg, paint),
    )


def can(ctx: DrawContext) -> Pair:
    bg, label = ctx.background(), ctx.ink()
    cx, cy, r = ctx.place(0.26, 0.34)
    metal, edge = (185, 185, 195), (40, 40, 45)

    def paint(d: Any, state: int) -> None:
        if state == 0:  # from the side: a tall body with a thin elliptical top
            w, e = 0.55 * r, 0.14 * r
            d.rectangle([cx - w, cy - r + e, cx + w, cy + r - e], fill=label, outline=edge)
            d.ellipse([cx - w, cy + r - 2 * e, cx + w, cy + r], fill=label, outline=edge)
            d.rectangle([cx - w + 1, cy + r - 2 * e, cx + w - 1, cy + r - e], fill=label)
            d.ellipse([cx - w, cy - r, cx + w, cy - r + 2 * e], fill=metal, outline=edge)
        else:  # from the top: concentric rims and a pull tab
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=metal, outline=edge, width=2)
            d.ellipse([cx - 0.85 * r, cy - 0.85 * r, cx + 0.85 * r, cy + 0.85 * r], outline=edge)
            d.ellipse(
                [cx - 0.2 * r, cy - 0.5 * r, cx + 0.2 * r, cy - 0.1 * r], outline=edge, width=2
            )

    return Pair(
        "Is the can seen from the side or from the top?",
        ("From the side", "From the top"),
        ("a can seen from the side", "a can seen from directly above"),
        ctx.render(bg, paint),
    )


TEMPLATES = (cube, horizon, distance, can)
