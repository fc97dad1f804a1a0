"""Text: which word, number or letter is written, and in which case."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmvp_tasks.synth.canvas import DrawContext, Pair, line_width

if TYPE_CHECKING:
    from PIL import Image

_WORDS = ("STOP", "OPEN", "EXIT", "SALE", "PARK", "CAFE", "BANK", "TAXI", "HOTEL", "SHOP", "FOOD")
_LETTERS = "ABDEFGHKMPRTY"  # no look-alikes such as I/l/1 or O/0


def _plate(
    ctx: DrawContext,
    bg: Image.Image,
    labels: tuple[str, str],
    w: float,
    h: float,
    square: bool = False,
) -> tuple[Any, Any]:
    """A coloured plate (sign, card or block) with a different label in each state."""
    s = ctx.size
    color = ctx.choice(((200, 30, 30), (30, 110, 60), (30, 70, 170), (40, 40, 40)))
    cx, cy = ctx.center(w, h, 0.03)
    post = not square and ctx.coin()

    def paint(d: Any, state: int) -> None:
        if post:
            d.rectangle([cx - 0.03 * s, cy, cx + 0.03 * s, s], fill=(110, 110, 115))
        d.rounded_rectangle(
            [cx - w, cy - h, cx + w, cy + h],
            radius=0.15 * h,
            fill=color,
            outline=(250, 250, 250),
            width=line_width(ctx, 0.012),
        )
        ctx.text(d, (cx, cy), labels[state], 1.6 * w, int(1.3 * h), (255, 255, 255))

    return ctx.render(bg, paint)


def sign(ctx: DrawContext) -> Pair:
    w0, w1 = ctx.sample(_WORDS, 2)
    s = ctx.size
    images = _plate(
        ctx, ctx.background(), (w0, w1), ctx.uniform(0.36, 0.44) * s, ctx.uniform(0.14, 0.18) * s
    )
    return Pair(
        "What word is written on the sign?",
        (w0.capitalize(), w1.capitalize()),
        (f"a sign that reads {w0.lower()}", f"a sign that reads {w1.lower()}"),
        images,
    )


def number(ctx: DrawContext) -> Pair:
    n0, n1 = (str(n) for n in ctx.sample(range(1, 100), 2))
    s = ctx.size
    images = _plate(
        ctx, ctx.background(), (n0, n1), ctx.uniform(0.2, 0.28) * s, ctx.uniform(0.18, 0.24) * s
    )
    return Pair(
        "What number is shown on the card?",
        (n0, n1),
        (f"a card with the number {n0}", f"a card with the number {n1}"),
        images,
    )


def case(ctx: DrawContext) -> Pair:
    word = ctx.choice(_WORDS)
    s = ctx.size
    images = _plate(
        ctx,
        ctx.background(),
        (word.upper(), word.lower()),
        ctx.uniform(0.36, 0.44) * s,
        ctx.uniform(0.14, 0.18) * s,
    )
    low = word.lower()
    return Pair(
        "Is the word written in capital letters or in lowercase letters?",
        ("Capital letters", "Lowercase letters"),
        (
            f"the word {low} written in capital letters",
            f"the word {low} written in lowercase letters",
        ),
        images,
    )


def letter(ctx: DrawContext) -> Pair:
    l0, l1 = ctx.sample(_LETTERS, 2)
    half = ctx.uniform(0.2, 0.28) * ctx.size
    images = _plate(ctx, ctx.background(), (l0, l1), half, half, square=True)
    return Pair(
        "Which letter is printed on the block?",
        (l0, l1),
        (f"a block with the letter {l0.lower()}", f"a block with the letter {l1.lower()}"),
        images,
    )


TEMPLATES = (sign, number, case, letter)
