"""Deterministic synthetic MMVP / MMVP-VLM data (the embedded default for demos and tests).

Data card
---------
What it is
    A small, procedurally drawn stand-in for the two hub datasets of "Eyes Wide Shut? Exploring the
    Visual Shortcomings of Multimodal LLMs" (Tong et al., CVPR 2024), written offline from a seed.
    It is a SMOKE-TEST set: it exercises loaders, prompts, parsers and scorers end to end. Scores on
    it say nothing about a model's MMVP accuracy and must never be reported as benchmark results.

Layout (identical to the real datasets, so the same loaders read both)::

    <out_dir>/mmvp/Questions.csv             Index,Question,Options,Correct Answer (300 rows)
    <out_dir>/mmvp/MMVP Images/<Index>.jpg
    <out_dir>/mmvp/patterns.csv              Index,Pattern (pattern code of every row)
    <out_dir>/mmvp_vlm/Questions.csv         Question ID,Type,Statement (270 rows)
    <out_dir>/mmvp_vlm/MLLM_VLM Images/<Type>/<Question ID>.jpg
    <out_dir>/SYNTHETIC.json                 marker, written last: generator, version, seed, size

MMVP: 150 pairs; rows (2k-1, 2k) share Question and Options (``(a) X (b) Y``), show different
images and have opposite answers. Pair k belongs to ``PATTERNS[(k - 1) % 9]``. MMVP-VLM: 15 pairs
per pattern ``Type``, global IDs in ``PATTERNS`` order; each statement (lower case, without the
"a photo of" prefix the scorer adds) describes its own image.

Content: per pattern 3-4 question templates, each a pair of images drawn with PIL (plus faded or
rotated photos bundled with scikit-image) that really differ in the asked property, with seeded
colours, positions, sizes and backgrounds. Same seed and size give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmvp_tasks.patterns import PATTERNS

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

GENERATOR = "mmvp_tasks.synth"
VERSION = 1
MARKER_NAME = "SYNTHETIC.json"
MMVP_PAIRS = 150
VLM_PAIRS_PER_TYPE = 15
MMVP_HEADER = ("Index", "Question", "Options", "Correct Answer")
PATTERNS_HEADER = ("Index", "Pattern")
VLM_HEADER = ("Question ID", "Type", "Statement")
MMVP_IMAGE_DIR = "MMVP Images"
VLM_IMAGE_DIR = "MLLM_VLM Images"

_IN_PROGRESS = ".synthetic-in-progress"  # lets a rerun tell an interrupted run from foreign data
_JPEG_QUALITY = 90  # fixed so output bytes depend only on seed and size

RGB = tuple[int, int, int]
Pt = tuple[float, float]

_COLORS: dict[str, RGB] = {
    "red": (215, 35, 35),
    "blue": (35, 80, 215),
    "green": (30, 150, 60),
    "yellow": (240, 205, 30),
    "orange": (240, 125, 20),
    "purple": (125, 55, 175),
    "brown": (125, 75, 35),
    "black": (30, 30, 30),
}
_INKS = ("red", "blue", "green", "purple", "brown", "black", "orange")  # readable on pale grounds
_SHAPES = ("circle", "square", "triangle", "star", "diamond")
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven")
_WORDS = ("STOP", "OPEN", "EXIT", "SALE", "PARK", "CAFE", "BANK", "TAXI", "HOTEL", "SHOP", "FOOD")
_LETTERS = "ABDEFGHKMPRTY"  # no look-alikes such as I/l/1 or O/0
# photo -> (noun, has an unambiguous up); all but "house" are bundled with scikit-image
_PHOTOS: dict[str, tuple[str, bool]] = {
    "astronaut": ("an astronaut", True),
    "chelsea": ("a cat", True),
    "rocket": ("a rocket on a launch pad", True),
    "coffee": ("a cup of coffee", False),
    "house": ("a house", True),  # drawn stand-in when scikit-image is unavailable
}
_SKIMAGE_PHOTOS = ("astronaut", "chelsea", "rocket", "coffee")


@dataclass(frozen=True)
class SyntheticPaths:
    """Roots of the two generated datasets."""

    mmvp_dir: Path
    mmvp_vlm_dir: Path


@dataclass(frozen=True)
class _Pair:
    """One contrastive pair: state 0 and state 1 differ exactly in the asked property."""

    question: str
    answers: tuple[str, str]  # option text true of images[0], images[1]
    statements: tuple[str, str]  # MMVP-VLM statement of images[0], images[1]
    images: tuple[Image.Image, Image.Image]


# --------------------------------------------------------------------------- drawing context


class _Ctx:
    """Per-run state: the single seeded RNG, the image size, lazily loaded fonts and photos.

    Heavy imports live here so that importing this module stays cheap.
    """

    def __init__(self, seed: int, size: int) -> None:
        import numpy as np
        from PIL import Image, ImageDraw, ImageFont

        self.np, self._pil, self._draw, self._font_mod = np, Image, ImageDraw, ImageFont
        self.rng = np.random.default_rng(seed)
        self.size = size
        self._fonts: dict[int, Any] = {}
        self._photos: dict[str, Image.Image] | None = None

    # random helpers (one RNG stream, consumed in a fixed order => reproducible files)
    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def integer(self, lo: int, hi: int) -> int:
        """Uniform integer in [lo, hi)."""
        return int(self.rng.integers(lo, hi))

    def coin(self) -> bool:
        return bool(self.rng.integers(2))

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[self.integer(0, len(seq))]

    def sample(self, seq: Sequence[Any], k: int) -> list[Any]:
        return [seq[i] for i in self.rng.permutation(len(seq))[:k]]

    def ink(self, exclude: Sequence[str] = ()) -> RGB:
        return _COLORS[self.choice([c for c in _INKS if c not in exclude])]

    def place(self, lo: float, hi: float) -> tuple[float, float, float]:
        """Random centre and radius (radius a fraction of the size) keeping the shape inside."""
        s = self.size
        r = self.uniform(lo, hi) * s
        margin = r + 0.06 * s
        return self.uniform(margin, s - margin), self.uniform(margin, s - margin), r

    def center(self, half_w: float, half_h: float, margin: float) -> tuple[float, float]:
        """Random centre of a half_w x half_h box kept `margin` (size fraction) from the edges."""
        m = margin * self.size
        return (
            self.uniform(half_w + m, self.size - half_w - m),
            self.uniform(half_h + m, self.size - half_h - m),
        )

    # images
    def blank(self, color: RGB) -> Image.Image:
        return self._pil.new("RGB", (self.size, self.size), color)

    def background(self) -> Image.Image:
        """A pale background: solid, gradient, noise or a faded photo."""
        kind = self.choice(("solid", "gradient", "noise", "photo"))
        pale = tuple(int(v) for v in self.rng.integers(205, 256, 3))
        if kind == "solid":
            return self.blank(pale)  # type: ignore[arg-type]
        np, s = self.np, self.size
        if kind == "gradient":
            other = self.rng.integers(205, 256, 3)
            t = np.linspace(0.0, 1.0, s)[:, None, None]
            arr = np.broadcast_to(np.array(pale) * (1 - t) + other * t, (s, s, 3))
        elif kind == "noise":
            arr = np.array(pale) + self.rng.normal(0.0, 7.0, (s, s, 1))
        else:
            photo = self.photo(self.choice(self.photo_names()))
            return self._pil.blend(photo, self.blank((255, 255, 255)), 0.72)
        return self._pil.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")

    def canvas(self, bg: Image.Image) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        img = bg.copy()
        return img, self._draw.Draw(img)

    def render(self, bg: Image.Image, paint: Callable[[Any, int], None]) -> tuple[Any, Any]:
        """Draw states 0 and 1 on copies of one background (the pair differs only by `paint`)."""
        images = []
        for state in (0, 1):
            img, draw = self.canvas(bg)
            paint(draw, state)
            images.append(img)
        return images[0], images[1]

    def font(self, px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        if px not in self._fonts:
            try:
                self._fonts[px] = self._font_mod.load_default(size=px)
            except (TypeError, OSError, ImportError):  # Pillow < 10.1 or no FreeType
                self._fonts[px] = self._font_mod.load_default()
        return self._fonts[px]

    def text(self, draw: Any, center: Pt, text: str, max_w: float, max_px: int, fill: RGB) -> None:
        """Draw `text` centred, with the largest font size (<= max_px) that fits in max_w."""
        px = max_px
        while px > 10 and self.font(px).getlength(text) > max_w:
            px -= 2
        font = self.font(px)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        draw.text(
            (center[0] - (left + right) / 2, center[1] - (top + bottom) / 2),
            text,
            font=font,
            fill=fill,
        )

    # photos bundled with scikit-image (offline); a drawn scene stands in if they are missing
    def photo_names(self, upright_only: bool = False) -> list[str]:
        names = list(self._load_photos()) or ["house"]
        return [n for n in names if _PHOTOS[n][1]] if upright_only else names

    def photo(self, name: str) -> Image.Image:
        """A random square crop of the photo (or drawn scene) `name`, resized to the size."""
        base = self._load_photos().get(name)
        if base is None:
            return self._scene()
        side = base.width
        w = int(side * self.uniform(0.7, 1.0))
        x, y = self.integer(0, side - w + 1), self.integer(0, side - w + 1)
        box = (x, y, x + w, y + w)
        return base.crop(box).resize((self.size, self.size), self._pil.Resampling.BILINEAR)

    def _load_photos(self) -> dict[str, Image.Image]:
        """Centre-square crops of the bundled photos, loaded once per run."""
        if self._photos is None:
            self._photos = {}
            try:
                import skimage.data as data
            except ImportError:
                logger.warning("scikit-image missing: a drawn scene replaces the photos")
                return self._photos
            for name in _SKIMAGE_PHOTOS:
                img = self._pil.fromarray(getattr(data, name)()).convert("RGB")
                side = min(img.size)
                left, top = (img.width - side) // 2, (img.height - side) // 2
                self._photos[name] = img.crop((left, top, left + side, top + side))
        return self._photos

    def _scene(self) -> Image.Image:
        """A drawn house under a sky: a photo stand-in with an unambiguous up and down."""
        s = self.size
        img, d = self.canvas(self.blank((135, 190, 235)))
        d.rectangle([0, 0.7 * s, s, s], fill=(70, 150, 60))
        x = self.uniform(0.2, 0.45) * s
        d.rectangle([x, 0.45 * s, x + 0.35 * s, 0.72 * s], fill=self.ink())
        d.polygon(
            [(x - 0.04 * s, 0.45 * s), (x + 0.175 * s, 0.25 * s), (x + 0.39 * s, 0.45 * s)],
            fill=(150, 40, 30),
        )
        d.ellipse([0.78 * s, 0.08 * s, 0.9 * s, 0.2 * s], fill=(250, 215, 60))
        return img


# --------------------------------------------------------------------------- geometry helpers


def _regular(cx: float, cy: float, r: float, n: int, start_deg: float = -90.0) -> list[Pt]:
    step = 2 * math.pi / n
    start = math.radians(start_deg)
    return [
        (cx + r * math.cos(start + i * step), cy + r * math.sin(start + i * step)) for i in range(n)
    ]


def _star(cx: float, cy: float, r: float) -> list[Pt]:
    outer, inner = _regular(cx, cy, r, 5), _regular(cx, cy, 0.45 * r, 5, -54.0)
    return [p for pair in zip(outer, inner, strict=True) for p in pair]


def _shape(
    draw: Any,
    kind: str,
    cx: float,
    cy: float,
    r: float,
    fill: RGB | None = None,
    outline: RGB | None = None,
    width: int = 1,
) -> None:
    box = [cx - r, cy - r, cx + r, cy + r]
    if kind == "circle":
        draw.ellipse(box, fill=fill, outline=outline, width=width)
    elif kind == "square":
        draw.rectangle(
            [cx - 0.85 * r, cy - 0.85 * r, cx + 0.85 * r, cy + 0.85 * r],
            fill=fill,
            outline=outline,
            width=width,
        )
    else:
        points = {
            "triangle": lambda: _regular(cx, cy + 0.15 * r, r, 3),
            "diamond": lambda: _regular(cx, cy, r, 4),
            "star": lambda: _star(cx, cy, r),
        }[kind]()
        draw.polygon(points, fill=fill, outline=outline, width=width)


def _rotate(points: Sequence[Pt], pivot: Pt, deg: float) -> list[Pt]:
    a = math.radians(deg)
    px, py = pivot
    return [
        (
            px + (x - px) * math.cos(a) - (y - py) * math.sin(a),
            py + (x - px) * math.sin(a) + (y - py) * math.cos(a),
        )
        for x, y in points
    ]


def _shade(color: RGB, factor: float) -> RGB:
    """Darker (<1) or lighter (>1, towards white) version of `color`."""
    if factor <= 1:
        return tuple(int(c * factor) for c in color)  # type: ignore[return-value]
    return tuple(int(c + (255 - c) * (factor - 1)) for c in color)  # type: ignore[return-value]


def _w(ctx: _Ctx, frac: float) -> int:
    """Line width as a fraction of the image size (at least 1 px)."""
    return max(1, round(frac * ctx.size))


def _plural(noun: str) -> str:
    return noun + "s"


# --------------------------------------------------------------------------- Orientation


def _od_arrow(ctx: _Ctx) -> _Pair:
    bg, ink = ctx.background(), ctx.ink()
    cx, cy, r = ctx.place(0.22, 0.36)
    arrow = [(-1, -0.2), (0.2, -0.2), (0.2, -0.5), (1, 0), (0.2, 0.5), (0.2, 0.2), (-1, 0.2)]

    def paint(d: Any, state: int) -> None:
        sign = -1 if state == 0 else 1
        d.polygon([(cx + sign * x * r, cy + y * r) for x, y in arrow], fill=ink)

    return _Pair(
        "Which direction is the arrow pointing?",
        ("Left", "Right"),
        ("an arrow pointing to the left", "an arrow pointing to the right"),
        ctx.render(bg, paint),
    )


def _od_triangle(ctx: _Ctx) -> _Pair:
    bg, ink = ctx.background(), ctx.ink()
    cx, cy, r = ctx.place(0.2, 0.34)

    def paint(d: Any, state: int) -> None:
        points = _regular(cx, cy + 0.15 * r, r, 3)
        if state == 1:
            points = [(x, 2 * cy - y) for x, y in points]
        d.polygon(points, fill=ink)

    return _Pair(
        "Is the triangle pointing up or down?",
        ("Up", "Down"),
        ("a triangle pointing up", "a triangle pointing down"),
        ctx.render(bg, paint),
    )


def _od_photo(ctx: _Ctx) -> _Pair:
    name = ctx.choice(ctx.photo_names(upright_only=True))
    noun = _PHOTOS[name][0]
    photo = ctx.photo(name)
    return _Pair(
        f"Is the picture of {noun} upright or upside down?",
        ("Upright", "Upside down"),
        (f"{noun} shown upright", f"{noun} shown upside down"),
        (photo, photo.rotate(180)),
    )


def _od_bar(ctx: _Ctx) -> _Pair:
    bg, ink = ctx.background(), ctx.ink()
    cx, cy, r = ctx.place(0.3, 0.4)
    half = ctx.uniform(0.06, 0.1) * ctx.size

    def paint(d: Any, state: int) -> None:
        hw, hh = (r, half) if state == 0 else (half, r)
        d.rounded_rectangle([cx - hw, cy - hh, cx + hw, cy + hh], radius=half * 0.6, fill=ink)

    return _Pair(
        "Is the bar horizontal or vertical?",
        ("Horizontal", "Vertical"),
        ("a horizontal bar", "a vertical bar"),
        ctx.render(bg, paint),
    )


# --------------------------------------------------------------------------- Presence


def _pf_dot(ctx: _Ctx) -> _Pair:
    bg, ink, kind = ctx.background(), ctx.ink(), ctx.choice(("circle", "square"))
    cx, cy, r = ctx.place(0.25, 0.38)
    dot = ctx.ink()
    dx, dy = ctx.uniform(-0.3, 0.3) * r, ctx.uniform(-0.3, 0.3) * r

    def paint(d: Any, state: int) -> None:
        _shape(d, kind, cx, cy, r, fill=(250, 250, 250), outline=ink, width=_w(ctx, 0.025))
        if state == 0:
            _shape(d, "circle", cx + dx, cy + dy, 0.18 * r, fill=dot)

    return _Pair(
        f"Is there a dot inside the {kind}?",
        ("Yes", "No"),
        (f"a {kind} with a dot inside", f"an empty {kind} with nothing inside"),
        ctx.render(bg, paint),
    )


def _pf_stripe(ctx: _Ctx) -> _Pair:
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

    return _Pair(
        "Does the square have a white stripe across it?",
        ("Yes", "No"),
        ("a square with a white stripe across it", "a plain square without a stripe"),
        ctx.render(bg, paint),
    )


def _pf_hole(ctx: _Ctx) -> _Pair:
    bg, ink = ctx.background(), ctx.ink()
    cx, cy, r = ctx.place(0.25, 0.38)
    noun = ctx.choice(("disk", "square"))
    box = [cx - r, cy - r, cx + r, cy + r]

    def paint(d: Any, state: int) -> None:
        # An outline as wide as 0.55 r leaves a see-through hole with the background visible.
        width = round(0.55 * r) if state == 0 else 0
        draw = d.ellipse if noun == "disk" else d.rectangle
        draw(box, fill=None if width else ink, outline=ink, width=width or 1)

    return _Pair(
        f"Does the {noun} have a hole in the middle?",
        ("Yes", "No"),
        (f"a {noun} with a hole in the middle", f"a solid {noun} without a hole"),
        ctx.render(bg, paint),
    )


def _pf_flag(ctx: _Ctx) -> _Pair:
    bg, pole, flag = ctx.background(), ctx.ink(), ctx.ink()
    s = ctx.size
    x, top, bottom = ctx.uniform(0.25, 0.5) * s, ctx.uniform(0.12, 0.22) * s, 0.9 * s
    fw, fh = ctx.uniform(0.25, 0.4) * s, ctx.uniform(0.15, 0.22) * s

    def paint(d: Any, state: int) -> None:
        d.rectangle([x - _w(ctx, 0.012), top, x + _w(ctx, 0.012), bottom], fill=pole)
        if state == 0:
            d.rectangle([x, top, x + fw, top + fh], fill=flag)

    return _Pair(
        "Is there a flag on the pole?",
        ("Yes", "No"),
        ("a pole with a flag on it", "a bare pole without a flag"),
        ctx.render(bg, paint),
    )


# --------------------------------------------------------------------------- State


def _sc_box(ctx: _Ctx) -> _Pair:
    bg, body = ctx.background(), ctx.choice(((190, 140, 80), (160, 110, 60), *_COLORS.values()))
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
            width=_w(ctx, 0.008),
        )
        if state == 0:  # lid hinged at the right edge and lifted: the dark inside shows
            d.rectangle([cx - 0.9 * r, cy - 0.2 * r, cx + 0.9 * r, cy - 0.02 * r], fill=dark)
            lid_now = _rotate(lid, lid[1], 40.0)
        else:
            lid_now = lid
        d.polygon(lid_now, fill=_shade(body, 0.8), outline=dark)

    return _Pair(
        "Is the box open or closed?",
        ("Open", "Closed"),
        ("an open box with its lid lifted", "a closed box with its lid on"),
        ctx.render(bg, paint),
    )


def _sc_glass(ctx: _Ctx) -> _Pair:
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
            width=_w(ctx, 0.015),
            joint="curve",
        )

    return _Pair(
        "Is the glass full or empty?",
        ("Full", "Empty"),
        (f"a full glass of {drink}", "an empty glass"),
        ctx.render(bg, paint),
    )


def _sc_door(ctx: _Ctx) -> _Pair:
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
        d.rectangle([x0, y0, x1, y1], outline=frame, width=_w(ctx, 0.015))

    return _Pair(
        "Is the door open or closed?",
        ("Open", "Closed"),
        ("an open door with a dark room behind it", "a closed door"),
        ctx.render(bg, paint),
    )


def _sc_bulb(ctx: _Ctx) -> _Pair:
    bg = ctx.blank(tuple(int(v) for v in ctx.rng.integers(40, 90, 3)))  # type: ignore[arg-type]
    cx, cy, r = ctx.place(0.2, 0.26)
    gr = 0.62 * r

    def paint(d: Any, state: int) -> None:
        on = state == 0
        if on:
            for x, y in _regular(cx, cy - 0.2 * r, 1.0 * r, 10):
                d.line(
                    [(cx + (x - cx) * 0.75, cy - 0.2 * r + (y - cy + 0.2 * r) * 0.75), (x, y)],
                    fill=(255, 230, 90),
                    width=_w(ctx, 0.012),
                )
        d.ellipse(
            [cx - gr, cy - 0.2 * r - gr, cx + gr, cy - 0.2 * r + gr],
            fill=(255, 235, 90) if on else (150, 150, 150),
            outline=(20, 20, 20),
        )
        d.rectangle(
            [cx - 0.3 * r, cy + 0.35 * r, cx + 0.3 * r, cy + 0.75 * r], fill=(170, 170, 175)
        )

    return _Pair(
        "Is the light bulb on or off?",
        ("On", "Off"),
        ("a light bulb that is switched on and glowing", "a light bulb that is switched off"),
        ctx.render(bg, paint),
    )


# --------------------------------------------------------------------------- Quantity


def _scatter(ctx: _Ctx, n: int) -> list[tuple[float, float, float]]:
    """n non-overlapping (cx, cy, r) slots from a 3x3 grid, jittered inside their cells."""
    cell = ctx.size / 3
    slots = []
    for i in ctx.sample(range(9), n):
        r = ctx.uniform(0.22, 0.32) * cell
        jx, jy = (ctx.uniform(-1, 1) * (0.5 * cell - r - 2) for _ in range(2))
        slots.append(((i % 3 + 0.5) * cell + jx, (i // 3 + 0.5) * cell + jy, r))
    return slots


def _qc_count(ctx: _Ctx) -> _Pair:
    bg, ink, kind = ctx.background(), ctx.ink(), ctx.choice(_SHAPES)
    n = ctx.integer(2, 6)
    slots = _scatter(ctx, n + 1)  # state 0 drops the last slot: n vs n + 1 of the same layout

    def paint(d: Any, state: int) -> None:
        for cx, cy, r in slots[: n + state]:
            _shape(d, kind, cx, cy, r, fill=ink)

    return _Pair(
        f"How many {_plural(kind)} are there in the image?",
        (str(n), str(n + 1)),
        (f"{_NUMBER_WORDS[n]} {_plural(kind)}", f"{_NUMBER_WORDS[n + 1]} {_plural(kind)}"),
        ctx.render(bg, paint),
    )


def _qc_one_many(ctx: _Ctx) -> _Pair:
    bg, ink, kind = ctx.background(), ctx.ink(), ctx.choice(_SHAPES)
    slots = _scatter(ctx, ctx.integer(2, 6))

    def paint(d: Any, state: int) -> None:
        for cx, cy, r in slots[: 1 if state == 0 else None]:
            _shape(d, kind, cx, cy, r, fill=ink)

    return _Pair(
        f"Is there one {kind} or more than one?",
        ("One", "More than one"),
        (f"a single {kind}", f"several {_plural(kind)}"),
        ctx.render(bg, paint),
    )


def _qc_more(ctx: _Ctx) -> _Pair:
    bg = ctx.background()
    kind_a, kind_b = ctx.sample(_SHAPES, 2)
    ink_a, ink_b = ctx.sample([_COLORS[c] for c in _INKS], 2)
    few = ctx.integer(1, 3)
    many = few + ctx.integer(1, 3)
    slots = _scatter(ctx, few + many)

    def paint(d: Any, state: int) -> None:
        n_a = many if state == 0 else few
        for i, (cx, cy, r) in enumerate(slots):
            kind, ink = (kind_a, ink_a) if i < n_a else (kind_b, ink_b)
            _shape(d, kind, cx, cy, r, fill=ink)

    pa, pb = _plural(kind_a), _plural(kind_b)
    return _Pair(
        f"Are there more {pa} or more {pb}?",
        (f"More {pa}", f"More {pb}"),
        (f"more {pa} than {pb}", f"more {pb} than {pa}"),
        ctx.render(bg, paint),
    )


# --------------------------------------------------------------------------- Spatial


def _two_shapes(ctx: _Ctx) -> tuple[str, str, RGB, RGB]:
    kind_a, kind_b = ctx.sample(_SHAPES, 2)
    ink_a, ink_b = ctx.sample([_COLORS[c] for c in _INKS], 2)
    return kind_a, kind_b, ink_a, ink_b


def _pr_side(ctx: _Ctx, horizontal: bool) -> _Pair:
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
            _shape(d, kind, cx, cy, r, fill=ink)

    if horizontal:
        q = f"Is the {kind_a} to the left or to the right of the {kind_b}?"
        rel, answers = ("to the left of", "to the right of"), ("To the left", "To the right")
    else:
        q = f"Is the {kind_a} above or below the {kind_b}?"
        rel, answers = ("above", "below"), ("Above", "Below")
    statements = (f"a {kind_a} {rel[0]} a {kind_b}", f"a {kind_a} {rel[1]} a {kind_b}")
    return _Pair(q, answers, statements, ctx.render(bg, paint))


def _pr_leftright(ctx: _Ctx) -> _Pair:
    return _pr_side(ctx, horizontal=True)


def _pr_abovebelow(ctx: _Ctx) -> _Pair:
    return _pr_side(ctx, horizontal=False)


def _pr_inside(ctx: _Ctx) -> _Pair:
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
        _shape(d, kind_b, cx, cy, r, outline=ink_b, width=_w(ctx, 0.02))
        ax, ay = (cx, cy) if state == 0 else (corner[0] * s, corner[1] * s)
        _shape(d, kind_a, ax, ay, small, fill=ink_a)

    return _Pair(
        f"Is the {kind_a} inside or outside the {kind_b}?",
        ("Inside", "Outside"),
        (f"a small {kind_a} inside a {kind_b}", f"a small {kind_a} outside a {kind_b}"),
        ctx.render(bg, paint),
    )


def _pr_front(ctx: _Ctx) -> _Pair:
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
            _shape(d, kind, x, y, r, fill=ink, outline=edge, width=_w(ctx, 0.01))

    return _Pair(
        f"Is the {kind_a} in front of or behind the {kind_b}?",
        ("In front", "Behind"),
        (f"a {kind_a} in front of a {kind_b}", f"a {kind_a} behind a {kind_b}"),
        ctx.render(bg, paint),
    )


# --------------------------------------------------------------------------- Color


def _ca_color(ctx: _Ctx) -> _Pair:
    bg, kind = ctx.background(), ctx.choice(_SHAPES)
    c0, c1 = ctx.sample([c for c in _COLORS if c != "black"], 2)
    cx, cy, r = ctx.place(0.22, 0.36)

    def paint(d: Any, state: int) -> None:
        _shape(
            d,
            kind,
            cx,
            cy,
            r,
            fill=_COLORS[(c0, c1)[state]],
            outline=(20, 20, 20),
            width=_w(ctx, 0.01),
        )

    return _Pair(
        f"What color is the {kind}?",
        (c0.capitalize(), c1.capitalize()),
        (f"a {c0} {kind}", f"a {c1} {kind}"),
        ctx.render(bg, paint),
    )


def _ca_gray(ctx: _Ctx) -> _Pair:
    name = ctx.choice(ctx.photo_names())
    noun = _PHOTOS[name][0]
    photo = ctx.photo(name)
    return _Pair(
        f"Is the picture of {noun} in color or in black and white?",
        ("Color", "Black and white"),
        (f"{noun} in full color", f"{noun} in black and white"),
        (photo, photo.convert("L").convert("RGB")),
    )


def _ca_same(ctx: _Ctx) -> _Pair:
    bg, kind = ctx.background(), ctx.choice(_SHAPES)
    c0, c1 = ctx.sample([c for c in _COLORS if c != "black"], 2)
    slots = _scatter(ctx, 2)

    def paint(d: Any, state: int) -> None:
        for (cx, cy, r), c in zip(slots, (c0, c0 if state == 0 else c1), strict=True):
            _shape(d, kind, cx, cy, 1.3 * r, fill=_COLORS[c], outline=(20, 20, 20))

    return _Pair(
        f"Are the two {_plural(kind)} the same color or different colors?",
        ("Same color", "Different colors"),
        (f"two {_plural(kind)} of the same color", f"two {_plural(kind)} of different colors"),
        ctx.render(bg, paint),
    )


# --------------------------------------------------------------------------- Structural


def _dashed_outline(ctx: _Ctx, d: Any, kind: str, box: list[float], ink: RGB, width: int) -> None:
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


def _sh_dashed(ctx: _Ctx) -> _Pair:
    bg, ink, kind = ctx.background(), ctx.ink(), ctx.choice(("circle", "square"))
    cx, cy, r = ctx.place(0.25, 0.38)
    box, width = [cx - r, cy - r, cx + r, cy + r], _w(ctx, 0.022)

    def paint(d: Any, state: int) -> None:
        if state == 0:
            (d.ellipse if kind == "circle" else d.rectangle)(box, outline=ink, width=width)
        else:
            _dashed_outline(ctx, d, kind, box, ink, width)

    return _Pair(
        f"Is the outline of the {kind} solid or dashed?",
        ("Solid", "Dashed"),
        (f"a {kind} with a solid outline", f"a {kind} with a dashed outline"),
        ctx.render(bg, paint),
    )


def _sh_thick(ctx: _Ctx) -> _Pair:
    bg, ink, s = ctx.background(), ctx.ink(), ctx.size
    angle = ctx.uniform(0, math.pi)
    cx, cy, half = ctx.uniform(0.4, 0.6) * s, ctx.uniform(0.4, 0.6) * s, 0.33 * s
    ends = [
        (cx - half * math.cos(angle), cy - half * math.sin(angle)),
        (cx + half * math.cos(angle), cy + half * math.sin(angle)),
    ]
    thin = _w(ctx, ctx.uniform(0.012, 0.02))

    def paint(d: Any, state: int) -> None:
        d.line(ends, fill=ink, width=thin * 5 if state == 0 else thin)

    return _Pair(
        "Is the line thick or thin?",
        ("Thick", "Thin"),
        ("a thick line", "a thin line"),
        ctx.render(bg, paint),
    )


def _sh_corners(ctx: _Ctx) -> _Pair:
    bg, ink, s = ctx.background(), ctx.ink(), ctx.size
    w, h = ctx.uniform(0.25, 0.38) * s, ctx.uniform(0.18, 0.3) * s
    cx, cy = ctx.center(w, h, 0.05)

    def paint(d: Any, state: int) -> None:
        d.rounded_rectangle(
            [cx - w, cy - h, cx + w, cy + h], radius=0.6 * h if state == 0 else 0, fill=ink
        )

    return _Pair(
        "Does the rectangle have rounded or sharp corners?",
        ("Rounded", "Sharp"),
        ("a rectangle with rounded corners", "a rectangle with sharp square corners"),
        ctx.render(bg, paint),
    )


def _sh_hollow(ctx: _Ctx) -> _Pair:
    bg, ink, kind = ctx.background(), ctx.ink(), ctx.choice(_SHAPES)
    cx, cy, r = ctx.place(0.25, 0.38)

    def paint(d: Any, state: int) -> None:
        _shape(
            d, kind, cx, cy, r, fill=ink if state == 0 else None, outline=ink, width=_w(ctx, 0.02)
        )

    return _Pair(
        f"Is the {kind} filled in or hollow?",
        ("Filled", "Hollow"),
        (f"a solid filled {kind}", f"a hollow {kind} outline"),
        ctx.render(bg, paint),
    )


# --------------------------------------------------------------------------- Text


def _plate(
    ctx: _Ctx, bg: Image.Image, labels: tuple[str, str], w: float, h: float, square: bool = False
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
            width=_w(ctx, 0.012),
        )
        ctx.text(d, (cx, cy), labels[state], 1.6 * w, int(1.3 * h), (255, 255, 255))

    return ctx.render(bg, paint)


def _tx_sign(ctx: _Ctx) -> _Pair:
    w0, w1 = ctx.sample(_WORDS, 2)
    s = ctx.size
    images = _plate(
        ctx, ctx.background(), (w0, w1), ctx.uniform(0.36, 0.44) * s, ctx.uniform(0.14, 0.18) * s
    )
    return _Pair(
        "What word is written on the sign?",
        (w0.capitalize(), w1.capitalize()),
        (f"a sign that reads {w0.lower()}", f"a sign that reads {w1.lower()}"),
        images,
    )


def _tx_number(ctx: _Ctx) -> _Pair:
    n0, n1 = (str(n) for n in ctx.sample(range(1, 100), 2))
    s = ctx.size
    images = _plate(
        ctx, ctx.background(), (n0, n1), ctx.uniform(0.2, 0.28) * s, ctx.uniform(0.18, 0.24) * s
    )
    return _Pair(
        "What number is shown on the card?",
        (n0, n1),
        (f"a card with the number {n0}", f"a card with the number {n1}"),
        images,
    )


def _tx_case(ctx: _Ctx) -> _Pair:
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
    return _Pair(
        "Is the word written in capital letters or in lowercase letters?",
        ("Capital letters", "Lowercase letters"),
        (
            f"the word {low} written in capital letters",
            f"the word {low} written in lowercase letters",
        ),
        images,
    )


def _tx_letter(ctx: _Ctx) -> _Pair:
    l0, l1 = ctx.sample(_LETTERS, 2)
    half = ctx.uniform(0.2, 0.28) * ctx.size
    images = _plate(ctx, ctx.background(), (l0, l1), half, half, square=True)
    return _Pair(
        "Which letter is printed on the block?",
        (l0, l1),
        (f"a block with the letter {l0.lower()}", f"a block with the letter {l1.lower()}"),
        images,
    )


# --------------------------------------------------------------------------- Camera perspective


def _vp_cube(ctx: _Ctx) -> _Pair:
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
            fill=_shade(base, 1.45),
            outline=edge,
        )
        d.polygon(
            [(x1, y0), (x1 + dx, y0 - dy), (x1 + dx, y1 - dy), (x1, y1)],
            fill=_shade(base, 0.6),
            outline=edge,
        )
        d.rectangle([x0, y0, x1, y1], fill=base, outline=edge)

    return _Pair(
        "Is the cube seen straight from the front or from above at an angle?",
        ("From the front", "From above"),
        ("a cube seen straight from the front", "a cube seen from above at an angle"),
        ctx.render(bg, paint),
    )


def _vp_horizon(ctx: _Ctx) -> _Pair:
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

    return _Pair(
        "Is the camera tilted up toward the sky or down toward the ground?",
        ("Up toward the sky", "Down toward the ground"),
        (
            "a landscape seen looking up, mostly sky above a low horizon",
            "a landscape seen looking down, mostly ground below a high horizon",
        ),
        ctx.render(ctx.blank((255, 255, 255)), paint),
    )


def _vp_distance(ctx: _Ctx) -> _Pair:
    bg, ink, s = ctx.background(), ctx.ink(), ctx.size
    noun = ctx.choice(("ball", "star", "box"))
    kind = {"ball": "circle", "star": "star", "box": "square"}[noun]
    far_x, far_y = ctx.uniform(0.3, 0.7) * s, ctx.uniform(0.3, 0.7) * s

    def paint(d: Any, state: int) -> None:
        if state == 0:
            _shape(d, kind, 0.5 * s, 0.5 * s, 0.46 * s, fill=ink, outline=(20, 20, 20))
        else:
            _shape(d, kind, far_x, far_y, 0.07 * s, fill=ink, outline=(20, 20, 20))

    return _Pair(
        f"Is the {noun} shown close up or from far away?",
        ("Close up", "Far away"),
        (f"a close-up view of a {noun}", f"a {noun} seen from far away"),
        ctx.render(bg, paint),
    )


def _vp_can(ctx: _Ctx) -> _Pair:
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

    return _Pair(
        "Is the can seen from the side or from the top?",
        ("From the side", "From the top"),
        ("a can seen from the side", "a can seen from directly above"),
        ctx.render(bg, paint),
    )


_Generator = Callable[[_Ctx], _Pair]
_FAMILIES: dict[str, tuple[_Generator, ...]] = {
    "od": (_od_arrow, _od_triangle, _od_photo, _od_bar),
    "pf": (_pf_dot, _pf_stripe, _pf_hole, _pf_flag),
    "sc": (_sc_box, _sc_glass, _sc_door, _sc_bulb),
    "qc": (_qc_count, _qc_one_many, _qc_more),
    "pr": (_pr_leftright, _pr_abovebelow, _pr_inside, _pr_front),
    "ca": (_ca_color, _ca_gray, _ca_same),
    "sh": (_sh_dashed, _sh_thick, _sh_corners, _sh_hollow),
    "tx": (_tx_sign, _tx_number, _tx_case, _tx_letter),
    "vp": (_vp_cube, _vp_horizon, _vp_distance, _vp_can),
}


class _Picker:
    """Cycles through each pattern's templates from a random start, so all get used evenly."""

    def __init__(self, ctx: _Ctx) -> None:
        self._next = {code: ctx.integer(0, len(f)) for code, f in _FAMILIES.items()}

    def pair(self, ctx: _Ctx, code: str) -> _Pair:
        family = _FAMILIES[code]
        i = self._next[code]
        self._next[code] = (i + 1) % len(family)
        return family[i](ctx)


# --------------------------------------------------------------------------- writing


def _save_jpeg(image: Image.Image, path: Path) -> None:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=_JPEG_QUALITY)
    path.write_bytes(buf.getvalue())


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_csv(path: Path, header: Sequence[str], rows: list[list[str]]) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    _write_atomic(path, buf.getvalue().encode("utf-8"))


def _write_mmvp(ctx: _Ctx, root: Path) -> None:
    images = root / MMVP_IMAGE_DIR
    images.mkdir(parents=True)
    rows: list[list[str]] = []
    codes: list[list[str]] = []
    picker = _Picker(ctx)
    for k in range(1, MMVP_PAIRS + 1):
        pattern = PATTERNS[(k - 1) % len(PATTERNS)]
        pair = picker.pair(ctx, pattern.code)
        options = pair.answers[::-1] if ctx.coin() else pair.answers
        option_str = f"(a) {options[0]} (b) {options[1]}"
        first = ctx.integer(0, 2)  # which state the odd row shows
        for index, state in ((2 * k - 1, first), (2 * k, 1 - first)):
            letter = "(a)" if pair.answers[state] == options[0] else "(b)"
            _save_jpeg(pair.images[state], images / f"{index}.jpg")
            rows.append([str(index), pair.question, option_str, letter])
            codes.append([str(index), pattern.code])
    _write_csv(root / "Questions.csv", MMVP_HEADER, rows)
    _write_csv(root / "patterns.csv", PATTERNS_HEADER, codes)


def _write_vlm(ctx: _Ctx, root: Path) -> None:
    rows: list[list[str]] = []
    picker = _Picker(ctx)
    for t, pattern in enumerate(PATTERNS):
        folder = root / VLM_IMAGE_DIR / pattern.vlm_type
        folder.mkdir(parents=True)
        for j in range(1, VLM_PAIRS_PER_TYPE + 1):
            pair = picker.pair(ctx, pattern.code)
            first = ctx.integer(0, 2)
            odd = t * 2 * VLM_PAIRS_PER_TYPE + 2 * j - 1
            for qid, state in ((odd, first), (odd + 1, 1 - first)):
                _save_jpeg(pair.images[state], folder / f"{qid}.jpg")
                rows.append([str(qid), pattern.vlm_type, pair.statements[state].lower()])
    _write_csv(root / "Questions.csv", VLM_HEADER, rows)


def _marker(seed: int, image_size: int) -> dict[str, Any]:
    return {"generator": GENERATOR, "version": VERSION, "seed": seed, "image_size": image_size}


def _read_marker(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _paths(out: Path) -> SyntheticPaths:
    return SyntheticPaths(mmvp_dir=out / "mmvp", mmvp_vlm_dir=out / "mmvp_vlm")


def _claim(out: Path, paths: SyntheticPaths) -> None:
    """Refuse to clobber data this generator did not write, then clear the old output."""
    # Ours if marked, interrupted mid-run, or carrying patterns.csv (which the hub data lacks).
    ours = (
        (out / _IN_PROGRESS).exists()
        or (_read_marker(out) or {}).get("generator") == GENERATOR
        or (paths.mmvp_dir / "patterns.csv").is_file()
    )
    for d in (paths.mmvp_dir, paths.mmvp_vlm_dir):
        if d.is_dir() and any(d.iterdir()) and not ours:
            raise FileExistsError(f"{d} is not empty and was not written by {GENERATOR}")
    out.mkdir(parents=True, exist_ok=True)
    (out / _IN_PROGRESS).touch()
    (out / MARKER_NAME).unlink(missing_ok=True)  # from here on the directory reads as incomplete
    for d in (paths.mmvp_dir, paths.mmvp_vlm_dir):
        if d.exists():
            shutil.rmtree(d)


def write_synthetic_data(
    out_dir: str | os.PathLike[str], *, seed: int = 0, image_size: int = 224
) -> SyntheticPaths:
    """(Re)generate the synthetic MMVP and MMVP-VLM sets under `out_dir` (see the module doc).

    Raises FileExistsError if `out_dir/mmvp` or `out_dir/mmvp_vlm` holds data not written here.
    """
    if image_size < 32:
        raise ValueError(f"image_size must be at least 32, got {image_size}")
    out = Path(out_dir)
    paths = _paths(out)
    _claim(out, paths)
    ctx = _Ctx(seed, image_size)
    _write_mmvp(ctx, paths.mmvp_dir)
    _write_vlm(ctx, paths.mmvp_vlm_dir)
    marker = json.dumps(_marker(seed, image_size), indent=2, sort_keys=True) + "\n"
    _write_atomic(out / MARKER_NAME, marker.encode("utf-8"))  # last: marks the set complete
    (out / _IN_PROGRESS).unlink(missing_ok=True)
    logger.info("wrote synthetic MMVP data (seed=%d, size=%d) to %s", seed, image_size, out)
    return paths


def ensure_synthetic_data(
    out_dir: str | os.PathLike[str], *, seed: int = 0, image_size: int = 224
) -> SyntheticPaths:
    """Return the synthetic set under `out_dir`, generating it unless a matching one is complete."""
    out = Path(out_dir)
    paths = _paths(out)
    complete = (paths.mmvp_dir / "Questions.csv").is_file() and (
        paths.mmvp_vlm_dir / "Questions.csv"
    ).is_file()
    if complete and _read_marker(out) == _marker(seed, image_size):
        return paths
    return write_synthetic_data(out, seed=seed, image_size=image_size)
