"""Quantity and Count: how many, one or several, which kind outnumbers the other."""

from __future__ import annotations

from typing import Any

from mmvp_tasks.synth.canvas import COLORS, INKS, SHAPES, DrawContext, Pair, plural, scatter, shape

_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven")


def count(ctx: DrawContext) -> Pair:
    bg, ink, kind = ctx.background(), ctx.ink(), ctx.choice(SHAPES)
    n = ctx.integer(2, 6)
    slots = scatter(ctx, n + 1)  # state 0 drops the last slot: n vs n + 1 of the same layout

    def paint(d: Any, state: int) -> None:
        for cx, cy, r in slots[: n + state]:
            shape(d, kind, cx, cy, r, fill=ink)

    return Pair(
        f"How many {plural(kind)} are there in the image?",
        (str(n), str(n + 1)),
        (f"{_NUMBER_WORDS[n]} {plural(kind)}", f"{_NUMBER_WORDS[n + 1]} {plural(kind)}"),
        ctx.render(bg, paint),
    )


def one_or_more(ctx: DrawContext) -> Pair:
    bg, ink, kind = ctx.background(), ctx.ink(), ctx.choice(SHAPES)
    slots = scatter(ctx, ctx.integer(2, 6))

    def paint(d: Any, state: int) -> None:
        for cx, cy, r in slots[: 1 if state == 0 else None]:
            shape(d, kind, cx, cy, r, fill=ink)

    return Pair(
        f"Is there one {kind} or more than one?",
        ("One", "More than one"),
        (f"a single {kind}", f"several {plural(kind)}"),
        ctx.render(bg, paint),
    )


def more_of_which(ctx: DrawContext) -> Pair:
    bg = ctx.background()
    kind_a, kind_b = ctx.sample(SHAPES, 2)
    ink_a, ink_b = ctx.sample([COLORS[c] for c in INKS], 2)
    few = ctx.integer(1, 3)
    many = few + ctx.integer(1, 3)
    slots = scatter(ctx, few + many)

    def paint(d: Any, state: int) -> None:
        n_a = many if state == 0 else few
        for i, (cx, cy, r) in enumerate(slots):
            kind, ink = (kind_a, ink_a) if i < n_a else (kind_b, ink_b)
            shape(d, kind, cx, cy, r, fill=ink)

    pa, pb = plural(kind_a), plural(kind_b)
    return Pair(
        f"Are there more {pa} or more {pb}?",
        (f"More {pa}", f"More {pb}"),
        (f"more {pa} than {pb}", f"more {pb} than {pa}"),
        ctx.render(bg, paint),
    )


TEMPLATES = (count, one_or_more, more_of_which)
