"""Drawing context of the synthetic generator: one seeded RNG, fonts, photos, shape helpers.

Every random draw of a run goes through :class:`DrawContext` in a fixed order, so the same seed and
size give byte-identical images. PIL and numpy are imported when a context is built, not here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

logger = logging.getLogger(__name__)

RGB = tuple[int, int, int]
Pt = tuple[float, float]

COLORS: dict[str, RGB] = {
    "red": (215, 35, 35),
    "blue": (35, 80, 215),
    "green": (30, 150, 60),
    "yellow": (240, 205, 30),
    "orange": (240, 125, 20),
    "purple": (125, 55, 175),
    "brown": (125, 75, 35),
    "black": (30, 30, 30),
}
INKS = ("red", "blue", "green", "purple", "brown", "black", "orange")  # readable on pale grounds
SHAPES = ("circle", "square", "triangle", "star", "diamond")

# photo -> (noun, has an unambiguous up); all but "house" are bundled with scikit-image
PHOTOS: dict[str, tuple[str, bool]] = {
    "astronaut": ("an astronaut", True),
    "chelsea": ("a cat", True),
    "rocket": ("a rocket on a launch pad", True),
    "coffee": ("a cup of coffee", False),
    "house": ("a house", True),  # drawn stand-in when scikit-image is unavailable
}
_SKIMAGE_PHOTOS = ("astronaut", "chelsea", "rocket", "coffee")


@dataclass(frozen=True)
class Pair:
    """One contrastive pair: state 0 and state 1 differ exactly in the asked property."""

    question: str
    answers: tuple[str, str]  # option text true of images[0], images[1]
    statements: tuple[str, str]  # MMVP-VLM statement of images[0], images[1]
    images: tuple[Image.Image, Image.Image]


# --------------------------------------------------------------------------- drawing context


class DrawContext:
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
        return COLORS[self.choice([c for c in INKS if c not in exclude])]

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
        return [n for n in names if PHOTOS[n][1]] if upright_only else names

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


# --------------------------------------------------------------------------- shapes and geometry


def regular(cx: float, cy: float, r: float, n: int, start_deg: float = -90.0) -> list[Pt]:
    step = 2 * math.pi / n
    start = math.radians(start_deg)
    return [
        (cx + r * math.cos(start + i * step), cy + r * math.sin(start + i * step)) for i in range(n)
    ]


def _star(cx: float, cy: float, r: float) -> list[Pt]:
    outer, inner = regular(cx, cy, r, 5), regular(cx, cy, 0.45 * r, 5, -54.0)
    return [p for pair in zip(outer, inner, strict=True) for p in pair]


def shape(
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
            "triangle": lambda: regular(cx, cy + 0.15 * r, r, 3),
            "diamond": lambda: regular(cx, cy, r, 4),
            "star": lambda: _star(cx, cy, r),
        }[kind]()
        draw.polygon(points, fill=fill, outline=outline, width=width)


def rotate(points: Sequence[Pt], pivot: Pt, deg: float) -> list[Pt]:
    a = math.radians(deg)
    px, py = pivot
    return [
        (
            px + (x - px) * math.cos(a) - (y - py) * math.sin(a),
            py + (x - px) * math.sin(a) + (y - py) * math.cos(a),
        )
        for x, y in points
    ]


def shade(color: RGB, factor: float) -> RGB:
    """Darker (<1) or lighter (>1, towards white) version of `color`."""
    if factor <= 1:
        return tuple(int(c * factor) for c in color)  # type: ignore[return-value]
    return tuple(int(c + (255 - c) * (factor - 1)) for c in color)  # type: ignore[return-value]


def line_width(ctx: DrawContext, frac: float) -> int:
    """Line width as a fraction of the image size (at least 1 px)."""
    return max(1, round(frac * ctx.size))


def plural(noun: str) -> str:
    return noun + "s"


def scatter(ctx: DrawContext, n: int) -> list[tuple[float, float, float]]:
    """n non-overlapping (cx, cy, r) slots from a 3x3 grid, jittered inside their cells."""
    cell = ctx.size / 3
    slots = []
    for i in ctx.sample(range(9), n):
        r = ctx.uniform(0.22, 0.32) * cell
        jx, jy = (ctx.uniform(-1, 1) * (0.5 * cell - r - 2) for _ in range(2))
        slots.append(((i % 3 + 0.5) * cell + jx, (i // 3 + 0.5) * cell + jy, r))
    return slots
